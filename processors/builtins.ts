// The built-in agent task types. Their payload schemas are known to every
// coordinator, so a bad payload is refused at submit time, not in an agent.
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import type { ProcessorMap } from './types.ts';

export const builtinPayloadSchemas = {
  echo: z.unknown(),
  sleep: z.object({ ms: z.number().int().min(0).max(3_600_000) }).strict(),
  cpu: z.object({ iterations: z.number().int().min(1).max(100_000_000) }).strict(),
  fail: z.object({ message: z.string().max(10_000).optional() }).strict().nullish(), // a task submitted without a payload carries null in its job
} as const;

export type BuiltinType = keyof typeof builtinPayloadSchemas;

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
  fail: (payload) => {
    const parsed = builtinPayloadSchemas.fail.parse(payload);
    throw new Error(parsed?.message ?? 'fail: this task type always fails');
  },
};

export function isBuiltinType(type: string): type is BuiltinType {
  return Object.hasOwn(builtinPayloadSchemas, type);
}
