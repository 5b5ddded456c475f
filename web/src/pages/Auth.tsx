// Sign in and registration. After either, the person goes back where they came from (?next=).
import { useState, type FormEvent } from 'react';
import { Field } from '../components/Common.js';
import { ApiError, messageOf } from '../lib/api.js';
import { useTitle } from '../lib/hooks.js';
import { Link, navigate, useQuery } from '../lib/router.js';
import { register, signIn, useSession } from '../lib/session.js';

/** Only paths of this app: never send someone to another site after signing in. */
function safeNext(next: string | null): string {
  return next && next.startsWith('/') && !next.startsWith('//') ? next : '/';
}

export function SignInPage() {
  useTitle('Sign in');
  const query = useQuery();
  const next = safeNext(query.get('next'));
  const { notice } = useSession();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await signIn(email.trim(), password);
      navigate(next, { replace: true });
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? 'That email and password do not match an account.' : messageOf(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="page">
      <div className="auth panel">
        <h1>Sign in</h1>
        {notice && <p className="notice warning">{notice}</p>}
        <form onSubmit={submit} noValidate>
          <Field id="email" label="Email">
            <input id="email" type="email" autoComplete="email" required value={email} onChange={(e) => setEmail(e.target.value)} />
          </Field>
          <Field id="password" label="Password">
            <input id="password" type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
          </Field>
          {error && (
            <p className="notice danger" role="alert">
              {error}
            </p>
          )}
          <button type="submit" className="btn primary large" disabled={busy}>
            {busy ? 'Signing in…' : 'Sign in'}
          </button>
        </form>
        <p className="small" style={{ marginTop: 16 }}>
          No account yet? <Link to={`/register?next=${encodeURIComponent(next)}`}>Create one</Link>
        </p>
      </div>
    </div>
  );
}

export function RegisterPage() {
  useTitle('Create an account');
  const query = useQuery();
  const next = safeNext(query.get('next'));
  const [name, setName] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [seller, setSeller] = useState(false);
  const [error, setError] = useState<ApiError | Error | null>(null);
  const [busy, setBusy] = useState(false);
  const field = (f: string) => (error instanceof ApiError ? error.fieldMessage(f) : undefined);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (password.length < 10) {
      setError(new ApiError({ status: 400, code: 'VALIDATION', detail: 'Choose a longer password.', errors: [{ in: 'body', field: 'password', message: 'must be at least 10 characters' }] }));
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await register({ name: name.trim(), email: email.trim(), password, seller });
      navigate(next, { replace: true });
    } catch (err) {
      setError(err instanceof Error ? err : new Error(String(err)));
    } finally {
      setBusy(false);
    }
  };
  const general = error && !(error instanceof ApiError && error.problem.errors?.length) ? (error instanceof ApiError && error.code === 'EMAIL_TAKEN' ? 'An account with this email exists. Sign in instead?' : error.message) : null;
  return (
    <div className="page">
      <div className="auth panel">
        <h1>Create an account</h1>
        <form onSubmit={submit} noValidate>
          <Field id="name" label="Your name" error={field('name')}>
            <input id="name" autoComplete="name" required maxLength={100} value={name} onChange={(e) => setName(e.target.value)} />
          </Field>
          <Field id="email" label="Email" error={field('email')}>
            <input id="email" type="email" autoComplete="email" required value={email} onChange={(e) => setEmail(e.target.value)} />
          </Field>
          <Field id="password" label="Password" hint="At least 10 characters." error={field('password')}>
            <input id="password" type="password" autoComplete="new-password" required minLength={10} value={password} onChange={(e) => setPassword(e.target.value)} aria-describedby="password-hint" />
          </Field>
          <label className="check">
            <input type="checkbox" checked={seller} onChange={(e) => setSeller(e.target.checked)} />I also want to sell
          </label>
          {general && (
            <p className="notice danger" role="alert">
              {general}
            </p>
          )}
          <button type="submit" className="btn primary large" disabled={busy}>
            {busy ? 'Creating your account…' : 'Create account'}
          </button>
        </form>
        <p className="small" style={{ marginTop: 16 }}>
          Have an account? <Link to={`/signin?next=${encodeURIComponent(next)}`}>Sign in</Link>
        </p>
      </div>
    </div>
  );
}
