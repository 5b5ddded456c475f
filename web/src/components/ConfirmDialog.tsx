// A button that opens a modal asking "are you sure?" before something that cannot be undone
// (buy now, delete a lot, cancel an auction): confirming runs the action, which closes the
// dialog once it succeeds and shows the server's refusal in it when it fails.
import { useRef, useState, type FormEvent, type ReactNode } from 'react';
import { messageOf } from '../lib/api.js';

export function ConfirmDialog({ id, open, title, children, confirmLabel, busyLabel, cancelLabel, check, action, onDone }: {
  /** Prefix of the dialog's element ids. */
  id: string;
  /** The button that opens the dialog. */
  open: { label: ReactNode; className: string; ariaLabel?: string };
  title: ReactNode;
  /** What confirming means, and any field it needs. */
  children: ReactNode;
  confirmLabel: string;
  /** The confirm button's label while the action runs (the same label when not given). */
  busyLabel?: string;
  cancelLabel: string;
  /** A refusal before anything is sent (say, a reason left empty), or null to go ahead. */
  check?: () => string | null;
  action: () => Promise<unknown>;
  /** After the action succeeded and the dialog closed. */
  onDone: () => void;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const refused = check?.() ?? null;
    if (refused) {
      setError(refused);
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await action();
      dialog.current?.close();
      onDone();
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <button type="button" className={open.className} onClick={() => dialog.current?.showModal()} aria-label={open.ariaLabel}>
        {open.label}
      </button>
      <dialog ref={dialog} aria-labelledby={`${id}-h`}>
        <form className="stack" onSubmit={(e) => void submit(e)} noValidate>
          <h2 id={`${id}-h`}>{title}</h2>
          {children}
          {error && (
            <p className="notice danger" role="alert">
              {error}
            </p>
          )}
          <div className="cluster">
            <button type="submit" className="btn primary" disabled={busy}>
              {busy && busyLabel ? busyLabel : confirmLabel}
            </button>
            <button type="button" className="btn" onClick={() => dialog.current?.close()}>
              {cancelLabel}
            </button>
          </div>
        </form>
      </dialog>
    </>
  );
}
