// A raw-BullMQ host of the scale benchmark (node --import tsx, argv[2] = JSON
// spec): one plain Worker per queue, each with the concurrency a swarmq node of
// the same size has, running the same `stamp` processor. The reference layout
// the swarmq hosts are compared with: as many processes, queues and slots.
// Prints "ready" once every Worker is connected.
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { stamp } from './scaleProcessors.ts';

export interface RawWorkersSpec {
  url: string;
  prefix: string;
  queues: string[];
  concurrency: number;
}

const spec = JSON.parse(process.argv[2] ?? '{}') as RawWorkersSpec;
const connection = new Redis(spec.url, { maxRetriesPerRequest: null });
const workers = spec.queues.map((name) => new Worker(name, async () => stamp(), { connection, prefix: spec.prefix, concurrency: spec.concurrency }));
await Promise.all(workers.map((w) => w.waitUntilReady()));
process.stdout.write('ready\n');
process.on('SIGTERM', () => {
  void Promise.all(workers.map((w) => w.close())).finally(() => process.exit(0));
});
