// Admin: the exchange. Instruments (list one, halt and resume trading), assets (list a new code
// with its scale), and issuing or redeeming an asset or currency in someone's wallet, which is
// a ledger adjustment against the currency's issuance account (docs/exchange.md).
import { useState, type FormEvent } from 'react';
import { CodeSelect, ErrorNotice, Field } from '../components/Common.js';
import { adjust, createAsset, createInstrument, refreshCurrencies, setHalted, type NewInstrument } from '../lib/admin.js';
import { listInstruments, type Instrument } from '../lib/exchange.js';
import { useResource } from '../lib/hooks.js';
import { newKey } from '../lib/ids.js';
import { currencies, formatMoney, scaleOf, toMinor } from '../lib/money.js';
import { useStore } from '../lib/store.js';
import { Outcome, useAction } from './AdminParts.js';

const DECIMAL = /^(0|[1-9][0-9]*)(\.[0-9]+)?$/;

export function AdminExchange() {
  const instruments = useResource('instruments', (signal) => listInstruments(signal));
  const action = useAction();
  const toggle = async (i: Instrument) => {
    const halt = i.status === 'trading';
    const updated = await action.run(() => setHalted(i.symbol, halt), (r) => (r.status === 'halted' ? `Trading in ${r.symbol} is halted: new orders are refused, cancels still work.` : `Trading in ${r.symbol} has resumed.`));
    if (updated) instruments.setData((d) => ({ items: (d?.items ?? []).map((x) => (x.symbol === updated.symbol ? updated : x)) }));
  };
  return (
    <section className="stack" aria-labelledby="instruments-h">
      <h2 id="instruments-h">Instruments</h2>
      <Outcome state={action} testId="instrument-outcome" />
      <div className="panel tight">
        {instruments.error ? (
          <ErrorNotice error={instruments.error} retry={instruments.reload} />
        ) : !instruments.data ? (
          <p className="muted">Loading…</p>
        ) : instruments.data.items.length === 0 ? (
          <p className="muted">No instruments yet. List an asset, then an instrument trading it, below.</p>
        ) : (
          <div className="table-wrap">
            <table className="data">
              <thead>
                <tr>
                  <th scope="col">Symbol</th>
                  <th scope="col">Trading</th>
                  <th scope="col">Tick / lot</th>
                  <th scope="col">Order size</th>
                  <th scope="col">Fees (maker / taker)</th>
                </tr>
              </thead>
              <tbody>
                {instruments.data.items.map((i) => (
                  <tr key={i.symbol} data-testid={`instrument-${i.symbol}`}>
                    <th scope="row">{i.symbol}</th>
                    <td>
                      <span className="cluster">
                        <span className={`badge ${i.status === 'trading' ? 'success' : 'warning'}`}>{i.status}</span>
                        <button type="button" className="btn small" disabled={action.busy} onClick={() => void toggle(i)} aria-label={`${i.status === 'trading' ? 'Halt' : 'Resume'} ${i.symbol}`}>
                          {i.status === 'trading' ? 'Halt' : 'Resume'}
                        </button>
                      </span>
                    </td>
                    <td>
                      {i.tickSize} {i.quote} / {i.lotSize} {i.base}
                    </td>
                    <td>
                      {i.minQuantity}–{i.maxQuantity}
                    </td>
                    <td>
                      {i.makerFeeBps} / {i.takerFeeBps} bps
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </div>
      <div className="forms-grid">
        <ListInstrument onListed={(i) => instruments.setData((d) => ({ items: [...(d?.items ?? []), i] }))} />
        <ListAsset />
        <IssueOrRedeem />
      </div>
    </section>
  );
}

function ListInstrument({ onListed }: { onListed: (i: Instrument) => void }) {
  const known = [...useStore(currencies).values()];
  const assets = known.filter((c) => c.kind !== 'fiat').map((c) => c.code);
  const fiat = known.filter((c) => c.kind === 'fiat').map((c) => c.code);
  const [base, setBase] = useState('');
  const [quote, setQuote] = useState('USD');
  const [form, setForm] = useState({ tickSize: '0.01', lotSize: '1', minQuantity: '', maxQuantity: '1000000', makerFeeBps: '10', takerFeeBps: '20', protectionBps: '' });
  const action = useAction();
  const baseCode = base || assets[0] || '';
  const set = (k: keyof typeof form) => (e: { target: { value: string } }) => setForm((f) => ({ ...f, [k]: e.target.value }));
  const decimals = (['tickSize', 'lotSize', 'maxQuantity'] as const).filter((k) => !DECIMAL.test(form[k].trim()));
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!baseCode || decimals.length > 0) return;
    const bps = (text: string) => (text.trim() === '' ? undefined : Number(text));
    const input: NewInstrument = {
      base: baseCode,
      quote,
      tickSize: form.tickSize.trim(),
      lotSize: form.lotSize.trim(),
      maxQuantity: form.maxQuantity.trim(),
      ...(form.minQuantity.trim() && { minQuantity: form.minQuantity.trim() }),
      ...(bps(form.makerFeeBps) !== undefined && { makerFeeBps: bps(form.makerFeeBps)! }),
      ...(bps(form.takerFeeBps) !== undefined && { takerFeeBps: bps(form.takerFeeBps)! }),
      ...(bps(form.protectionBps) !== undefined && { protectionBps: bps(form.protectionBps)! }),
    };
    const listed = await action.run(() => createInstrument(input), (i) => `Listed ${i.symbol}: trading now.`);
    if (listed) onListed(listed);
  };
  const fieldError = (k: (typeof decimals)[number]) => (decimals.includes(k) ? 'A plain decimal, like 0.01' : undefined);
  return (
    <form className="panel stack" onSubmit={submit} noValidate aria-labelledby="list-instrument-h">
      <h3 id="list-instrument-h">List an instrument</h3>
      {assets.length === 0 ? (
        <p className="muted small">List an asset first: an instrument trades an asset for a currency.</p>
      ) : (
        <>
          <div className="pair">
            <CodeSelect id="instrument-base" label="Asset (base)" value={baseCode} onChange={setBase} codes={assets} />
            <CodeSelect id="instrument-quote" label="Currency (quote)" value={quote} onChange={setQuote} codes={fiat.length ? fiat : ['USD']} />
          </div>
          <div className="pair">
            <Field id="instrument-tick" label="Tick size" hint={`price step, ${quote}`} error={fieldError('tickSize')}>
              <input id="instrument-tick" inputMode="decimal" value={form.tickSize} onChange={set('tickSize')} />
            </Field>
            <Field id="instrument-lot" label="Lot size" hint="quantity step" error={fieldError('lotSize')}>
              <input id="instrument-lot" inputMode="decimal" value={form.lotSize} onChange={set('lotSize')} />
            </Field>
            <Field id="instrument-min" label="Minimum order" hint="default: one lot">
              <input id="instrument-min" inputMode="decimal" value={form.minQuantity} onChange={set('minQuantity')} />
            </Field>
            <Field id="instrument-max" label="Maximum order" error={fieldError('maxQuantity')}>
              <input id="instrument-max" inputMode="decimal" value={form.maxQuantity} onChange={set('maxQuantity')} />
            </Field>
            <Field id="instrument-maker" label="Maker fee (bps)">
              <input id="instrument-maker" inputMode="numeric" value={form.makerFeeBps} onChange={set('makerFeeBps')} />
            </Field>
            <Field id="instrument-taker" label="Taker fee (bps)">
              <input id="instrument-taker" inputMode="numeric" value={form.takerFeeBps} onChange={set('takerFeeBps')} />
            </Field>
          </div>
          <Field id="instrument-protection" label="Market order protection (bps)" hint="how far from the touch a market order may trade; default 500 (5 %)">
            <input id="instrument-protection" inputMode="numeric" value={form.protectionBps} onChange={set('protectionBps')} />
          </Field>
          <button type="submit" className="btn primary" disabled={action.busy}>
            List {baseCode}-{quote}
          </button>
          <Outcome state={action} />
        </>
      )}
    </form>
  );
}

function ListAsset() {
  const [code, setCode] = useState('');
  const [scale, setScale] = useState('0');
  const [name, setName] = useState('');
  const action = useAction();
  const codeError = code && !/^[A-Z][A-Z0-9]{1,11}$/.test(code) ? '2–12 capital letters and digits, starting with a letter' : undefined;
  const scaleError = /^\d{1,2}$/.test(scale) && Number(scale) <= 18 ? undefined : 'Digits after the point: 0 to 18';
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!code || codeError || scaleError || !name.trim()) return;
    const listed = await action.run(() => createAsset({ code, scale: Number(scale), name: name.trim() }), (a) => `Listed ${a.code} (${a.name}, ${a.scale} decimals).`);
    if (listed) {
      await refreshCurrencies().catch(() => {});
      setCode('');
      setName('');
    }
  };
  return (
    <form className="panel stack" onSubmit={submit} noValidate aria-labelledby="list-asset-h">
      <h3 id="list-asset-h">List an asset</h3>
      <Field id="asset-code" label="Code" hint="e.g. ACME" error={codeError}>
        <input id="asset-code" value={code} maxLength={12} onChange={(e) => setCode(e.target.value.toUpperCase())} autoComplete="off" aria-invalid={codeError ? true : undefined} />
      </Field>
      <Field id="asset-scale" label="Decimals" hint="digits after the point: 0 for whole shares, 8 for a coin" error={scaleError}>
        <input id="asset-scale" inputMode="numeric" value={scale} onChange={(e) => setScale(e.target.value)} aria-invalid={scaleError ? true : undefined} />
      </Field>
      <Field id="asset-name" label="Name">
        <input id="asset-name" value={name} maxLength={100} onChange={(e) => setName(e.target.value)} />
      </Field>
      <button type="submit" className="btn" disabled={action.busy}>
        List asset
      </button>
      <Outcome state={action} />
    </form>
  );
}

function IssueOrRedeem() {
  const codes = [...useStore(currencies).keys()];
  const [userId, setUserId] = useState('');
  const [direction, setDirection] = useState<'credit' | 'debit'>('credit');
  const [currency, setCurrency] = useState('');
  const [amount, setAmount] = useState('');
  const [memo, setMemo] = useState('');
  const [errors, setErrors] = useState<{ userId?: string; amount?: string; memo?: string }>({});
  const action = useAction();
  const code = currency || codes[0] || 'USD';
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const scale = scaleOf(code);
    const minor = toMinor(amount, scale);
    const problems = {
      ...(!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(userId.trim()) && { userId: 'Paste the person’s user id (Users shows it)' }),
      ...((minor === null || minor === 0n) && { amount: `An amount above zero with at most ${scale} decimals` }),
      ...(!memo.trim() && { memo: 'Say why: the memo is the audit trail' }),
    };
    setErrors(problems);
    if (Object.keys(problems).length > 0) return;
    const done = await action.run(
      () => adjust({ userId: userId.trim(), currency: code, amount: amount.trim(), direction, memo: memo.trim() }, newKey('adjust')),
      (t) => `${direction === 'credit' ? 'Issued' : 'Redeemed'} ${formatMoney(t.amount, t.currency)}.`,
    );
    if (done) {
      setAmount('');
      setMemo('');
    }
  };
  return (
    <form className="panel stack" onSubmit={submit} noValidate aria-labelledby="issue-h">
      <h3 id="issue-h">Issue or redeem</h3>
      <p className="small muted">Credits or debits a wallet against the currency’s issuance account; the ledger keeps the memo.</p>
      <fieldset>
        <legend>Direction</legend>
        <div className="segmented">
          <label>
            <input type="radio" name="direction" value="credit" checked={direction === 'credit'} onChange={() => setDirection('credit')} />
            <span>Issue</span>
          </label>
          <label>
            <input type="radio" name="direction" value="debit" checked={direction === 'debit'} onChange={() => setDirection('debit')} />
            <span>Redeem</span>
          </label>
        </div>
      </fieldset>
      <Field id="issue-user" label="User id" error={errors.userId}>
        <input id="issue-user" value={userId} onChange={(e) => setUserId(e.target.value)} autoComplete="off" spellCheck={false} aria-invalid={errors.userId ? true : undefined} />
      </Field>
      <CodeSelect id="issue-currency" label="Currency or asset" value={code} onChange={setCurrency} codes={codes.length ? codes : ['USD']} />
      <Field id="issue-amount" label="Amount" error={errors.amount}>
        <div className="input-affix">
          <input id="issue-amount" inputMode="decimal" value={amount} onChange={(e) => setAmount(e.target.value)} aria-invalid={errors.amount ? true : undefined} />
          <span>{code}</span>
        </div>
      </Field>
      <Field id="issue-memo" label="Memo" error={errors.memo}>
        <input id="issue-memo" value={memo} maxLength={500} onChange={(e) => setMemo(e.target.value)} aria-invalid={errors.memo ? true : undefined} />
      </Field>
      <button type="submit" className="btn" disabled={action.busy}>
        {direction === 'credit' ? 'Issue' : 'Redeem'}
      </button>
      <Outcome state={action} />
    </form>
  );
}
