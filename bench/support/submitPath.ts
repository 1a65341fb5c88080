// The submit path, counted: does swarmq's routing add a network hop that raw
// BullMQ does not have? For each contender one dedicated producer connection is
// tapped on the client side and N serial submits are made with nothing
// consuming, so everything on that connection is the producer's own traffic:
//   - every command handed to the connection (ioredis `sendCommand`, which
//     pipelines and scripts go through too) is attributed, by AsyncLocalStorage,
//     either to the submit running at the time ("sync") or to whatever else uses
//     the connection (swarmq: the router's snapshot refresh timer; "background");
//   - every write to the socket (`stream.write`) likewise; a write made by a
//     submit while none of its earlier commands still awaits a reply starts a new
//     round trip, one made while some do is pipelined into the current one.
// A second, monitored pass checks the client-side count against the server's:
// MONITOR lines from the producer's address (found by connection name in CLIENT
// LIST), between two ECHO sentinels sent on the producer connection itself.
import { AsyncLocalStorage } from 'node:async_hooks';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { SwarmClient } from '../../src/client/swarmClient.ts';
import { swarmConfigSchema } from '../../src/config/schema.ts';
import { nodeQueueName } from '../../queues/keys.ts';
import { ensureConnected } from '../../queues/connection.ts';
import { round, StartProbe } from './measure.ts';
import { startHost } from './rigs.ts';
import { dropPrefix } from './redis.ts';

type Command = Parameters<Redis['sendCommand']>[0];

/** One submit in progress: its commands not yet written, and written but not yet answered. */
interface SubmitScope {
  pending: Set<Command>;
  inflight: Set<Command>;
}

export interface TapCounts {
  syncCommands: number;
  syncWrites: number;
  syncRoundTrips: number;
  bgCommands: number;
  bgWrites: number;
  /** lower-case command name → [sync, background] */
  byCommand: Map<string, [number, number]>;
}

function emptyCounts(): TapCounts {
  return { syncCommands: 0, syncWrites: 0, syncRoundTrips: 0, bgCommands: 0, bgWrites: 0, byCommand: new Map() };
}

function diff(a: TapCounts, b: TapCounts): TapCounts {
  const byCommand = new Map<string, [number, number]>();
  for (const [name, [s, g]] of b.byCommand) {
    const [s0, g0] = a.byCommand.get(name) ?? [0, 0];
    if (s - s0 || g - g0) byCommand.set(name, [s - s0, g - g0]);
  }
  return {
    syncCommands: b.syncCommands - a.syncCommands,
    syncWrites: b.syncWrites - a.syncWrites,
    syncRoundTrips: b.syncRoundTrips - a.syncRoundTrips,
    bgCommands: b.bgCommands - a.bgCommands,
    bgWrites: b.bgWrites - a.bgWrites,
    byCommand,
  };
}

/** Client-side counters on one ioredis connection (see the head of this file). */
export class ConnectionTap {
  private readonly als = new AsyncLocalStorage<SubmitScope>();
  private current: SubmitScope | undefined;
  private readonly wrapped = new WeakSet<object>();
  private readonly counts = emptyCounts();

  constructor(private readonly redis: Redis) {
    const send = redis.sendCommand;
    redis.sendCommand = ((command: Command, stream?: Parameters<Redis['sendCommand']>[1]) => {
      this.wrapStream();
      const scope = this.scope();
      const name = command.name.toLowerCase();
      const row = this.counts.byCommand.get(name) ?? [0, 0];
      row[scope ? 0 : 1]++;
      this.counts.byCommand.set(name, row);
      if (scope) {
        this.counts.syncCommands++;
        scope.pending.add(command);
        const settled = () => {
          scope.pending.delete(command);
          scope.inflight.delete(command);
        };
        // Registered before the caller's own handlers, so it runs before the caller sends its next command.
        command.promise.then(settled, settled);
      } else {
        this.counts.bgCommands++;
      }
      return send.call(redis, command, stream);
    }) as Redis['sendCommand'];
    this.wrapStream();
  }

  /** The submit this command belongs to: only the one running now (a timer made inside an earlier submit does not count). */
  private scope(): SubmitScope | undefined {
    const s = this.als.getStore();
    return s !== undefined && s === this.current ? s : undefined;
  }

  private wrapStream(): void {
    const socket = this.redis.stream;
    if (!socket || this.wrapped.has(socket)) return;
    this.wrapped.add(socket);
    const write = socket.write;
    socket.write = ((...args: Parameters<typeof socket.write>) => {
      const scope = this.scope();
      if (scope) {
        this.counts.syncWrites++;
        if (scope.inflight.size === 0) this.counts.syncRoundTrips++;
        for (const c of scope.pending) scope.inflight.add(c);
        scope.pending.clear();
      } else {
        this.counts.bgWrites++;
      }
      return write.apply(socket, args);
    }) as typeof socket.write;
  }

  /** Runs one submit, attributing what it sends to it. Submits must not overlap. */
  async submit<T>(fn: () => Promise<T>): Promise<T> {
    if (this.current) throw new Error('ConnectionTap.submit: submits must be serial');
    const scope: SubmitScope = { pending: new Set(), inflight: new Set() };
    this.current = scope;
    try {
      return await this.als.run(scope, fn);
    } finally {
      this.current = undefined;
    }
  }

  snapshot(): TapCounts {
    return { ...this.counts, byCommand: new Map([...this.counts.byCommand].map(([k, v]) => [k, [...v] as [number, number]])) };
  }
}

interface Producer {
  name: 'raw' | 'swarmq';
  connection: Redis;
  connectionName: string;
  tap: ConnectionTap;
  submit(seq: number): Promise<unknown>;
  close(): Promise<void>;
  /** For the printed notes. */
  setup: string;
}

async function rawProducer(url: string, prefix: string): Promise<Producer> {
  const connectionName = 'bench:submit-path:raw';
  const connection = new Redis(url, { maxRetriesPerRequest: null, connectionName });
  connection.on('error', () => {});
  await ensureConnected(connection);
  const tap = new ConnectionTap(connection);
  const queue = new Queue('bench', { connection, prefix });
  await queue.waitUntilReady();
  return {
    name: 'raw',
    connection,
    connectionName,
    tap,
    submit: (seq) => queue.add('noop', { seq }),
    async close() {
      await queue.close();
      connection.disconnect();
    },
    setup: 'one Queue on its own connection, no Worker',
  };
}

async function swarmqProducer(url: string, prefix: string, agents: number, observer: Redis): Promise<Producer> {
  // Registered agents to route to, whose Workers take nothing: their node queues
  // are paused (BullMQ's global pause), so the Workers stay connected and idle.
  const { host } = await startHost({ url, prefix, concurrency: agents, probe: new StartProbe(), observer });
  const nodes = [...new Set(host.agents().map((a) => a.node))];
  const adminConn = new Redis(url, { maxRetriesPerRequest: null, connectionName: 'bench:submit-path:admin' });
  adminConn.on('error', () => {});
  for (const n of nodes) {
    const q = new Queue(nodeQueueName(n), { connection: adminConn, prefix });
    await q.pause();
    await q.close();
  }
  adminConn.disconnect();
  // The client's connection, given to it so it can be tapped: the options
  // SwarmClient uses for a connection of its own, under a name of ours.
  const connectionName = 'bench:submit-path:swarmq';
  const connection = new Redis(url, { maxRetriesPerRequest: 1, enableOfflineQueue: false, lazyConnect: true, connectionName });
  connection.on('error', () => {});
  await ensureConnected(connection);
  const tap = new ConnectionTap(connection);
  const client = new SwarmClient({ redis: connection, prefix });
  return {
    name: 'swarmq',
    connection,
    connectionName,
    tap,
    submit: (seq) => client.submit({ type: 'noop', payload: { seq } }),
    async close() {
      await client.close();
      connection.disconnect();
      await host.stop(5000);
    },
    setup:
      `SwarmClient (routes on its local snapshot, refreshed every ${swarmConfigSchema.parse({}).coordinator.snapshotIntervalMs} ms while it submits) ` +
      `on its own connection; ${agents} registered agents in 1 AgentHost = ${nodes.length} node queues, paused (Queue.pause) so its Workers take nothing`,
  };
}

/** Server-side count of the commands the producer connection sent during `body`, from MONITOR. */
async function monitored(observer: Redis, p: Producer, body: () => Promise<void>): Promise<{ server: number; client: number; serverByCommand: Map<string, number> }> {
  const list = (await observer.client('LIST')) as string;
  const line = list.split('\n').find((l) => l.includes(` name=${p.connectionName} `));
  const addr = line && /\baddr=(\S+)/.exec(line)?.[1];
  if (!addr) throw new Error(`submit path: no client named ${p.connectionName} in CLIENT LIST`);
  const token = `bench-submit-path-${process.pid}-${Date.now()}`;
  const monitor = await observer.monitor();
  monitor.on('error', () => {});
  let phase: 'before' | 'counting' | 'done' = 'before';
  let server = 0;
  const serverByCommand = new Map<string, number>();
  let sawEnd: () => void = () => {};
  const ended = new Promise<void>((resolve) => {
    sawEnd = resolve;
  });
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    if (source !== addr) return;
    const name = (args[0] ?? '').toLowerCase();
    if (name === 'echo' && args[1] === `${token}:start`) phase = 'counting';
    else if (name === 'echo' && args[1] === `${token}:end`) {
      phase = 'done';
      sawEnd();
    } else if (phase === 'counting') {
      server++;
      serverByCommand.set(name, (serverByCommand.get(name) ?? 0) + 1);
    }
  });
  try {
    await sleep(50); // MONITOR is on before the start sentinel is sent
    const started = p.connection.echo(`${token}:start`);
    const c0 = p.tap.snapshot(); // after the start ECHO went out, so it is not counted
    await started;
    await body();
    const c1 = p.tap.snapshot(); // before the end ECHO
    await p.connection.echo(`${token}:end`);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('submit path: MONITOR never showed the end sentinel')), 5000);
    });
    await Promise.race([ended, timeout]).finally(() => clearTimeout(timer));
    const d = diff(c0, c1);
    return { server, client: d.syncCommands + d.bgCommands, serverByCommand };
  } finally {
    monitor.disconnect();
  }
}

export interface SubmitPathFigures {
  name: 'raw' | 'swarmq';
  setup: string;
  submits: number;
  /** per submit */
  syncCommands: number;
  syncWrites: number;
  roundTrips: number;
  snapshotCommands: number;
  submitsPerSecond: number;
  /** background traffic on the producer connection */
  bgCommandsPerSecond: number;
  bgWritesPerSecond: number;
  bgObservedMs: number;
  syncByCommand: [string, number][];
  bgByCommand: [string, number][];
  check: { server: number; client: number; serverByCommand: [string, number][] };
}

const MIN_BACKGROUND_WINDOW_MS = 1000;

async function measureOne(p: Producer, observer: Redis, n: number, warmup: number): Promise<SubmitPathFigures> {
  let seq = 0;
  // Warm-up, not counted: the client's first submit loads scripts, reads the roster, makes its node queues.
  for (let i = 0; i < warmup; i++) await p.submit(seq++);
  const c0 = p.tap.snapshot();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await p.tap.submit(() => p.submit(seq++));
  const t1 = performance.now();
  const cSubmits = p.tap.snapshot();
  // The background rate (refreshes) does not depend on submits; watch it at least a second, so a
  // few refreshes more or less in a short window do not swing it.
  const left = MIN_BACKGROUND_WINDOW_MS - (t1 - t0);
  if (left > 0) await sleep(left);
  const t2 = performance.now();
  const cEnd = p.tap.snapshot();
  const d = diff(c0, cSubmits);
  const bg = diff(c0, cEnd);
  const submitMs = t1 - t0;
  const bgMs = t2 - t0;
  const submitsPerSecond = n / (submitMs / 1000);
  const bgCommandsPerSecond = bg.bgCommands / (bgMs / 1000);
  const per = (m: Map<string, [number, number]>, k: 0 | 1, by: number) =>
    [...m].filter(([, v]) => v[k] > 0).map(([name, v]) => [name, v[k] / by] as [string, number]).sort((a, b) => b[1] - a[1]);

  // Server-side check, on a separate pass (MONITOR slows everything down, so it is not the timed one).
  const check = await monitored(observer, p, async () => {
    for (let i = 0; i < n; i++) await p.tap.submit(() => p.submit(seq++));
  });
  return {
    name: p.name,
    setup: p.setup,
    submits: n,
    syncCommands: d.syncCommands / n,
    syncWrites: d.syncWrites / n,
    roundTrips: d.syncRoundTrips / n,
    snapshotCommands: bgCommandsPerSecond / submitsPerSecond,
    submitsPerSecond,
    bgCommandsPerSecond,
    bgWritesPerSecond: bg.bgWrites / (bgMs / 1000),
    bgObservedMs: bgMs,
    syncByCommand: per(d.byCommand, 0, n),
    bgByCommand: per(bg.byCommand, 1, bgMs / 1000),
    check: { ...check, serverByCommand: [...check.serverByCommand].sort((a, b) => b[1] - a[1]) },
  };
}

/** Both contenders, one after the other, each on a fresh prefix that is dropped afterwards. */
export async function measureSubmitPath(o: { url: string; runId: string; observer: Redis; submits: number; agents: number; warmup?: number }): Promise<SubmitPathFigures[]> {
  const out: SubmitPathFigures[] = [];
  for (const name of ['raw', 'swarmq'] as const) {
    const prefix = `${o.runId}-${name}-submitpath`;
    const p = name === 'raw' ? await rawProducer(o.url, prefix) : await swarmqProducer(o.url, prefix, o.agents, o.observer);
    try {
      out.push(await measureOne(p, o.observer, o.submits, o.warmup ?? 100));
    } finally {
      await p.close();
      await dropPrefix(o.observer, prefix);
    }
  }
  return out;
}

/** The JSON shape for bench/results/core.json. */
export function submitPathJson(figs: SubmitPathFigures[]) {
  const raw = figs.find((f) => f.name === 'raw')!;
  const swarmq = figs.find((f) => f.name === 'swarmq')!;
  return {
    raw: { commandsPerSubmit: round(raw.syncCommands, 4), roundTripsPerSubmit: round(raw.roundTrips, 4) },
    swarmq: {
      commandsPerSubmit: round(swarmq.syncCommands, 4),
      snapshotCommandsPerSubmit: round(swarmq.snapshotCommands, 4),
      roundTripsPerSubmit: round(swarmq.roundTrips, 4),
    },
  };
}
