// Admin: dead letters. Notification deliveries given up on after their last attempt (redrive one,
// or all), and purchase saga messages no consumer could use: redrive one that can be read now,
// or discard it (the server logs who did). docs/notifications.md and docs/purchases.md.
import { ErrorNotice } from '../components/Common.js';
import {
  discardPurchaseLetter,
  notificationDeadLetters,
  purchaseDeadLetters,
  redriveAllNotifications,
  redriveNotification,
  redrivePurchaseLetter,
  type NotificationDeadLetter,
  type PurchaseDeadLetter,
} from '../lib/admin.js';
import { formatDateTime } from '../lib/format.js';
import { usePagedResource } from '../lib/hooks.js';
import { ConfirmButton, Outcome, useAction } from './AdminParts.js';

export function AdminDeadLetters() {
  return (
    <div className="stack">
      <h2>Dead letters</h2>
      <NotificationLetters />
      <PurchaseLetters />
    </div>
  );
}

function NotificationLetters() {
  const paged = usePagedResource('notification-letters', notificationDeadLetters);
  const first = paged.first;
  const action = useAction();
  const total = first.data?.total ?? 0;
  const redriveOne = async (d: NotificationDeadLetter) => {
    const done = await action.run(() => redriveNotification(d.id), () => `“${d.notification.title}” will be sent again to its ${d.channel}, from a first attempt.`);
    if (done) paged.reload();
  };
  const redriveAll = async () => {
    const done = await action.run(() => redriveAllNotifications(), (r) => `${r.redriven} ${r.redriven === 1 ? 'delivery' : 'deliveries'} will be sent again${r.remaining ? `; ${r.remaining} left for another round` : ''}.`);
    if (done) paged.reload();
  };
  return (
    <section className="panel stack" aria-labelledby="notification-letters-h">
      <div className="spread">
        <h3 id="notification-letters-h">Notifications {first.data && <span className="badge">{total}</span>}</h3>
        <button type="button" className="btn small" disabled={action.busy || total === 0} onClick={() => void redriveAll()}>
          Redrive all
        </button>
      </div>
      <p className="small muted">E-mails and webhooks given up on after their last attempt. A redrive starts over from a first attempt.</p>
      <Outcome state={action} testId="notification-letters-outcome" />
      {first.error ? (
        <ErrorNotice error={first.error} retry={first.reload} />
      ) : !paged.items ? (
        <p className="muted">Loading…</p>
      ) : paged.items.length === 0 ? (
        <p className="muted">None: every notification was delivered or is still being tried.</p>
      ) : (
        <ul className="list" aria-label="Notification dead letters">
          {paged.items.map((d) => (
            <li key={d.id} className="spread">
              <div>
                <strong>{d.notification.title}</strong>
                <div className="small muted">
                  {d.kind} · by {d.channel} · {d.attempts} {d.attempts === 1 ? 'attempt' : 'attempts'} · {formatDateTime(d.lastAttemptAt ?? d.createdAt)}
                </div>
                {d.lastError && (
                  <div className="small">
                    <span className="muted">Last error: </span>
                    {d.lastError}
                  </div>
                )}
              </div>
              <button type="button" className="btn small" disabled={action.busy} aria-label={`Redrive “${d.notification.title}”`} onClick={() => void redriveOne(d)}>
                Redrive
              </button>
            </li>
          ))}
        </ul>
      )}
      {paged.more && (
        <button type="button" className="btn small" onClick={paged.more}>
          Show older
        </button>
      )}
    </section>
  );
}

function PurchaseLetters() {
  const paged = usePagedResource('purchase-letters', purchaseDeadLetters);
  const first = paged.first;
  const action = useAction();
  // Gone from the list at once; the reload brings the count (and the first page) up to date.
  const drop = (l: PurchaseDeadLetter) => {
    paged.remove((x) => x.eventId === l.eventId && x.consumer === l.consumer);
    paged.reload();
  };
  const redrive = async (l: PurchaseDeadLetter) => {
    const done = await action.run(() => redrivePurchaseLetter(l), (r) => `Sent again on ${r.topic} for purchase ${r.purchaseId}.`);
    if (done) drop(l);
  };
  const discard = async (l: PurchaseDeadLetter) => {
    const done = await action.run(() => discardPurchaseLetter(l), () => `Discarded the message on ${l.topic}; the server log keeps it.`);
    if (done) drop(l);
  };
  return (
    <section className="panel stack" aria-labelledby="purchase-letters-h">
      <h3 id="purchase-letters-h">Purchases {first.data && <span className="badge">{first.data.total}</span>}</h3>
      <p className="small muted">
        Saga messages a consumer could not use. One that can be read now (say, written by a newer version that this node now knows) can be redriven; one that
        still cannot is only discarded.
      </p>
      <Outcome state={action} testId="purchase-letters-outcome" />
      {first.error ? (
        <ErrorNotice error={first.error} retry={first.reload} />
      ) : !paged.items ? (
        <p className="muted">Loading…</p>
      ) : paged.items.length === 0 ? (
        <p className="muted">None: every purchase message was read.</p>
      ) : (
        <ul className="list" aria-label="Purchase dead letters">
          {paged.items.map((l) => (
            <li key={`${l.consumer}/${l.eventId}`} className="stack" data-testid={`purchase-letter-${l.eventId}`}>
              <div className="spread">
                <div>
                  <strong className="mono">{l.topic}</strong>
                  <div className="small muted">
                    {l.consumer} · {formatDateTime(l.createdAt)}
                    {l.purchaseId && <> · purchase {l.purchaseId}</>}
                  </div>
                </div>
                <span className={`badge ${l.redrivable ? 'success' : 'warning'}`}>{l.redrivable ? 'Readable now' : 'Cannot be used'}</span>
              </div>
              <p className="small">
                <span className="muted">Why: </span>
                {l.reason}
                {l.problemNow && l.problemNow !== l.reason && (
                  <>
                    <br />
                    <span className="muted">Now: </span>
                    {l.problemNow}
                  </>
                )}
              </p>
              <details>
                <summary className="small">Payload ({l.payloadBytes} bytes)</summary>
                <pre className="payload">{l.payloadPreview}</pre>
              </details>
              <div className="cluster">
                <button type="button" className="btn small" disabled={action.busy || !l.redrivable} aria-label={`Redrive the message on ${l.topic}`} title={l.problemNow ?? undefined} onClick={() => void redrive(l)}>
                  Redrive
                </button>
                <ConfirmButton label="Discard" question={`Discard the message on ${l.topic}?`} confirmLabel="Discard" disabled={action.busy} onConfirm={() => void discard(l)} />
              </div>
            </li>
          ))}
        </ul>
      )}
      {paged.more && (
        <button type="button" className="btn small" onClick={paged.more}>
          Show older
        </button>
      )}
    </section>
  );
}
