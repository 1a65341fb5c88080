// How deeply a producer's JSON may nest. JSON.parse takes any depth, but what
// comes after it recurses (zod's z.json, structuredClone, JSON.stringify in
// BullMQ's add): a payload nested a few thousand levels overflows the stack
// half-way through a submit. So every way in (HTTP, the client, the intake
// queue, proposals) measures depth first, with a walk that keeps its own stack
// and so cannot overflow whatever it is given.
import { SwarmError } from '../errors.ts';

interface Frame {
  value: object;
  depth: number;
  key: string | number | undefined;
  parent: Frame | undefined;
}

/**
 * The path to the first object or array nested deeper than `max` levels in
 * `value` (an object or array is one level, each one inside it one more; a
 * scalar is none), or undefined when none is. A cycle counts as too deep.
 */
export function tooDeepAt(value: unknown, max: number): (string | number)[] | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const stack: Frame[] = [{ value, depth: 1, key: undefined, parent: undefined }];
  for (let frame = stack.pop(); frame; frame = stack.pop()) {
    if (frame.depth > max) return pathOf(frame);
    const v = frame.value;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const child: unknown = v[i];
        if (child !== null && typeof child === 'object') stack.push({ value: child, depth: frame.depth + 1, key: i, parent: frame });
      }
    } else {
      for (const k of Object.keys(v)) {
        const child: unknown = (v as Record<string, unknown>)[k];
        if (child !== null && typeof child === 'object') stack.push({ value: child, depth: frame.depth + 1, key: k, parent: frame });
      }
    }
  }
  return undefined;
}

function pathOf(frame: Frame): (string | number)[] {
  const path: (string | number)[] = [];
  for (let f: Frame | undefined = frame; f?.key !== undefined; f = f.parent) path.push(f.key);
  return path.reverse();
}

/**
 * Refuses (400, nothing written) an input whose fields nest deeper than `max`
 * levels each: `{ payload: [[1]] }` nests its payload 2 levels. Names the
 * field, prefixed with `where` (`tasks.3.`), and the setting that bounds it.
 */
export function checkFieldDepth(input: unknown, max: number, where = ''): void {
  const at = tooDeepAt(input, max + 1);
  if (!at) return;
  const field = `${where}${String(at[0] ?? '(root)')}`;
  const message = `nested deeper than ${max} levels`;
  throw new SwarmError('invalid_request', `${field} is ${message}; flatten it, or raise http.maxJsonDepth (SWARMQ_MAX_JSON_DEPTH)`, [{ path: field, message: `${message} (http.maxJsonDepth)` }]);
}
