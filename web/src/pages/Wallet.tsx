// The wallet: balances per currency, top-up through the payment provider's confirmation page
// (the sandbox here), withdrawals, currency exchange at the house rate, and the statement.
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { CodeSelect, ErrorNotice, Field, Money, SignInPrompt } from '../components/Common.js';
import { preferCurrency, refreshWallets, wallets, type Wallet } from '../lib/account.js';
import { ApiError, api, messageOf } from '../lib/api.js';
import { formatDateTime } from '../lib/format.js';
import { useInterval, useResource, useTitle } from '../lib/hooks.js';
import { newKey } from '../lib/ids.js';
import { currencies, formatMoney, toMinor, scaleOf } from '../lib/money.js';
import { Link, useQuery } from '../lib/router.js';
import { useSession } from '../lib/session.js';
import { useStore } from '../lib/store.js';

interface Topup {
  id: string;
  status: 'pending' | 'succeeded' | 'declined' | 'expired' | 'failed';
  amount: string;
  currency: string;
  redirectUrl: string | null;
  expiresAt: string;
  createdAt: string;
}

interface Withdrawal {
  id: string;
  status: 'requested' | 'paid' | 'failed';
  amount: string;
  currency: string;
  providerPageUrl: string | null;
  createdAt: string;
}

interface Transfer {
  id: string;
  kind: 'posted' | 'hold' | 'capture' | 'release' | string;
  direction: 'in' | 'out';
  amount: string;
  currency: string;
  owner: string | null;
  holdStatus: string | null;
  memo: string | null;
  createdAt: string;
}

export function WalletPage({ currency: selected }: { currency?: string }) {
  useTitle(selected ? `${selected} wallet` : 'Wallet');
  const session = useSession();
  const { items, loaded } = useStore(wallets);
  const query = useQuery();
  useEffect(() => refreshWallets(0), []);
  useEffect(() => {
    if (selected) preferCurrency(selected);
  }, [selected]);
  if (session.status === 'anonymous') return <div className="page"><SignInPrompt what="your wallet" /></div>;
  const open = items.filter((w) => !w.closed);
  const current = selected ?? open[0]?.currency ?? 'USD';

  return (
    <div className="page stack">
      <div className="spread">
        <h1>Wallet</h1>
        <span className="small muted">Sandbox payments: no real money moves.</span>
      </div>
      {loaded && open.length === 0 && <p className="notice">You have no wallet yet. Top up in any currency to open one.</p>}
      <div className="balances" role="list" aria-label="Balances">
        {open.map((w) => (
          <BalanceCard key={w.currency} wallet={w} current={w.currency === current} />
        ))}
      </div>
      <div className="forms-grid">
        <TopUp key={`t-${current}`} initialCurrency={current} autoFocus={query.get('topup') === '1'} />
        <Withdraw key={`w-${current}`} wallets={open} initialCurrency={current} />
        <Exchange wallets={open} initialFrom={current} />
      </div>
      <Statement currency={current} />
    </div>
  );
}

function BalanceCard({ wallet, current }: { wallet: Wallet; current: boolean }) {
  return (
    <Link role="listitem" className="card balance" to={`/wallet/${wallet.currency}`} aria-current={current ? 'true' : undefined} data-testid={`balance-${wallet.currency}`}>
      <div className="code">{wallet.currency}</div>
      <div className="amount">{formatMoney(wallet.available, wallet.currency)}</div>
      <div className="small muted">
        available · {formatMoney(wallet.held, wallet.currency)} held · {formatMoney(wallet.posted, wallet.currency)} balance
      </div>
    </Link>
  );
}

function amountError(amount: string, currency: string): string | undefined {
  const scale = scaleOf(currency);
  const minor = toMinor(amount, scale);
  if (minor === null) return `Enter an amount like ${scale > 0 ? `25.${'0'.repeat(scale)}` : '2500'} (at most ${scale} decimals)`;
  if (minor === 0n) return 'Enter an amount above zero';
  return undefined;
}

function TopUp({ initialCurrency, autoFocus }: { initialCurrency: string; autoFocus: boolean }) {
  const all = [...useStore(currencies).values()].map((c) => c.code);
  const codes = all.length ? all : [initialCurrency];
  const [currency, setCurrency] = useState(initialCurrency);
  const [amount, setAmount] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const [pending, setPending] = useState<Topup | null>(null);
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => {
    if (autoFocus) input.current?.focus();
  }, [autoFocus]);

  // While a top-up waits for the payer, its status is checked every 2 s (the inbox push, when
  // it comes, also refreshes the balance).
  useInterval(
    () => {
      if (!pending) return;
      api<Topup>('GET', `/api/wallets/${pending.currency}/topups/${pending.id}`).then(
        (t) => {
          if (t.status !== 'pending') refreshWallets(0);
          setPending(t);
        },
        () => {},
      );
    },
    pending?.status === 'pending' ? 2000 : null,
  );

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const problem = amountError(amount, currency);
    setError(problem);
    if (problem) return;
    // Open the window in the click, before the request: browsers block pop-ups opened later.
    const popup = window.open('', '_blank');
    setBusy(true);
    try {
      const t = await api<Topup>('POST', `/api/wallets/${currency}/topups`, { body: { amount: amount.trim() }, idempotencyKey: newKey('topup') });
      setPending(t);
      setAmount('');
      if (t.redirectUrl) {
        if (popup) popup.location.href = t.redirectUrl;
        else window.location.assign(t.redirectUrl);
      } else popup?.close();
    } catch (err) {
      popup?.close();
      setError(err instanceof ApiError ? (err.fieldMessage('amount') ?? err.message) : messageOf(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="panel" onSubmit={submit} noValidate aria-labelledby="topup-h">
      <h2 id="topup-h">Top up</h2>
      <CodeSelect id="topup-currency" label="Currency" value={currency} onChange={setCurrency} codes={codes} />
      <Field id="topup-amount" label="Amount" error={error}>
        <div className="input-affix">
          <input ref={input} id="topup-amount" inputMode="decimal" autoComplete="off" value={amount} onChange={(e) => setAmount(e.target.value)} aria-invalid={error ? true : undefined} />
          <span>{currency}</span>
        </div>
      </Field>
      <button type="submit" className="btn primary" disabled={busy}>
        {busy ? 'Starting…' : 'Continue to payment'}
      </button>
      <p className="small muted">You confirm the payment on the provider's page, which opens in a new tab.</p>
      {pending && <TopupStatus topup={pending} />}
    </form>
  );
}

function TopupStatus({ topup }: { topup: Topup }) {
  const amount = formatMoney(topup.amount, topup.currency);
  if (topup.status === 'pending')
    return (
      <div className="notice" role="status" data-testid="topup-status">
        <p>
          Waiting for you to confirm {amount} on the payment page.{' '}
          {topup.redirectUrl && (
            <a href={topup.redirectUrl} target="_blank" rel="noopener">
              Open the payment page
            </a>
          )}
        </p>
      </div>
    );
  if (topup.status === 'succeeded')
    return (
      <div className="notice success" role="status" data-testid="topup-status">
        <p>{amount} was added to your wallet.</p>
      </div>
    );
  return (
    <div className="notice warning" role="status" data-testid="topup-status">
      <p>
        The top-up of {amount} was {topup.status}. Nothing was charged.
      </p>
    </div>
  );
}

function Withdraw({ wallets: open, initialCurrency }: { wallets: Wallet[]; initialCurrency: string }) {
  const codes = open.map((w) => w.currency);
  const [currency, setCurrency] = useState(codes.includes(initialCurrency) ? initialCurrency : (codes[0] ?? initialCurrency));
  const [amount, setAmount] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [done, setDone] = useState<Withdrawal | null>(null);
  const [busy, setBusy] = useState(false);
  const wallet = open.find((w) => w.currency === currency);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const problem = amountError(amount, currency);
    setError(problem);
    if (problem) return;
    setBusy(true);
    try {
      const w = await api<Withdrawal>('POST', `/api/wallets/${currency}/withdrawals`, { body: { amount: amount.trim() }, idempotencyKey: newKey('withdraw') });
      setDone(w);
      setAmount('');
      refreshWallets(0);
    } catch (err) {
      setError(err instanceof ApiError ? (err.fieldMessage('amount') ?? err.message) : messageOf(err));
    } finally {
      setBusy(false);
    }
  };
  if (codes.length === 0)
    return (
      <div className="panel">
        <h2>Withdraw</h2>
        <p className="muted">Nothing to withdraw yet.</p>
      </div>
    );
  return (
    <form className="panel" onSubmit={submit} noValidate aria-labelledby="withdraw-h">
      <h2 id="withdraw-h">Withdraw</h2>
      <CodeSelect id="withdraw-currency" label="From wallet" value={currency} onChange={setCurrency} codes={codes} />
      <Field id="withdraw-amount" label="Amount" error={error} hint={wallet ? <>Available: {formatMoney(wallet.available, currency)}</> : undefined}>
        <div className="input-affix">
          <input id="withdraw-amount" inputMode="decimal" autoComplete="off" value={amount} onChange={(e) => setAmount(e.target.value)} aria-invalid={error ? true : undefined} />
          <span>{currency}</span>
        </div>
      </Field>
      <button type="submit" className="btn" disabled={busy}>
        Withdraw
      </button>
      {done && (
        <div className="notice" role="status">
          <p>
            {formatMoney(done.amount, done.currency)} is on its way to your bank; it is held in your wallet until the payout completes.
            {done.providerPageUrl && (
              <>
                {' '}
                <a href={done.providerPageUrl} target="_blank" rel="noopener">
                  Sandbox: settle the payout
                </a>
              </>
            )}
          </p>
        </div>
      )}
    </form>
  );
}

interface Quote {
  from: { currency: string; amount: string };
  to: { currency: string; amount: string };
  spread: { currency: string; amount: string; bps: number };
  rate: string;
}

function Exchange({ wallets: open, initialFrom }: { wallets: Wallet[]; initialFrom: string }) {
  const all = [...useStore(currencies).values()].map((c) => c.code);
  const fromCodes = open.map((w) => w.currency);
  const [from, setFrom] = useState(fromCodes.includes(initialFrom) ? initialFrom : (fromCodes[0] ?? initialFrom));
  const [to, setTo] = useState(() => all.find((c) => c !== from) ?? 'EUR');
  const [amount, setAmount] = useState('');
  const [quote, setQuote] = useState<{ quote: Quote | null; error: string | null }>({ quote: null, error: null });
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState<string | null>(null);

  useEffect(() => {
    setQuote({ quote: null, error: null });
    if (from === to || amountError(amount, from)) return;
    const controller = new AbortController();
    const timer = setTimeout(() => {
      api<Quote>('GET', '/api/wallets/exchange/quote', { query: { from, to, amount: amount.trim() }, signal: controller.signal }).then(
        (q) => setQuote({ quote: q, error: null }),
        (err: unknown) => {
          if (!controller.signal.aborted) setQuote({ quote: null, error: err instanceof ApiError && err.code === 'RATE_NOT_FOUND' ? `Gavel does not exchange ${from} to ${to} yet.` : messageOf(err) });
        },
      );
    }, 300);
    return () => {
      clearTimeout(timer);
      controller.abort();
    };
  }, [from, to, amount]);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!quote.quote) return;
    setBusy(true);
    setDone(null);
    try {
      const r = await api<Quote>('POST', '/api/wallets/exchange', { body: { from, to, amount: amount.trim(), minReceive: quote.quote.to.amount }, idempotencyKey: newKey('fx') });
      setDone(`Converted ${formatMoney(r.from.amount, from)} into ${formatMoney(r.to.amount, to)}.`);
      setAmount('');
      refreshWallets(0);
    } catch (err) {
      setQuote({ quote: null, error: err instanceof ApiError && err.code === 'EXCHANGE_BELOW_MINIMUM' ? 'The rate moved. Check the new quote and try again.' : messageOf(err) });
    } finally {
      setBusy(false);
    }
  };
  if (fromCodes.length === 0)
    return (
      <div className="panel">
        <h2>Exchange</h2>
        <p className="muted">Top up first; then convert between your wallets here.</p>
      </div>
    );
  return (
    <form className="panel" onSubmit={submit} noValidate aria-labelledby="fx-h">
      <h2 id="fx-h">Exchange</h2>
      <div className="filters row2" style={{ display: 'grid', gridTemplateColumns: '1fr 1fr', gap: 8 }}>
        <CodeSelect id="fx-from" label="From" value={from} onChange={setFrom} codes={fromCodes} />
        <CodeSelect id="fx-to" label="To" value={to} onChange={setTo} codes={all.filter((c) => c !== from)} />
      </div>
      <Field id="fx-amount" label="Amount">
        <div className="input-affix">
          <input id="fx-amount" inputMode="decimal" autoComplete="off" value={amount} onChange={(e) => setAmount(e.target.value)} />
          <span>{from}</span>
        </div>
      </Field>
      <div aria-live="polite" className="small">
        {quote.quote ? (
          <p>
            You receive <strong>{formatMoney(quote.quote.to.amount, to)}</strong> at {quote.quote.rate} (house spread {formatMoney(quote.quote.spread.amount, to)}, {quote.quote.spread.bps / 100}%).
          </p>
        ) : quote.error ? (
          <p className="notice warning">{quote.error}</p>
        ) : null}
        {done && <p className="notice success">{done}</p>}
      </div>
      <button type="submit" className="btn" disabled={busy || !quote.quote}>
        Convert
      </button>
    </form>
  );
}

function describe(t: Transfer): string {
  const owner = t.owner ?? '';
  if (owner.startsWith('topup:')) return 'Top-up';
  if (owner.startsWith('withdrawal:')) return t.kind === 'hold' ? 'Withdrawal (held)' : t.kind === 'release' ? 'Withdrawal returned' : 'Withdrawal';
  if (owner.startsWith('auction:')) return t.kind === 'hold' ? 'Bid hold' : t.kind === 'release' ? 'Bid hold released' : t.kind === 'capture' ? 'Auction payment' : (t.memo ?? 'Auction');
  if (owner.startsWith('exchange:')) return /^exchange:[A-Z0-9]+-[A-Z0-9]+$/.test(owner) ? `Exchange trade (${owner.slice(9)})` : 'Currency exchange';
  if (owner.startsWith('order:')) return 'Order refund';
  return t.memo ?? t.kind;
}

function Statement({ currency }: { currency: string }) {
  const [items, setItems] = useState<Transfer[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [more, setMore] = useState(false);
  const walletsState = useStore(wallets);
  const first = useResource(`${currency}|${walletsState.items.find((w) => w.currency === currency)?.posted ?? ''}|${walletsState.items.find((w) => w.currency === currency)?.held ?? ''}`, (signal) =>
    api<{ items: Transfer[]; nextCursor: string | null }>('GET', `/api/wallets/${currency}/transfers`, { query: { limit: 25 }, signal }),
  );
  useEffect(() => {
    if (first.data) {
      setItems(first.data.items);
      setCursor(first.data.nextCursor);
    }
  }, [first.data]);
  const loadMore = () => {
    if (!cursor) return;
    setMore(true);
    api<{ items: Transfer[]; nextCursor: string | null }>('GET', `/api/wallets/${currency}/transfers`, { query: { limit: 25, cursor } })
      .then((r) => {
        setItems((i) => [...i, ...r.items]);
        setCursor(r.nextCursor);
      })
      .finally(() => setMore(false));
  };
  const notFound = first.error instanceof ApiError && first.error.status === 404;
  return (
    <section className="panel" aria-labelledby="statement-h">
      <h2 id="statement-h">{currency} statement</h2>
      <p className="small muted">Holds set money aside (for a leading bid, an open order, a withdrawal): they lower what is available, not the balance, until captured or released.</p>
      {notFound ? (
        <p className="muted">No {currency} wallet yet.</p>
      ) : first.error ? (
        <ErrorNotice error={first.error} retry={first.reload} />
      ) : items.length === 0 ? (
        <p className="muted">{first.loading ? 'Loading…' : 'No movements yet.'}</p>
      ) : (
        <div className="table-wrap">
          <table className="data">
            <thead>
              <tr>
                <th scope="col">Date</th>
                <th scope="col">What</th>
                <th scope="col">Status</th>
                <th scope="col" className="right">
                  Amount
                </th>
              </tr>
            </thead>
            <tbody>
              {items.map((t) => (
                <tr key={t.id}>
                  <td>{formatDateTime(t.createdAt)}</td>
                  <td>{describe(t)}</td>
                  <td className="small muted">{t.kind === 'hold' ? `hold, ${t.holdStatus ?? 'pending'}` : t.kind}</td>
                  <td className={`right ${t.kind === 'hold' || t.kind === 'release' ? 'muted' : t.direction === 'in' ? 'amount-positive' : 'amount-negative'}`}>
                    {t.kind === 'hold' ? '' : t.kind === 'release' || t.direction === 'in' ? '+' : '−'}
                    <Money amount={t.amount} currency={t.currency} />
                    {t.kind === 'hold' ? ' held' : t.kind === 'release' ? ' released' : ''}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {cursor && (
        <button type="button" className="btn small" disabled={more} onClick={loadMore} style={{ marginTop: 12 }}>
          Show older
        </button>
      )}
    </section>
  );
}
