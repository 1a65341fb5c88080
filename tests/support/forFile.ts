// What the per-file fixtures (redisForFile, hostForFile, stackForFile) share:
// they are called at a file's top level but start their thing in a beforeAll,
// so the handle they return reads through to it, and says what to do when it
// is used before the beforeAll or after the afterAll.

/**
 * A handle whose `keys` read through to `current()`, plus the properties of
 * `extra` (getters stay getters). `what` names the fixture's thing in the error.
 */
export function readThrough<T extends object, K extends keyof T, E extends object = object>(
  what: string,
  current: () => T | undefined,
  keys: readonly K[],
  extra?: E,
): Pick<T, K> & E {
  const started = (): T => {
    const value = current();
    if (value === undefined) throw new Error(`${what} exists from the beforeAll it registers until the end of the file; use it inside hooks and tests`);
    return value;
  };
  const handle = {} as Pick<T, K> & E;
  for (const key of keys) {
    Object.defineProperty(handle, key, {
      enumerable: true,
      get: () => {
        const target = started();
        const value = target[key];
        // Methods keep their object, so `const { request } = stack` works too.
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
  }
  if (extra) Object.defineProperties(handle, Object.getOwnPropertyDescriptors(extra));
  return handle;
}
