// User processors: a module exporting `{ [type]: async (payload, ctx) => result }`
// (as its default export or as named exports).
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { taskTypeSchema } from '../src/tasks/schema.ts';
import { builtinProcessors } from './builtins.ts';
import type { Processor, ProcessorMap } from '../src/agents/processor.ts';

export async function loadProcessors(modulePath: string): Promise<ProcessorMap> {
  const url = pathToFileURL(resolve(modulePath)).href;
  let mod: Record<string, unknown>;
  try {
    mod = (await import(url)) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`cannot load processors from ${modulePath}: ${(err as Error).message}`);
  }
  const source = (mod.default && typeof mod.default === 'object' ? mod.default : mod) as Record<string, unknown>;
  const entries: [string, Processor][] = [];
  for (const [type, fn] of Object.entries(source)) {
    if (type === 'default') continue;
    if (typeof fn !== 'function') {
      throw new Error(`processors module ${modulePath}: export "${type}" is not a function; export { [taskType]: async (payload, ctx) => result }`);
    }
    if (!taskTypeSchema.safeParse(type).success) {
      throw new Error(`processors module ${modulePath}: "${type}" is not a valid task type (letters, digits, "_", "." and "-")`);
    }
    entries.push([type, fn as Processor]);
  }
  // Own entries each, even for a type named `__proto__` (assigning that one would set the prototype instead).
  const out: ProcessorMap = Object.fromEntries(entries);
  if (entries.length === 0) throw new Error(`processors module ${modulePath} exports no processors`);
  return out;
}

/** Built-ins plus the user's; a user processor may replace a built-in of the same name. */
export async function processorsFor(modulePath?: string): Promise<ProcessorMap> {
  return modulePath ? { ...builtinProcessors, ...(await loadProcessors(modulePath)) } : { ...builtinProcessors };
}
