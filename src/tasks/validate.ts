// Whether a submitted task is one swarmq can run, decided from the input alone:
// its nesting, its fields, and a built-in type's payload. Used by every way in.
import { z } from 'zod';
import { SwarmError } from '../errors.ts';
import { issuesOf } from '../validation.ts';
import { builtinPayloadSchemas, isBuiltinType } from './builtinPayloads.ts';
import { checkFieldDepth } from './jsonDepth.ts';
import { taskInputSchema, type TaskInput } from './schema.ts';

/**
 * The task, or a SwarmError naming each bad field; `where` prefixes the paths
 * (`tasks.3.` in a batch). Touches nothing.
 */
export function validateTask(input: unknown, maxJsonDepth: number, where = ''): TaskInput {
  checkFieldDepth(input, maxJsonDepth, where); // before anything walks it
  const parsed = taskInputSchema.safeParse(input);
  if (!parsed.success) {
    const details = issuesOf(parsed.error).map((i) => ({ ...i, path: where + i.path }));
    throw new SwarmError('invalid_request', `invalid task: ${details.map((d) => `${d.path}: ${d.message}`).join('; ')}`, details);
  }
  const task = parsed.data;
  if (isBuiltinType(task.type)) {
    const p = (builtinPayloadSchemas[task.type] as z.ZodType).safeParse(task.payload);
    if (!p.success) {
      const details = issuesOf(p.error).map((i) => ({ ...i, path: `${where}payload${i.path === '(root)' ? '' : '.' + i.path}` }));
      throw new SwarmError('invalid_request', `invalid payload for "${task.type}": ${details.map((d) => `${d.path}: ${d.message}`).join('; ')}`, details);
    }
  }
  return task;
}
