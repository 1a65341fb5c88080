// The raw-BullMQ producer of the scale benchmark (node --import tsx, argv[2] =
// JSON spec): plain Queue.add into the reference layout's queues, spread over
// them as swarmq's least-loaded routing spreads tasks over idle nodes (each
// task to the next process in turn), timed as scaleProducer.ts times swarmq:
//   pickup      N tasks one at a time: add → the Worker's start (`stamp`), the
//               result polled as SwarmClient.waitFor polls (2 ms, doubling)
//   throughput  N tasks with `window` adds in flight, after a warm-up run; the
//               end is the last task's start
// Prints one JSON line per report on stdout, as scaleProducer.ts does.
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { windowed } from './measure.ts';
import type { ProducerResult } from './scaleProducer.ts';

export type RawProducerSpec =
  | { mode: 'pickup'; url: string; prefix: string; processes: number; queues: string[]; tasks: number; warmup: number }
  | { mode: 'throughput'; url: string; prefix: string; processes: number; queues: string[]; tasks: number; window: number; warmup: number };

const wall = () => performance.timeOrigin + performance.now();
const spec = JSON.parse(process.argv[2] ?? '{}') as RawProducerSpec;
const redis = new Redis(spec.url, { maxRetriesPerRequest: null });
const queues = spec.queues.map((name) => new Queue(name, { connection: redis, prefix: spec.prefix }));
const say = (r: ProducerResult) => process.stdout.write(`${JSON.stringify(r)}\n`);
const perProcess = queues.length / spec.processes;
/** The i-th task's queue: the next process each time, the next of its queues each round. */
const queueOf = (i: number) => queues[(i % spec.processes) * perProcess + (Math.floor(i / spec.processes) % perProcess)]!;
const returned = (q: Queue, id: string) => redis.hget(`${spec.prefix}:${q.name}:${id}`, 'returnvalue');

async function startedAt(q: Queue, id: string): Promise<number> {
  for (let pause = 2; ; pause = Math.min(pause * 2, 200)) {
    const v = await returned(q, id);
    if (v) return (JSON.parse(v) as { startedAt: number }).startedAt;
    await sleep(pause);
  }
}

/** Completed jobs over all queues (one pipelined ZCARD each). */
async function completed(): Promise<number> {
  const p = redis.pipeline();
  for (const q of queues) p.zcard(`${spec.prefix}:${q.name}:completed`);
  return ((await p.exec()) ?? []).reduce((s, [, n]) => s + Number(n), 0);
}

let next = 0;
if (spec.mode === 'pickup') {
  const pickupsMs: number[] = [];
  const submitsMs: number[] = [];
  for (let i = 0; i < spec.warmup + spec.tasks; i++) {
    const q = queueOf(next++);
    const t0 = wall();
    const job = await q.add('stamp', null);
    const t1 = wall();
    const ms = (await startedAt(q, job.id!)) - t0;
    if (i >= spec.warmup) {
      pickupsMs.push(ms);
      submitsMs.push(t1 - t0);
    }
  }
  say({ mode: 'pickup', pickupsMs, submitsMs });
} else {
  const runTasks = async (n: number): Promise<{ q: Queue; id: string }[]> => {
    const before = await completed();
    const added: { q: Queue; id: string }[] = new Array(n);
    await windowed(n, spec.window, async (i) => {
      const q = queueOf(next++);
      added[i] = { q, id: (await q.add('stamp', null)).id! };
    });
    while ((await completed()) < before + n) await sleep(200);
    return added;
  };
  await runTasks(spec.warmup);
  say({ mode: 'warm' });
  const cpu0 = process.cpuUsage();
  const t0 = wall();
  const added = await runTasks(spec.tasks);
  const cpu = process.cpuUsage(cpu0);
  let last = 0;
  for (let i = 0; i < added.length; i += 500) {
    const got = await Promise.all(added.slice(i, i + 500).map(({ q, id }) => returned(q, id)));
    for (const v of got) last = Math.max(last, (JSON.parse(v!) as { startedAt: number }).startedAt);
  }
  say({ mode: 'throughput', tasks: spec.tasks, ms: last - t0, cpuUs: cpu.user + cpu.system });
}
await Promise.all(queues.map((q) => q.close()));
redis.disconnect();
