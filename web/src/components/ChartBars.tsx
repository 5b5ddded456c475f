// Bars: one per period (sell-through, sales), or side by side to compare a few figures
// (starting price, reserve, final price). Vertical bars label their period underneath;
// horizontal ones name each bar on its left and print its figure at its end.
import { CHART_HEIGHT, ChartFigure, MARGIN, niceTicks, scale, YGrid, type ChartTable } from './Chart.js';

export interface BarDatum {
  label: string;
  value: number;
  /** The figure as a person reads it ("$1,250.00", "60 %"). */
  display: string;
  /** The tooltip; default `label: display`. */
  title?: string;
  tone?: 'accent' | 'ink' | 'gold' | 'muted' | 'success';
}

export interface ChartBarsProps {
  title: string;
  summary: string;
  table: ChartTable;
  testId?: string;
  bars: BarDatum[];
  yLabel?: string;
  yFormat: (value: number) => string;
  /** The top of the scale at least this (1 for shares). */
  domainMax?: number;
  integerY?: boolean;
  orientation?: 'vertical' | 'horizontal';
}

const ROW_PX = 38;
const LABEL_PX = 120;

export function ChartBars(props: ChartBarsProps) {
  const horizontal = props.orientation === 'horizontal';
  const height = horizontal ? MARGIN.top + props.bars.length * ROW_PX + 24 : CHART_HEIGHT;
  return (
    <ChartFigure title={props.title} summary={props.summary} table={props.table} height={height} {...(props.testId && { testId: props.testId })}>
      {(width) => (horizontal ? <HorizontalBars {...props} width={width} height={height} /> : <VerticalBars {...props} width={width} />)}
    </ChartFigure>
  );
}

function ticksFor(bars: BarDatum[], domainMax: number | undefined, integerY: boolean | undefined, target: number): number[] {
  const max = Math.max(domainMax ?? 0, ...bars.map((b) => b.value));
  return niceTicks(0, max > 0 ? max : 1, target, integerY);
}

function VerticalBars({ width, bars, yLabel, yFormat, domainMax, integerY }: ChartBarsProps & { width: number }) {
  const left = MARGIN.left;
  const right = width - MARGIN.right;
  const top = MARGIN.top;
  const bottom = CHART_HEIGHT - MARGIN.bottom;
  const ticks = ticksFor(bars, domainMax, integerY, 4);
  const y = scale([0, ticks.at(-1)!], [bottom, top]);
  const band = (right - left) / Math.max(1, bars.length);
  const barWidth = Math.max(4, Math.min(56, band * 0.62));
  // On a narrow screen every other period is named, and the figures move into the tooltips.
  const labelEvery = band < 46 ? Math.ceil(46 / band) : 1;
  const showFigures = band >= 40;
  return (
    <g className="bar-chart">
      <YGrid ticks={ticks} y={y} left={left} right={right} format={yFormat} />
      {yLabel && (
        <text className="axis-title" x={4} y={12}>
          {yLabel}
        </text>
      )}
      <line className="baseline" x1={left} x2={right} y1={bottom} y2={bottom} />
      {bars.map((b, i) => {
        const cx = left + band * (i + 0.5);
        const h = Math.max(0, bottom - y(b.value));
        return (
          <g key={`${b.label}-${i}`}>
            <rect className={`bar tone-${b.tone ?? 'accent'}`} x={cx - barWidth / 2} y={bottom - h} width={barWidth} height={h} rx={2}>
              <title>{b.title ?? `${b.label}: ${b.display}`}</title>
            </rect>
            {showFigures && (
              <text className="bar-figure" x={cx} y={bottom - h - 6} textAnchor="middle">
                {b.display}
              </text>
            )}
            {i % labelEvery === 0 && (
              <text className="bar-label" x={cx} y={bottom + 18} textAnchor="middle">
                {b.label}
              </text>
            )}
          </g>
        );
      })}
    </g>
  );
}

function HorizontalBars({ width, height, bars, domainMax, integerY }: ChartBarsProps & { width: number; height: number }) {
  const left = Math.min(LABEL_PX, width * 0.35);
  const right = width - MARGIN.right - 70;
  const top = MARGIN.top - 12;
  const ticks = ticksFor(bars, domainMax, integerY, 3);
  const x = scale([0, ticks.at(-1)!], [left, right]);
  return (
    <g className="bar-chart horizontal">
      {bars.map((b, i) => {
        const cy = top + ROW_PX * (i + 0.5);
        const w = Math.max(2, x(b.value) - left);
        return (
          <g key={`${b.label}-${i}`}>
            <text className="bar-label" x={left - 8} y={cy} dy="0.32em" textAnchor="end">
              {b.label}
            </text>
            <rect className={`bar tone-${b.tone ?? 'accent'}`} x={left} y={cy - 11} width={w} height={22} rx={2}>
              <title>{b.title ?? `${b.label}: ${b.display}`}</title>
            </rect>
            <text className="bar-figure" x={left + w + 6} y={cy} dy="0.32em">
              {b.display}
            </text>
          </g>
        );
      })}
      <line className="baseline" x1={left} x2={left} y1={top} y2={height - 24} />
    </g>
  );
}
