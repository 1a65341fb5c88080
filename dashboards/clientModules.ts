// The dashboard's browser modules, written in TypeScript beside the server
// (type-checked and unit-tested with it) and served as ES modules: esbuild
// strips the types of one file on its first request, no bundle, no build step.
// From a compiled package (dist/) the already compiled .js files are served.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { transform } from 'esbuild';

const CLIENT_DIR = new URL('./client/', import.meta.url);
/** Only plain module names: nothing outside the client directory can be asked for. */
const MODULE_NAME = /^([a-zA-Z][a-zA-Z0-9]*)\.(?:ts|js)$/;

export interface ClientModule {
  code: string;
}

export class ClientModules {
  private readonly cache = new Map<string, Promise<ClientModule | undefined>>();

  /** The JavaScript of a client module by its file name, or undefined when there is none. */
  get(file: string): Promise<ClientModule | undefined> {
    const m = MODULE_NAME.exec(file);
    if (!m) return Promise.resolve(undefined);
    const name = m[1]!;
    let found = this.cache.get(name);
    if (!found) {
      found = load(name);
      this.cache.set(name, found);
      // A failed load is not remembered: a file being written may be there next time.
      found.then((v) => v ?? this.cache.delete(name), () => this.cache.delete(name));
    }
    return found;
  }
}

async function load(name: string): Promise<ClientModule | undefined> {
  const source = await readIfThere(new URL(`${name}.ts`, CLIENT_DIR));
  if (source !== undefined) {
    const out = await transform(source, { loader: 'ts', format: 'esm', target: 'es2022', sourcefile: fileURLToPath(new URL(`${name}.ts`, CLIENT_DIR)) });
    return { code: out.code };
  }
  const compiled = await readIfThere(new URL(`${name}.js`, CLIENT_DIR));
  return compiled === undefined ? undefined : { code: compiled };
}

async function readIfThere(url: URL): Promise<string | undefined> {
  try {
    return await readFile(url, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
