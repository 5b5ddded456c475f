// Small hooks: loading a resource with its state, the document title, intervals.
import { useCallback, useEffect, useRef, useState } from 'react';

export interface Resource<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload(): void;
  /** Replace the data locally (after an action answered the new state). */
  setData(update: T | ((previous: T | undefined) => T)): void;
}

/**
 * Loads `loader()` whenever `key` changes (null: nothing to load). A reload keeps the old data
 * on screen while the new one comes; an answer for an old key is dropped.
 */
export function useResource<T>(key: string | null, loader: (signal: AbortSignal) => Promise<T>): Resource<T> {
  const [state, setState] = useState<{ key: string | null; data: T | undefined; error: unknown; loading: boolean }>({ key, data: undefined, error: undefined, loading: key !== null });
  const [version, setVersion] = useState(0);
  const loaderRef = useRef(loader);
  loaderRef.current = loader;

  useEffect(() => {
    if (key === null) {
      setState({ key, data: undefined, error: undefined, loading: false });
      return;
    }
    const controller = new AbortController();
    setState((s) => ({ key, data: s.key === key ? s.data : undefined, error: undefined, loading: true }));
    loaderRef.current(controller.signal).then(
      (data) => {
        if (!controller.signal.aborted) setState({ key, data, error: undefined, loading: false });
      },
      (error: unknown) => {
        if (!controller.signal.aborted) setState((s) => ({ key, data: s.key === key ? s.data : undefined, error, loading: false }));
      },
    );
    return () => controller.abort();
  }, [key, version]);

  const reload = useCallback(() => setVersion((v) => v + 1), []);
  const setData = useCallback((update: T | ((previous: T | undefined) => T)) => {
    setState((s) => ({ ...s, data: typeof update === 'function' ? (update as (p: T | undefined) => T)(s.data) : update }));
  }, []);
  const current = state.key === key ? state : { data: undefined, error: undefined, loading: key !== null };
  return { data: current.data, error: current.error, loading: current.loading, reload, setData };
}

export function useTitle(title: string | null | undefined): void {
  useEffect(() => {
    document.title = title ? `${title} · Gavel` : 'Gavel';
  }, [title]);
}

export function useInterval(callback: () => void, periodMs: number | null): void {
  const ref = useRef(callback);
  ref.current = callback;
  useEffect(() => {
    if (periodMs === null) return;
    const timer = setInterval(() => ref.current(), periodMs);
    return () => clearInterval(timer);
  }, [periodMs]);
}
