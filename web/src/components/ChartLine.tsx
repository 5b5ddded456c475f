// A line over time: the price after each bid, or the bids counted so far. A price holds until
// the next bid changes it, so `step` draws it as steps, carried on to the end of the time shown.
import { CHART_HEIGHT, ChartFigure, MARGIN, niceTicks, scale, TimeAxis, YGrid, type ChartTable } from './Chart.js';

export interface LinePoint {
  x: number;
  y: number;
  /** What the point is, in words (its tooltip). */
  title: string;
}

export interface ReferenceLine {
  y: number;
  label: string;
  tone: 'reserve' | 'start';
}

export interface ChartLineProps {
  title: string;
  summary: string;
  table: ChartTable;
  testId?: string;
  points: LinePoint[];
  step?: boolean;
  /** The time shown: [start, end] in ms (default: the points' own span). */
  xDomain?: [number, number];
  xLabel: string;
  yLabel: string;
  yFormat: (value: number) => string;
  integerY?: boolean;
  yFromZero?: boolean;
  references?: ReferenceLine[];
  empty?: string;
}

export function ChartLine(props: ChartLineProps) {
  return (
    <ChartFigure title={props.title} summary={props.summary} table={props.table} {...(props.testId && { testId: props.testId })}>
      {(width) => <LinePlot {...props} width={width} />}
    </ChartFigure>
  );
}

function LinePlot({ width, points, step, xDomain, xLabel, yLabel, yFormat, integerY, yFromZero, references = [], empty }: ChartLineProps & { width: number }) {
  const height = CHART_HEIGHT;
  const left = MARGIN.left;
  const right = width - MARGIN.right;
  const top = MARGIN.top;
  const bottom = height - MARGIN.bottom;
  const xs = points.map((p) => p.x);
  let [x0, x1] = xDomain ?? [Math.min(...xs), Math.max(...xs)];
  if (!Number.isFinite(x0) || !Number.isFinite(x1)) [x0, x1] = [Date.now() - 60_000, Date.now()];
  if (x1 <= x0) [x0, x1] = [x0 - 30_000, x1 + 30_000];
  const ys = [...points.map((p) => p.y), ...references.map((r) => r.y), ...(yFromZero ? [0] : [])];
  const yTicks = niceTicks(ys.length ? Math.min(...ys) : 0, ys.length ? Math.max(...ys) : 1, 4, integerY);
  const x = scale([x0, x1], [left, right]);
  const y = scale([yTicks[0]!, yTicks.at(-1)!], [bottom, top]);

  let path = '';
  points.forEach((p, i) => {
    if (i === 0) path = `M${x(p.x)},${y(p.y)}`;
    else path += step ? ` H${x(p.x)} V${y(p.y)}` : ` L${x(p.x)},${y(p.y)}`;
  });
  const last = points.at(-1);
  if (step && last && x1 > last.x) path += ` H${x(x1)}`;

  return (
    <g className="line-chart">
      <YGrid ticks={yTicks} y={y} left={left} right={right} format={yFormat} />
      <TimeAxis x={x} domain={[x0, x1]} left={left} right={right} bottom={bottom} height={height} label={xLabel} />
      <text className="axis-title" x={4} y={11}>
        {yLabel}
      </text>
      {references.map((r) => (
        <g key={r.label} className={`ref ${r.tone}`}>
          <line x1={left} x2={right} y1={y(r.y)} y2={y(r.y)} />
          {/* The reserve is named on the left, where the price is still below it; the start on the right, which the price has left. */}
          <text x={r.tone === 'reserve' ? left + 4 : right - 4} y={y(r.y) - 5} textAnchor={r.tone === 'reserve' ? 'start' : 'end'}>
            {r.label}
          </text>
        </g>
      ))}
      {path && <path className="line" d={path} />}
      {points.map((p, i) => (
        <circle key={i} className="point" cx={x(p.x)} cy={y(p.y)} r={4}>
          <title>{p.title}</title>
        </circle>
      ))}
      {points.length === 0 && (
        <text className="empty-note" x={(left + right) / 2} y={(top + bottom) / 2} textAnchor="middle">
          {empty ?? 'Nothing to show yet'}
        </text>
      )}
    </g>
  );
}
