// Slowlog entries (logged with slowlog-log-slower-than 0, so every command is)
// grouped into what a reader can act on: Redis microseconds per command and,
// for EVALSHA/EVAL/FCALL, per script by name. Pure: the entries come in, the
// tally goes out; redisCost.ts reads them from Redis.
//
// How Redis 7.0 logs (checked by hand): a command a script runs with
// redis.call is logged too, from a client without an address ("?:0"), just
// before the script's own entry (a script runs atomically, so nothing from
// another client comes between); those nested entries are already inside the
// script's duration, so they are kept apart, per script, not added again.
// Commands of a MULTI are logged one by one with the client's address; EXEC is
// not logged. Each argument is cut to 128 bytes and at most 32 are kept, which
// leaves a sha whole and an EVAL's text recognisable by its first 128 bytes.
import { z } from 'zod';

export interface SlowlogEntry {
  id: number;
  us: number;
  args: string[];
  addr: string;
  name: string;
}

const entrySchema = z.tuple([z.number(), z.number(), z.number(), z.array(z.string()), z.string(), z.string()]).rest(z.unknown());

/** SLOWLOG GET's reply (ioredis: nested arrays) → entries; throws on a shape it does not know. */
export function parseSlowlog(reply: unknown): SlowlogEntry[] {
  return z
    .array(entrySchema)
    .parse(reply)
    .map(([id, , us, args, addr, name]) => ({ id, us, args, addr, name }));
}

/** Scripts by sha1 of the text that is loaded, and by that text's first bytes (for EVAL). */
export interface ScriptNames {
  bySha: ReadonlyMap<string, string>;
  byText: readonly (readonly [prefix: string, name: string])[];
}

/** Commands whose first argument is a subcommand, named `cmd|sub` as INFO commandstats does. */
const CONTAINERS = new Set(['acl', 'client', 'cluster', 'command', 'config', 'function', 'latency', 'memory', 'module', 'object', 'pubsub', 'script', 'slowlog', 'xgroup', 'xinfo']);
const SHA_CALLS = new Set(['evalsha', 'evalsha_ro']);
const TEXT_CALLS = new Set(['eval', 'eval_ro']);
const FUNCTION_CALLS = new Set(['fcall', 'fcall_ro']);
/** What the slowlog puts at the end of a cut argument. */
const CUT = /\.\.\. \(\d+ more bytes\)$/;

/** The name INFO commandstats uses for this entry's command. */
export function statName(args: readonly string[]): string {
  const cmd = (args[0] ?? '?').toLowerCase();
  return CONTAINERS.has(cmd) && args[1] !== undefined ? `${cmd}|${args[1].toLowerCase()}` : cmd;
}

/** What an entry is grouped under: a script's name (unknown: `sha <first 8>`), a function, or the command's stat name. */
export function groupOf(args: readonly string[], names: ScriptNames): { key: string; script: boolean } {
  const cmd = (args[0] ?? '?').toLowerCase();
  if (SHA_CALLS.has(cmd)) {
    const sha = (args[1] ?? '').toLowerCase();
    return { key: names.bySha.get(sha) ?? `sha ${sha.slice(0, 8)}`, script: true };
  }
  if (TEXT_CALLS.has(cmd)) {
    const text = (args[1] ?? '').replace(CUT, '');
    const hit = names.byText.find(([prefix]) => text.length > 0 && (prefix.startsWith(text) || text.startsWith(prefix)));
    return { key: hit ? hit[1] : `eval ${text.slice(0, 16).replace(/\s+/g, ' ')}…`, script: true };
  }
  if (FUNCTION_CALLS.has(cmd)) return { key: `function ${args[1] ?? '?'}`, script: true };
  return { key: statName(args), script: false };
}

export interface Group {
  calls: number;
  us: number;
}

/**
 * A slowlog duration is wall-clock time inside the command: on a busy box a
 * command the OS preempts (or whose vCPU the host steals) gets the pause
 * added, tens of µs to milliseconds against a few tens. So each group keeps
 * its durations (µs → count) too, for a figure such pauses hardly move: the
 * median per call, times the calls ("typical µs").
 */
export type Durations = Map<number, number>;

export interface SlowlogTally {
  /** What clients sent, by script or command. */
  sent: Map<string, Group & { script: boolean; durations: Durations }>;
  /** Commands run inside scripts (already in the script's µs), by script, then by command. */
  inside: Map<string, Map<string, Group>>;
  /** Every entry, nested or not, by commandstats name: to check against INFO commandstats. */
  byStatName: Map<string, Group>;
  /** Entries of the clients left out (the bench's own observer), by group. */
  leftOut: Map<string, Group>;
  entries: number;
  /**
   * Ids missing between one drain and the next, beyond the one expected: a
   * drain's SLOWLOG GET is logged and then cleared by the RESET after it in
   * the same MULTI. >0 means the log overflowed between drains.
   */
  lost: number;
  lastId: number;
}

export function emptyTally(): SlowlogTally {
  return { sent: new Map(), inside: new Map(), byStatName: new Map(), leftOut: new Map(), entries: 0, lost: 0, lastId: -1 };
}

function add<K>(m: Map<K, Group>, k: K, us: number): void {
  const g = m.get(k) ?? { calls: 0, us: 0 };
  g.calls++;
  g.us += us;
  m.set(k, g);
}

const nested = (e: SlowlogEntry) => e.addr === '?:0' || e.addr === '';

/**
 * Adds one drain (entries in any order, as SLOWLOG GET gives them, newest
 * first) to the tally. `leaveOut` names clients whose entries are counted
 * apart (by connection name). Mutates and returns `t`.
 */
export function foldSlowlog(t: SlowlogTally, entries: readonly SlowlogEntry[], names: ScriptNames, leaveOut: (e: SlowlogEntry) => boolean): SlowlogTally {
  const ordered = [...entries].sort((a, b) => a.id - b.id);
  if (ordered.length && t.lastId >= 0 && ordered[0]!.id > t.lastId + 2) t.lost += ordered[0]!.id - t.lastId - 2;
  let pending: SlowlogEntry[] = [];
  for (const e of ordered) {
    t.entries++;
    t.lastId = Math.max(t.lastId, e.id);
    add(t.byStatName, statName(e.args), e.us);
    if (nested(e)) {
      pending.push(e);
      continue;
    }
    const g = groupOf(e.args, names);
    if (leaveOut(e)) add(t.leftOut, g.key, e.us);
    else {
      const s = t.sent.get(g.key) ?? { calls: 0, us: 0, script: g.script, durations: new Map() };
      s.calls++;
      s.us += e.us;
      s.durations.set(e.us, (s.durations.get(e.us) ?? 0) + 1);
      t.sent.set(g.key, s);
    }
    if (g.script && pending.length) {
      const inner = t.inside.get(g.key) ?? new Map<string, Group>();
      for (const p of pending) add(inner, statName(p.args), p.us);
      t.inside.set(g.key, inner);
    }
    pending = [];
  }
  // Nested entries whose script was not in this drain cannot happen (a drain is atomic, a script too); count them anyway.
  if (pending.length) {
    const inner = t.inside.get('(script not seen)') ?? new Map<string, Group>();
    for (const p of pending) add(inner, statName(p.args), p.us);
    t.inside.set('(script not seen)', inner);
  }
  return t;
}

/** The median duration per call (the lower one for an even count); 0 when empty. */
export function medianPerCall(d: Durations): number {
  const sorted = [...d].sort((a, b) => a[0] - b[0]);
  const n = sorted.reduce((s, [, c]) => s + c, 0);
  let seen = 0;
  for (const [us, c] of sorted) {
    seen += c;
    if (seen >= Math.ceil(n / 2)) return us;
  }
  return 0;
}

/**
 * Totals of what clients sent (left-out clients not included): µs as logged,
 * and typical µs (each group's median per call × its calls).
 */
export function sentTotals(t: SlowlogTally): { calls: number; us: number; scriptUs: number; typicalUs: number; typicalScriptUs: number } {
  let calls = 0;
  let us = 0;
  let scriptUs = 0;
  let typicalUs = 0;
  let typicalScriptUs = 0;
  for (const g of t.sent.values()) {
    const typical = medianPerCall(g.durations) * g.calls;
    calls += g.calls;
    us += g.us;
    typicalUs += typical;
    if (g.script) {
      scriptUs += g.us;
      typicalScriptUs += typical;
    }
  }
  return { calls, us, scriptUs, typicalUs, typicalScriptUs };
}
