// INFO commandstats and INFO cpu, read as numbers: what Redis executed (calls)
// and the microseconds it spent inside each command, and its own CPU time.
// Two things to know when adding these up (checked on Redis 7.0):
//   - a command a Lua script runs with redis.call is counted under its own name
//     AND inside the script's usec (evalsha), so summing every usec counts it twice;
//   - EXEC's usec holds the commands of its MULTI, which are counted too.
// So a sum of usec is only a cross-check; the Redis time per task a client
// causes is read from the slowlog (slowlogGroups.ts), where the two are told apart.

export interface CommandStat {
  calls: number;
  usec: number;
}

/** `cmdstat_<name>:calls=N,usec=N,…` lines → name (as Redis writes it: `evalsha`, `client|setname`) → figures. */
export function parseCommandStats(info: string): Map<string, CommandStat> {
  const out = new Map<string, CommandStat>();
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) out.set(m[1]!, { calls: Number(m[2]), usec: Number(m[3]) });
  return out;
}

/** used_cpu_user + used_cpu_sys of INFO cpu, in microseconds. */
export function parseRedisCpuUs(info: string): number {
  const num = (k: string) => Number(new RegExp(`^${k}:([0-9.]+)`, 'm').exec(info)?.[1] ?? 0);
  return (num('used_cpu_user') + num('used_cpu_sys')) * 1e6;
}

/** after − before, per command, leaving out those that did not change. */
export function diffCommandStats(before: ReadonlyMap<string, CommandStat>, after: ReadonlyMap<string, CommandStat>): Map<string, CommandStat> {
  const out = new Map<string, CommandStat>();
  for (const [name, a] of after) {
    const b = before.get(name) ?? { calls: 0, usec: 0 };
    if (a.calls !== b.calls || a.usec !== b.usec) out.set(name, { calls: a.calls - b.calls, usec: a.usec - b.usec });
  }
  return out;
}

export function sumStats(stats: ReadonlyMap<string, CommandStat>, leaveOut: (name: string) => boolean = () => false): CommandStat {
  let calls = 0;
  let usec = 0;
  for (const [name, s] of stats) {
    if (leaveOut(name)) continue;
    calls += s.calls;
    usec += s.usec;
  }
  return { calls, usec };
}
