// Results and statistics for a seller. One auction: the figures of GET /api/auctions/{id}/stats
// (bids, bidders, final price against the reserve, duration) with the price curve, the bids as
// they came, who took part, and final against reserve, as charts. A period: the auctions that
// ended in it (GET /api/auction-stats), sell-through and sales per day, week or month.
import { useState } from 'react';
import { StatusBadge } from '../components/AuctionCard.js';
import { ChartBars, type BarDatum } from '../components/ChartBars.js';
import { ChartLine, type ReferenceLine } from '../components/ChartLine.js';
import { Empty, ErrorNotice } from '../components/Common.js';
import { serverNow, useServerNow } from '../lib/clock.js';
import { formatDateTime, formatTime, spokenDuration } from '../lib/format.js';
import { useInterval, useResource, useTitle } from '../lib/hooks.js';
import { formatMoney, fromMinor, scaleOf, toMinor } from '../lib/money.js';
import { Link, navigate, useQuery } from '../lib/router.js';
import { bucketsOf, formatShare, PERIODS, sellApi, takeNotice, type AuctionStats, type PeriodKey, type PeriodStats } from '../lib/sell.js';
import type { AuctionPage } from '../lib/auctions.js';
import { SellerGate, SellTabs } from './Sell.js';

/** Minor units as a number, for drawing only: a person reads the API's own strings. */
function plotValue(amount: string, scale: number): number {
  return Number(toMinor(amount, scale) ?? 0n);
}

function moneyTick(currency: string, scale: number): (value: number) => string {
  return (value) => formatMoney(fromMinor(BigInt(Math.round(value)), scale), currency);
}

const count = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

// --- one auction ------------------------------------------------------------------------------------

export function AuctionResultsPage({ id }: { id: string }) {
  useTitle('Auction results');
  return <SellerGate what="your auction’s results">{() => <Results key={id} id={id} />}</SellerGate>;
}

function Results({ id }: { id: string }) {
  const [notice] = useState(() => takeNotice(id));
  const data = useResource(id, async (signal) => {
    const [page, stats] = await Promise.all([sellApi.auction(id, signal), sellApi.auctionStats(id, signal)]);
    return { page, stats };
  });
  const running = data.data ? data.data.stats.status === 'open' || data.data.stats.status === 'scheduled' : false;
  // While it runs the figures move: read them again now and then (the old ones stay on screen).
  useInterval(data.reload, running ? 10_000 : null);
  if (data.error) return <div className="page"><ErrorNotice error={data.error} retry={data.reload} /></div>;
  if (!data.data) return <div className="page"><p className="muted">Loading…</p></div>;
  const { page, stats } = data.data;
  return (
    <div className="page stack">
      <div className="spread">
        <div>
          <p className="small muted">Results</p>
          <h1>{page.auction.title}</h1>
        </div>
        <div className="cluster">
          <StatusBadge auction={page.live} />
          <Link className="btn" to={`/auctions/${id}`}>
            Open the auction page
          </Link>
        </div>
      </div>
      <SellTabs />
      {notice && (
        <p className={`notice ${notice.tone}`} role="status">
          {notice.text}
        </p>
      )}
      <Figures page={page} stats={stats} />
      <div className="charts">
        <PriceChart stats={stats} />
        <BidsChart stats={stats} />
        <BiddersChart stats={stats} />
        <ReserveChart page={page} stats={stats} />
      </div>
    </div>
  );
}

function resultOf(stats: AuctionStats): string {
  if (stats.status === 'closed') return stats.outcome === 'sold' ? 'Sold' : 'Not sold';
  if (stats.status === 'cancelled') return 'Cancelled';
  return stats.status === 'open' ? 'Running' : 'Scheduled';
}

/** The price now: the final one once closed, else the last bid's, else the starting price. */
function priceOf(page: AuctionPage, stats: AuctionStats): string {
  return stats.finalPrice ?? stats.bidsOverTime.at(-1)?.price ?? page.live.price ?? stats.startingPrice;
}

function Figures({ page, stats }: { page: AuctionPage; stats: AuctionStats }) {
  const currency = stats.currency;
  const closed = stats.status === 'closed';
  const reserveMet = stats.reserve !== null && stats.priceToReserve !== null && stats.priceToReserve >= 1 && stats.bids > 0;
  const figures: Array<[string, string, string, string?]> = [
    ['result', 'Result', resultOf(stats)],
    ['price', closed ? 'Final price' : 'Current price', stats.bids === 0 && !closed ? `${formatMoney(stats.startingPrice, currency)} (starting)` : formatMoney(closed ? stats.finalPrice : priceOf(page, stats), currency)],
    ['reserve', 'Reserve (hidden)', stats.reserve === null ? 'None' : formatMoney(stats.reserve, currency), stats.reserve === null ? undefined : reserveMet ? 'met' : 'not met'],
    ['price-to-reserve', 'Price ÷ reserve', stats.reserve === null || stats.bids === 0 ? '—' : formatShare(stats.priceToReserve)],
    ['starting', 'Starting price', formatMoney(stats.startingPrice, currency)],
    ['bids', 'Bids', String(stats.bids)],
    ['bidders', 'Bidders', String(stats.bidders), 'people and paddles who bid'],
    ['participants', 'Joined', String(stats.participants), 'signed up to bid'],
    ['opened', stats.openedAt ? 'Opened' : 'Opens', formatDateTime(stats.openedAt ?? page.auction.startsAt)],
    ['closed', stats.status === 'cancelled' ? 'Cancelled' : stats.closedAt ? 'Closed' : 'Ends', stats.closedAt ? formatDateTime(stats.closedAt) : page.live.endsAt ? formatDateTime(page.live.endsAt) : stats.status === 'cancelled' ? '—' : 'At the hammer'],
    ['duration', 'Ran for', stats.durationMs === null ? '—' : spokenDuration(stats.durationMs)],
  ];
  return (
    <dl className="stat-grid" aria-label="Figures">
      {figures.map(([key, label, value, note]) => (
        <div key={key} className={`stat ${key === 'opened' || key === 'closed' || key === 'duration' ? 'when' : ''}`}>
          <dt>{label}</dt>
          <dd data-testid={`stat-${key}`}>{value}</dd>
          {note && <dd className="small muted">{note}</dd>}
        </div>
      ))}
    </dl>
  );
}

/** The time the charts span: from the opening (or first bid) to the close, or to now while it runs. */
function timeSpan(stats: AuctionStats, nowMs: number): [number, number] | undefined {
  const times = stats.bidsOverTime.map((b) => Date.parse(b.at));
  const start = stats.openedAt ? Date.parse(stats.openedAt) : times[0];
  if (start === undefined) return undefined;
  const end = stats.closedAt ? Date.parse(stats.closedAt) : stats.status === 'open' ? Math.max(nowMs, times.at(-1) ?? start) : (times.at(-1) ?? start);
  return [start, Math.max(end, start + 1000)];
}

function PriceChart({ stats }: { stats: AuctionStats }) {
  const now = useServerNow(10_000);
  const currency = stats.currency;
  const scale = scaleOf(currency, stats.startingPrice);
  const points = stats.bidsOverTime.map((b, i) => ({ x: Date.parse(b.at), y: plotValue(b.price, scale), title: `Bid ${i + 1}, ${formatTime(b.at)}: ${formatMoney(b.price, currency)}` }));
  const references: ReferenceLine[] = [{ y: plotValue(stats.startingPrice, scale), label: `Starting ${formatMoney(stats.startingPrice, currency)}`, tone: 'start' }];
  if (stats.reserve !== null) references.push({ y: plotValue(stats.reserve, scale), label: `Reserve ${formatMoney(stats.reserve, currency)}`, tone: 'reserve' });
  const first = stats.bidsOverTime[0];
  const last = stats.bidsOverTime.at(-1);
  const summary =
    first && last
      ? `${count(stats.bidsOverTime.length, 'bid')} took the price from ${formatMoney(first.price, currency)} to ${formatMoney(last.price, currency)}${stats.reserve === null ? '' : `; the reserve of ${formatMoney(stats.reserve, currency)} was ${plotValue(last.price, scale) >= plotValue(stats.reserve, scale) ? 'met' : 'not met'}`}.`
      : `No bids yet; the starting price is ${formatMoney(stats.startingPrice, currency)}.`;
  const span = timeSpan(stats, now);
  return (
    <ChartLine
      testId="chart-price"
      title="Price after each bid"
      summary={summary}
      points={points}
      step
      {...(span && { xDomain: span })}
      xLabel="Time"
      yLabel={`Price (${currency})`}
      yFormat={moneyTick(currency, scale)}
      integerY
      references={references}
      empty="No bids yet"
      table={{ columns: ['Bid', 'Time', 'Price'], rows: stats.bidsOverTime.map((b, i) => [String(i + 1), formatDateTime(b.at), formatMoney(b.price, currency)]) }}
    />
  );
}

function BidsChart({ stats }: { stats: AuctionStats }) {
  const now = useServerNow(10_000);
  const points = stats.bidsOverTime.map((b, i) => ({ x: Date.parse(b.at), y: i + 1, title: `${formatTime(b.at)}: ${count(i + 1, 'bid')} so far` }));
  const first = stats.bidsOverTime[0];
  const last = stats.bidsOverTime.at(-1);
  const span = timeSpan(stats, now);
  return (
    <ChartLine
      testId="chart-bids"
      title="Bids as they came"
      summary={first && last ? `${count(stats.bids, 'bid')}, the first at ${formatTime(first.at)}, the last at ${formatTime(last.at)}.` : 'No bids yet.'}
      points={points}
      step
      {...(span && { xDomain: span })}
      xLabel="Time"
      yLabel="Bids so far"
      yFormat={(v) => String(Math.round(v))}
      integerY
      yFromZero
      empty="No bids yet"
      table={{ columns: ['Time', 'Bids so far'], rows: stats.bidsOverTime.map((b, i) => [formatDateTime(b.at), String(i + 1)]) }}
    />
  );
}

function BiddersChart({ stats }: { stats: AuctionStats }) {
  const bars: BarDatum[] = [
    { label: 'Joined', value: stats.participants, display: String(stats.participants), tone: 'ink' },
    { label: 'Bid', value: stats.bidders, display: String(stats.bidders), tone: 'accent' },
  ];
  return (
    <ChartBars
      testId="chart-bidders"
      orientation="horizontal"
      title="Who took part"
      summary={`${count(stats.participants, 'person', 'people')} joined; ${count(stats.bidders, 'bidder')} placed bids.`}
      bars={bars}
      integerY
      yFormat={(v) => String(Math.round(v))}
      table={{ columns: ['Who', 'How many'], rows: bars.map((b) => [b.label, b.display]) }}
    />
  );
}

function ReserveChart({ page, stats }: { page: AuctionPage; stats: AuctionStats }) {
  const currency = stats.currency;
  const scale = scaleOf(currency, stats.startingPrice);
  const closed = stats.status === 'closed';
  const price = priceOf(page, stats);
  const bars: BarDatum[] = [{ label: 'Starting', value: plotValue(stats.startingPrice, scale), display: formatMoney(stats.startingPrice, currency), tone: 'muted' }];
  if (stats.reserve !== null) bars.push({ label: 'Reserve', value: plotValue(stats.reserve, scale), display: formatMoney(stats.reserve, currency), tone: 'gold' });
  if (stats.bids > 0) bars.push({ label: closed ? 'Final' : 'Now', value: plotValue(price, scale), display: formatMoney(price, currency), tone: closed && stats.outcome === 'sold' ? 'success' : 'accent' });
  const summary =
    stats.bids === 0
      ? 'No bids yet.'
      : stats.reserve === null
        ? `${closed ? 'Final' : 'Current'} price ${formatMoney(price, currency)}, with no reserve.`
        : `${closed ? 'Final' : 'Current'} price ${formatMoney(price, currency)} is ${formatShare(stats.priceToReserve)} of the reserve, ${formatMoney(stats.reserve, currency)}.`;
  return (
    <ChartBars
      testId="chart-reserve"
      orientation="horizontal"
      title={closed ? 'Final price against the reserve' : 'Price against the reserve'}
      summary={summary}
      bars={bars}
      integerY
      yFormat={moneyTick(currency, scale)}
      table={{ columns: ['Figure', 'Amount'], rows: bars.map((b) => [b.label, b.display]) }}
    />
  );
}

// --- a period ---------------------------------------------------------------------------------------

export function PeriodStatsPage() {
  useTitle('Sales statistics');
  return <SellerGate what="your sales statistics">{() => <Period />}</SellerGate>;
}

function isPeriod(value: string | null): value is PeriodKey {
  return value !== null && value in PERIODS;
}

function Period() {
  const query = useQuery();
  const asked = query.get('period');
  const period: PeriodKey = isPeriod(asked) ? asked : '8w';
  const data = useResource(period, async (signal) => {
    const buckets = bucketsOf(period, serverNow());
    const [total, ...each] = await Promise.all([sellApi.periodStats(buckets[0]!.fromMs, buckets.at(-1)!.toMs, signal), ...buckets.map((b) => sellApi.periodStats(b.fromMs, b.toMs, signal))]);
    return { buckets, total: total!, each };
  });
  return (
    <div className="page stack">
      <h1>Sales statistics</h1>
      <SellTabs />
      <fieldset>
        <legend>Period</legend>
        <div className="segmented">
          {(Object.keys(PERIODS) as PeriodKey[]).map((p) => (
            <label key={p}>
              <input type="radio" name="period" value={p} checked={p === period} onChange={() => navigate(`/sell/stats?period=${p}`, { replace: true, keepScroll: true })} />
              <span>{PERIODS[p].label}</span>
            </label>
          ))}
        </div>
      </fieldset>
      {data.error ? (
        <ErrorNotice error={data.error} retry={data.reload} />
      ) : !data.data ? (
        <p className="muted">Loading…</p>
      ) : (
        <PeriodFigures total={data.data.total} buckets={data.data.buckets} each={data.data.each} unit={PERIODS[period].unit} />
      )}
    </div>
  );
}

function PeriodFigures({ total, buckets, each, unit }: { total: PeriodStats; buckets: Array<{ label: string }>; each: PeriodStats[]; unit: string }) {
  const currencies = total.salesByCurrency.map((s) => s.currency);
  const [chosen, setChosen] = useState<string | null>(null);
  const currency = chosen && currencies.includes(chosen) ? chosen : (currencies[0] ?? null);
  if (total.auctions === 0)
    return (
      <Empty title="No auction ended in this period">
        <p>Figures appear here once your auctions close.</p>
        <Link className="btn" to="/sell">
          My listings
        </Link>
      </Empty>
    );
  const figures: Array<[string, string, string]> = [
    ['ended', 'Auctions ended', String(total.auctions)],
    ['sold', 'Sold', String(total.sold)],
    ['unsold', 'Not sold', String(total.unsold)],
    ['cancelled', 'Cancelled', String(total.cancelled)],
    ['sell-through', 'Sell-through', formatShare(total.sellThrough)],
    ['sales', 'Sales', total.salesByCurrency.length ? total.salesByCurrency.map((s) => formatMoney(s.total, s.currency)).join(' · ') : '—'],
    ['mean-bids', 'Bids per auction', total.meanBids === null ? '—' : total.meanBids.toLocaleString()],
    ['mean-participants', 'Joined per auction', total.meanParticipants === null ? '—' : total.meanParticipants.toLocaleString()],
    ['mean-duration', 'Mean length', total.meanDurationMs === null ? '—' : spokenDuration(total.meanDurationMs)],
  ];
  const throughBars: BarDatum[] = each.map((s, i) => ({
    label: buckets[i]!.label,
    value: s.sellThrough ?? 0,
    display: formatShare(s.sellThrough),
    title: `${buckets[i]!.label}: ${s.sellThrough === null ? 'nothing ended' : `${formatShare(s.sellThrough)} (${s.sold} of ${s.sold + s.unsold} sold)`}`,
    tone: 'accent',
  }));
  const scale = currency ? scaleOf(currency) : 2;
  const salesOf = (s: PeriodStats) => s.salesByCurrency.find((x) => x.currency === currency)?.total ?? null;
  const salesBars: BarDatum[] = each.map((s, i) => {
    const amount = salesOf(s);
    return { label: buckets[i]!.label, value: amount ? plotValue(amount, scale) : 0, display: currency && amount ? formatMoney(amount, currency) : '—', tone: 'ink' };
  });
  const best = throughBars.reduce<BarDatum | null>((a, b, i) => (each[i]!.sellThrough !== null && (a === null || b.value > a.value) ? b : a), null);
  return (
    <>
      <dl className="stat-grid" aria-label="Figures for the period">
        {figures.map(([key, label, value]) => (
          <div key={key} className="stat">
            <dt>{label}</dt>
            <dd data-testid={`period-${key}`}>{value}</dd>
          </div>
        ))}
      </dl>
      <div className="charts">
        <ChartBars
          testId="chart-sell-through"
          title={`Sell-through by ${unit}`}
          summary={`${formatShare(total.sellThrough)} of the auctions that ended sold (${total.sold} of ${total.sold + total.unsold})${best ? `; the best ${unit} was ${best.label}, at ${best.display}` : ''}.`}
          bars={throughBars}
          domainMax={1}
          yLabel="Sold of those ended"
          yFormat={(v) => formatShare(v)}
          table={{ columns: [unit[0]!.toUpperCase() + unit.slice(1), 'Sold', 'Not sold', 'Cancelled', 'Sell-through'], rows: each.map((s, i) => [buckets[i]!.label, String(s.sold), String(s.unsold), String(s.cancelled), formatShare(s.sellThrough)]) }}
        />
        {currency && (
          <div className="stack">
            {currencies.length > 1 && (
              <div className="field inline-field">
                <label htmlFor="sales-currency">Sales in</label>
                <select id="sales-currency" value={currency} onChange={(e) => setChosen(e.target.value)}>
                  {currencies.map((c) => (
                    <option key={c}>{c}</option>
                  ))}
                </select>
              </div>
            )}
            <ChartBars
              testId="chart-sales"
              title={`Sales by ${unit}, ${currency}`}
              summary={`${formatMoney(total.salesByCurrency.find((s) => s.currency === currency)!.total, currency)} in all, before commission.`}
              bars={salesBars}
              integerY
              yLabel={`Sales (${currency})`}
              yFormat={moneyTick(currency, scale)}
              table={{ columns: [unit[0]!.toUpperCase() + unit.slice(1), `Sales (${currency})`, 'Sold'], rows: each.map((s, i) => [buckets[i]!.label, salesOf(s) ? formatMoney(salesOf(s), currency) : '—', String(s.sold)]) }}
            />
          </div>
        )}
      </div>
    </>
  );
}
