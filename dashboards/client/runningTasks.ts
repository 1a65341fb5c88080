// The "Running tasks" panel: what GET /api/running gives, as HTML. Pure, so
// what it shows is unit-tested without a browser. A progress value is any JSON
// a processor reported: a number or a { percent } reads as a bar, anything else
// as short text (an LLM agent's partial output shows its latest characters).
import type { RunningPage } from '../../src/api/runningTasks.ts';
import { esc } from './html.ts';

/** Characters of a progress value shown in the table. */
export const PROGRESS_CHARS = 80;

/** A fraction in [0, 1] the value stands for, if it plainly is one: 0..1, or a `percent` / `progress` of 0..100. */
export function progressFraction(value: unknown): number | undefined {
  if (typeof value === 'number' && value >= 0 && value <= 1) return value;
  if (typeof value === 'number' && value > 1 && value <= 100) return value / 100;
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const p = (value as Record<string, unknown>).percent ?? (value as Record<string, unknown>).progress;
    if (typeof p === 'number' && p >= 0 && p <= 100) return p / 100;
  }
  return undefined;
}

/** The value as one short line: a string's last characters (the newest output), other JSON's first. */
export function progressText(value: unknown): string {
  if (value === null || value === undefined) return '—';
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  if (text.length <= PROGRESS_CHARS) return text;
  return typeof value === 'string' ? `…${text.slice(-PROGRESS_CHARS + 1)}` : `${text.slice(0, PROGRESS_CHARS - 1)}…`;
}

function ago(now: number, at: number | null): string {
  if (at === null) return '';
  const s = Math.max(0, Math.round((now - at) / 1000));
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}

export function runningPanel(page: RunningPage | undefined, now: number): string {
  if (!page) return '<p class="empty">Loading…</p>';
  if (page.tasks.length === 0) return '<p class="empty">No task is running.</p>';
  const rows = page.tasks
    .map((t) => {
      const f = progressFraction(t.progress);
      const bar = f === undefined ? '' : `<span class="votes" title="${Math.round(f * 100)}%"><span style="width:${(f * 100).toFixed(1)}%"></span></span> `;
      return (
        `<tr data-task="${esc(t.id)}"><td><code>${esc(t.id)}</code></td><td>${esc(t.type)}</td><td>${esc(t.node)}</td><td>${esc(t.host ?? '')}</td>` +
        `<td class="num">${ago(now, t.startedAt)}</td><td class="progress">${bar}${esc(progressText(t.progress))}</td></tr>`
      );
    })
    .join('');
  const more = page.active > page.tasks.length ? `<p class="note">${page.tasks.length} of ${page.active.toLocaleString('en')} running shown</p>` : '';
  return `<table class="agents"><thead><tr><th>task</th><th>type</th><th>node</th><th>host</th><th class="num">running</th><th>progress</th></tr></thead><tbody>${rows}</tbody></table>${more}`;
}
