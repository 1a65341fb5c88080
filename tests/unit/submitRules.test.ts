// The pure decisions of the submit path (src/tasks/validate.ts, nodeJob.ts,
// batch.ts; the refusals of src/coordinator/nodeRouting.ts and cancel.ts),
// without Redis: each error names the field and leaves nothing to undo.
import { describe, it, expect } from 'vitest';
import { SwarmError } from '../../src/errors.ts';
import { checkBatchSize, checkNoReplicated } from '../../src/tasks/batch.ts';
import { taskEnvelope, taskJobOptions } from '../../src/tasks/nodeJob.ts';
import { validateTask } from '../../src/tasks/validate.ts';
import { routeRefusal } from '../../src/coordinator/nodeRouting.ts';
import { checkCancellable } from '../../src/coordinator/cancel.ts';
import type { TaskView } from '../../src/tasks/schema.ts';

const tasks = { defaultAttempts: 3, backoffMs: 1000, keepCompletedSeconds: 60, keepFailedSeconds: 120 };

function refusal(fn: () => unknown): SwarmError {
  try {
    fn();
  } catch (err) {
    if (err instanceof SwarmError) return err;
    throw err;
  }
  throw new Error('expected a SwarmError, got none');
}

describe('validateTask', () => {
  it('checks depth before the schema, naming the field under its batch prefix', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 70; i++) deep = [deep];
    const e = refusal(() => validateTask({ type: 'echo', payload: deep }, 64, 'tasks.2.'));
    expect(e.code).toBe('invalid_request');
    expect(e.message).toMatch(/^tasks\.2\.payload is nested deeper than 64 levels/);
  });

  it('refuses a built-in payload that fails its schema, naming the field', () => {
    const e = refusal(() => validateTask({ type: 'sleep', payload: { ms: -1 } }, 64));
    expect(e.code).toBe('invalid_request');
    expect(JSON.stringify(e.toJSON())).toContain('payload');
  });

  it('passes a good task through', () => {
    expect(validateTask({ type: 'sleep', payload: { ms: 5 }, priority: 3 }, 64)).toMatchObject({ type: 'sleep', payload: { ms: 5 }, priority: 3 });
  });
});

describe('node job shape', () => {
  it('a task with no payload carries null; timeout and affinity only when given', () => {
    expect(taskEnvelope({ type: 'echo' } as never)).toEqual({ payload: null });
    expect(taskEnvelope({ type: 'echo', payload: 1, timeoutMs: 5, affinity: { agentType: 'gpu' } } as never)).toEqual({ payload: 1, timeoutMs: 5, affinity: { agentType: 'gpu' } });
  });

  it('the swarm default attempts, with backoff only when there is a retry', () => {
    expect(taskJobOptions({ type: 'echo' } as never, 'n1.AAAAAAAAAAAA', tasks)).toMatchObject({ jobId: 'n1.AAAAAAAAAAAA', attempts: 3, backoff: { type: 'exponential', delay: 1000 } });
    const once = taskJobOptions({ type: 'echo', attempts: 1 } as never, 'n1.AAAAAAAAAAAA', tasks);
    expect(once.attempts).toBe(1);
    expect(once.backoff).toBeUndefined();
    expect(once).toMatchObject({ removeOnComplete: { age: 60 }, removeOnFail: { age: 120 } });
  });
});

describe('batch rules', () => {
  it('holds 1 to max tasks', () => {
    expect(refusal(() => checkBatchSize(0, 10)).message).toBe('a batch holds 1 to 10 tasks, got 0');
    expect(refusal(() => checkBatchSize(11, 10)).code).toBe('invalid_request');
    expect(() => checkBatchSize(10, 10)).not.toThrow();
  });

  it('names the first replicated task in a batch', () => {
    const e = refusal(() => checkNoReplicated([{ type: 'echo' }, { type: 'echo', consensus: { protocol: 'quorum', replicas: 3 } }] as never));
    expect(e.toJSON()).toMatchObject({ error: { details: [{ path: 'tasks.1.consensus' }] } });
  });
});

describe('refusals', () => {
  it('a task no node can take names type or affinity under its batch prefix', () => {
    expect(routeRefusal({ ok: false, code: 'unknown_task_type', message: 'no agent runs x' } as never, 'tasks.4.').toJSON()).toMatchObject({ error: { code: 'unknown_task_type', details: [{ path: 'tasks.4.type' }] } });
    expect(routeRefusal({ ok: false, code: 'no_capable_agent', message: 'none has gpu' } as never, '').toJSON()).toMatchObject({ error: { code: 'no_capable_agent', details: [{ path: 'affinity' }] } });
  });

  it('cancel refuses an unknown task (404) and a replicated one (409) before asking Redis', () => {
    expect(refusal(() => checkCancellable('n1.AAAAAAAAAAAA', null)).status).toBe(404);
    const replicated = { id: 'r-AAAAAAAAAAAA', state: 'waiting', consensus: { phase: 'running' } } as unknown as TaskView;
    expect(refusal(() => checkCancellable(replicated.id, replicated)).status).toBe(409);
    expect(() => checkCancellable('n1.AAAAAAAAAAAA', { id: 'n1.AAAAAAAAAAAA', state: 'waiting' } as unknown as TaskView)).not.toThrow();
  });
});
