// One process of plain BullMQ Workers for the recovery benchmark's raw
// contenders: one Worker per queue, each named after its role, so BullMQ's own
// `pb` (processed-by) field of a job says which process started it. Started by
// recoveryProcs.ts as `node --import tsx bench/support/recoveryRawChild.ts '<json>'`
// with an IPC channel; sends { ready: true } once every Worker runs, then stays
// until it is killed.
//
// Each Worker is created after a random delay in [0, staggerMs). A BullMQ
// Worker's lock renewals (victim) and stalled checks (survivor) run on timers
// that start with the Worker, and those timers' phase at the moment of the kill
// is what decides raw recovery time. Staggered starts give every trial its own
// phase, as independent kills at random moments would.
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'bullmq';

export interface RawChildSpec {
  url: string;
  prefix: string;
  queues: string[];
  /** Worker name: BullMQ writes it to the job's `pb` field when the Worker starts the job. */
  name: string;
  concurrency: number;
  /** undefined: BullMQ's default (30 s), as a user who sets nothing gets. */
  lockDuration?: number;
  stalledInterval?: number;
  staggerMs: number;
}

const spec = JSON.parse(process.argv[2] ?? '{}') as RawChildSpec;
const send = (m: { ready?: true; error?: string }) => process.send?.(m);

try {
  const workers: Worker[] = [];
  await Promise.all(
    spec.queues.map(async (queue) => {
      await sleep(Math.random() * spec.staggerMs);
      const w = new Worker(
        queue,
        // Long sleeps: the jobs must still be running when the process is killed or stopped.
        async (job) => {
          await sleep((job.data as { ms: number }).ms);
          return null;
        },
        {
          connection: { url: spec.url },
          prefix: spec.prefix,
          name: spec.name,
          concurrency: spec.concurrency,
          ...(spec.lockDuration !== undefined ? { lockDuration: spec.lockDuration } : {}),
          ...(spec.stalledInterval !== undefined ? { stalledInterval: spec.stalledInterval } : {}),
        },
      );
      // Lost locks after a SIGSTOP are expected (that is what is measured); keep stderr quiet.
      w.on('error', () => {});
      workers.push(w);
      await w.waitUntilReady();
    }),
  );
  send({ ready: true });
} catch (err) {
  send({ error: (err as Error).stack ?? String(err) });
  process.exit(1);
}
