// Admin: users and their roles. The list comes 100 at a time, oldest first; the search box
// narrows what is loaded (name, email or id) and looks up a pasted user id directly. Roles and
// reputation change through PUT /api/user, which only admins may use for those fields.
import { useEffect, useMemo, useState, type FormEvent } from 'react';
import { ErrorNotice } from '../components/Common.js';
import { countUsers, getUser, listUsers, ROLE_MEANINGS, ROLES, updateUser, type AdminUser, type Role } from '../lib/admin.js';
import { formatDateTime } from '../lib/format.js';
import { useResource } from '../lib/hooks.js';
import { Outcome, useAction } from './AdminParts.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function AdminUsers({ myId }: { myId: string }) {
  const count = useResource('users-count', (signal) => countUsers(signal));
  const first = useResource('users', (signal) => listUsers(null, signal));
  const [loaded, setLoaded] = useState<{ items: AdminUser[]; cursor: string | null }>({ items: [], cursor: null });
  const [loadingMore, setLoadingMore] = useState(false);
  const [query, setQuery] = useState('');
  const [editing, setEditing] = useState<string | null>(null);
  const saved = useAction();
  useEffect(() => {
    if (first.data) setLoaded({ items: first.data.items, cursor: first.data.nextCursor });
  }, [first.data]);

  const q = query.trim().toLowerCase();
  const byId = UUID.test(q) && !loaded.items.some((u) => u.id === q) ? q : null;
  const lookedUp = useResource(byId, () => getUser(byId!));
  const shown = useMemo(() => {
    const matches = q ? loaded.items.filter((u) => u.name.toLowerCase().includes(q) || u.email.toLowerCase().includes(q) || u.id === q) : loaded.items;
    return lookedUp.data ? [lookedUp.data, ...matches] : matches;
  }, [q, loaded.items, lookedUp.data]);

  const loadMore = () => {
    if (!loaded.cursor) return;
    setLoadingMore(true);
    listUsers(loaded.cursor)
      .then((page) => setLoaded((l) => ({ items: [...l.items, ...page.items], cursor: page.nextCursor })))
      .catch(() => {})
      .finally(() => setLoadingMore(false));
  };
  const replace = (user: AdminUser) => {
    setLoaded((l) => ({ ...l, items: l.items.map((u) => (u.id === user.id ? user : u)) }));
    if (lookedUp.data?.id === user.id) lookedUp.setData(user);
  };

  return (
    <section className="stack" aria-labelledby="users-h">
      <div className="spread">
        <h2 id="users-h">Users and roles</h2>
        <span className="muted small">{count.data ? `${count.data.count} ${count.data.count === 1 ? 'user' : 'users'}` : ''}</span>
      </div>
      <div className="field">
        <label htmlFor="user-search">Search users</label>
        <input id="user-search" type="search" value={query} onChange={(e) => setQuery(e.target.value)} placeholder="Name, email or user id" autoComplete="off" aria-describedby="user-search-hint" />
        <span className="hint" id="user-search-hint">
          Searches the {loaded.items.length} users loaded{loaded.cursor ? '; load more to search further' : ''}. A full user id is looked up directly.
        </span>
      </div>
      <Outcome state={saved} testId="user-saved" />
      {first.error ? (
        <ErrorNotice error={first.error} retry={first.reload} />
      ) : !first.data ? (
        <p className="muted">Loading…</p>
      ) : shown.length === 0 ? (
        <p className="muted">{lookedUp.loading ? 'Looking up…' : 'No user matches.'}</p>
      ) : (
        <div className="table-wrap panel tight">
          <table className="data">
            <thead>
              <tr>
                <th scope="col">Person</th>
                <th scope="col">Roles</th>
                <th scope="col" className="right">
                  Reputation
                </th>
                <th scope="col">Joined</th>
              </tr>
            </thead>
            <tbody>
              {shown.map((u) => (
                <UserRow key={u.id} user={u} isMe={u.id === myId} editing={editing === u.id} onEdit={() => setEditing(editing === u.id ? null : u.id)} onSaved={(user) => {
                  replace(user);
                  setEditing(null);
                }} action={saved} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      {loaded.cursor && (
        <button type="button" className="btn small" onClick={loadMore} disabled={loadingMore}>
          {loadingMore ? 'Loading…' : q ? 'Search more users' : 'Load more users'}
        </button>
      )}
    </section>
  );
}

function UserRow({ user, isMe, editing, onEdit, onSaved, action }: { user: AdminUser; isMe: boolean; editing: boolean; onEdit: () => void; onSaved: (u: AdminUser) => void; action: ReturnType<typeof useAction> }) {
  return (
    <>
      <tr data-testid={`user-${user.email}`}>
        <td>
          <strong>{user.name}</strong>
          {isMe && <span className="muted small"> (you)</span>}
          <div className="small muted">{user.email}</div>
        </td>
        <td>
          <span className="cluster">
            {user.roles.map((r) => (
              <span key={r} className={`badge ${r === 'admin' ? 'danger' : r === 'auctioneer' ? 'info' : ''}`}>
                {r}
              </span>
            ))}
            {user.roles.length === 0 && <span className="muted small">none</span>}
            <button type="button" className="btn small" aria-expanded={editing} aria-label={`Change roles of ${user.name}`} onClick={onEdit}>
              Change roles
            </button>
          </span>
        </td>
        <td className="right">{user.reputation}</td>
        <td className="small">{formatDateTime(user.createdAt)}</td>
      </tr>
      {editing && (
        <tr>
          <td colSpan={4}>
            <RoleEditor user={user} isMe={isMe} onSaved={onSaved} onCancel={onEdit} action={action} />
          </td>
        </tr>
      )}
    </>
  );
}

function RoleEditor({ user, isMe, onSaved, onCancel, action }: { user: AdminUser; isMe: boolean; onSaved: (u: AdminUser) => void; onCancel: () => void; action: ReturnType<typeof useAction> }) {
  const [roles, setRoles] = useState<Set<Role>>(new Set(user.roles));
  const [reputation, setReputation] = useState(String(user.reputation));
  const reputationNumber = Number(reputation);
  const reputationError = /^\d{1,3}$/.test(reputation.trim()) && reputationNumber <= 100 ? undefined : 'A whole number from 0 to 100';
  const idp = `edit-${user.id}`;
  const toggle = (role: Role, on: boolean) =>
    setRoles((r) => {
      const next = new Set(r);
      if (on) next.add(role);
      else next.delete(role);
      return next;
    });
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (reputationError) return;
    const next = ROLES.filter((r) => roles.has(r));
    const patch = { roles: next, ...(reputationNumber !== user.reputation && { reputation: reputationNumber }) };
    const updated = await action.run(
      () => updateUser(user.id, patch),
      (u) => `Saved. ${u.name}: ${u.roles.length ? u.roles.join(', ') : 'no roles'}; reputation ${u.reputation}.`,
    );
    if (updated) onSaved(updated);
  };
  return (
    <form className="stack" onSubmit={submit} noValidate aria-label={`Roles of ${user.name}`}>
      <fieldset>
        <legend>Roles of {user.name}</legend>
        <div className="role-choices">
          {ROLES.map((role) => {
            const locked = isMe && role === 'admin';
            return (
              <label key={role} className="check">
                <input type="checkbox" checked={roles.has(role)} disabled={locked} onChange={(e) => toggle(role, e.target.checked)} aria-describedby={locked ? `${idp}-self` : undefined} />
                <span>
                  <strong className="role-name">{role}</strong> <span className="muted small">— {ROLE_MEANINGS[role]}</span>
                </span>
              </label>
            );
          })}
        </div>
        {isMe && (
          <p className="small muted" id={`${idp}-self`}>
            You cannot remove your own admin role here: another admin must, so Gavel is never left without one.
          </p>
        )}
      </fieldset>
      <div className="field" style={{ maxWidth: 200 }}>
        <label htmlFor={`${idp}-rep`}>Reputation (0–100)</label>
        <input id={`${idp}-rep`} inputMode="numeric" value={reputation} onChange={(e) => setReputation(e.target.value)} aria-invalid={reputationError ? true : undefined} aria-describedby={reputationError ? `${idp}-rep-error` : undefined} />
        {reputationError && (
          <span className="error" id={`${idp}-rep-error`}>
            {reputationError}
          </span>
        )}
      </div>
      <div className="cluster">
        <button type="submit" className="btn primary small" disabled={action.busy || reputationError !== undefined}>
          {action.busy ? 'Saving…' : 'Save roles'}
        </button>
        <button type="button" className="btn small ghost" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
