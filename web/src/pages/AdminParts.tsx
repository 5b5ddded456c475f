// Pieces the admin sections share: an action's busy / done / failed state, the message it
// leaves, and a two-step confirmation for what cannot be undone.
import { useEffect, useRef, useState } from 'react';
import { messageOf } from '../lib/api.js';

export interface ActionState {
  busy: boolean;
  error: string | null;
  done: string | null;
}

/**
 * Runs one action at a time and keeps its outcome as a message: `run(work, doneText)` shows
 * `doneText(result)` when it succeeds and the server's problem when it fails. It answers the
 * result, or undefined after a failure: work with nothing to return resolves to true.
 */
export function useAction(): ActionState & { run<T>(work: () => Promise<T>, doneText: (result: T) => string): Promise<T | undefined>; clear(): void } {
  const [state, setState] = useState<ActionState>({ busy: false, error: null, done: null });
  const run = async <T,>(work: () => Promise<T>, doneText: (result: T) => string): Promise<T | undefined> => {
    setState({ busy: true, error: null, done: null });
    try {
      const result = await work();
      setState({ busy: false, error: null, done: doneText(result) });
      return result;
    } catch (error) {
      setState({ busy: false, error: messageOf(error), done: null });
      return undefined;
    }
  };
  return { ...state, run, clear: () => setState({ busy: false, error: null, done: null }) };
}

/** The outcome of the last action, read out politely (a failure assertively). */
export function Outcome({ state, testId }: { state: ActionState; testId?: string }) {
  if (state.error)
    return (
      <p className="notice danger" role="alert" data-testid={testId}>
        {state.error}
      </p>
    );
  return (
    <div role="status" aria-live="polite" data-testid={testId}>
      {state.done && <p className="notice success">{state.done}</p>}
    </div>
  );
}

/**
 * A button that asks once more before doing something that cannot be undone: the first press
 * shows "Confirm" and "Cancel" in its place (focus moves to Confirm; Escape cancels).
 */
export function ConfirmButton({ label, confirmLabel, question, onConfirm, disabled, className = 'btn small' }: { label: string; confirmLabel: string; question: string; onConfirm: () => void; disabled?: boolean; className?: string }) {
  const [asking, setAsking] = useState(false);
  const confirm = useRef<HTMLButtonElement>(null);
  const first = useRef<HTMLButtonElement>(null);
  const wasAsking = useRef(false);
  useEffect(() => {
    if (asking) confirm.current?.focus();
    else if (wasAsking.current) first.current?.focus();
    wasAsking.current = asking;
  }, [asking]);
  if (!asking)
    return (
      <button ref={first} type="button" className={className} aria-label={question.replace(/\?$/, '')} disabled={disabled} onClick={() => setAsking(true)}>
        {label}
      </button>
    );
  return (
    <span className="cluster confirm" role="group" aria-label={question} onKeyDown={(e) => e.key === 'Escape' && setAsking(false)}>
      <span className="small">{question}</span>
      <button
        ref={confirm}
        type="button"
        className="btn small primary"
        onClick={() => {
          setAsking(false);
          onConfirm();
        }}
      >
        {confirmLabel}
      </button>
      <button type="button" className="btn small ghost" onClick={() => setAsking(false)}>
        Cancel
      </button>
    </span>
  );
}
