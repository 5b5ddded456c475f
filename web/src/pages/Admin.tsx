// The admin pages at /admin/{section}: users and roles, categories, instruments, exchange rates,
// dead letters and the ledger. Only admins get them; anyone else signed in gets "not allowed"
// (the API refuses them anyway), and someone signed out is asked to sign in.
import { useEffect, useRef, type ReactNode } from 'react';
import { SignInPrompt } from '../components/Common.js';
import { isAdmin } from '../lib/admin.js';
import { useTitle } from '../lib/hooks.js';
import { Link } from '../lib/router.js';
import { useSession } from '../lib/session.js';
import { AdminCategories } from './AdminCategories.js';
import { AdminDeadLetters } from './AdminDeadLetters.js';
import { AdminExchange } from './AdminExchange.js';
import { AdminLedger } from './AdminLedger.js';
import { AdminRates } from './AdminRates.js';
import { AdminUsers } from './AdminUsers.js';

export const ADMIN_SECTIONS = [
  ['users', 'Users and roles'],
  ['categories', 'Categories'],
  ['instruments', 'Instruments'],
  ['rates', 'Exchange rates'],
  ['dead-letters', 'Dead letters'],
  ['ledger', 'Ledger'],
] as const;
export type AdminSection = (typeof ADMIN_SECTIONS)[number][0];

/** The section a path names: /admin is the users; an unknown section is null. */
export function adminSectionOf(path: string): AdminSection | null {
  const rest = path.replace(/^\/admin\/?/, '').replace(/\/$/, '');
  if (rest === '') return 'users';
  return ADMIN_SECTIONS.find(([s]) => s === rest)?.[0] ?? null;
}

export function AdminPage({ section }: { section: AdminSection }) {
  const label = ADMIN_SECTIONS.find(([s]) => s === section)?.[1] ?? 'Admin';
  const session = useSession();
  const allowed = isAdmin(session.user);
  const tabs = useRef<HTMLElement>(null);
  // On a phone the tabs scroll sideways: bring the current one into view.
  // (Braces matter: newer browsers return a promise from scrollIntoView, and an effect may only return a cleanup.)
  useEffect(() => {
    tabs.current?.querySelector('[aria-current="page"]')?.scrollIntoView({ block: 'nearest', inline: 'nearest' });
  }, [section, allowed]);
  useTitle(session.status === 'signed-in' && !allowed ? 'Not allowed' : `Admin: ${label}`);
  if (session.status === 'loading') return <div className="page"><p className="muted">Loading…</p></div>;
  if (session.status === 'anonymous' || !session.user) return <div className="page"><SignInPrompt what="the admin pages" /></div>;
  if (!allowed) return <NotAllowed name={session.user.name} />;
  let body: ReactNode;
  switch (section) {
    case 'users':
      body = <AdminUsers myId={session.user.id} />;
      break;
    case 'categories':
      body = <AdminCategories />;
      break;
    case 'instruments':
      body = <AdminExchange />;
      break;
    case 'rates':
      body = <AdminRates />;
      break;
    case 'dead-letters':
      body = <AdminDeadLetters />;
      break;
    case 'ledger':
      body = <AdminLedger />;
      break;
  }
  return (
    <div className="page stack admin">
      <h1>Admin</h1>
      <nav className="tabs" aria-label="Admin sections" ref={tabs}>
        {ADMIN_SECTIONS.map(([s, name]) => (
          <Link key={s} to={`/admin/${s}`} aria-current={s === section ? 'page' : undefined}>
            {name}
          </Link>
        ))}
      </nav>
      {body}
    </div>
  );
}

function NotAllowed({ name }: { name: string }) {
  return (
    <div className="page">
      <div className="empty" data-testid="not-allowed">
        <h1>Not allowed</h1>
        <p>The admin pages are for Gavel’s administrators. Your account ({name}) does not have the admin role.</p>
        <p>If you need it, ask an administrator to grant it.</p>
        <Link className="btn primary" to="/">
          Go to the front page
        </Link>
      </div>
    </div>
  );
}
