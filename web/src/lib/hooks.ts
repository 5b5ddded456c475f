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

/** A list read a page at a time by cursor: what is loaded so far, for the `key` it was loaded for. */
export interface CursorPages<T> {
  key: string;
  items: T[];
  cursor: string | null;
  loading: boolean;
  error: unknown;
}

/**
 * Loads the first page of a cursor-paged list whenever `key` changes (the filters it stands for),
 * and the next one on `load(pages.cursor)`; an answer for a superseded first page is dropped.
 */
export function useCursorPages<T>(key: string, fetchPage: (cursor: string | null, signal?: AbortSignal) => Promise<{ items: T[]; nextCursor: string | null }>): { pages: CursorPages<T>; load(cursor: string | null, signal?: AbortSignal): void } {
  const [pages, setPages] = useState<CursorPages<T>>({ key: '', items: [], cursor: null, loading: true, error: undefined });
  const load = (cursor: string | null, signal?: AbortSignal) => {
    setPages((p) => ({ ...p, key, loading: true, error: undefined, ...(cursor === null && { items: [] }) }));
    fetchPage(cursor, signal).then(
      (r) => setPages((p) => ({ key, items: cursor === null ? r.items : [...p.items, ...r.items], cursor: r.nextCursor, loading: false, error: undefined })),
      (error: unknown) => {
        if (!signal?.aborted) setPages((p) => ({ ...p, loading: false, error }));
      },
    );
  };
  useEffect(() => {
    const controller = new AbortController();
    load(null, controller.signal);
    return () => controller.abort();
  }, [key]);
  return { pages, load };
}

/**
 * A cursor-paged list whose first page is a resource: a reload keeps the old list on screen until
 * the new first page comes, and drops the pages "more" appended. `remove` takes items off at
 * once (after an action), before the reload that brings the rest up to date.
 */
export function usePagedResource<P extends { items: T[]; nextCursor: string | null }, T = P['items'][number]>(key: string, load: (cursor: string | null, signal?: AbortSignal) => Promise<P>) {
  const first = useResource(key, (signal) => load(null, signal));
  const [extra, setExtra] = useState<{ items: T[]; nextCursor: string | null } | null>(null);
  const [busy, setBusy] = useState(false);
  const [moreError, setMoreError] = useState<unknown>(null);
  const items = first.data ? [...first.data.items, ...(extra?.items ?? [])] : undefined;
  const nextCursor = extra ? extra.nextCursor : (first.data?.nextCursor ?? null);
  const more = nextCursor
    ? () => {
        setBusy(true);
        load(nextCursor)
          .then((page) => setExtra((e) => ({ items: [...(e?.items ?? []), ...page.items], nextCursor: page.nextCursor })), setMoreError)
          .finally(() => setBusy(false));
      }
    : null;
  const reload = () => {
    setExtra(null);
    first.reload();
  };
  const remove = (gone: (item: T) => boolean) => {
    first.setData((d) => ({ ...d!, items: d!.items.filter((i) => !gone(i)) }));
    setExtra((e) => e && { ...e, items: e.items.filter((i) => !gone(i)) });
  };
  return { first, items, error: first.error ?? moreError, more, busy, reload, remove };
}
