// Admin: exchange rates per ordered pair (USD → EUR is not EUR → USD), each with the house
// spread. Set one (new or replacing), or remove one; conversions use the rate at that moment.
import { useState, type FormEvent } from 'react';
import { ErrorNotice, Field } from '../components/Common.js';
import { deleteRate, listRates, rateProblem, setRate, type Rate } from '../lib/admin.js';
import { formatDateTime } from '../lib/format.js';
import { useResource } from '../lib/hooks.js';
import { currencies } from '../lib/money.js';
import { useStore } from '../lib/store.js';
import { ConfirmButton, Outcome, useAction } from './AdminParts.js';

const percent = (bps: number) => `${(bps / 100).toFixed(2).replace(/\.?0+$/, '')} %`;

export function AdminRates() {
  const rates = useResource('rates', (signal) => listRates(signal));
  const action = useAction();
  const [draft, setDraft] = useState<{ base: string; quote: string; rate: string; spreadBps: string; key: number }>({ base: 'USD', quote: 'EUR', rate: '', spreadBps: '50', key: 0 });
  const remove = async (r: Rate) => {
    const done = await action.run(() => deleteRate(r.base, r.quote), () => `Removed the ${r.base} → ${r.quote} rate: that conversion is refused until a rate is set again.`);
    if (done !== undefined) rates.setData((d) => ({ items: (d?.items ?? []).filter((x) => x.base !== r.base || x.quote !== r.quote) }));
  };
  const saved = (r: Rate) => rates.setData((d) => ({ items: [...(d?.items ?? []).filter((x) => x.base !== r.base || x.quote !== r.quote), r].sort((a, b) => `${a.base}${a.quote}`.localeCompare(`${b.base}${b.quote}`)) }));
  return (
    <section className="stack" aria-labelledby="rates-h">
      <h2 id="rates-h">Exchange rates</h2>
      <div className="two-col">
        <div className="panel tight">
          {rates.error ? (
            <ErrorNotice error={rates.error} retry={rates.reload} />
          ) : !rates.data ? (
            <p className="muted">Loading…</p>
          ) : rates.data.items.length === 0 ? (
            <p className="muted">No rates yet: nobody can convert between currencies until one is set.</p>
          ) : (
            <div className="table-wrap">
              <table className="data">
                <thead>
                  <tr>
                    <th scope="col">Pair</th>
                    <th scope="col">Rate and spread</th>
                    <th scope="col">
                      <span className="visually-hidden">Actions</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {rates.data.items.map((r) => (
                    <tr key={`${r.base}/${r.quote}`} data-testid={`rate-${r.base}-${r.quote}`}>
                      <th scope="row">
                        {r.base} → {r.quote}
                        <div className="small muted">updated {formatDateTime(r.updatedAt)}</div>
                      </th>
                      <td>
                        <span className="mono">{r.rate}</span>
                        <div className="small muted">
                          spread {r.spreadBps} bps ({percent(r.spreadBps)})
                        </div>
                      </td>
                      <td className="right">
                        <span className="cluster" style={{ justifyContent: 'flex-end' }}>
                          <button type="button" className="btn small" aria-label={`Edit ${r.base} → ${r.quote}`} onClick={() => setDraft((d) => ({ base: r.base, quote: r.quote, rate: r.rate, spreadBps: String(r.spreadBps), key: d.key + 1 }))}>
                            Edit
                          </button>
                          <ConfirmButton label="Delete" question={`Delete ${r.base} → ${r.quote}?`} confirmLabel="Delete" disabled={action.busy} onConfirm={() => void remove(r)} />
                        </span>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </div>
        <RateForm key={draft.key} initial={draft} action={action} onSaved={saved} />
      </div>
      <Outcome state={action} testId="rate-outcome" />
    </section>
  );
}

function RateForm({ initial, action, onSaved }: { initial: { base: string; quote: string; rate: string; spreadBps: string }; action: ReturnType<typeof useAction>; onSaved: (r: Rate) => void }) {
  const codes = [...useStore(currencies).keys()];
  const [base, setBase] = useState(initial.base);
  const [quote, setQuote] = useState(initial.quote);
  const [rate, setRateText] = useState(initial.rate);
  const [spread, setSpread] = useState(initial.spreadBps);
  const [errors, setErrors] = useState<{ quote?: string; rate?: string; spread?: string }>({});
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const problems = {
      ...(base === quote && { quote: 'Pick a currency other than the base' }),
      ...(rateProblem(rate) && { rate: rateProblem(rate)! }),
      ...(!(/^\d{1,4}$/.test(spread.trim()) && Number(spread) <= 9999) && { spread: 'Basis points from 0 to 9999 (50 = 0.5 %)' }),
    };
    setErrors(problems);
    if (Object.keys(problems).length > 0) return;
    const saved = await action.run(() => setRate(base, quote, { rate: rate.trim(), spreadBps: Number(spread) }), (r) => `${r.base} → ${r.quote} is ${r.rate} (spread ${r.spreadBps} bps).`);
    if (saved) onSaved(saved);
  };
  const select = (id: string, label: string, value: string, onChange: (v: string) => void, error?: string) => (
    <Field id={id} label={label} error={error}>
      <select id={id} value={value} onChange={(e) => onChange(e.target.value)} aria-invalid={error ? true : undefined}>
        {(codes.length ? codes : [value]).map((c) => (
          <option key={c} value={c}>
            {c}
          </option>
        ))}
      </select>
    </Field>
  );
  return (
    <form className="panel stack" onSubmit={submit} noValidate aria-labelledby="set-rate-h">
      <h3 id="set-rate-h">Set a rate</h3>
      <div className="pair">
        {select('rate-base', 'From (base)', base, setBase)}
        {select('rate-quote', 'To (quote)', quote, setQuote, errors.quote)}
      </div>
      <Field id="rate-rate" label="Rate" hint={`${quote} for one ${base}`} error={errors.rate}>
        <input id="rate-rate" inputMode="decimal" value={rate} onChange={(e) => setRateText(e.target.value)} autoComplete="off" aria-invalid={errors.rate ? true : undefined} aria-describedby="rate-rate-hint" />
      </Field>
      <Field id="rate-spread" label="Spread (bps)" hint="the house's share; 50 bps = 0.5 %" error={errors.spread}>
        <input id="rate-spread" inputMode="numeric" value={spread} onChange={(e) => setSpread(e.target.value)} aria-invalid={errors.spread ? true : undefined} aria-describedby="rate-spread-hint" />
      </Field>
      <button type="submit" className="btn primary" disabled={action.busy}>
        Set rate
      </button>
    </form>
  );
}
