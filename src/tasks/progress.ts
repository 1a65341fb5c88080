// A task's progress value: user data that goes into Redis (the job hash and the
// node queue's events stream) and out to every watcher, so it is held to a
// size and a depth before anything is written, and refused where the processor
// can see why (ctx.progress throws synchronously).
import { z } from 'zod';
import { SwarmError } from '../errors.ts';
import { tooDeepAt } from './jsonDepth.ts';

/** Defaults of the agents.progress* settings (docs/configuration.md). */
export const PROGRESS_DEFAULTS = { intervalMs: 50, maxBytes: 16 * 1024, maxDepth: 32 } as const;

export interface ProgressLimits {
  maxBytes: number;
  maxDepth: number;
}

// What JSON.stringify would silently drop or turn into null: refused instead, so a watcher sees what the processor sent.
const jsonValue: z.ZodType<unknown> = z.lazy(() =>
  z.union([z.null(), z.boolean(), z.string(), z.number().refine(Number.isFinite, 'a finite number (NaN and Infinity are not JSON)'), z.array(jsonValue), z.record(z.string(), jsonValue)]),
);

/**
 * The value as the JSON text to store, or a SwarmError saying what to change:
 * too deep (checked first, with a walk that cannot overflow), not plain JSON
 * (a function, undefined, a BigInt, a Date or class instance, NaN), or too big.
 */
export function encodeProgress(value: unknown, limits: ProgressLimits): string {
  const deep = tooDeepAt(value, limits.maxDepth);
  if (deep) throw new SwarmError('invalid_request', `ctx.progress: the value nests deeper than ${limits.maxDepth} levels at ${deep.join('.') || '(root)'}; report a flatter summary`);
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (err) {
    throw notJson((err as Error).message);
  }
  if (text === undefined) throw notJson(`got ${typeof value}`);
  // The size first: native and cheap, so a value far too big costs no walk.
  const bytes = Buffer.byteLength(text);
  if (bytes > limits.maxBytes) {
    throw new SwarmError(
      'payload_too_large',
      `ctx.progress: the value is ${bytes} bytes of JSON, over the limit of ${limits.maxBytes} (agents.progressMaxBytes); report the latest part or a summary, and return the whole as the task's result`,
    );
  }
  const parsed = jsonValue.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw notJson(`at ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'not JSON'}`);
  }
  if (!isPlain(value)) throw notJson('a class instance (a Date, Map, …) would not read back as itself');
  return text;
}

function notJson(why: string): SwarmError {
  return new SwarmError('invalid_request', `ctx.progress takes a JSON value (null, boolean, finite number, string, array, plain object); ${why}`);
}

/** Plain objects and arrays only, all the way down: a Date or Map would pass as a record and store as something else. */
function isPlain(value: unknown): boolean {
  const stack: unknown[] = [value];
  while (stack.length) {
    const v = stack.pop();
    if (v === null || typeof v !== 'object') continue;
    const proto = Object.getPrototypeOf(v) as unknown;
    if (!Array.isArray(v) && proto !== Object.prototype && proto !== null) return false;
    stack.push(...Object.values(v));
  }
  return true;
}

/** A stored progress field back to its value (null when none was reported). */
export function decodeProgress(text: string | undefined): unknown {
  if (text === undefined || text === '') return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
