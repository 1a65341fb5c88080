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

/**
 * What JSON.stringify would drop, change or turn into null, refused instead, so
 * a watcher sees what the processor sent: found by one walk with its own stack
 * (the depth is checked first, so it is bounded), the first offence with its path.
 */
const plainJson = z.unknown().superRefine((value, ctx) => {
  const stack: { v: unknown; path: (string | number)[] }[] = [{ v: value, path: [] }];
  for (let item = stack.pop(); item; item = stack.pop()) {
    const { v, path } = item;
    const why =
      typeof v === 'number' && !Number.isFinite(v)
        ? `${v} is not a JSON number (NaN and Infinity are not JSON)`
        : typeof v === 'function' || typeof v === 'undefined' || typeof v === 'symbol' || typeof v === 'bigint'
          ? `a ${typeof v} is not JSON`
          : v !== null && typeof v === 'object' && !Array.isArray(v) && Object.getPrototypeOf(v) !== Object.prototype && Object.getPrototypeOf(v) !== null
            ? 'a class instance (a Date, Map, …) would not read back as itself'
            : undefined;
    if (why) {
      ctx.addIssue({ code: 'custom', message: why, path });
      return;
    }
    if (v !== null && typeof v === 'object') for (const [k, child] of Object.entries(v)) stack.push({ v: child, path: [...path, Array.isArray(v) ? Number(k) : k] });
  }
});

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
  const parsed = plainJson.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw notJson(`at ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'not JSON'}`);
  }
  return text;
}

function notJson(why: string): SwarmError {
  return new SwarmError('invalid_request', `ctx.progress takes a JSON value (null, boolean, finite number, string, array, plain object); ${why}`);
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
