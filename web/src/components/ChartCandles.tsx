// Candlesticks over time with the volume under them: each period's open, high, low and close
// (a hollow body when it closed at or above its open, a filled one when below, so the direction
// reads without colour), and a bar of what traded. Shares the figure, grid and time axis of
// the other charts; every figure a person reads comes from the caller's strings.
import { ChartFigure, MARGIN, niceTicks, scale, TimeAxis, YGrid, type ChartTable } from './Chart.js';

export interface CandleDatum {
  /** The period's start, in ms. */
  x: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
  /** What the candle is, in words (its tooltip). */
  title: string;
}

export interface ChartCandlesProps {
  title: string;
  summary: string;
  table: ChartTable;
  testId?: string;
  candles: CandleDatum[];
  /** How long one candle lasts, in ms. */
  periodMs: number;
  /** The time shown: [start, end] in ms. */
  xDomain: [number, number];
  xLabel: string;
  yLabel: string;
  yFormat: (value: number) => string;
  volumeFormat: (value: number) => string;
  /** The latest price, marked across the chart. */
  lastLabel?: string;
  empty?: string;
}

const HEIGHT = 320;
const VOLUME_PX = 56;
const GAP_PX = 18;

export function ChartCandles(props: ChartCandlesProps) {
  return (
    <ChartFigure title={props.title} summary={props.summary} table={props.table} height={HEIGHT} {...(props.testId && { testId: props.testId })}>
      {(width) => <CandlePlot {...props} width={width} />}
    </ChartFigure>
  );
}

function CandlePlot({ width, candles, periodMs, xDomain, xLabel, yLabel, yFormat, volumeFormat, lastLabel, empty }: ChartCandlesProps & { width: number }) {
  const left = MARGIN.left;
  const right = width - MARGIN.right;
  const top = MARGIN.top;
  const bottom = HEIGHT - MARGIN.bottom;
  const volumeTop = bottom - VOLUME_PX;
  const priceBottom = volumeTop - GAP_PX;
  const [x0, x1] = xDomain;
  const x = scale([x0, x1], [left, right]);
  const lows = candles.map((c) => c.low);
  const highs = candles.map((c) => c.high);
  const priceTicks = niceTicks(lows.length ? Math.min(...lows) : 0, highs.length ? Math.max(...highs) : 1, 4, true);
  const y = scale([priceTicks[0]!, priceTicks.at(-1)!], [priceBottom, top]);
  const volumeTicks = niceTicks(0, Math.max(1, ...candles.map((c) => c.volume)), 2, true);
  const volumeMax = volumeTicks.at(-1)!;
  const vy = scale([0, volumeMax], [bottom, volumeTop]);
  // A candle takes most of its period's width, at least a pixel, and never becomes a slab.
  const periodPx = ((right - left) * periodMs) / Math.max(1, x1 - x0);
  const bodyPx = Math.max(1, Math.min(14, periodPx * 0.7));
  const last = candles.at(-1);

  return (
    <g className="candle-chart">
      <YGrid ticks={priceTicks} y={y} left={left} right={right} format={yFormat} />
      <YGrid ticks={[volumeMax]} y={vy} left={left} right={right} format={volumeFormat} />
      <text className="axis-title" x={4} y={11}>
        {yLabel}
      </text>
      <text className="axis-title" x={4} y={(volumeTop + bottom) / 2} dy="0.32em">
        Volume
      </text>
      <TimeAxis x={x} domain={xDomain} left={left} right={right} bottom={bottom} height={HEIGHT} label={xLabel} />
      {candles.map((c) => {
        const cx = x(c.x + periodMs / 2);
        const direction = c.close >= c.open ? 'up' : 'down';
        const bodyTop = y(Math.max(c.open, c.close));
        const bodyHeight = Math.max(1, Math.abs(y(c.open) - y(c.close)));
        return (
          <g key={c.x} className={`candle ${direction}`}>
            <title>{c.title}</title>
            <line className="wick" x1={cx} x2={cx} y1={y(c.high)} y2={y(c.low)} />
            <rect className="body" x={cx - bodyPx / 2} y={bodyTop} width={bodyPx} height={bodyHeight} />
            <rect className="volume" x={cx - bodyPx / 2} y={vy(c.volume)} width={bodyPx} height={Math.max(0, bottom - vy(c.volume))} />
          </g>
        );
      })}
      {last && lastLabel && (
        <g className="ref last">
          <line x1={left} x2={right} y1={y(last.close)} y2={y(last.close)} />
          <text x={right - 4} y={y(last.close) - 5} textAnchor="end">
            {lastLabel}
          </text>
        </g>
      )}
      {candles.length === 0 && (
        <text className="empty-note" x={(left + right) / 2} y={(top + priceBottom) / 2} textAnchor="middle">
          {empty ?? 'Nothing to show yet'}
        </text>
      )}
    </g>
  );
}
