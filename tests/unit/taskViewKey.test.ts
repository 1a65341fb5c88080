// A task's key in its view: the placed mark on the job (sqKey), else the
// envelope's own (a keyed task an idle node took as it came is not marked).
import { describe, expect, it } from 'vitest';
import { keyOfJob, taskViewFromJob } from '../../src/tasks/view.ts';

const view = (hash: Record<string, string>) => taskViewFromJob('n1.t', 'n1', { state: 'waiting', hash: { name: 'work', timestamp: '1', ...hash } });

describe("a task view's key", () => {
  it('is the placed mark when the job has one', () => {
    expect(view({ data: '{"payload":null,"key":"acme"}', sqKey: 'acme' }).key).toBe('acme');
  });

  it("is the envelope's when the job was never placed", () => {
    expect(view({ data: '{"payload":{"n":1},"key":"acme"}' }).key).toBe('acme');
  });

  it('is absent for a task without one, even when its payload has a field named key', () => {
    expect(view({ data: '{"payload":{"key":"not-a-task-key"}}' })).not.toHaveProperty('key');
    expect(keyOfJob('{"payload":null}')).toBeUndefined();
    expect(keyOfJob('not json "key"')).toBeUndefined();
    // One that is not a key name (a job put straight into a node queue): a host runs it without a key, and the view shows none.
    expect(keyOfJob('{"payload":null,"key":"not a key!"}')).toBeUndefined();
    expect(keyOfJob(undefined)).toBeUndefined();
  });
});
