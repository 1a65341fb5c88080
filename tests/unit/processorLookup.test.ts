// A task type names a processor only as an own entry of the processor map,
// never through Object.prototype, in the host and in a sandbox child alike.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { builtinProcessors } from '../../processors/builtins.ts';
import { processorsFor } from '../../processors/load.ts';
import { processorFor, taskTypesOf } from '../../src/agents/processor.ts';

// The sandbox child's entry, plain JS: loaded by URL, typed here by what BullMQ's child calls.
type RunTask = (job: { name: string; data: unknown }, token: undefined, signal: undefined) => Promise<unknown>;
const { default: runTask } = (await import(new URL('../../processors/sandboxEntry.mjs', import.meta.url).href)) as { default: RunTask };

const INHERITED = Object.getOwnPropertyNames(Object.prototype);
const dir = mkdtempSync(join(tmpdir(), 'swarmq-lookup-'));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('processorFor', () => {
  it('finds no processor under a name Object.prototype holds', () => {
    expect(INHERITED).toEqual(expect.arrayContaining(['constructor', 'toString', 'valueOf', '__proto__', 'hasOwnProperty']));
    for (const name of INHERITED) expect(processorFor(builtinProcessors, name), name).toBeUndefined();
    expect(processorFor(builtinProcessors, 'echo')).toBe(builtinProcessors.echo);
  });

  it('finds exactly the own entries that are functions', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.oneof(fc.constant(() => 1), fc.integer())), fc.string(), (entries, name) => {
        const map = Object.fromEntries(Object.entries(entries)) as Record<string, never>;
        const own = Object.hasOwn(map, name) && typeof map[name] === 'function';
        expect(processorFor(map, name) !== undefined).toBe(own);
      }),
      { numRuns: 500 },
    );
  });

  it('a user module may name a task type __proto__ or constructor: its own processors, kept as such', async () => {
    const modulePath = join(dir, 'odd.mjs');
    writeFileSync(modulePath, `const p = () => 'proto'; const c = () => 'ctor';\nexport { p as __proto__, c as constructor };\n`);
    const processors = await processorsFor(modulePath);
    expect(Object.getPrototypeOf(processors)).toBe(Object.prototype);
    expect(processorFor(processors, '__proto__')?.(null, {} as never)).toBe('proto');
    expect(processorFor(processors, 'constructor')?.(null, {} as never)).toBe('ctor');
    expect(taskTypesOf(processors)).toEqual([...Object.keys(builtinProcessors), '__proto__', 'constructor'].sort());
  });
});

describe('the sandbox child', () => {
  const ctx = { taskId: 't1', agentId: 'sb-a1', nodeId: 'n1', attempt: 1 };
  const job = (name: string) => ({ name, data: { payload: 'x', ctx, modulePath: '' } });

  it('refuses a task type Object.prototype holds, naming it and the agent', async () => {
    for (const name of ['constructor', 'toString', 'valueOf', '__proto__']) {
      await expect(runTask(job(name), undefined, undefined), name).rejects.toThrow(`sandbox child of agent sb-a1: no processor for task type ${JSON.stringify(name)}`);
    }
    await expect(runTask(job('echo'), undefined, undefined)).resolves.toBe('x');
  });
});
