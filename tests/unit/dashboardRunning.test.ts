// The dashboard's "Running tasks" panel and the rows GET /api/running builds.
import { describe, expect, it } from 'vitest';
import { nodesToRead, runningRow } from '../../src/api/runningTasks.ts';
import { progressFraction, progressText, PROGRESS_CHARS, runningPanel } from '../../dashboards/client/runningTasks.ts';
import type { NodeView } from '../../src/routing/loads.ts';

const node = (id: string, active: number): NodeView => ({ id, agents: [], waiting: 0, active });

describe('GET /api/running reads', () => {
  it('only busy nodes, in id order, until their active tasks fill the limit', () => {
    const nodes = [node('n10', 5), node('n2', 0), node('n1', 3), node('n3', 4)];
    expect(nodesToRead(nodes, 2)).toEqual(['n1']);
    expect(nodesToRead(nodes, 3)).toEqual(['n1']);
    expect(nodesToRead(nodes, 4)).toEqual(['n1', 'n3']);
    expect(nodesToRead(nodes, 100)).toEqual(['n1', 'n3', 'n10']);
    expect(nodesToRead([node('n1', 0)], 5)).toEqual([]);
  });

  it('a row from the job hash fields; a job gone since the list was read is left out', () => {
    expect(runningRow('n1.x', 'n1', ['llm', '1700', '{"text":"Hi"}', 'h1'])).toEqual({ id: 'n1.x', type: 'llm', node: 'n1', host: 'h1', startedAt: 1700, progress: { text: 'Hi' } });
    expect(runningRow('n1.x', 'n1', ['llm', null, null, null])).toEqual({ id: 'n1.x', type: 'llm', node: 'n1', host: null, startedAt: null, progress: null });
    expect(runningRow('n1.x', 'n1', [null, null, null, null])).toBeNull();
  });
});

describe('running tasks panel', () => {
  it('shows each task with its progress as a bar when it is a fraction, and as text otherwise', () => {
    const html = runningPanel(
      {
        active: 3,
        tasks: [
          { id: 'n1.a', type: 'crawl', node: 'n1', host: 'h1', startedAt: 10_000, progress: 0.25 },
          { id: 'n1.b', type: 'llm', node: 'n1', host: 'h2', startedAt: 70_000, progress: { tokens: 12, text: '<b>Hello</b>' } },
        ],
      },
      100_000,
    );
    expect(html).toContain('data-task="n1.a"');
    expect(html).toContain('style="width:25.0%"');
    expect(html).toContain('1 min 30 s');
    expect(html).toContain('30 s');
    // User data is escaped.
    expect(html).toContain('&lt;b&gt;Hello&lt;/b&gt;');
    expect(html).not.toContain('<b>Hello');
    expect(html).toContain('2 of 3 running shown');
  });

  it('says when nothing runs, and reads progress values as people would', () => {
    expect(runningPanel({ active: 0, tasks: [] }, 0)).toContain('No task is running.');
    expect(progressFraction(0.5)).toBe(0.5);
    expect(progressFraction(40)).toBe(0.4);
    expect(progressFraction({ percent: 75 })).toBe(0.75);
    expect(progressFraction('half')).toBeUndefined();
    expect(progressFraction(500)).toBeUndefined();
    expect(progressText(null)).toBe('—');
    const long = 'a'.repeat(50) + 'b'.repeat(100);
    // A streamed text shows its newest characters.
    expect(progressText(long)).toBe(`…${'b'.repeat(PROGRESS_CHARS - 1)}`);
    expect(progressText({ k: 'x'.repeat(200) }).endsWith('…')).toBe(true);
  });
});
