// Hand-written SVG charts (no chart library). Every chart is a figure: a caption, one sentence
// saying what it shows, the drawing as a single labelled image, and the same figures as a table
// that screen readers always get and anyone can open. Drawn at the width the page gives it, so
// labels keep their size on a phone. Money is plotted from minor units (geometry only); every
// number a person reads comes from the API's own strings.
import { useId, useLayoutEffect, useRef, useState, type ReactNode, type RefObject } from 'react';

export interface ChartTable {
  columns: string[];
  /** The first cell of each row heads it (a time, a period, a name). */
  rows: string[][];
}

export const CHART_HEIGHT = 240;
export const MARGIN = { top: 28, right: 20, bottom: 44, left: 76 } as const;

export function ChartFigure({ title, summary, table, testId, height = CHART_HEIGHT, children }: { title: string; summary: string; table: ChartTable; testId?: string; height?: number; children: (width: number) => ReactNode }) {
  const id = useId();
  const box = useRef<HTMLDivElement>(null);
  const width = useWidth(box);
  const [showTable, setShowTable] = useState(false);
  return (
    <figure className="chart" data-testid={testId} aria-labelledby={`${id}-title`}>
      <figcaption id={`${id}-title`} className="chart-title">
        {title}
      </figcaption>
      <p id={`${id}-summary`} className="small muted chart-summary">
        {summary}
      </p>
      <div ref={box} className="chart-canvas">
        {width > 0 && (
          <svg width={width} height={height} viewBox={`0 0 ${width} ${height}`} role="img" aria-labelledby={`${id}-title ${id}-summary`}>
            {children(width)}
          </svg>
        )}
      </div>
      <button type="button" className="btn small ghost chart-toggle" aria-expanded={showTable} aria-controls={`${id}-table`} onClick={() => setShowTable((v) => !v)}>
        {showTable ? 'Hide the table' : 'Show as a table'}
      </button>
      <div id={`${id}-table`} className={showTable ? 'table-wrap' : 'visually-hidden'}>
        <table className="data">
          <caption className="visually-hidden">{title}</caption>
          <thead>
            <tr>
              {table.columns.map((c) => (
                <th key={c} scope="col">
                  {c}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {table.rows.map((row, i) => (
              <tr key={i}>
                {row.map((cell, j) =>
                  j === 0 ? (
                    <th key={j} scope="row">
                      {cell}
                    </th>
                  ) : (
                    <td key={j}>{cell}</td>
                  ),
                )}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </figure>
  );
}

/** The width of an element, followed as the layout changes. */
function useWidth(ref: RefObject<HTMLElement | null>): number {
  const [width, setWidth] = useState(0);
  useLayoutEffect(() => {
    const element = ref.current;
    if (!element) return;
    const measure = () => setWidth(Math.floor(element.clientWidth));
    measure();
    if (typeof ResizeObserver === 'undefined') return;
    const observer = new ResizeObserver(measure);
    observer.observe(element);
    return () => observer.disconnect();
  }, [ref]);
  return width;
}

/** About `target` round steps (1, 2, 5 × 10ⁿ) covering [min, max]; whole numbers when `integer`. */
export function niceTicks(min: number, max: number, target = 5, integer = false): number[] {
  let low = min;
  let high = max;
  if (!(high > low)) high = low + (integer ? Math.max(1, Math.abs(low) * 0.1) : Math.max(1, Math.abs(low) * 0.1));
  const raw = (high - low) / target;
  const power = 10 ** Math.floor(Math.log10(raw));
  let step = [1, 2, 5, 10].map((f) => f * power).find((s) => s >= raw) ?? 10 * power;
  if (integer) step = Math.max(1, Math.round(step));
  low = Math.floor(low / step) * step;
  const ticks: number[] = [];
  for (let i = 0; ticks.length < 100; i++) {
    const value = Number((low + i * step).toPrecision(12));
    ticks.push(value);
    if (value >= high) break;
  }
  return ticks;
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const TIME_STEPS = [SECOND, 2 * SECOND, 5 * SECOND, 10 * SECOND, 15 * SECOND, 30 * SECOND, MINUTE, 2 * MINUTE, 5 * MINUTE, 10 * MINUTE, 15 * MINUTE, 30 * MINUTE, HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY, 7 * DAY, 14 * DAY, 28 * DAY];

/** Ticks at round local times within [minMs, maxMs], and how to label them. */
export function timeTicks(minMs: number, maxMs: number, target = 5): { ticks: number[]; format: (ms: number) => string } {
  const span = Math.max(maxMs - minMs, SECOND);
  const step = TIME_STEPS.find((s) => span / s <= target) ?? TIME_STEPS.at(-1)!;
  // Round in local time: a tick at 14:00 here, not at 14:00 UTC.
  const offsetMs = new Date(minMs).getTimezoneOffset() * MINUTE;
  const first = Math.ceil((minMs - offsetMs) / step) * step + offsetMs;
  const ticks: number[] = [];
  for (let t = first; t <= maxMs && ticks.length < 50; t += step) ticks.push(t);
  const withSeconds = step < MINUTE;
  const byDay = step >= DAY || span > 2 * DAY;
  const format = new Intl.DateTimeFormat(undefined, byDay ? { day: 'numeric', month: 'short' } : withSeconds ? { hour: '2-digit', minute: '2-digit', second: '2-digit' } : { hour: '2-digit', minute: '2-digit' });
  return { ticks, format: (ms) => format.format(new Date(ms)) };
}

/** A linear map from a domain onto a range of pixels. */
export function scale(domain: readonly [number, number], range: readonly [number, number]): (value: number) => number {
  const [d0, d1] = domain;
  const [r0, r1] = range;
  const span = d1 - d0 || 1;
  return (value) => r0 + ((value - d0) / span) * (r1 - r0);
}

/** The value axis: a grid line at each tick, its figure on the left. */
export function YGrid({ ticks, y, left, right, format }: { ticks: number[]; y: (value: number) => number; left: number; right: number; format: (value: number) => string }) {
  return (
    <g className="grid">
      {ticks.map((t) => (
        <g key={t}>
          <line x1={left} x2={right} y1={y(t)} y2={y(t)} />
          <text x={left - 8} y={y(t)} dy="0.32em" textAnchor="end">
            {format(t)}
          </text>
        </g>
      ))}
    </g>
  );
}

/** The time axis along the bottom: round local times, a tick mark under each, and its title. */
export function TimeAxis({ x, domain, left, right, bottom, height, label }: { x: (ms: number) => number; domain: readonly [number, number]; left: number; right: number; bottom: number; height: number; label: string }) {
  const time = timeTicks(domain[0], domain[1], Math.max(2, Math.floor((right - left) / 90)));
  return (
    <g className="axis">
      <line x1={left} x2={right} y1={bottom} y2={bottom} />
      {time.ticks.map((t) => (
        <g key={t}>
          <line x1={x(t)} x2={x(t)} y1={bottom} y2={bottom + 5} />
          <text x={x(t)} y={bottom + 18} textAnchor="middle">
            {time.format(t)}
          </text>
        </g>
      ))}
      <text className="axis-title" x={(left + right) / 2} y={height - 6} textAnchor="middle">
        {label}
      </text>
    </g>
  );
}
