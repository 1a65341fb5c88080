// `swarmq limits set|get`: a key's limits from the command line, straight on
// Redis like `swarmq status` (no coordinator needed), the same checks and
// writes as PUT /api/keys/:key/limits.
import { withNodeQueues, withRedis } from './keyCommand.ts';
import type { SwarmConfig } from '../config/schema.ts';
import { checkKeyName, parseKeyLimits, readKeys, readOneKey, setKeyLimits, type KeyView } from '../keys/keyAdmin.ts';

export interface LimitFlags {
  maxActive?: string;
  rate?: string;
  weight?: string;
}

/** The limits the flags give; a flag left out is no such limit (they replace the key's limits whole). */
export function limitsFromFlags(f: LimitFlags): unknown {
  const num = (v: string) => (/^\s*-?\d+(\.\d+)?\s*$/.test(v) ? Number(v) : v);
  return {
    ...(f.maxActive !== undefined ? { maxActive: num(f.maxActive) } : {}),
    ...(f.rate !== undefined ? { rate: f.rate } : {}),
    ...(f.weight !== undefined ? { weight: num(f.weight) } : {}),
  };
}

export async function limitsSet(config: SwarmConfig, key: string, flags: LimitFlags): Promise<KeyView> {
  const name = checkKeyName(key);
  const limits = parseKeyLimits(limitsFromFlags(flags));
  return await withRedis(config, 'swarmq:limits', async (redis) => {
    return await withNodeQueues(redis, config.prefix, async (queueFor) => await setKeyLimits(redis, config.prefix, name, limits, queueFor));
  });
}

export async function limitsGet(config: SwarmConfig, key: string | undefined): Promise<KeyView[]> {
  return await withRedis(config, 'swarmq:limits', async (redis) => (key === undefined ? await readKeys(redis, config.prefix) : [await readOneKey(redis, config.prefix, checkKeyName(key))]));
}

/** One line a key: its limits and counts. */
export function limitsTable(keys: readonly KeyView[]): string {
  if (!keys.length) return 'no keys yet: a task with a key, or `swarmq limits set <key>`, makes one';
  const lines = ['key                  maxActive  rate        weight  active  waiting  held  throttled'];
  for (const k of keys) {
    const l = k.limits;
    const throttled = k.throttled.active + k.throttled.rate + k.throttled.hold;
    lines.push(
      `${k.key.padEnd(20)} ${String(l.maxActive ?? '-').padStart(9)}  ${(l.rateText ?? '-').padEnd(10)} ${String(l.weight ?? 1).padStart(6)} ${String(k.active).padStart(7)} ${String(k.waiting).padStart(8)} ${String(k.held).padStart(5)} ${String(throttled).padStart(10)}${k.holdUntil ? `  held until ${new Date(k.holdUntil).toISOString()}` : ''}`,
    );
  }
  return lines.join('\n');
}
