// The leading coordinator tells every host when a key's budget is spent: it
// follows the swarm's event stream for `budget:alert` at 100 % of a key's
// budget (the host whose report spent it publishes that, once per period) and
// puts a `budget` notice on each live host's control queue, which its control
// Worker blocks on. A host stops its runs of the key only once Redis confirms
// the budget is spent (src/agents/host.ts budgetSpent). Hosts never write each
// other's control queues (docs/security-acl.md): the relay is the coordinator's.
import type { RedisClient } from '../../queues/redisTarget.ts';
import { swarmKeys } from '../../queues/keys.ts';
import type { Logger } from '../log.ts';
import { parseEventEntry, type StreamEntry } from '../swarm/events.ts';
import { HostControl } from './hostControl.ts';
import type { Lease } from './lease.ts';
import { LeaderLoop } from './leaderLoop.ts';

/** How often the leader reads the stream: a spent key's runs on other hosts stop this long after at most (their own next report stops them sooner). */
export const BUDGET_RELAY_INTERVAL_MS = 250;
/** Hosts that beat within this are told. */
const LIVE_HOST_MS = 60_000;

/** The keys a batch of stream entries says have just spent their budget. */
export function spentKeysOf(entries: readonly StreamEntry[]): string[] {
  const keys = new Set<string>();
  for (const entry of entries) {
    const p = parseEventEntry(entry);
    if (p.ok && p.event.type === 'budget:alert' && p.event.data.scope === 'key' && p.event.data.threshold === 100 && p.event.data.key) keys.add(p.event.data.key);
  }
  return [...keys];
}

export class BudgetRelay {
  private readonly loop: LeaderLoop;
  private readonly control: HostControl;
  /** Where the stream was read to; set when this coordinator starts leading, so it relays what happens from then on. */
  private cursor: string | undefined;

  constructor(private readonly o: { redis: RedisClient; prefix: string; lease: Lease; logger: Logger; intervalMs?: number }) {
    this.control = new HostControl(o.redis, o.prefix);
    this.loop = new LeaderLoop({ lease: o.lease, renewsLease: false, intervalMs: o.intervalMs ?? BUDGET_RELAY_INTERVAL_MS, onError: (err) => o.logger.warn({ err: err.message }, 'budget relay failed; next interval retries') });
  }

  start(): void {
    this.loop.start(() => this.tick());
  }

  private async tick(): Promise<void> {
    if (!(await this.loop.leadership())) {
      this.cursor = undefined;
      return;
    }
    const events = swarmKeys(this.o.prefix).events;
    if (this.cursor === undefined) {
      // From when leadership began (Redis's clock): alerts before it were relayed by the leader then, if any.
      const [sec, usec] = await this.o.redis.time();
      this.cursor = `${Number(sec) * 1000 + Math.floor(Number(usec) / 1000)}-0`;
    }
    const res = (await this.o.redis.xread('COUNT', 1000, 'STREAMS', events, this.cursor)) as [string, StreamEntry[]][] | null;
    const entries = res?.[0]?.[1] ?? [];
    if (!entries.length) return;
    this.cursor = entries[entries.length - 1]![0];
    const keys = spentKeysOf(entries);
    if (!keys.length) return;
    const hosts = await this.o.redis.zrangebyscore(swarmKeys(this.o.prefix).hosts, Date.now() - LIVE_HOST_MS, '+inf');
    await Promise.all(
      hosts.flatMap((host) =>
        keys.map((key) => this.control.tell(host, 'budget', { key }).catch((err: Error) => this.o.logger.warn({ host, key, err: err.message }, "a host not told a key's budget is spent (its runs stop at their next report)"))),
      ),
    );
  }

  async stop(): Promise<void> {
    await this.loop.stop();
    await this.control.close();
  }
}
