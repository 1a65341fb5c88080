// The "Awaiting approval" panel: what GET /api/approvals gives, as HTML, with
// an approve and a reject button per task (client/main.ts sends them to POST
// /api/tasks/:id/approve and /reject with the round shown, so a decision never
// lands on an output that came since). Pure, so what it shows is unit-tested
// without a browser.
import type { AwaitingPage } from '../../src/coordinator/approvals.ts';
import type { TaskView } from '../../src/tasks/schema.ts';
import { esc } from './html.ts';

/** Characters of an output shown; the rest is behind a title (and in GET /api/tasks/:id). */
export const OUTPUT_CHARS = 600;

export function outputText(value: unknown): string {
  const text = typeof value === 'string' ? value : (JSON.stringify(value, null, 1) ?? 'null');
  return text.length <= OUTPUT_CHARS ? text : `${text.slice(0, OUTPUT_CHARS - 1)}…`;
}

/** How long until the deadline, roughly: "in 6 d 23 h", "in 4 min 10 s", "due". */
export function timeLeft(now: number, deadline: number | null): string {
  if (deadline === null) return '';
  let s = Math.round((deadline - now) / 1000);
  if (s <= 0) return 'due';
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  if (d > 0) return `in ${d} d ${h} h`;
  if (h > 0) return `in ${h} h ${m} min`;
  return m > 0 ? `in ${m} min ${s} s` : `in ${s} s`;
}

/** What identifies the panel's rows: re-rendered only when it changes, so a reason being typed stays. */
export function approvalsKey(page: AwaitingPage | undefined): string {
  return page ? page.tasks.map((t) => `${t.id}#${t.approval?.round ?? 0}`).join(' ') : '';
}

function row(t: TaskView, now: number): string {
  const a = t.approval;
  const round = a?.round ?? 1;
  const id = esc(t.id);
  const rejections = (a?.decisions ?? []).filter((d) => d.decision === 'rejected');
  const history = rejections.length ? `<span class="note"> · output ${round}, after ${rejections.length} rejection${rejections.length === 1 ? '' : 's'}</span>` : '';
  return (
    `<li data-approval="${id}" data-round="${round}">` +
    `<div><code>${id}</code> <b>${esc(t.type)}</b> <span class="note">on ${esc(t.node)} by ${esc(a?.agentId ?? t.agentId ?? '?')} · decide <time>${esc(timeLeft(now, a?.deadline ?? null))}</time></span>${history}</div>` +
    `<pre class="output">${esc(outputText(a?.output ?? null))}</pre>` +
    `<div class="decide"><button type="button" data-action="approve" data-task="${id}">Approve</button>` +
    `<input type="text" name="reason" placeholder="reason (to reject)" maxlength="4096" aria-label="reason to reject ${id}">` +
    `<label><input type="checkbox" name="retry"> run again with it</label>` +
    `<button type="button" data-action="reject" data-task="${id}">Reject</button></div></li>`
  );
}

export function approvalsPanel(page: AwaitingPage | undefined, now: number): string {
  if (!page) return '<p class="empty">Loading…</p>';
  if (page.tasks.length === 0) return '<p class="empty">No output awaits approval.</p>';
  const more = page.total > page.tasks.length ? `<p class="note">${page.tasks.length} of about ${page.total.toLocaleString('en')} shown, soonest deadline first</p>` : '';
  return `<ul class="approvals">${page.tasks.map((t) => row(t, now)).join('')}</ul>${more}`;
}
