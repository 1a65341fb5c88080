// Reading who started a job, and when, straight from BullMQ's job hash, the
// same for both contenders (a swarmq task is a BullMQ job in its node queue):
//   pb           processed-by: the Worker name, which in swarmq is the host id
//   processedOn  Date.now() of the Worker process as it moved the job to active
//                (same machine as the bench, so comparable with our Date.now())
//   ats          attempts started: a second start of the same job makes it 2
import type { Redis } from 'ioredis';

export interface JobRef {
  /** BullMQ job hash key, `<prefix>:<queue>:<id>`. */
  key: string;
  /** Which trial (raw: which queue) the job belongs to. */
  trial: number;
}

export interface JobStart {
  pb: string | null;
  processedOn: number | null;
  ats: number;
}

export async function readStarts(redis: Redis, jobs: readonly JobRef[]): Promise<JobStart[]> {
  const p = redis.pipeline();
  for (const j of jobs) p.hmget(j.key, 'pb', 'processedOn', 'ats');
  const res = (await p.exec()) ?? [];
  return res.map(([err, v]) => {
    if (err) throw err;
    const [pb, on, ats] = v as (string | null)[];
    return { pb: pb ?? null, processedOn: on ? Number(on) : null, ats: ats ? Number(ats) : 0 };
  });
}

/** Polls every `pauseMs` until `done(starts)` holds; returns the last reading, or null at the deadline. */
export async function waitForStarts(
  redis: Redis,
  jobs: readonly JobRef[],
  done: (s: JobStart[]) => boolean,
  o: { timeoutMs: number; pauseMs: number },
): Promise<JobStart[] | null> {
  const deadline = Date.now() + o.timeoutMs;
  for (;;) {
    const s = await readStarts(redis, jobs);
    if (done(s)) return s;
    if (Date.now() > deadline) return null;
    await new Promise((r) => setTimeout(r, o.pauseMs));
  }
}

/**
 * Jobs started again while their first Worker was only paused: another process
 * took them (pb changed), or the same one started them twice (ats > 1).
 */
export function restarted(s: JobStart, firstWorker: string): boolean {
  return s.pb !== firstWorker || s.ats > 1;
}
