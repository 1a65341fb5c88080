// Redis's side of a measured window, read from Redis itself:
//   - a snapshot of INFO commandstats and INFO cpu (before/after a window);
//   - a slowlog session: every command logged (slowlog-log-slower-than 0) for a
//     window, drained atomically (MULTI: SLOWLOG GET, SLOWLOG RESET) every
//     DRAIN_MS so the log stays small, folded into a SlowlogTally by script and
//     command, and the server's two settings put back as they were afterwards.
// Logging every command costs Redis CPU of its own (each entry copies its
// arguments), so a window with the slowlog on is never the one whose Redis
// CPU is reported; costRun.ts measures that overhead by comparing the two.
import type { Redis } from 'ioredis';
import { parseCommandStats, parseRedisCpuUs, type CommandStat } from './commandStats.ts';
import { emptyTally, foldSlowlog, parseSlowlog, type ScriptNames, type SlowlogEntry, type SlowlogTally } from './slowlogGroups.ts';

export interface RedisSnapshot {
  cpuUs: number;
  stats: Map<string, CommandStat>;
}

export async function redisSnapshot(redis: Redis): Promise<RedisSnapshot> {
  // One round trip, so both figures are of the same moment.
  const res = await redis.multi().info('cpu').info('commandstats').exec();
  const text = (i: number) => {
    const [err, v] = res?.[i] ?? [new Error('no reply'), ''];
    if (err) throw err;
    return String(v);
  };
  return { cpuUs: parseRedisCpuUs(text(0)), stats: parseCommandStats(text(1)) };
}

const DRAIN_MS = 200;
/** Far more than a drain interval holds at any rate this box reaches; tally.lost says if it ever was not. */
const MAX_LEN = 1_000_000;

export class SlowlogSession {
  readonly tally: SlowlogTally = emptyTally();
  private timer: NodeJS.Timeout | undefined;
  private draining: Promise<void> = Promise.resolve();
  private failed: Error | undefined;

  private constructor(
    private readonly redis: Redis,
    private readonly names: ScriptNames,
    private readonly leaveOut: (e: SlowlogEntry) => boolean,
    private readonly saved: [string, string][],
  ) {}

  /** Turns logging of every command on and empties the log; null (with why) when CONFIG is not allowed (a managed Redis). */
  static async start(redis: Redis, names: ScriptNames, leaveOut: (e: SlowlogEntry) => boolean): Promise<SlowlogSession | string> {
    let saved: [string, string][];
    try {
      const got = (await redis.config('GET', 'slowlog-*')) as string[];
      saved = [];
      for (let i = 0; i + 1 < got.length; i += 2) saved.push([got[i]!, got[i + 1]!]);
      await redis.config('SET', 'slowlog-max-len', String(MAX_LEN), 'slowlog-log-slower-than', '0');
      await redis.slowlog('RESET');
    } catch (err) {
      return `no per-script breakdown: CONFIG/SLOWLOG refused (${(err as Error).message})`;
    }
    const s = new SlowlogSession(redis, names, leaveOut, saved);
    s.timer = setInterval(() => {
      s.draining = s.draining.then(() => s.drain());
    }, DRAIN_MS);
    return s;
  }

  private async drain(): Promise<void> {
    if (this.failed) return;
    try {
      const res = await this.redis.multi().slowlog('GET', MAX_LEN).slowlog('RESET').exec();
      const [err, reply] = res?.[0] ?? [new Error('no reply'), null];
      if (err) throw err;
      foldSlowlog(this.tally, parseSlowlog(reply), this.names, this.leaveOut);
    } catch (err) {
      this.failed = err as Error;
    }
  }

  /** Last drain, then the settings as they were. Throws if a drain failed (the tally would be short). */
  async stop(): Promise<SlowlogTally> {
    clearInterval(this.timer);
    this.draining = this.draining.then(() => this.drain());
    await this.draining;
    await this.restore();
    if (this.failed) throw new Error(`slowlog drain failed: ${this.failed.message}`);
    return this.tally;
  }

  /** Puts the settings back (also on error paths); idempotent. */
  async restore(): Promise<void> {
    clearInterval(this.timer);
    if (!this.saved.length) return;
    const args = this.saved.flat();
    this.saved.length = 0;
    await this.redis.config('SET', ...(args as [string, string])).catch(() => {});
    await this.redis.slowlog('RESET').catch(() => {});
  }
}
