// The "Keys" panel: what GET /api/keys gives, as HTML (docs/keys.md). Pure, so
// what it shows is unit-tested without a browser: each key's limits, its tasks
// running (against maxActive), waiting and held, its budget's spend this
// period (marked from 80 %), and refusals by reason.
import type { KeyView } from '../../src/keys/keyAdmin.ts';
import { esc } from './html.ts';

/** Keys shown at most; the rest are counted (GET /api/keys and the metrics have them all). */
export const KEYS_SHOWN = 50;

function active(k: KeyView): string {
  const max = k.limits.maxActive;
  if (max === undefined) return String(k.active);
  const full = k.active >= max ? ' class="full"' : '';
  return `<span${full} title="${k.active} running of at most ${max}">${k.active} / ${max}</span>`;
}

/** Spent against the budget this period, marked at the alert thresholds (80 %: warn, 100 %: spent). */
function budget(k: KeyView, now: number): string {
  const s = k.spend;
  const b = s?.budget;
  if (!s || !b) return '—';
  const parts: string[] = [];
  if (b.tokens !== undefined) parts.push(`${Math.round(s.spent.tokens).toLocaleString('en')} / ${b.tokens.toLocaleString('en')} tokens`);
  if (b.costUsd !== undefined) parts.push(`$${(Math.round(s.spent.costUsd * 100) / 100).toLocaleString('en')} / $${b.costUsd.toLocaleString('en')}`);
  const pct = Math.floor(s.ratio * 100);
  const cls = s.exhausted ? 'spent' : pct >= 80 ? 'warn' : '';
  const resets = s.resetsAt > now ? `resets in ${Math.ceil((s.resetsAt - now) / 60_000).toLocaleString('en')} min` : 'resets now';
  const waiting = s.waiting > 0 ? `, ${s.waiting.toLocaleString('en')} waiting for it` : '';
  return `<span${cls ? ` class="${cls}"` : ''} title="${esc(`${resets}${waiting}`)}">${esc(parts.join(', '))} (${pct} %)</span>`;
}

function refused(k: KeyView): string {
  const parts = (['active', 'rate', 'hold', 'budget'] as const).filter((r) => (k.throttled[r] ?? 0) > 0).map((r) => `${r} ${k.throttled[r].toLocaleString('en')}`);
  return parts.length ? parts.join(', ') : '—';
}

/** Busiest first: running, then waiting, then by name. */
function order(a: KeyView, b: KeyView): number {
  return b.active - a.active || b.waiting - a.waiting || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
}

export function keysPanel(keys: readonly KeyView[] | undefined, now: number): string {
  if (!keys) return '<p class="empty">Loading…</p>';
  if (keys.length === 0) return '<p class="empty">No key yet: tasks submitted with a <code>key</code> show here.</p>';
  const rows = [...keys]
    .sort(order)
    .slice(0, KEYS_SHOWN)
    .map((k) => {
      const hold = k.holdUntil !== null && k.holdUntil > now ? ` <span class="held" title="its provider said 429">held ${Math.ceil((k.holdUntil - now) / 1000)} s</span>` : '';
      return (
        `<tr data-key="${esc(k.key)}"><td><code>${esc(k.key)}</code>${hold}</td><td class="num">${active(k)}</td><td>${esc(k.limits.rateText ?? '—')}</td>` +
        `<td class="num">${k.limits.weight ?? 1}</td><td class="num">${k.waiting.toLocaleString('en')}</td><td class="num">${k.held.toLocaleString('en')}</td><td>${budget(k, now)}</td><td>${esc(refused(k))}</td></tr>`
      );
    })
    .join('');
  const more = keys.length > KEYS_SHOWN ? `<p class="note">${KEYS_SHOWN} of ${keys.length.toLocaleString('en')} keys shown, busiest first</p>` : '';
  return `<table class="agents"><thead><tr><th>key</th><th class="num">running</th><th>rate</th><th class="num">weight</th><th class="num">waiting</th><th class="num">held</th><th>budget (this period)</th><th>refused</th></tr></thead><tbody>${rows}</tbody></table>${more}`;
}
