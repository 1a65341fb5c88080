// What a task's watcher is told, from its queue's events stream entries and its
// view; and the progress value's checks (size, depth, plain JSON).
import { describe, expect, it } from 'vitest';
import { SwarmError } from '../../src/errors.ts';
import { decodeProgress, encodeProgress } from '../../src/tasks/progress.ts';
import type { TaskView } from '../../src/tasks/schema.ts';
import { formatResumePoint, meaningOf, resumePointSchema, sameTimeIn, snapshotOf } from '../../src/tasks/taskEvents.ts';

const ID = 'n1.AAAAAAAAAAAA';
const limits = { maxBytes: 64, maxDepth: 4 };

function view(over: Partial<TaskView>): TaskView {
  return { id: ID, type: 'echo', state: 'waiting', node: 'n1', agentId: null, attempts: 0, result: null, error: null, createdAt: 1, startedAt: null, finishedAt: null, progress: null, ...over };
}

describe('task events from the stream', () => {
  it('maps BullMQ and swarmq entries of this job; ignores other jobs and entries that are not news', () => {
    expect(meaningOf(ID, 'n1', ['event', 'active', 'jobId', ID, 'prev', 'waiting'])).toEqual({ kind: 'event', event: { type: 'started', data: { node: 'n1' } } });
    expect(meaningOf(ID, 'n1', ['event', 'progress', 'jobId', ID, 'data', '{"tokens":"Hel"}'])).toEqual({ kind: 'event', event: { type: 'progress', data: { value: { tokens: 'Hel' } } } });
    expect(meaningOf(ID, 'n1', ['event', 'delayed', 'jobId', ID, 'delay', '1700000000000'])).toMatchObject({ event: { type: 'retrying', data: { delayedUntil: 1700000000000 } } });
    expect(meaningOf(ID, 'n1', ['event', 'waiting', 'jobId', ID, 'prev', 'active'])).toMatchObject({ event: { type: 'retrying', data: { delayedUntil: null } } });
    expect(meaningOf(ID, 'n1', ['event', 'waiting', 'jobId', ID, 'prev', 'moved'])).toEqual({ kind: 'none' });
    expect(meaningOf(ID, 'n1', ['event', 'waiting', 'jobId', ID])).toEqual({ kind: 'none' });
    expect(meaningOf(ID, 'n1', ['event', 'completed', 'jobId', ID, 'returnvalue', '{"ok":1}', 'prev', 'active'])).toEqual({
      kind: 'event',
      event: { type: 'finished', data: { state: 'completed', result: { ok: 1 }, error: null } },
    });
    expect(meaningOf(ID, 'n1', ['event', 'failed', 'jobId', ID, 'failedReason', 'boom', 'prev', 'active'])).toMatchObject({ event: { type: 'finished', data: { state: 'failed', error: 'boom' } } });
    expect(meaningOf(ID, 'n1', ['event', 'removed', 'jobId', ID, 'prev', 'waiting'])).toMatchObject({ event: { type: 'finished', data: { state: 'cancelled' } } });
    expect(meaningOf(ID, 'n1', ['event', 'moved', 'jobId', ID, 'to', 'n2'])).toEqual({ kind: 'moved', to: 'n2' });
    expect(meaningOf(ID, 'n1', ['event', 'active', 'jobId', 'n1.BBBBBBBBBBBB'])).toEqual({ kind: 'none' });
    expect(meaningOf(ID, 'n1', ['event', 'drained'])).toEqual({ kind: 'none' });
  });

  it('a watch starting now is told the state so far: started and the latest progress, or only finished', () => {
    expect(snapshotOf(view({ state: 'waiting' }))).toEqual([]);
    expect(snapshotOf(view({ state: 'active', startedAt: 5 }))).toEqual([{ type: 'started', data: { node: 'n1' } }]);
    expect(snapshotOf(view({ state: 'active', startedAt: 5, progress: 0.5 }))).toEqual([
      { type: 'started', data: { node: 'n1' } },
      { type: 'progress', data: { value: 0.5 } },
    ]);
    expect(snapshotOf(view({ state: 'completed', result: 7, progress: 1 }))).toEqual([{ type: 'finished', data: { state: 'completed', result: 7, error: null } }]);
  });

  it('resume points round-trip, refuse anything else, and translate to another node by time', () => {
    const p = { node: 'n12', entry: '1700000000123-4' };
    expect(resumePointSchema.parse(formatResumePoint(p))).toEqual(p);
    expect(resumePointSchema.parse('consensus-{swarm}@1-0')).toEqual({ node: 'consensus-{swarm}', entry: '1-0' });
    for (const bad of ['1700000000123-4', 'n1@', 'n1@abc', 'n1:x@1-0', `n1@1-${'9'.repeat(30)}`]) expect(resumePointSchema.safeParse(bad).success).toBe(false);
    expect(sameTimeIn('1700000000123-4')).toBe('1700000000122-18446744073709551615');
    expect(sameTimeIn('0-5')).toBe('0-0');
  });
});

describe('progress values', () => {
  it('encodes plain JSON and reads it back', () => {
    for (const v of [0, 0.5, 'tok', null, true, [1, 'a'], { done: 3, of: 10 }]) expect(decodeProgress(encodeProgress(v, limits))).toEqual(v);
    expect(decodeProgress(undefined)).toBeNull();
  });

  it('refuses, with a message that says what to do: too big, too deep, not JSON', () => {
    const refuse = (v: unknown) => {
      try {
        encodeProgress(v, limits);
      } catch (err) {
        expect(err).toBeInstanceOf(SwarmError);
        return (err as Error).message;
      }
      throw new Error('accepted');
    };
    expect(refuse('x'.repeat(100))).toMatch(/102 bytes of JSON, over the limit of 64 \(agents\.progressMaxBytes\); report the latest part or a summary/);
    expect(refuse({ a: { b: { c: { d: { e: 1 } } } } })).toMatch(/deeper than 4 levels at a\.b\.c\.d/);
    expect(refuse(undefined)).toMatch(/takes a JSON value/);
    expect(refuse(() => 1)).toMatch(/takes a JSON value/);
    expect(refuse(10n)).toMatch(/takes a JSON value/);
    expect(refuse({ n: Number.NaN })).toMatch(/at n: NaN is not a JSON number/);
    expect(refuse({ list: [1, () => 2] })).toMatch(/at list.1: a function is not JSON/);
    expect(refuse(new Date(0))).toMatch(/class instance/);
    expect(refuse({ m: new Map() })).toMatch(/class instance/);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(refuse(cyclic)).toMatch(/deeper than 4 levels/);
  });
});
