// A key's limits: what an operator sets (configuration, PUT /api/keys/:key/limits,
// `swarmq limits set`), checked with zod at each way in, and the two shapes
// they are kept in: the key's limits hash its scripts read (admitKeyed-6.lua)
// and the JSON the swarm lists. Pure. A budget (issue 19, part 2) adds fields
// here and to the same hash.
import { z } from 'zod';
import { taskKeySchema } from '../tasks/schema.ts';

export const keyNameSchema = taskKeySchema;

/** Most starts a rate may allow per interval, and its longest interval: the starts window is kept in Redis, one entry a start. */
export const MAX_RATE = 100_000;
export const MAX_RATE_INTERVAL_MS = 24 * 3600 * 1000;
export const MAX_ACTIVE = 100_000;
/** Weights from a thousandth to a thousand: the fair order's tag step is 1000 / weight, an integer (fairOrder.ts). */
export const MIN_WEIGHT = 0.001;
export const MAX_WEIGHT = 1000;

export interface Rate {
  /** At most this many starts… */
  max: number;
  /** …in any interval of this many ms. */
  perMs: number;
}

export interface KeyLimits {
  /** At most this many of the key's tasks running at once, swarm-wide. */
  maxActive?: number;
  rate?: Rate;
  /** Its share of a node's agents when keys compete (default 1). */
  weight?: number;
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, sec: 1000, m: 60_000, min: 60_000, h: 3_600_000 };
const RATE_TEXT = /^\s*(\d+)\s*\/\s*(\d*)\s*(ms|s|sec|m|min|h)\s*$/;

/** `20/s`, `500/min`, `5/100ms`, `1000/h` → { max, perMs }; undefined when it is not one. */
export function parseRate(text: string): Rate | undefined {
  const m = RATE_TEXT.exec(text);
  if (!m) return undefined;
  const every = m[2] === '' ? 1 : Number(m[2]);
  return { max: Number(m[1]), perMs: every * UNIT_MS[m[3]!]! };
}

/** The rate as people write it: `20/s`, `500/min`, `7/1500ms`. */
export function rateText(r: Rate): string {
  for (const [unit, ms] of [['h', 3_600_000], ['min', 60_000], ['s', 1000]] as const) {
    if (r.perMs === ms) return `${r.max}/${unit}`;
    if (r.perMs % ms === 0) return `${r.max}/${r.perMs / ms}${unit}`;
  }
  return `${r.max}/${r.perMs}ms`;
}

const RATE_HELP = `a rate is "<n>/<unit>" (unit s, min, h, ms, or a multiple: 5/100ms), n from 1 to ${MAX_RATE}, per at most a day, or { "max", "perMs" }`;

const rateObjectSchema = z.strictObject(
  {
    max: z.int().min(1).max(MAX_RATE),
    perMs: z.int().min(1).max(MAX_RATE_INTERVAL_MS),
  },
  { error: (iss) => (iss.code === 'invalid_type' ? RATE_HELP : undefined) },
);

/** A rate as text (`20/s`) or as { max, perMs }; text that is not one is refused saying what a rate is. */
export const rateSchema = z.preprocess((v) => (typeof v === 'string' ? (parseRate(v) ?? v) : v), rateObjectSchema);

/** What PUT /api/keys/:key/limits takes: the key's whole limits (a field left out: no such limit). */
export const keyLimitsSchema = z.strictObject({
  maxActive: z.int().min(1).max(MAX_ACTIVE).optional(),
  rate: rateSchema.optional(),
  weight: z.number().min(MIN_WEIGHT).max(MAX_WEIGHT).optional(),
});

/** Configured keys: key → limits (SWARMQ_KEYS, JSON). */
export const configuredKeysSchema = z.record(keyNameSchema, keyLimitsSchema);

/** The fields of the key's limits hash, as its scripts read them. */
export function limitsFields(l: KeyLimits): Record<string, string> {
  const f: Record<string, string> = {};
  if (l.maxActive !== undefined) f.maxActive = String(l.maxActive);
  if (l.rate) {
    f.rateMax = String(l.rate.max);
    f.ratePerMs = String(l.rate.perMs);
  }
  if (l.weight !== undefined) f.weight = String(l.weight);
  return f;
}

function positive(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  return Number.isFinite(n) && n > 0 ? n : undefined;
}

/** The limits a key's limits hash holds (a field that does not parse counts as unset). */
export function limitsFromFields(f: Record<string, string>): KeyLimits {
  const maxActive = positive(f.maxActive);
  const max = positive(f.rateMax);
  const perMs = positive(f.ratePerMs);
  const weight = positive(f.weight);
  return {
    ...(maxActive !== undefined ? { maxActive } : {}),
    ...(max !== undefined && perMs !== undefined ? { rate: { max, perMs } } : {}),
    ...(weight !== undefined ? { weight } : {}),
  };
}

export function hasLimits(l: KeyLimits): boolean {
  return l.maxActive !== undefined || l.rate !== undefined || l.weight !== undefined;
}

/** The limits as the swarm lists them; a listed entry that does not parse counts as none. */
export function limitsFromJson(json: string | undefined): KeyLimits {
  if (json === undefined) return {};
  try {
    const p = keyLimitsSchema.safeParse(JSON.parse(json));
    return p.success ? p.data : {};
  } catch {
    return {};
  }
}
