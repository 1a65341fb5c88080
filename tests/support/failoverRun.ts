// Tasks flowing through a swarm while a Redis master is SIGKILLed: producers
// submit with SwarmClient (and over HTTP) the whole time, agents run them,
// and the figures say what the failover cost: acknowledged tasks lost (never
// finished, or gone) and tasks whose processor completed more than once. The
// coordinator, the host and the client are the ones that were running before
// the kill: none is restarted.
import type { SwarmConfig } from '../../src/config/schema.ts';
import { SwarmClient } from '../../src/client/swarmClient.ts';
import type { ProcessorMap } from '../../src/agents/processor.ts';
import { startStack, type Stack } from './stack.ts';
import { until } from './swarm.ts';

export interface FailoverFigures {
  acknowledged: number;
  refused: number;
  lost: number;
  completedTwice: number;
  /** ms from the kill to the first task acknowledged and completed after it */
  recoveredMs: number;
}

export interface FailoverRunOptions {
  config: SwarmConfig;
  /** Kills the master; resolves once it is dead. */
  kill: () => Promise<void>;
  /** How long tasks flow before the kill, and after it. */
  beforeMs?: number;
  afterMs?: number;
  producers?: number;
  /** How long acknowledged tasks may take to finish once producers stop. */
  settleMs?: number;
  log?: (line: string) => void;
}

export async function runThroughFailover(o: FailoverRunOptions): Promise<FailoverFigures & { stack: Stack; client: SwarmClient }> {
  const runs = new Map<string, number>();
  const processors: ProcessorMap = {
    work: async (payload: unknown, ctx: { taskId: string }) => {
      await new Promise((r) => setTimeout(r, (payload as { ms: number }).ms));
      runs.set(ctx.taskId, (runs.get(ctx.taskId) ?? 0) + 1);
      return { ok: true };
    },
  };
  const stack = await startStack(o.config, { agents: [{ type: 'worker', count: 12, capacity: 2 }], processors });
  const client = new SwarmClient({ redis: o.config.redis, prefix: o.config.prefix, config: { durability: o.config.durability } });
  const acknowledged: string[] = [];
  let refused = 0;
  let flowing = true;
  let killedAt = 0;
  let firstAfter = 0;
  const producer = async (n: number) => {
    for (let i = 0; flowing; i++) {
      try {
        // Every fourth over HTTP, the rest straight from the client.
        const id =
          i % 4 === 0
            ? await stack.request('POST', '/api/tasks', { type: 'work', payload: { ms: 10 } }).then((r) => {
                if (r.status !== 202) throw new Error(`${r.status} ${JSON.stringify(r.body)}`);
                return String(r.body.id);
              })
            : (await client.submit({ type: 'work', payload: { ms: 10 } })).id;
        acknowledged.push(id);
        if (killedAt && !firstAfter) firstAfter = Date.now();
      } catch (err) {
        refused++;
        if (refused % 50 === 1) o.log?.(`producer ${n}: ${(err as Error).message.slice(0, 160)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  };
  const producing = Promise.all(Array.from({ length: o.producers ?? 4 }, (_, n) => producer(n)));
  await new Promise((r) => setTimeout(r, o.beforeMs ?? 1500));
  killedAt = Date.now();
  await o.kill();
  await new Promise((r) => setTimeout(r, o.afterMs ?? 6000));
  flowing = false;
  await producing;
  // Every acknowledged task must finish; a lost one never does (or is gone).
  const finals = new Map<string, string>();
  await until(
    async () => {
      for (const id of acknowledged) {
        if (finals.has(id)) continue;
        const t = await client.get(id).catch(() => undefined);
        if (t === null) finals.set(id, 'gone');
        else if (t && (t.state === 'completed' || t.state === 'failed')) finals.set(id, t.state);
      }
      return finals.size === acknowledged.length;
    },
    o.settleMs ?? 12_000,
    'every acknowledged task to finish',
  ).catch(() => undefined);
  const lostIds = acknowledged.filter((id) => finals.get(id) !== 'completed');
  const lost = lostIds.length;
  for (const id of lostIds.slice(0, 5)) o.log?.(`lost ${id}: ${finals.get(id) ?? JSON.stringify(await client.get(id).catch((e: Error) => e.message))}`);
  for (const [id, n] of [...runs].filter(([, n]) => n > 1).slice(0, 5)) o.log?.(`completed ${n} times: ${id}`);
  const completedTwice = [...runs.values()].filter((n) => n > 1).length;
  return { acknowledged: acknowledged.length, refused, lost, completedTwice, recoveredMs: firstAfter ? firstAfter - killedAt : -1, stack, client };
}
