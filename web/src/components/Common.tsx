// Small shared pieces: money, loading and error states, a labelled field, a select of codes.
import type { CSSProperties, ReactNode } from 'react';
import { ApiError, messageOf } from '../lib/api.js';
import { formatMoney } from '../lib/money.js';
import { Link } from '../lib/router.js';

export function Money({ amount, currency, className }: { amount: string | null | undefined; currency: string; className?: string }) {
  return <span className={`money ${className ?? ''}`}>{formatMoney(amount, currency)}</span>;
}

export function ErrorNotice({ error, retry }: { error: unknown; retry?: () => void }) {
  const notFound = error instanceof ApiError && error.status === 404;
  return (
    <div className="notice danger" role="alert">
      <p>{notFound ? 'We could not find that.' : messageOf(error)}</p>
      {retry && !notFound && (
        <button type="button" className="btn small" onClick={retry}>
          Try again
        </button>
      )}
    </div>
  );
}

export function Empty({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="empty">
      <h2>{title}</h2>
      {children}
    </div>
  );
}

export function SkeletonCards({ count = 6 }: { count?: number }) {
  return (
    <div className="grid-cards" aria-busy="true" aria-label="Loading">
      {Array.from({ length: count }, (_, i) => (
        <div key={i} className="skeleton skeleton-card" />
      ))}
    </div>
  );
}

export function Field({ id, label, hint, error, children }: { id: string; label: string; hint?: ReactNode; error?: string | undefined; children: ReactNode }) {
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {children}
      {hint && (
        <span className="hint" id={`${id}-hint`}>
          {hint}
        </span>
      )}
      {error && (
        <span className="error" id={`${id}-error`} role="alert">
          {error}
        </span>
      )}
    </div>
  );
}

/** A labelled select of currency or asset codes; `anyLabel` names a first, empty choice ("All currencies"). */
export function CodeSelect({ id, label, value, onChange, codes, anyLabel, labelHidden, fieldStyle }: {
  id: string;
  label: string;
  value: string;
  onChange: (code: string) => void;
  codes: string[];
  anyLabel?: string;
  labelHidden?: boolean;
  fieldStyle?: CSSProperties;
}) {
  return (
    <div className="field" style={fieldStyle}>
      <label htmlFor={id} className={labelHidden ? 'visually-hidden' : undefined}>
        {label}
      </label>
      <select id={id} value={value} onChange={(e) => onChange(e.target.value)}>
        {anyLabel !== undefined && <option value="">{anyLabel}</option>}
        {codes.map((c) => (
          <option key={c} value={c}>
            {c}
          </option>
        ))}
      </select>
    </div>
  );
}

export function SignInPrompt({ what }: { what: string }) {
  const next = encodeURIComponent(window.location.pathname + window.location.search);
  return (
    <div className="panel">
      <h1>Sign in</h1>
      <p>Sign in to see {what}.</p>
      <div className="cluster">
        <Link className="btn primary" to={`/signin?next=${next}`}>
          Sign in
        </Link>
        <Link className="btn" to={`/register?next=${next}`}>
          Create an account
        </Link>
      </div>
    </div>
  );
}
