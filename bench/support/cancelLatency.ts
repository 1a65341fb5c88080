// Cancel latency: DELETE /api/tasks/:id of a running task → its processor's
// ctx.signal aborted, timed in this process at both ends (performance.now()).
// One coordinator with the HTTP API on loopback, one AgentHost (in process, so
// the abort is timed on the same clock). Serial: submit a task that runs until
// its signal aborts, wait until it has started, DELETE it, wait for the abort.
// The path measured is the real one: the HTTP route, the atomic cancel script,
// the notice on the host's control queue, the host's check of the cancel
// record and the abort.
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { performance } from 'node:perf_hooks';
import { AgentHost } from '../../src/agents/host.ts';
import { createApp } from '../../src/api/app.ts';
import { swarmConfigSchema } from '../../src/config/schema.ts';
import { Coordinator } from '../../src/coordinator/coordinator.ts';
import { silentLogger } from '../../src/log.ts';
import { latencyHistogram, summarize, type LatencySummary } from './measure.ts';

export interface CancelFigures {
  cancels: number;
  /** DELETE sent → the processor's signal aborted. */
  toAbort: LatencySummary;
  /** DELETE sent → its 200 answer. */
  toAnswer: LatencySummary;
}

const HOLD = 'bench-hold';

export async function measureCancelLatency(o: { url: string; prefix: string; cancels: number; warmup?: number }): Promise<CancelFigures> {
  const config = swarmConfigSchema.parse({ redisUrl: o.url, prefix: o.prefix });
  const startedIds = new Set<string>();
  const started = new Map<string, () => void>();
  const aborted = new Map<string, (at: number) => void>();
  const host = new AgentHost({
    config,
    hostId: 'bench-cancel-host',
    agents: [{ type: 'bench', count: 2, capacity: 1 }],
    processors: {
      [HOLD]: (_payload, ctx) =>
        new Promise((_resolve, reject) => {
          ctx.signal.addEventListener('abort', () => {
            aborted.get(ctx.taskId)?.(performance.now());
            reject(ctx.signal.reason as Error);
          });
          startedIds.add(ctx.taskId);
          started.get(ctx.taskId)?.();
        }),
    },
    logger: silentLogger,
  });
  const coordinator = new Coordinator({ config, logger: silentLogger });
  let server: Server | undefined;
  try {
    await host.start();
    await coordinator.start();
    const app = createApp({ coordinator, bodyLimitBytes: config.http.bodyLimitBytes, logger: silentLogger });
    server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const toAbort = latencyHistogram();
    const toAnswer = latencyHistogram();
    const one = async (record: boolean) => {
      const submitted = await fetch(`${base}/api/tasks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type: HOLD, attempts: 1 }) });
      const { id } = (await submitted.json()) as { id: string };
      // The processor may have started before the answer came.
      if (!startedIds.has(id)) await new Promise<void>((resolve) => started.set(id, resolve));
      const abort = new Promise<number>((resolve) => aborted.set(id, resolve));
      const t0 = performance.now();
      const res = await fetch(`${base}/api/tasks/${id}`, { method: 'DELETE' });
      const t1 = performance.now();
      const body = (await res.json()) as { state?: string; wasRunning?: boolean };
      if (res.status !== 200 || body.state !== 'cancelled' || body.wasRunning !== true) throw new Error(`cancel of running task ${id} answered ${res.status} ${JSON.stringify(body)}`);
      const t2 = await abort;
      if (record) {
        toAbort.recordValue(Math.max(1, Math.round((t2 - t0) * 1000)));
        toAnswer.recordValue(Math.max(1, Math.round((t1 - t0) * 1000)));
      }
      started.delete(id);
      startedIds.delete(id);
      aborted.delete(id);
    };
    for (let i = 0; i < (o.warmup ?? 20); i++) await one(false);
    for (let i = 0; i < o.cancels; i++) await one(true);
    return { cancels: o.cancels, toAbort: summarize(toAbort), toAnswer: summarize(toAnswer) };
  } finally {
    await new Promise((r) => (server ? server.close(r) : r(undefined)));
    await coordinator.stop();
    await host.stop(2000);
  }
}
