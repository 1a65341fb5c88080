// The built-in task types as an agent runs them, with payloads as they arrive
// from a node job (JSON: a task submitted without one carries null).
import { describe, it, expect } from 'vitest';
import { builtinProcessors } from '../../processors/builtins.ts';
import type { TaskContext } from '../../src/agents/processor.ts';

const ctx = { taskId: 'n1.AAAAAAAAAAAA', agentId: 'h-a1', nodeId: 'n1', attempt: 1, signal: new AbortController().signal } as TaskContext;

/** Runs a processor as the node runner does: a synchronous throw is a failed task too. */
const run = async (type: string, payload: unknown): Promise<unknown> => builtinProcessors[type]!(payload, ctx);

describe('built-in processors', () => {
  it('fail without a payload fails with its own message, not a schema error', async () => {
    await expect(run('fail', null)).rejects.toThrow('fail: this task type always fails');
    await expect(run('fail', undefined)).rejects.toThrow('fail: this task type always fails');
    await expect(run('fail', { message: 'boom' })).rejects.toThrow('boom');
  });

  it('echo returns its payload, null for none', async () => {
    expect(await builtinProcessors.echo!({ a: 1 }, ctx)).toEqual({ a: 1 });
    expect(await builtinProcessors.echo!(null, ctx)).toBeNull();
  });
});
