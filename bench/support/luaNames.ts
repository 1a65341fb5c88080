// The names of the Lua scripts a run can call, by the sha1 Redis knows them
// by: swarmq's (queues/commands/<name>-<keys>.lua with includes resolved, the
// text queues/scripts.ts loads) and BullMQ's (the `content` of each of its
// script modules, the text it hands to ioredis's defineCommand, which sends
// EVALSHA of its sha1). Computed from the files that run, so a new or changed
// script is named without a list to keep.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolveBullmq, resolveIncludes } from '../../queues/scripts.ts';
import type { ScriptNames } from './slowlogGroups.ts';

const sha1 = (text: string) => createHash('sha1').update(text).digest('hex');
/** What the slowlog keeps of an argument. */
const SLOWLOG_ARG_BYTES = 128;

function swarmqScripts(): [name: string, text: string][] {
  const dir = fileURLToPath(new URL('../../queues/commands/', import.meta.url));
  const read = (path: string) => readFileSync(join(dir, `${path}.lua`), 'utf8');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.lua'))
    .map((f) => {
      const file = f.slice(0, -'.lua'.length);
      return [`swarmq:${file.replace(/-\d+$/, '')}`, resolveBullmq(resolveIncludes(read(file), read, f), f)];
    });
}

function bullmqScripts(): [name: string, text: string][] {
  // BullMQ has no exports map: its CommonJS build's scripts index is reachable by path.
  const require = createRequire(import.meta.url);
  const index = join(dirname(require.resolve('bullmq')), 'scripts', 'index.js');
  const mod = require(index) as Record<string, { name?: unknown; content?: unknown }>;
  return Object.values(mod)
    .filter((s): s is { name: string; content: string } => typeof s?.name === 'string' && typeof s.content === 'string')
    .map((s) => [`bullmq:${s.name}`, s.content]);
}

export function scriptNames(): ScriptNames {
  const all = [...swarmqScripts(), ...bullmqScripts()];
  return {
    bySha: new Map(all.map(([name, text]) => [sha1(text), name])),
    byText: all.map(([name, text]) => [Buffer.from(text).subarray(0, SLOWLOG_ARG_BYTES).toString('utf8'), name] as const),
  };
}
