// The raw BullMQ contenders of the recovery benchmark: a victim process of
// plain Workers (concurrency = tasks) holding long jobs and a survivor process
// of Workers on the same queues; only BullMQ's own lock and stalled check
// recover (no swarmq code runs).
//
// All trials of one contender run at once, one queue per trial, with ONE victim
// process holding every trial's Worker, killed (or stopped) once. Why: with
// BullMQ's defaults a trial waits for a 30 s lock to lapse and then for a 30 s
// stalled check, 15–60 s each, so 20 trials one after another would take ~15
// minutes; 40 processes side by side would crowd a 2-core machine. What decides
// a raw trial's time is the phase, at the kill, of the victim Worker's lock
// renewals and of the survivor Worker's stalled checks; both run on per-Worker
// timers, and recoveryRawChild.ts starts each Worker after a random delay, so
// each trial gets its own phases, as independent kills at random moments would.
// Kill time is shared; samples are per trial (per queue): its last job's start.
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { bullKey } from '../../queues/keys.ts';
import { dropPrefix } from './redis.ts';
import { readStarts, restarted, waitForStarts, type JobRef } from './recoveryJobs.ts';
import { startRawWorkers, type Proc } from './recoveryProcs.ts';

export interface RawVariant {
  name: 'rawDefault' | 'rawTuned';
  /** undefined: BullMQ's defaults (lockDuration 30 s, stalledInterval 30 s) */
  lockDuration?: number;
  stalledInterval?: number;
}

const BULLMQ_DEFAULT_MS = 30_000;
const VICTIM = 'victim';
const SURVIVOR = 'survivor';

export interface RawPhaseOptions {
  url: string;
  prefix: string;
  observer: Redis;
  variant: RawVariant;
  trials: number;
  tasks: number;
}

export interface RawKillPhase {
  /** per trial: its last job's start on the survivor − kill; null when it did not recover in time */
  recoveryMs: (number | null)[];
  timeoutMs: number;
}

export interface RawStopPhase {
  /** per trial: jobs started again (pb no longer the victim, or ats > 1) */
  restarted: number[];
  tasks: number;
}

interface Rig {
  victim: Proc;
  survivor: Proc;
  jobs: JobRef[];
  lockMs: number;
  stalledMs: number;
  close(): Promise<void>;
}

async function setUp(o: RawPhaseOptions): Promise<Rig> {
  const lockMs = o.variant.lockDuration ?? BULLMQ_DEFAULT_MS;
  const stalledMs = o.variant.stalledInterval ?? BULLMQ_DEFAULT_MS;
  const queues = Array.from({ length: o.trials }, (_, i) => `recovery-${i}`);
  const jobs: JobRef[] = [];
  for (const [trial, name] of queues.entries()) {
    const q = new Queue(name, { connection: o.observer, prefix: o.prefix });
    for (let j = 0; j < o.tasks; j++) {
      const id = `t${j}`;
      await q.add('sleep', { ms: 3_600_000 }, { jobId: id });
      jobs.push({ key: bullKey(o.prefix, name, id), trial });
    }
    await q.close();
  }
  const procs: Proc[] = [];
  const close = async () => {
    await Promise.all(procs.map((p) => p.destroy()));
    await dropPrefix(o.observer, o.prefix);
  };
  try {
    const base = { url: o.url, prefix: o.prefix, queues, concurrency: o.tasks, lockDuration: o.variant.lockDuration, stalledInterval: o.variant.stalledInterval };
    // Victim Workers over half a lock (BullMQ renews locks every lockDuration / 2).
    const victim = await startRawWorkers({ ...base, name: VICTIM, staggerMs: lockMs / 2 }, lockMs / 2 + 30_000);
    procs.push(victim);
    const all = await waitForStarts(o.observer, jobs, (s) => s.every((x) => x.pb === VICTIM), { timeoutMs: 15_000, pauseMs: 20 });
    if (!all) throw new Error(`${o.variant.name}: not every job started on the victim`);
    // Survivor Workers over one stalled interval (their checks repeat every stalledInterval).
    const survivor = await startRawWorkers({ ...base, name: SURVIVOR, staggerMs: stalledMs }, stalledMs + 30_000);
    procs.push(survivor);
    return { victim, survivor, jobs, lockMs, stalledMs, close };
  } catch (err) {
    await close();
    throw err;
  }
}

export async function rawKillPhase(o: RawPhaseOptions): Promise<RawKillPhase> {
  const rig = await setUp(o);
  try {
    // How long BullMQ can take: a renewal takes the job out of the stalled set, so
    // after the last renewal one check must put it back and a later one, after the
    // lock lapsed, moves it. And a lone Worker's check is skipped when its timer
    // comes back a hair before its own "stalled-check" key (PX stalledInterval)
    // expires, which happens often, so checks can be two intervals apart: up to
    // four intervals after the kill (≥ lockDuration here); plus slack.
    const timeoutMs = rig.lockMs + 4 * rig.stalledMs + 10_000;
    const killAt = Date.now();
    rig.victim.child.kill('SIGKILL');
    const starts = (await waitForStarts(o.observer, rig.jobs, (s) => s.every((x) => x.pb === SURVIVOR), { timeoutMs, pauseMs: 50 })) ?? (await readStarts(o.observer, rig.jobs));
    const recoveryMs: (number | null)[] = [];
    for (let t = 0; t < o.trials; t++) {
      const mine = starts.filter((_, i) => rig.jobs[i]!.trial === t);
      recoveryMs.push(mine.every((s) => s.pb === SURVIVOR) ? Math.max(...mine.map((s) => s.processedOn!)) - killAt : null);
    }
    return { recoveryMs, timeoutMs };
  } finally {
    await rig.close();
  }
}

export async function rawStopPhase(o: RawPhaseOptions & { stopMs: number; observeMs: number }): Promise<RawStopPhase> {
  const rig = await setUp(o);
  try {
    rig.victim.child.kill('SIGSTOP');
    await sleep(o.stopMs);
    rig.victim.child.kill('SIGCONT');
    await sleep(o.observeMs);
    const starts = await readStarts(o.observer, rig.jobs);
    const out = Array.from({ length: o.trials }, () => 0);
    starts.forEach((s, i) => {
      if (restarted(s, VICTIM)) out[rig.jobs[i]!.trial]!++;
    });
    return { restarted: out, tasks: o.tasks };
  } finally {
    await rig.close();
  }
}
