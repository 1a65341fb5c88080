// Which processor runs a task type. A processor map is a plain object that
// users write, so a lookup by name must see its own entries only: through the
// prototype, `constructor` would run Object, `toString` would return
// "[object Undefined]", and `valueOf` or `__proto__` would throw inside the task.
import type { Processor, ProcessorMap } from './types.ts';

export function processorFor(processors: ProcessorMap, type: string): Processor | undefined {
  if (!Object.hasOwn(processors, type)) return undefined;
  const p = processors[type];
  return typeof p === 'function' ? p : undefined;
}

/** The task types a map has processors for, to say what a host can run. */
export function taskTypesOf(processors: ProcessorMap): string[] {
  return Object.keys(processors)
    .filter((t) => typeof processors[t] === 'function')
    .sort();
}
