// One swarmq trial of the recovery benchmark, on a fresh prefix, with swarmq's
// default settings throughout:
//   a Coordinator in this process (its HealthMonitor checks hosts every 200 ms);
//   a victim host (`swarmq agents` CLI, its own process) started alone, so the
//   long sleep tasks submitted next all start on it; then a survivor host whose
//   agents join the same node. Then either
//   kill  SIGKILL the victim; recovery = last of its tasks started on the
//         survivor (processedOn) − the moment of the kill;
//   stop  SIGSTOP the victim for stopMs, SIGCONT, watch observeMs more; any of
//         its tasks started again, or any recovery of it, is a false recovery.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { SwarmClient } from '../../src/client/swarmClient.ts';
import { swarmConfigSchema, type SwarmConfig } from '../../src/config/schema.ts';
import { Coordinator } from '../../src/coordinator/coordinator.ts';
import type { HealthAlert } from '../../src/health/monitor.ts';
import type { RecoveryRecord } from '../../src/health/recovery.ts';
import { silentLogger } from '../../src/log.ts';
import { bullKey, nodeQueueName } from '../../queues/keys.ts';
import { dropPrefix } from './redis.ts';
import { readStarts, restarted, waitForStarts, type JobRef } from './recoveryJobs.ts';
import { startCliHost, type Proc } from './recoveryProcs.ts';

export interface SwarmqTrialOptions {
  url: string;
  prefix: string;
  observer: Redis;
  /** agents per host (capacity 1 each) */
  agents: number;
  /** tasks on the victim: at most `agents`, so all of them are active at once */
  tasks: number;
}

export interface SwarmqKillTrial {
  /** last survivor start − kill; null when not every task restarted within the timeout */
  recoveryMs: number | null;
  /** the monitor's check that found the host dead − kill */
  detectMs: number | null;
  /** requeue step done − detection */
  requeueMs: number | null;
  /** last survivor start − requeue step done */
  pickupMs: number | null;
  reason: string | null;
  /** how the recovery ended (done, or escalated with why), read once the coordinator has stopped */
  outcome: string | null;
  /** detection → the recovery's last step, ms */
  recoveryRunMs: number | null;
  tasks: number;
  error?: string;
}

export interface SwarmqStopTrial {
  /** tasks started again (pb no longer the victim, or ats > 1) */
  restarted: number;
  /** recoveries the monitor ran on the stopped host */
  recoveries: number;
  /** the worst health state the stopped host was given */
  worstState: string;
  tasks: number;
}

const VICTIM = 'victim';
const SURVIVOR = 'survivor';
const TASK_MS = 120_000;

interface Rig {
  config: SwarmConfig;
  coordinator: Coordinator;
  client: SwarmClient;
  victim: Proc;
  survivor: Proc;
  jobs: JobRef[];
  recoveries: RecoveryRecord[];
  alerts: HealthAlert[];
  close(): Promise<void>;
}

async function setUp(o: SwarmqTrialOptions): Promise<Rig> {
  const config = swarmConfigSchema.parse({ redisUrl: o.url, prefix: o.prefix });
  const coordinator = new Coordinator({ config, logger: silentLogger, intake: false });
  const recoveries: RecoveryRecord[] = [];
  const alerts: HealthAlert[] = [];
  // The monitor emits the same record after every step; keep the latest per id.
  coordinator.health.on('recovery', (r) => {
    const i = recoveries.findIndex((x) => x.id === r.id);
    const copy = structuredClone(r);
    if (i < 0) recoveries.push(copy);
    else recoveries[i] = copy;
  });
  coordinator.health.on('health:alert', (a) => alerts.push(a));
  const procs: Proc[] = [];
  let client: SwarmClient | undefined;
  const close = async () => {
    // The coordinator first, so it does not start recovering the hosts we now kill.
    await coordinator.stop().catch(() => {});
    await Promise.all(procs.map((p) => p.destroy()));
    await client?.close().catch(() => {});
    await dropPrefix(o.observer, o.prefix);
  };
  try {
    await coordinator.start();
    const victim = await startCliHost({ url: o.url, prefix: o.prefix, hostId: VICTIM, count: o.agents });
    procs.push(victim);
    client = new SwarmClient({ redis: o.url, prefix: o.prefix });
    const jobs: JobRef[] = [];
    for (let i = 0; i < o.tasks; i++) {
      const { id, node } = await client.submit({ type: 'sleep', payload: { ms: TASK_MS } });
      jobs.push({ key: bullKey(o.prefix, nodeQueueName(node), id), trial: 0 });
    }
    const onVictim = await waitForStarts(o.observer, jobs, (s) => s.every((x) => x.pb === VICTIM), { timeoutMs: 10_000, pauseMs: 5 });
    if (!onVictim) throw new Error(`the ${o.tasks} tasks did not all start on the victim: ${JSON.stringify(await readStarts(o.observer, jobs))}`);
    const survivor = await startCliHost({ url: o.url, prefix: o.prefix, hostId: SURVIVOR, count: o.agents });
    procs.push(survivor);
    return { config, coordinator, client, victim, survivor, jobs, recoveries, alerts, close };
  } catch (err) {
    await close();
    throw err;
  }
}

export async function swarmqKillTrial(o: SwarmqTrialOptions & { timeoutMs: number }): Promise<SwarmqKillTrial> {
  const rig = await setUp(o);
  const trial = await killAndWatch(rig, o).finally(() => rig.close());
  // The rest of the recovery (remove, transfer, replace) goes on after the tasks
  // restarted; closing waited for it, so its record is final now.
  const rec = rig.recoveries.find((r) => r.host === VICTIM);
  return {
    ...trial,
    outcome: rec ? outcomeOf(rec) : null,
    recoveryRunMs: rec?.finishedAt !== undefined ? rec.finishedAt - rec.detectedAt : null,
  };
}

/** "done", or "escalated (…)" with the reasons the record gives, without timings, so trials tally. */
function outcomeOf(rec: RecoveryRecord): string {
  const detail = rec.steps.find((x) => x.step === 'escalate')?.detail;
  if (!detail) return rec.state;
  const why = Object.entries(detail).flatMap(([step, items]) =>
    (Array.isArray(items) ? items : [items]).map((i: { node?: string; type?: string; error?: string; why?: string }) => `${step} ${i.node ?? i.type ?? ''}: ${i.error ?? i.why ?? '?'}`),
  );
  return why.length ? `${rec.state} (${[...new Set(why)].join('; ')})` : rec.state;
}

async function killAndWatch(rig: Rig, o: SwarmqTrialOptions & { timeoutMs: number }): Promise<Omit<SwarmqKillTrial, 'outcome' | 'recoveryRunMs'>> {
  // A random wait of up to one liveness interval, so the kill falls anywhere
  // between two of the monitor's checks, as a real crash would.
  await sleep(Math.random() * rig.config.coordinator.livenessIntervalMs);
  const killAt = Date.now();
  rig.victim.child.kill('SIGKILL');
  const starts = await waitForStarts(o.observer, rig.jobs, (s) => s.every((x) => x.pb === SURVIVOR), { timeoutMs: o.timeoutMs, pauseMs: 5 });
  const rec = rig.recoveries.find((r) => r.host === VICTIM);
  const requeued = rec?.steps.filter((s) => s.step === 'requeue').at(-1)?.at ?? null;
  if (!starts) {
    return {
      recoveryMs: null,
      detectMs: rec ? rec.detectedAt - killAt : null,
      requeueMs: null,
      pickupMs: null,
      reason: rec?.reason ?? null,
      tasks: o.tasks,
      error: `not every task started on the survivor within ${o.timeoutMs} ms: ${JSON.stringify(await readStarts(o.observer, rig.jobs))}`,
    };
  }
  const lastStart = Math.max(...starts.map((s) => s.processedOn ?? Infinity));
  return {
    recoveryMs: lastStart - killAt,
    detectMs: rec ? rec.detectedAt - killAt : null,
    requeueMs: rec && requeued !== null ? requeued - rec.detectedAt : null,
    pickupMs: requeued !== null ? lastStart - requeued : null,
    reason: rec?.reason ?? null,
    tasks: o.tasks,
  };
}

export async function swarmqStopTrial(o: SwarmqTrialOptions & { stopMs: number; observeMs: number }): Promise<SwarmqStopTrial> {
  const rig = await setUp(o);
  try {
    const alertsBefore = rig.alerts.length;
    rig.victim.child.kill('SIGSTOP');
    await sleep(o.stopMs);
    rig.victim.child.kill('SIGCONT');
    await sleep(o.observeMs);
    const starts = await readStarts(o.observer, rig.jobs);
    const rank = ['healthy', 'degraded', 'critical', 'failed'];
    const states = rig.alerts.slice(alertsBefore).filter((a) => a.host === VICTIM).map((a) => a.to);
    const worstState = states.reduce((w, s) => (rank.indexOf(s) > rank.indexOf(w) ? s : w), 'healthy');
    return {
      restarted: starts.filter((s) => restarted(s, VICTIM)).length,
      recoveries: rig.recoveries.filter((r) => r.host === VICTIM).length,
      worstState,
      tasks: o.tasks,
    };
  } finally {
    await rig.close();
  }
}
