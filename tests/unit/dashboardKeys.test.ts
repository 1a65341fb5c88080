// The dashboard's Keys panel (dashboards/client/keysPanel.ts): GET /api/keys as HTML.
import { describe, expect, it } from 'vitest';
import { KEYS_SHOWN, keysPanel } from '../../dashboards/client/keysPanel.ts';
import type { KeyView } from '../../src/keys/keyAdmin.ts';

function spend(name: string, budget: KeyView['spend']['budget'], tokens: number, over: Partial<KeyView['spend']> = {}): KeyView['spend'] {
  const ratio = budget?.tokens ? tokens / budget.tokens : 0;
  return { key: name, budget, periodStart: 0, resetsAt: 3_600_000, spent: { tokens, inputTokens: 0, outputTokens: 0, costUsd: 0, reports: 1 }, byType: {}, ratio, exhausted: ratio >= 1, alerted: [], waiting: 0, usage: {}, ...over };
}

function key(name: string, over: Partial<KeyView> = {}): KeyView {
  return { key: name, limits: {}, active: 0, waiting: 0, held: 0, startsInWindow: 0, holdUntil: null, started: 0, throttled: { active: 0, rate: 0, hold: 0, budget: 0 }, spend: spend(name, null, 0), ...over };
}

describe('the Keys panel', () => {
  it('says when it is loading and when there is no key', () => {
    expect(keysPanel(undefined, 0)).toContain('Loading');
    expect(keysPanel([], 0)).toContain('No key yet');
  });

  it('shows each key\'s running against maxActive, rate, weight, waiting, held and refusals, busiest first', () => {
    const html = keysPanel(
      [
        key('idle'),
        key('acme', { limits: { maxActive: 3, rate: { max: 20, perMs: 1000 }, rateText: '20/s', weight: 2 }, active: 3, waiting: 1200, held: 7, throttled: { active: 40, rate: 3, hold: 0, budget: 0 } }),
      ],
      0,
    );
    expect(html.indexOf('acme')).toBeLessThan(html.indexOf('idle'));
    expect(html).toContain('<span class="full" title="3 running of at most 3">3 / 3</span>');
    expect(html).toContain('<td>20/s</td>');
    expect(html).toContain('<td class="num">1,200</td>');
    expect(html).toContain('active 40, rate 3');
  });

  it('shows a hold while it lasts, escapes names, and caps the rows', () => {
    expect(keysPanel([key('p', { holdUntil: 10_500 })], 9_000)).toContain('held 2 s');
    expect(keysPanel([key('p', { holdUntil: 10_500 })], 11_000)).not.toContain('class="held"');
    expect(keysPanel([key('<b>')], 0)).not.toContain('<b>');
    const many = Array.from({ length: KEYS_SHOWN + 5 }, (_, i) => key(`k${i}`));
    const html = keysPanel(many, 0);
    expect(html.match(/<tr data-key/g)).toHaveLength(KEYS_SHOWN);
    expect(html).toContain(`${KEYS_SHOWN} of ${KEYS_SHOWN + 5} keys shown`);
  });

  it("shows each key's budget this period, marked from 80 % and when spent, with when it resets", () => {
    const day = { period: 'day' as const, queued: 'wait' as const, running: 'abort' as const };
    const html = keysPanel(
      [
        key('none'),
        key('half', { spend: spend('half', { tokens: 1000, ...day }, 500) }),
        key('warm', { spend: spend('warm', { tokens: 1000, ...day }, 850) }),
        key('done', { spend: spend('done', { tokens: 1000, ...day }, 1000, { waiting: 3 }), throttled: { active: 0, rate: 0, hold: 0, budget: 4 } }),
      ],
      0,
    );
    expect(html).toContain('<span title="resets in 60 min">500 / 1,000 tokens (50 %)</span>');
    expect(html).toContain('<span class="warn" title="resets in 60 min">850 / 1,000 tokens (85 %)</span>');
    expect(html).toContain('<span class="spent" title="resets in 60 min, 3 waiting for it">1,000 / 1,000 tokens (100 %)</span>');
    expect(html).toContain('budget 4');
    expect(html).toMatch(/data-key="none">.*<td>—<\/td><td>—<\/td><\/tr>/);
  });
});
