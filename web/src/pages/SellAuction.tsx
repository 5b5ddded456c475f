// Create and schedule an auction for one of your lots: timed (start and end in your own time
// zone, shown with it; soft close) or live (an auctioneer runs it); starting price, a hidden
// reserve, buy-now, the currency, the increment ladder (the default, shown, or your own), and
// the minimum reputation to join. Checked here first; the server's refusals name the field.
import { useEffect, useRef, useState, type FormEvent, type ReactNode } from 'react';
import { ErrorNotice, Field } from '../components/Common.js';
import { preferredCurrency } from '../lib/account.js';
import { ApiError, messageOf } from '../lib/api.js';
import { serverNow } from '../lib/clock.js';
import { spokenDuration } from '../lib/format.js';
import { useResource, useTitle } from '../lib/hooks.js';
import { newKey } from '../lib/ids.js';
import { currencies, formatMoney, scaleOf, toMinor } from '../lib/money.js';
import { Link, navigate } from '../lib/router.js';
import { formatZoned, fromLocalInput, leaveNotice, sellApi, timeZoneLabel, toLocalInput, type IncrementBand, type Lot, type NewAuction } from '../lib/sell.js';
import { useStore } from '../lib/store.js';
import { SellerGate, SellTabs } from './Sell.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const MAX_DURATION_MS = 30 * DAY;
const SOFT_CLOSE_DEFAULT = '120';
const DURATIONS: Array<[string, number]> = [
  ['1 day', DAY],
  ['3 days', 3 * DAY],
  ['7 days', 7 * DAY],
  ['10 days', 10 * DAY],
];

export function NewAuctionPage({ lotId }: { lotId: string }) {
  useTitle('Auction a lot');
  return <SellerGate what="your lots">{() => <LoadLot lotId={lotId} />}</SellerGate>;
}

function LoadLot({ lotId }: { lotId: string }) {
  const lot = useResource(lotId, (signal) => sellApi.lot(lotId, signal));
  if (lot.error) return <div className="page"><ErrorNotice error={lot.error} retry={lot.reload} /></div>;
  if (!lot.data) return <div className="page"><p className="muted">Loading…</p></div>;
  return (
    <div className="page stack">
      <h1>Auction “{lot.data.title}”</h1>
      <SellTabs />
      {lot.data.locked ? (
        <div className="notice warning">
          <p>
            An auction already holds this lot. <Link to="/sell">See it in My listings</Link>.
          </p>
        </div>
      ) : (
        <AuctionForm lot={lot.data} />
      )}
    </div>
  );
}

interface Band extends IncrementBand {
  key: string;
}

interface Form {
  kind: 'timed' | 'live';
  currency: string;
  startingPrice: string;
  reserve: string;
  buyNow: string;
  ladder: 'default' | 'custom';
  bands: Band[];
  minReputation: string;
  startNow: boolean;
  startsAt: string;
  endsAt: string;
  softCloseSeconds: string;
  auctioneerId: string;
  clerkIds: string;
}

type Errors = Record<string, string>;

/** The next whole hour, a little ahead: a sensible first start. */
function nextHour(nowMs: number): number {
  return Math.ceil((nowMs + 10 * 60_000) / HOUR) * HOUR;
}

function initialForm(currency: string): Form {
  const start = nextHour(serverNow());
  return {
    kind: 'timed',
    currency,
    startingPrice: '',
    reserve: '',
    buyNow: '',
    ladder: 'default',
    bands: [],
    minReputation: '0',
    startNow: false,
    startsAt: toLocalInput(start),
    endsAt: toLocalInput(start + 7 * DAY),
    softCloseSeconds: SOFT_CLOSE_DEFAULT,
    auctioneerId: '',
    clerkIds: '',
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** What the server would refuse, found before asking it. */
function check(form: Form, scale: number, nowMs: number): Errors {
  const errors: Errors = {};
  const amount = (field: 'startingPrice' | 'reserve' | 'buyNow', required: boolean) => {
    const text = form[field].trim();
    if (!text) {
      if (required) errors[field] = 'Enter an amount.';
      return null;
    }
    const minor = toMinor(text, scale);
    if (minor === null) errors[field] = `Enter an amount like ${scale > 0 ? `25.${'0'.repeat(scale)}` : '2500'} (at most ${scale} decimals).`;
    else if (minor === 0n) errors[field] = 'Enter an amount above zero.';
    return minor;
  };
  const starting = amount('startingPrice', true);
  const reserve = amount('reserve', false);
  const buyNow = amount('buyNow', false);
  if (starting !== null && reserve !== null && reserve < starting) errors.reserve = 'The reserve must be at least the starting price.';
  if (starting !== null && buyNow !== null && buyNow < starting) errors.buyNow = 'The buy-now price must be at least the starting price.';
  else if (reserve !== null && buyNow !== null && buyNow < reserve) errors.buyNow = 'The buy-now price must be at least the reserve.';

  if (form.ladder === 'custom') {
    let previous: bigint | null = null;
    form.bands.forEach((band, i) => {
      const from = i === 0 ? 0n : toMinor(band.from, scale);
      const increment = toMinor(band.increment, scale);
      if (from === null) errors[`increments.${i}.from`] = 'Enter a price.';
      else if (previous !== null && from <= previous) errors[`increments.${i}.from`] = 'Each band starts above the one before.';
      if (increment === null || increment === 0n) errors[`increments.${i}.increment`] = 'Enter an increment above zero.';
      if (from !== null) previous = from;
    });
    if (form.bands.length === 0) errors.increments = 'Add at least one band.';
  }

  const rep = Number(form.minReputation);
  if (!/^\d{1,3}$/.test(form.minReputation.trim()) || rep > 100) errors.minReputation = 'A whole number from 0 to 100.';

  const starts = startsNow(form) ? nowMs : fromLocalInput(form.startsAt);
  if (starts === null) errors.startsAt = 'Choose a date and time.';
  if (form.kind === 'timed') {
    const ends = fromLocalInput(form.endsAt);
    if (ends === null) errors.endsAt = 'Choose a date and time.';
    else if (starts !== null && ends <= starts) errors.endsAt = 'The end must come after the start.';
    else if (starts !== null && ends - starts > MAX_DURATION_MS) errors.endsAt = 'An auction runs 30 days at most.';
    else if (ends <= nowMs) errors.endsAt = 'The end has already passed.';
    const soft = Number(form.softCloseSeconds);
    if (!/^\d{1,4}$/.test(form.softCloseSeconds.trim()) || soft > 3600) errors.softCloseSeconds = 'Whole seconds from 0 (off) to 3600.';
  } else {
    if (!UUID.test(form.auctioneerId.trim())) errors.auctioneerId = 'Enter the auctioneer’s user id (ask the auction house for it).';
    const clerks = clerkIdsOf(form.clerkIds);
    if (clerks.some((id) => !UUID.test(id))) errors.clerkIds = 'One user id per line.';
    else if (clerks.length > 20) errors.clerkIds = 'At most 20 clerks.';
  }
  return errors;
}

/** Only a timed sale opens on creation; a live one waits for its auctioneer. */
const startsNow = (form: Form) => form.startNow && form.kind === 'timed';

const clerkIdsOf = (text: string) => text.split(/[\s,]+/).map((s) => s.trim()).filter(Boolean);

function bodyOf(lot: Lot, form: Form, nowMs: number): NewAuction {
  const startsAtMs = startsNow(form) ? nowMs : fromLocalInput(form.startsAt)!;
  return {
    lotId: lot.id,
    kind: form.kind,
    currency: form.currency,
    startingPrice: form.startingPrice.trim(),
    ...(form.reserve.trim() && { reserve: form.reserve.trim() }),
    ...(form.buyNow.trim() && { buyNow: form.buyNow.trim() }),
    ...(form.ladder === 'custom' && { increments: form.bands.map((b, i) => ({ from: i === 0 ? '0' : b.from.trim(), increment: b.increment.trim() })) }),
    minReputation: Number(form.minReputation),
    startsAt: new Date(startsAtMs).toISOString(),
    ...(form.kind === 'timed'
      ? { endsAt: new Date(fromLocalInput(form.endsAt)!).toISOString(), softCloseSeconds: Number(form.softCloseSeconds) }
      : { auctioneerId: form.auctioneerId.trim().toLowerCase(), ...(clerkIdsOf(form.clerkIds).length > 0 && { clerkIds: clerkIdsOf(form.clerkIds).map((id) => id.toLowerCase()) }) }),
  };
}

/** The model names some fields in its own terms (minor units, ms); the form names them as sent. */
const FIELD_ALIASES: Record<string, string> = { startingPriceMinor: 'startingPrice', reserveMinor: 'reserve', buyNowMinor: 'buyNow', startsAtMs: 'startsAt', endsAtMs: 'endsAt' };

function serverErrors(error: unknown): Errors {
  if (!(error instanceof ApiError)) return { general: messageOf(error) };
  const out: Errors = {};
  for (const e of error.problem.errors ?? []) {
    const field = FIELD_ALIASES[e.field] ?? e.field;
    out[field] = e.message.replace(new RegExp(`^${e.field}: `), '');
  }
  if (error.code === 'LOT_LOCKED' || error.code === 'AUCTION_EXISTS') out.general = 'An auction already holds this lot.';
  else if (error.code === 'UNKNOWN_CURRENCY') out.currency = 'Gavel does not know this currency.';
  if (Object.keys(out).length === 0) out.general = error.message;
  return out;
}

function AuctionForm({ lot }: { lot: Lot }) {
  const known = useStore(currencies);
  const preferred = useStore(preferredCurrency);
  const [form, setForm] = useState<Form>(() => initialForm(preferred && /^[A-Z]{3}$/.test(preferred) ? preferred : 'USD'));
  const [errors, setErrors] = useState<Errors>({});
  const [busy, setBusy] = useState(false);
  const idempotencyKey = useRef(newKey('auction'));
  const scale = scaleOf(form.currency);
  const ladder = useResource(`ladder-${form.currency}`, (signal) => sellApi.defaultLadder(form.currency, signal));
  const set = <K extends keyof Form>(key: K, value: Form[K]) => setForm((f) => ({ ...f, [key]: value }));
  const codes = [...known.values()].sort((a, b) => (a.kind === b.kind ? a.code.localeCompare(b.code) : a.kind === 'fiat' ? -1 : 1)).map((c) => c.code);

  // A custom ladder starts from the default one, to edit rather than type from nothing.
  useEffect(() => {
    if (form.ladder === 'custom' && form.bands.length === 0 && ladder.data) setForm((f) => ({ ...f, bands: ladder.data!.increments.map((b) => ({ ...b, key: newKey('band') })) }));
  }, [form.ladder, form.bands.length, ladder.data]);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const nowMs = serverNow();
    const found = check(form, scale, nowMs);
    setErrors(found);
    if (Object.keys(found).length) {
      focusFirstError();
      return;
    }
    setBusy(true);
    try {
      const created = await sellApi.createAuction(bodyOf(lot, form, nowMs), idempotencyKey.current);
      const id = created.auction.id;
      leaveNotice(id, { tone: 'success', text: created.auction.status === 'open' ? 'Your auction is open for bids.' : `Scheduled: it opens ${formatZoned(Date.parse(created.auction.startsAt))}.` });
      navigate(`/sell/auctions/${id}`);
    } catch (error) {
      // The key stays with this request: a changed form is a new request.
      idempotencyKey.current = newKey('auction');
      setErrors(serverErrors(error));
      setBusy(false);
      focusFirstError();
    }
  };

  const startsMs = startsNow(form) ? serverNow() : fromLocalInput(form.startsAt);
  const endsMs = fromLocalInput(form.endsAt);
  const zone = timeZoneLabel(startsMs ?? serverNow());

  return (
    <form className="auction-form stack" onSubmit={(e) => void submit(e)} noValidate aria-busy={busy ? true : undefined}>
      <section className="panel stack" aria-labelledby="sale-h">
        <h2 id="sale-h">The sale</h2>
        <fieldset>
          <legend>Kind of sale</legend>
          <div className="segmented">
            {(['timed', 'live'] as const).map((k) => (
              <label key={k}>
                <input type="radio" name="kind" value={k} checked={form.kind === k} onChange={() => set('kind', k)} />
                <span>{k === 'timed' ? 'Timed, online' : 'Live, with an auctioneer'}</span>
              </label>
            ))}
          </div>
        </fieldset>
        <div className="form-row">
          <Field id="auction-currency" label="Currency" error={errors.currency} hint="Every amount of the auction is in it.">
            <select id="auction-currency" value={form.currency} onChange={(e) => setForm((f) => ({ ...f, currency: e.target.value, bands: [] }))} aria-describedby="auction-currency-hint">
              {(codes.length ? codes : [form.currency]).map((c) => (
                <option key={c} value={c}>
                  {c}
                  {known.get(c)?.name ? ` — ${known.get(c)!.name}` : ''}
                </option>
              ))}
            </select>
          </Field>
          <Field id="auction-min-reputation" label="Minimum reputation to join" error={errors.minReputation} hint="0–100; new accounts start at 50. 0 lets anyone join.">
            <input id="auction-min-reputation" inputMode="numeric" value={form.minReputation} onChange={(e) => set('minReputation', e.target.value)} aria-invalid={errors.minReputation ? true : undefined} aria-describedby="auction-min-reputation-hint" />
          </Field>
        </div>
      </section>

      <section className="panel stack" aria-labelledby="prices-h">
        <h2 id="prices-h">Prices</h2>
        <div className="form-row three">
          <MoneyInput id="auction-starting-price" label="Starting price" value={form.startingPrice} onChange={(v) => set('startingPrice', v)} currency={form.currency} error={errors.startingPrice} hint="The first bid is at least this." />
          <MoneyInput id="auction-reserve" label="Reserve (optional)" value={form.reserve} onChange={(v) => set('reserve', v)} currency={form.currency} error={errors.reserve} hint="Hidden: bidders only see whether it is met. Below it, nothing sells." />
          <MoneyInput id="auction-buy-now" label="Buy now (optional)" value={form.buyNow} onChange={(v) => set('buyNow', v)} currency={form.currency} error={errors.buyNow} hint="Anyone may buy at this price until the first bid." />
        </div>
        <Ladder form={form} setForm={setForm} errors={errors} ladder={ladder.data?.increments} ladderError={ladder.error} />
      </section>

      <section className="panel stack" aria-labelledby="when-h">
        <h2 id="when-h">When</h2>
        <p className="small" data-testid="time-zone">
          Times are in your time zone: <strong>{zone}</strong>.
        </p>
        {form.kind === 'timed' && (
          <label className="check">
            <input type="checkbox" checked={form.startNow} onChange={(e) => set('startNow', e.target.checked)} />
            Open for bids as soon as it is created
          </label>
        )}
        <div className="form-row">
          {!startsNow(form) ? (
            <Field id="auction-starts" label={form.kind === 'timed' ? 'Opens' : 'Advertised start'} error={errors.startsAt} hint={startsMs !== null ? formatZoned(startsMs) : 'Date and time'}>
              <input id="auction-starts" type="datetime-local" step={1} value={form.startsAt} onChange={(e) => set('startsAt', e.target.value)} aria-invalid={errors.startsAt ? true : undefined} aria-describedby="auction-starts-hint" />
            </Field>
          ) : null}
          {form.kind === 'timed' && (
            <Field id="auction-ends" label="Ends" error={errors.endsAt} hint={endsMs !== null ? `${formatZoned(endsMs)}${startsMs !== null && endsMs > startsMs ? ` · runs ${spokenDuration(endsMs - startsMs)}` : ''}` : 'Date and time'}>
              <input id="auction-ends" type="datetime-local" step={1} value={form.endsAt} onChange={(e) => set('endsAt', e.target.value)} aria-invalid={errors.endsAt ? true : undefined} aria-describedby="auction-ends-hint" />
            </Field>
          )}
        </div>
        {form.kind === 'timed' && (
          <>
            <div className="cluster" role="group" aria-label="Set the end from the start">
              <span className="small muted">Run for</span>
              {DURATIONS.map(([label, ms]) => (
                <button key={label} type="button" className="btn small" onClick={() => set('endsAt', toLocalInput((startsMs ?? serverNow()) + ms))}>
                  {label}
                </button>
              ))}
            </div>
            <Field id="auction-soft-close" label="Soft close, in seconds" error={errors.softCloseSeconds} hint="A bid this close to the end moves the end that far out, so sniping cannot win. 0 turns it off; at most 3600.">
              <input id="auction-soft-close" inputMode="numeric" value={form.softCloseSeconds} onChange={(e) => set('softCloseSeconds', e.target.value)} aria-invalid={errors.softCloseSeconds ? true : undefined} aria-describedby="auction-soft-close-hint" />
            </Field>
          </>
        )}
        {form.kind === 'live' && (
          <div className="form-row">
            <Field id="auction-auctioneer" label="Auctioneer’s user id" error={errors.auctioneerId} hint="The auctioneer opens the sale, takes bids from the room and brings down the hammer.">
              <input id="auction-auctioneer" className="mono" autoComplete="off" value={form.auctioneerId} onChange={(e) => set('auctioneerId', e.target.value)} aria-invalid={errors.auctioneerId ? true : undefined} aria-describedby="auction-auctioneer-hint" />
            </Field>
            <Field id="auction-clerks" label="Clerks’ user ids (optional)" error={errors.clerkIds} hint="One per line; clerks enter bids from the floor.">
              <textarea id="auction-clerks" className="mono" rows={3} value={form.clerkIds} onChange={(e) => set('clerkIds', e.target.value)} aria-invalid={errors.clerkIds ? true : undefined} aria-describedby="auction-clerks-hint" />
            </Field>
          </div>
        )}
      </section>

      {errors.general && (
        <p className="notice danger" role="alert">
          {errors.general}
        </p>
      )}
      {Object.keys(errors).length > 0 && !errors.general && (
        <p className="notice danger" role="alert">
          Some fields need a look: see the messages above.
        </p>
      )}
      <div className="cluster">
        <button type="submit" className="btn primary large" disabled={busy}>
          {busy ? 'Scheduling…' : startsNow(form) ? 'Create and open the auction' : 'Schedule the auction'}
        </button>
        <Link className="btn large ghost" to={`/sell/lots/${lot.id}`}>
          Back to the lot
        </Link>
      </div>
    </form>
  );
}

function focusFirstError(): void {
  // After the messages render: the first field marked invalid takes the focus.
  setTimeout(() => document.querySelector<HTMLElement>('.auction-form [aria-invalid="true"]')?.focus(), 0);
}

function MoneyInput({ id, label, value, onChange, currency, error, hint }: { id: string; label: string; value: string; onChange: (v: string) => void; currency: string; error?: string | undefined; hint: ReactNode }) {
  return (
    <Field id={id} label={label} error={error} hint={hint}>
      <div className="input-affix">
        <input id={id} inputMode="decimal" autoComplete="off" value={value} onChange={(e) => onChange(e.target.value)} aria-invalid={error ? true : undefined} aria-describedby={`${id}-hint${error ? ` ${id}-error` : ''}`} />
        <span>{currency}</span>
      </div>
    </Field>
  );
}

function Ladder({ form, setForm, errors, ladder, ladderError }: { form: Form; setForm: (update: (f: Form) => Form) => void; errors: Errors; ladder: IncrementBand[] | undefined; ladderError: unknown }) {
  const setBand = (index: number, key: 'from' | 'increment', value: string) => setForm((f) => ({ ...f, bands: f.bands.map((b, i) => (i === index ? { ...b, [key]: value } : b)) }));
  const scale = scaleOf(form.currency);
  return (
    <fieldset className="stack">
      <legend>Bid increments</legend>
      <div className="segmented">
        {(['default', 'custom'] as const).map((l) => (
          <label key={l}>
            <input type="radio" name="ladder" value={l} checked={form.ladder === l} onChange={() => setForm((f) => ({ ...f, ladder: l }))} />
            <span>{l === 'default' ? 'Default ladder' : 'My own ladder'}</span>
          </label>
        ))}
      </div>
      {form.ladder === 'default' ? (
        ladderError ? (
          <p className="small muted">The default ladder could not be loaded; it is the same as eBay’s, scaled to the currency.</p>
        ) : (
          <details className="ladder">
            <summary>How bids rise with the default ladder in {form.currency}</summary>
            {ladder && (
              <table className="data">
                <thead>
                  <tr>
                    <th scope="col">From a price of</th>
                    <th scope="col" className="right">
                      Bids rise by
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {ladder.map((b) => (
                    <tr key={b.from}>
                      <td>{formatMoney(b.from, form.currency)}</td>
                      <td className="right">{formatMoney(b.increment, form.currency)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </details>
        )
      ) : (
        <div className="stack">
          <p className="small muted">From each price up, the next bid must be at least the price plus that band’s increment. The first band starts from 0; each starts above the one before.</p>
          <ol className="bands">
            {form.bands.map((band, i) => (
              <li key={band.key} className="band">
                <Field id={`band-${i}-from`} label={`Band ${i + 1}: from`} error={errors[`increments.${i}.from`]}>
                  <input id={`band-${i}-from`} inputMode="decimal" value={i === 0 ? (scale > 0 ? `0.${'0'.repeat(scale)}` : '0') : band.from} readOnly={i === 0} onChange={(e) => setBand(i, 'from', e.target.value)} aria-invalid={errors[`increments.${i}.from`] ? true : undefined} />
                </Field>
                <Field id={`band-${i}-increment`} label="rise by" error={errors[`increments.${i}.increment`]}>
                  <input id={`band-${i}-increment`} inputMode="decimal" value={band.increment} onChange={(e) => setBand(i, 'increment', e.target.value)} aria-invalid={errors[`increments.${i}.increment`] ? true : undefined} />
                </Field>
                {i > 0 && (
                  <button type="button" className="btn small ghost" onClick={() => setForm((f) => ({ ...f, bands: f.bands.filter((_, j) => j !== i) }))} aria-label={`Remove band ${i + 1}`}>
                    Remove
                  </button>
                )}
              </li>
            ))}
          </ol>
          {errors.increments && (
            <p className="small error" role="alert">
              {errors.increments}
            </p>
          )}
          {form.bands.length < 50 && (
            <button
              type="button"
              className="btn small"
              onClick={() => setForm((f) => ({ ...f, bands: [...f.bands, { key: newKey('band'), from: '', increment: f.bands.at(-1)?.increment ?? '' }] }))}
            >
              Add a band
            </button>
          )}
        </div>
      )}
    </fieldset>
  );
}
