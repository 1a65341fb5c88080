// The dashboard's approval panel (pure): each output awaiting approval with its
// buttons and the round they decide on, escaped; long outputs cut; the time left.
import { describe, expect, it } from 'vitest';
import { approvalsKey, approvalsPanel, OUTPUT_CHARS, outputText, timeLeft } from '../../dashboards/client/approvals.ts';
import type { TaskView } from '../../src/tasks/schema.ts';

const NOW = 1_000_000;
function awaitingTask(id: string, output: unknown, round = 1): TaskView {
  return {
    id, type: 'write<b>', state: 'awaiting-approval', node: 'n1', agentId: 'h1-a1', attempts: 0, result: null, error: null, createdAt: 0, startedAt: 1, finishedAt: null, progress: null,
    approval: { timeoutMs: 60_000, state: 'awaiting', round, output, agentId: 'h1-a1', awaitingSince: NOW - 1000, deadline: NOW + 90_000, decisions: round > 1 ? [{ decision: 'rejected', by: { via: 'token' }, at: 1, round: 1, reason: 'x', retry: true }] : [] },
  };
}

describe('the approval panel', () => {
  it('shows each output with approve and reject buttons and its round, everything escaped', () => {
    const html = approvalsPanel({ tasks: [awaitingTask('n1.a', { text: '<script>alert(1)</script>' }), awaitingTask('n1.b', 'plain', 2)], total: 2 }, NOW);
    expect(html).toContain('<li data-approval="n1.a" data-round="1">');
    expect(html).toContain('<li data-approval="n1.b" data-round="2">');
    expect(html).toContain('data-action="approve" data-task="n1.a"');
    expect(html).toContain('data-action="reject" data-task="n1.b"');
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;script&gt;');
    expect(html).toContain('write&lt;b&gt;');
    expect(html).toContain('after 1 rejection');
    expect(html).toContain('in 1 min 30 s');
    expect(approvalsPanel({ tasks: [], total: 0 }, NOW)).toContain('No output awaits approval.');
    expect(approvalsPanel({ tasks: [awaitingTask('n1.a', 1)], total: 40 }, NOW)).toContain('1 of about 40 shown');
  });

  it('cuts long outputs, says how long is left, and keys rows by id and round', () => {
    expect(outputText('x'.repeat(OUTPUT_CHARS * 2))).toHaveLength(OUTPUT_CHARS);
    expect(outputText({ a: 1 })).toBe('{\n "a": 1\n}');
    expect(timeLeft(0, 7 * 86_400_000 - 3_600_000)).toBe('in 6 d 23 h');
    expect(timeLeft(0, 0)).toBe('due');
    expect(timeLeft(0, null)).toBe('');
    expect(approvalsKey({ tasks: [awaitingTask('n1.a', 1), awaitingTask('n1.b', 1, 2)], total: 2 })).toBe('n1.a#1 n1.b#2');
  });
});
