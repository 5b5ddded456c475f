// A purchase as it runs: the saga's four steps and each one's state, followed live by polling
// GET /api/purchases/{id} until it ends completed or compensated, with what that means for
// the buyer (and, when compensated, why and what was given back). And "My purchases".
import { useEffect, useState } from 'react';
import { Empty, ErrorNotice, Money, SignInPrompt } from '../components/Common.js';
import { MorePages } from '../components/Paging.js';
import { refreshWallets } from '../lib/account.js';
import { ApiError, messageOf } from '../lib/api.js';
import { formatDateTime, formatTime } from '../lib/format.js';
import { useCursorPages, useTitle } from '../lib/hooks.js';
import { Link } from '../lib/router.js';
import { useSession } from '../lib/session.js';
import { failureText, getPurchase, hasEnded, listPurchases, STEP_STATUS_TEXT, STEP_TEXT, type Purchase, type PurchaseStep } from '../lib/shop.js';

/** How often a running purchase is asked for again: quickly at first, then less often. */
function pollDelayMs(elapsedMs: number): number {
  return elapsedMs < 10_000 ? 500 : elapsedMs < 60_000 ? 2_000 : 5_000;
}

/** The purchase, asked for again until it has ended. */
function usePurchase(id: string, enabled: boolean): { purchase: Purchase | null; error: unknown; retry: () => void } {
  const [purchase, setPurchase] = useState<Purchase | null>(null);
  const [error, setError] = useState<unknown>(undefined);
  const [attempt, setAttempt] = useState(0);
  useEffect(() => {
    if (!enabled) return;
    const controller = new AbortController();
    const startedMs = Date.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const tick = () => {
      getPurchase(id, controller.signal).then(
        (p) => {
          setPurchase(p);
          setError(undefined);
          if (hasEnded(p)) refreshWallets(0);
          else timer = setTimeout(tick, pollDelayMs(Date.now() - startedMs));
        },
        (err: unknown) => {
          if (controller.signal.aborted) return;
          setError(err);
          // A purchase that is not there (or not yours) will not appear by asking again.
          if (!(err instanceof ApiError && (err.status === 404 || err.status === 400))) timer = setTimeout(tick, 2_000);
        },
      );
    };
    tick();
    return () => {
      controller.abort();
      clearTimeout(timer);
    };
  }, [id, enabled, attempt]);
  return { purchase, error, retry: () => setAttempt((a) => a + 1) };
}

export function PurchasePage({ id }: { id: string }) {
  const session = useSession();
  const { purchase, error, retry } = usePurchase(id, session.status === 'signed-in');
  useTitle(purchase ? (purchase.status === 'completed' ? 'Purchase complete' : purchase.status === 'compensated' ? 'Purchase not completed' : 'Purchase in progress') : 'Purchase');
  if (session.status === 'anonymous')
    return (
      <div className="page">
        <SignInPrompt what="your purchase" />
      </div>
    );
  if (!purchase)
    return (
      <div className="page">
        {error ? (
          <>
            <ErrorNotice error={error} retry={retry} />
            <Link to="/me/purchases">Your purchases</Link>
          </>
        ) : (
          <div className="skeleton" style={{ height: 320 }} aria-busy="true" aria-label="Loading the purchase" />
        )}
      </div>
    );
  return (
    <div className="page stack purchase-page">
      <nav aria-label="Breadcrumb">
        <ol className="breadcrumbs">
          <li>
            <Link to="/shop">Shop</Link>
          </li>
          <li>
            <Link to="/me/purchases">My purchases</Link>
          </li>
        </ol>
      </nav>
      <h1>Your purchase</h1>
      <Outcome purchase={purchase} />
      {error !== undefined && <p className="notice warning small">Could not refresh: {messageOf(error)} Trying again…</p>}
      <div className="two-col">
        <section className="panel" aria-labelledby="steps-h">
          <h2 id="steps-h">Steps</h2>
          <ol className="saga-steps">
            {purchase.steps.map((s, i) => (
              <Step key={s.name} step={s} index={i} />
            ))}
          </ol>
        </section>
        <section className="panel tight" aria-labelledby="items-h">
          <h2 id="items-h" className="h3">
            Items
          </h2>
          <Items purchase={purchase} />
          <p className="small muted">
            Started {formatDateTime(purchase.createdAt)}
            {purchase.finishedAt && `; ended ${formatDateTime(purchase.finishedAt)}`}.
          </p>
        </section>
      </div>
    </div>
  );
}

function Outcome({ purchase: p }: { purchase: Purchase }) {
  const total = p.total === null ? null : <Money amount={p.total} currency={p.currency} />;
  const body = (() => {
    switch (p.status) {
      case 'running':
        return (
          <div className="notice" data-state="running">
            <p>
              <strong>Working on it…</strong> Each step below turns to “Done” as it goes through.
            </p>
          </div>
        );
      case 'compensating':
        return (
          <div className="notice warning" data-state="compensating">
            <p>
              <strong>This purchase cannot go through.</strong> {p.failure ? failureText(p.failure.reason, p.currency) : ''} The steps already taken are being undone.
            </p>
          </div>
        );
      case 'completed':
        return (
          <div className="notice success" data-state="completed">
            <p>
              <strong>Purchase complete.</strong> You paid {total} from your {p.currency} wallet; {p.orderIds.length === 1 ? 'your order was created' : `${p.orderIds.length} orders were created`}, and the seller ships from here.
            </p>
            <p>
              <Link to="/me/orders">See your orders</Link>
            </p>
          </div>
        );
      case 'compensated':
        return (
          <div className="notice danger" data-state="compensated">
            <p>
              <strong>Purchase not completed.</strong> {p.failure ? failureText(p.failure.reason, p.currency) : 'It could not be completed.'}
            </p>
            {p.failure?.detail && <p className="small">{p.failure.detail}</p>}
            <p>Nothing was charged, and nothing stays reserved: what the steps had set aside is on sale again, and any money held for it is available in your wallet.</p>
          </div>
        );
    }
  })();
  return (
    <div role="status" aria-live="polite" data-testid="purchase-status" data-status={p.status}>
      {body}
    </div>
  );
}

const STEP_TONE: Record<PurchaseStep['status'], string> = {
  pending: '',
  running: 'info',
  succeeded: 'success',
  failed: 'danger',
  timed_out: 'danger',
  compensating: 'warning',
  compensated: 'warning',
};

function Step({ step, index }: { step: PurchaseStep; index: number }) {
  const text = STEP_TEXT[step.name];
  const at = step.compensatedAt ?? step.finishedAt ?? step.startedAt;
  return (
    <li className={`saga-step ${step.status}`} data-testid={`step-${step.name}`} data-status={step.status}>
      <span className="saga-step-number" aria-hidden="true">
        {index + 1}
      </span>
      <div className="saga-step-body">
        <div className="spread">
          <strong>{text.title}</strong>
          <span className={`badge ${STEP_TONE[step.status]}`}>{STEP_STATUS_TEXT[step.status]}</span>
        </div>
        <p className="small muted">{step.status === 'compensated' && text.undo ? text.undo : text.does}</p>
        {step.error && (
          <p className="small amount-negative">
            {step.error.detail} ({step.error.code})
          </p>
        )}
        {at && (
          <p className="small muted">
            <time dateTime={at}>{formatTime(at)}</time>
            {step.attempts > 1 && ` · sent ${step.attempts} times`}
          </p>
        )}
      </div>
    </li>
  );
}

function Items({ purchase: p }: { purchase: Purchase }) {
  return (
    <div className="table-wrap">
      <table className="data">
        <caption className="visually-hidden">What this purchase buys</caption>
        <thead>
          <tr>
            <th scope="col">Item</th>
            <th scope="col" className="right">
              Qty
            </th>
            <th scope="col" className="right">
              Amount
            </th>
          </tr>
        </thead>
        <tbody>
          {p.items.map((i) => (
            <tr key={i.productId}>
              <td>
                <Link to={`/shop/${i.productId}`}>{i.title ?? 'Product'}</Link>
                {i.unitPrice && (
                  <div className="small muted">
                    <Money amount={i.unitPrice} currency={p.currency} /> each
                  </div>
                )}
              </td>
              <td className="right">{i.quantity}</td>
              <td className="right">{i.amount ? <Money amount={i.amount} currency={p.currency} /> : '—'}</td>
            </tr>
          ))}
          <tr>
            <th scope="row" colSpan={2}>
              Total
            </th>
            <td className="right" data-testid="purchase-total">
              {p.total ? <Money amount={p.total} currency={p.currency} /> : <span className="muted">once reserved</span>}
            </td>
          </tr>
        </tbody>
      </table>
    </div>
  );
}

// --- My purchases -------------------------------------------------------------------------------

const STATUS_BADGE: Record<Purchase['status'], [string, string]> = {
  running: ['info', 'In progress'],
  compensating: ['warning', 'Undoing'],
  completed: ['success', 'Completed'],
  compensated: ['danger', 'Not completed'],
};

export function MyPurchases() {
  const { pages: state, load } = useCursorPages<Purchase>('purchases', listPurchases);
  if (state.error !== undefined && state.items.length === 0) return <ErrorNotice error={state.error} retry={() => load(null)} />;
  if (state.loading && state.items.length === 0) return <p className="muted">Loading…</p>;
  if (state.items.length === 0)
    return (
      <Empty title="No purchases yet">
        <p>Things you buy in the shop appear here, with how each purchase went.</p>
        <Link className="btn primary" to="/shop">
          Visit the shop
        </Link>
      </Empty>
    );
  return (
    <div className="stack">
      <div className="table-wrap panel tight">
        <table className="data">
          <caption className="visually-hidden">Your purchases, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Items</th>
              <th scope="col" className="right">
                Total
              </th>
              <th scope="col">Status</th>
              <th scope="col">Date</th>
            </tr>
          </thead>
          <tbody>
            {state.items.map((p) => {
              const [tone, label] = STATUS_BADGE[p.status];
              const names = p.items.map((i) => (i.title ? `${i.title} × ${i.quantity}` : `${i.quantity} item${i.quantity === 1 ? '' : 's'}`)).join(', ');
              return (
                <tr key={p.id}>
                  <td>
                    <Link to={`/purchases/${p.id}`}>{names}</Link>
                  </td>
                  <td className="right">{p.total ? <Money amount={p.total} currency={p.currency} /> : '—'}</td>
                  <td>
                    <span className={`badge ${tone}`}>{label}</span>
                    {p.failure && <div className="small muted">{failureText(p.failure.reason, p.currency)}</div>}
                  </td>
                  <td className="small">{formatDateTime(p.createdAt)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      <MorePages pages={state} load={load} />
    </div>
  );
}
