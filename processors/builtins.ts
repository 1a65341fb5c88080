// The built-in agent task types. Their payload schemas are the engine's
// (src/tasks/builtinPayloads.ts): every coordinator checks them at submit time.
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { builtinPayloadSchemas } from '../src/tasks/builtinPayloads.ts';
import type { ProcessorMap } from '../src/agents/processor.ts';

export const builtinProcessors: ProcessorMap = {
  echo: (payload) => payload ?? null,
  sleep: async (payload, ctx) => {
    const { ms } = builtinPayloadSchemas.sleep.parse(payload);
    await sleep(ms, undefined, { signal: ctx.signal });
    return { slept: ms };
  },
  cpu: async (payload, ctx) => {
    const { iterations } = builtinPayloadSchemas.cpu.parse(payload);
    // A real hash chain; yields every 10k rounds so timeouts and shutdown can cut in.
    let digest = Buffer.from(ctx.taskId);
    for (let i = 0; i < iterations; i++) {
      digest = createHash('sha256').update(digest).digest();
      if (i % 10_000 === 9_999) {
        ctx.signal.throwIfAborted();
        await new Promise<void>((r) => setImmediate(r));
      }
    }
    return { iterations, digest: digest.toString('hex') };
  },
  'report-usage': async (payload, ctx) => await ctx.usage(builtinPayloadSchemas['report-usage'].parse(payload)),
  fail: (payload) => {
    const parsed = builtinPayloadSchemas.fail.parse(payload);
    throw new Error(parsed?.message ?? 'fail: this task type always fails');
  },
};
