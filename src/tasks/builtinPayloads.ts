// The payloads of the built-in agent task types. Every coordinator knows them,
// so a bad payload is refused at submit time, not in an agent; the processors
// that run these types (processors/builtins.ts) parse with the same schemas.
import { z } from 'zod';
import { usageSchema } from '../budgets/budget.ts';

export const builtinPayloadSchemas = {
  echo: z.unknown(),
  sleep: z.object({ ms: z.number().int().min(0).max(3_600_000) }).strict(),
  cpu: z.object({ iterations: z.number().int().min(1).max(100_000_000) }).strict(),
  fail: z.object({ message: z.string().max(10_000).optional() }).strict().nullish(), // a task submitted without a payload carries null in its job
  /** Reports its payload as the task's usage (ctx.usage), for trying budgets out (a name no user type is likely to have). */
  'report-usage': usageSchema,
} as const;

export type BuiltinType = keyof typeof builtinPayloadSchemas;

export function isBuiltinType(type: string): type is BuiltinType {
  return Object.hasOwn(builtinPayloadSchemas, type);
}
