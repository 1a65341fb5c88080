// A small line plot as SVG markup: a pure function of the series.
import { esc } from './html.ts';

export interface SparkSeries {
  name: string;
  /** Missing values (no sample in that interval) break the line. */
  values: readonly (number | null)[];
  className: string;
}

export interface SparkOptions {
  width: number;
  height: number;
  /** The y axis starts at 0 and reaches at least this. */
  minMax: number;
  unit: string;
}

/** Path commands for one series over a shared scale; gaps start a new segment. */
export function sparkPath(values: readonly (number | null)[], width: number, height: number, max: number): string {
  if (values.length === 0 || max <= 0) return '';
  const step = values.length > 1 ? width / (values.length - 1) : 0;
  let d = '';
  let pen = false;
  const isGap = (v: number | null | undefined) => v === null || v === undefined || !Number.isFinite(v);
  values.forEach((v, i) => {
    if (v === null || !Number.isFinite(v)) {
      pen = false;
      return;
    }
    const x = (i * step).toFixed(1);
    const y = (height - (Math.min(v, max) / max) * height).toFixed(1);
    d += `${pen ? 'L' : 'M'}${x},${y}`;
    // A value between two gaps would draw nothing: a dot (round caps) shows it.
    if (!pen && isGap(values[i + 1])) d += 'h0.1';
    pen = true;
  });
  return d;
}

export function seriesMax(series: readonly SparkSeries[], minMax: number): number {
  let max = minMax;
  for (const s of series) for (const v of s.values) if (v !== null && Number.isFinite(v) && v > max) max = v;
  return max;
}

export function sparkline(series: readonly SparkSeries[], o: SparkOptions): string {
  const max = seriesMax(series, o.minMax);
  const pad = 2;
  const w = o.width;
  const h = o.height - 2 * pad;
  const lines = series
    .map((s) => `<path class="spark ${esc(s.className)}" data-series="${esc(s.name)}" transform="translate(0,${pad})" d="${sparkPath(s.values, w, h, max)}"/>`)
    .join('');
  const label = `<text class="axis" x="${w - 2}" y="11" text-anchor="end">${esc(formatValue(max))} ${esc(o.unit)}</text>`;
  return `<svg xmlns="http://www.w3.org/2000/svg" class="sparkline" width="${w}" height="${o.height}" viewBox="0 0 ${w} ${o.height}" preserveAspectRatio="none"><line class="baseline" x1="0" y1="${o.height - pad}" x2="${w}" y2="${o.height - pad}"/>${lines}${label}</svg>`;
}

export function formatValue(v: number): string {
  if (v >= 1000) return `${(v / 1000).toFixed(v >= 10_000 ? 0 : 1)}k`;
  if (v >= 10 || Number.isInteger(v)) return v.toFixed(0);
  return v.toFixed(1);
}
