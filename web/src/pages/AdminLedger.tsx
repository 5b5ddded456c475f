// Admin: the ledger. Run the check (every invariant recomputed from the transfers: counters,
// debits equal credits per currency, no wallet overdrawn, holds match) and look at the system
// accounts per currency (provider clearing, house revenue, exchange liquidity, escrow, issuance).
import { useState } from 'react';
import { CodeSelect, ErrorNotice } from '../components/Common.js';
import { ledgerCheck, systemAccounts, type LedgerCheck } from '../lib/admin.js';
import { useResource } from '../lib/hooks.js';
import { currencies, formatMoney } from '../lib/money.js';
import { useStore } from '../lib/store.js';
import { Outcome, useAction } from './AdminParts.js';

const KIND_NAMES: Record<string, string> = {
  provider_clearing: 'Provider clearing',
  house_revenue: 'House revenue',
  exchange_liquidity: 'Exchange liquidity',
  escrow: 'Escrow',
  issuance: 'Issuance',
};

export function AdminLedger() {
  return (
    <div className="stack">
      <h2>Ledger</h2>
      <Check />
      <SystemAccounts />
    </div>
  );
}

function Check() {
  const action = useAction();
  const [result, setResult] = useState<LedgerCheck | null>(null);
  const run = async () => {
    const r = await action.run(() => ledgerCheck(), () => '');
    if (r) setResult(r);
  };
  const count = result?.violations.length ?? 0;
  return (
    <section className="panel stack" aria-labelledby="check-h">
      <div className="spread">
        <h3 id="check-h">Check</h3>
        <button type="button" className="btn primary small" disabled={action.busy} onClick={() => void run()}>
          {action.busy ? 'Checking…' : 'Run the check'}
        </button>
      </div>
      <p className="small muted">Recomputes every balance from the transfers: each account’s counters, debits equal to credits in every currency, no wallet below zero, holds that add up.</p>
      {action.error && <Outcome state={action} />}
      <div role="status" aria-live="polite" data-testid="ledger-check">
        {result && (
          <div className={`notice ${result.ok ? 'success' : 'danger'}`}>
            <p>
              <strong>
                {count} {count === 1 ? 'violation' : 'violations'}
              </strong>{' '}
              across {result.accounts} accounts and {result.transfers} transfers.
            </p>
            {count > 0 && (
              <ul>
                {result.violations.map((v, i) => (
                  <li key={i}>
                    <strong>{v.rule}</strong>: {v.detail}
                  </li>
                ))}
              </ul>
            )}
          </div>
        )}
      </div>
    </section>
  );
}

function SystemAccounts() {
  const codes = [...useStore(currencies).keys()];
  const [currency, setCurrency] = useState('');
  const accounts = useResource(`system-accounts|${currency}`, (signal) => systemAccounts(currency || null, signal));
  return (
    <section className="panel stack" aria-labelledby="system-accounts-h">
      <div className="spread">
        <h3 id="system-accounts-h">System accounts</h3>
        <CodeSelect id="system-currency" label="Currency" labelHidden anyLabel="All currencies" value={currency} onChange={setCurrency} codes={codes} fieldStyle={{ minWidth: 180 }} />
      </div>
      <p className="small muted">System accounts may go negative: a negative balance is what the house owes or must source in that currency.</p>
      {accounts.error ? (
        <ErrorNotice error={accounts.error} retry={accounts.reload} />
      ) : !accounts.data ? (
        <p className="muted">Loading…</p>
      ) : accounts.data.items.length === 0 ? (
        <p className="muted">No system accounts{currency ? ` in ${currency}` : ''}.</p>
      ) : (
        <div className="table-wrap">
          <table className="data">
            <thead>
              <tr>
                <th scope="col">Currency</th>
                <th scope="col">Account</th>
                <th scope="col" className="right">
                  Balance
                </th>
                <th scope="col" className="right">
                  Held
                </th>
                <th scope="col" className="right">
                  Available
                </th>
              </tr>
            </thead>
            <tbody>
              {accounts.data.items.map((a) => (
                <tr key={a.id}>
                  <td>{a.currency}</td>
                  <td>{KIND_NAMES[a.kind] ?? a.kind}</td>
                  <td className="right">{formatMoney(a.posted, a.currency)}</td>
                  <td className="right">{formatMoney(a.held, a.currency)}</td>
                  <td className="right">{formatMoney(a.available, a.currency)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
