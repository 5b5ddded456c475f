// The notifications inbox: newest first, unread marked, one at a time or all at once.
import { useEffect, useState } from 'react';
import { Empty, ErrorNotice, SignInPrompt } from '../components/Common.js';
import { hrefOf, inboxVersion, unread, type Notification } from '../lib/account.js';
import { api } from '../lib/api.js';
import { useServerNow } from '../lib/clock.js';
import { formatAgo } from '../lib/format.js';
import { useResource, useTitle } from '../lib/hooks.js';
import { Link } from '../lib/router.js';
import { useSession } from '../lib/session.js';
import { useStore } from '../lib/store.js';

interface Inbox {
  items: Notification[];
  nextCursor: string | null;
  unreadCount: number;
}

export function NotificationsPage() {
  useTitle('Notifications');
  const session = useSession();
  const version = useStore(inboxVersion);
  const [onlyUnread, setOnlyUnread] = useState(false);
  const [older, setOlder] = useState<{ items: Notification[]; cursor: string | null }>({ items: [], cursor: null });
  const inbox = useResource(session.token ? `${version}|${onlyUnread}` : null, (signal) => api<Inbox>('GET', '/api/notifications', { query: { limit: 30, unread: onlyUnread || undefined }, signal }));
  const now = useServerNow(30_000);
  useEffect(() => {
    if (inbox.data) {
      unread.set(inbox.data.unreadCount);
      setOlder({ items: [], cursor: inbox.data.nextCursor });
    }
  }, [inbox.data]);
  if (session.status === 'anonymous') return <div className="page"><SignInPrompt what="your notifications" /></div>;

  const markRead = (n: Notification) => {
    if (n.read) return;
    api<Notification>('POST', `/api/notifications/${n.id}/read`).then(
      (updated) => {
        inbox.setData((d) => (d ? { ...d, items: d.items.map((i) => (i.id === n.id ? updated : i)), unreadCount: Math.max(0, d.unreadCount - 1) } : d!));
        setOlder((o) => ({ ...o, items: o.items.map((i) => (i.id === n.id ? updated : i)) }));
        unread.set((u) => Math.max(0, u - 1));
      },
      () => {},
    );
  };
  const markAll = () => api('POST', '/api/notifications/read-all').then(() => inbox.reload(), () => {});
  const loadOlder = () => {
    if (!older.cursor) return;
    api<Inbox>('GET', '/api/notifications', { query: { limit: 30, cursor: older.cursor, unread: onlyUnread || undefined } }).then((r) => setOlder((o) => ({ items: [...o.items, ...r.items], cursor: r.nextCursor })));
  };
  const items = [...(inbox.data?.items ?? []), ...older.items];

  return (
    <div className="page">
      <div className="spread">
        <h1>Notifications</h1>
        <div className="cluster">
          <label className="check small">
            <input type="checkbox" checked={onlyUnread} onChange={(e) => setOnlyUnread(e.target.checked)} />
            Unread only
          </label>
          <button type="button" className="btn small" onClick={() => void markAll()} disabled={!inbox.data?.unreadCount}>
            Mark all as read
          </button>
        </div>
      </div>
      {inbox.error ? (
        <ErrorNotice error={inbox.error} retry={inbox.reload} />
      ) : !inbox.data ? (
        <p className="muted">Loading…</p>
      ) : items.length === 0 ? (
        <Empty title={onlyUnread ? 'Nothing unread' : 'No notifications yet'}>
          <p>Outbids, wins, top-ups and fills appear here as they happen.</p>
        </Empty>
      ) : (
        <div className="panel tight">
          <ul className="list" aria-label="Notifications">
            {items.map((n) => {
              const href = hrefOf(n);
              return (
                <li key={n.id} className={`notification ${n.read ? '' : 'unread'}`}>
                  <div className="spread">
                    <strong>
                      {href ? (
                        <Link to={href} onClick={() => markRead(n)}>
                          {n.title}
                        </Link>
                      ) : (
                        n.title
                      )}
                      {!n.read && <span className="visually-hidden"> (unread)</span>}
                    </strong>
                    <span className="small muted">{formatAgo(n.createdAt, now)}</span>
                  </div>
                  <div className="muted small">{n.body}</div>
                  {!n.read && (
                    <button type="button" className="btn small ghost" onClick={() => markRead(n)} style={{ paddingLeft: 0 }}>
                      Mark as read
                    </button>
                  )}
                </li>
              );
            })}
          </ul>
          {older.cursor && (
            <button type="button" className="btn small" onClick={loadOlder}>
              Show older
            </button>
          )}
        </div>
      )}
    </div>
  );
}
