// The built-in task types as an agent runs them, with payloads as they arrive
// from a node job (JSON: a task submitted without one carries null).
import { describe, it, expect } from 'vitest';
import { builtinProcessors } from '../../processors/builtins.ts';
import type { TaskContext } from '../../processors/types.ts';

const ctx = { taskId: 'n1.AAAAAAAAAAAA', agentId: 'h-a1', nodeId: 'n1', attempt: 1, signal: new AbortController().signal } as TaskContext;

describe('built-in processors', () => {
  it('fail without a payload fails with its own message, not a schema error', async () => {
    await expect(builtinProcessors.fail!(null, ctx)).rejects.toThrow('fail: this task type always fails');
    await expect(builtinProcessors.fail!(undefined, ctx)).rejects.toThrow('fail: this task type always fails');
    await expect(builtinProcessors.fail!({ message: 'boom' }, ctx)).rejects.toThrow('boom');
  });

  it('echo returns its payload, null for none', async () => {
    expect(await builtinProcessors.echo!({ a: 1 }, ctx)).toEqual({ a: 1 });
    expect(await builtinProcessors.echo!(null, ctx)).toBeNull();
  });
});
