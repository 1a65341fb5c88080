// Model-based property test of the atomic move of waiting jobs (queues/commands/moveJobs-12.lua)
// against real Redis and BullMQ's own scripts. A generated list of operations runs in order over
// 3–4 node queues: adds (plain, LIFO, prioritized, delayed), moves between random pairs with a
// random `max` (no fence, the newest leader's token, an older one; new leaders that stamp the
// group's fence or not yet), manual pickups and completions
// through BullMQ's manual processing API (some agents "crash" holding their job), and BullMQ's
// stalled-jobs check. After every operation, and after a final drain, the raw Redis structures,
// BullMQ's counts, the job hashes and the swarm `moved` hash are checked against the model.
//
// A second, quick property checks the run order of moved jobs (plain, and prioritized within a priority).
//
// Replay a failure with MOVEPROP_SEED=<seed> MOVEPROP_PATH=<path> (fast-check prints both) and
// `-t '<test name>'`; MOVEPROP_RUNS changes the number of runs of the first property,
// MOVEPROP_STATS=1 prints what the runs exercised.
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Queue, Worker, type Job } from 'bullmq';
import { moveWaitingJobs, raiseFence } from '../../queues/moveJobs.ts';
import { bullKey, groupKeys, nodeQueueName } from '../../queues/keys.ts';
import { redisForFile, uniquePrefix } from '../support/redis.ts';

/** Lock of a manual pickup; never renewed (skipLockRenewal), so a slow or dead agent loses it. */
const LOCK_MS = 120;
/** Longer than a lock, so the second stalled check finds the locks of the jobs the first one marked
 * gone (the check waits only as long as the longest lock left, which is never longer). */
const STALL_WAIT_MS = LOCK_MS + 40;
/** Delayed jobs never come due during a run; the drain promotes them. */
const DELAY_MS = 10 * 60_000;
/** BullMQ's stalled-check key lives this long; passes are spaced further apart than that. */
const STALLED_INTERVAL_MS = 10;
const PRIORITY_SHIFT = 0x100000000;

const RUNS = Number(process.env.MOVEPROP_RUNS ?? 60);
const SEED = process.env.MOVEPROP_SEED === undefined ? undefined : Number(process.env.MOVEPROP_SEED);
const PATH = process.env.MOVEPROP_PATH;

type Kind = 'plain' | 'lifo' | 'prioritized' | 'delayed' | 'delayedPrioritized';
type Fence = 'none' | 'current' | 'stale';
type Op =
  | { op: 'add'; node: number; kind: Kind; priority: number; count: number }
  /** To the node `shift` places after `from` (0: the same node). */
  | { op: 'move'; from: number; shift: number; max: number; fence: Fence }
  | { op: 'newLeaderStamps' }
  | { op: 'newLeaderUnstamped' }
  | { op: 'pickup'; node: number; crash: boolean }
  | { op: 'complete'; crashed: boolean; pick: number }
  | { op: 'stall' }
  /** What an operation shrinks to, so a counterexample can lose operations below the minimum length. */
  | { op: 'noop' };

const LISTS = ['wait', 'active', 'paused'] as const;
const ZSETS = ['prioritized', 'delayed', 'completed', 'failed', 'waiting-children'] as const;
type Struct = (typeof LISTS)[number] | (typeof ZSETS)[number];
/** One node queue's structures: lists in Redis order (head first), zsets by ascending score. */
type Structures = Record<Struct, { id: string; score: number }[]>;

interface Task {
  id: string;
  origin: number;
  kind: Kind;
  priority: number;
  /** The node queue the model says holds it: only a move changes it. */
  node: number;
  moves: number;
}

interface Holding {
  id: string;
  node: number;
  token: string;
  job: Job;
}

/** Worker#moveStalledJobsToWait is private in BullMQ's typings but is exactly what the Worker's own
 * stalled checker runs on every tick (`checkConnectionError(() => this.moveStalledJobsToWait())`).
 * Manual workers (autorun: false) never start that timer, so the test runs one pass itself. */
interface StalledCheck {
  moveStalledJobsToWait(): Promise<void>;
}

/** What the runs exercised, printed with MOVEPROP_STATS=1 (a guard against a vacuous schedule). */
const stats = { runs: 0, ops: 0, moves: 0, jobsMoved: 0, staleRefused: 0, pickups: 0, completed: 0, completionsRefused: 0, stalledRecovered: 0, lateCompletionsRefused: 0 };

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const redis = redisForFile();

class Run {
  readonly prefix = uniquePrefix('mvprop');
  readonly nodes: string[];
  readonly queues: Queue[];
  readonly workers: Worker[];
  readonly fenceKey: string;
  readonly movedKey: string;
  readonly tasks = new Map<string, Task>();
  held: Holding[] = [];
  crashed: Holding[] = [];
  /** Agents whose completion was refused (they lost the lock): the job stays active until a stalled check. */
  lost: Holding[] = [];
  abandoned: Holding[] = [];
  readonly completions = new Map<string, number>();
  /** The newest leader's token. */
  fenceSeq = 2;
  /** The highest token the group's fence has seen: anything lower is refused. */
  fenceSeen = 0;
  tokenSeq = 0;
  idSeq = 0;
  lastStallPassAt = 0;
  promoted = false;

  constructor(nodeCount: number) {
    this.nodes = Array.from({ length: nodeCount }, (_, i) => `n${i + 1}`);
    this.queues = this.nodes.map((n) => new Queue(nodeQueueName(n), { connection: redis.connection, prefix: this.prefix }));
    this.workers = this.nodes.map(
      (n) =>
        new Worker(nodeQueueName(n), null, {
          connection: redis.connection,
          prefix: this.prefix,
          autorun: false,
          lockDuration: LOCK_MS,
          skipLockRenewal: true,
          stalledInterval: STALLED_INTERVAL_MS,
          // Crashed jobs come back as often as the schedule crashes them, never failed for it.
          maxStalledCount: 1_000_000,
        }),
    );
    this.fenceKey = groupKeys(this.prefix, this.nodes[0]!).fence;
    this.movedKey = groupKeys(this.prefix, this.nodes[0]!).moved;
  }

  async start(): Promise<void> {
    await this.stamp();
  }

  async stamp(): Promise<void> {
    expect(await raiseFence(redis.connection, this.prefix, this.nodes[0]!, this.fenceSeq)).toBe(this.fenceSeq);
    this.fenceSeen = this.fenceSeq;
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.close(true)));
    await Promise.all(this.queues.map((q) => q.close()));
    const keys = await redis.connection.keys(`${this.prefix}:*`);
    for (let i = 0; i < keys.length; i += 500) await redis.connection.del(...keys.slice(i, i + 500));
  }

  key(node: number, suffix: string): string {
    return bullKey(this.prefix, nodeQueueName(this.nodes[node]!), suffix);
  }

  async apply(op: Op): Promise<void> {
    switch (op.op) {
      case 'add':
        for (let i = 0; i < op.count; i++) await this.add(op.node % this.nodes.length, op.kind, op.priority);
        return;
      case 'move':
        return this.move(op.from % this.nodes.length, (op.from + op.shift) % this.nodes.length, op.max, op.fence);
      case 'newLeaderStamps':
        this.fenceSeq++;
        return this.stamp();
      case 'newLeaderUnstamped':
        this.fenceSeq++;
        return;
      case 'pickup': {
        const h = await this.pickup(op.node % this.nodes.length);
        if (h) (op.crash ? this.crashed : this.held).push(h);
        return;
      }
      case 'complete': {
        const list = op.crashed ? this.crashed : this.held;
        if (list.length === 0) return;
        const [h] = list.splice(op.pick % list.length, 1);
        if (!(await this.complete(h!))) this.lost.push(h!);
        return;
      }
      case 'stall':
        return this.stallCheck();
      case 'noop':
        return;
    }
  }

  async add(node: number, kind: Kind, priority: number): Promise<void> {
    const id = `n${node + 1}.${this.idSeq++}`;
    const prioritized = kind === 'prioritized' || kind === 'delayedPrioritized';
    const delayed = kind === 'delayed' || kind === 'delayedPrioritized';
    await this.queues[node]!.add(
      'task',
      { id, origin: node },
      {
        jobId: id,
        ...(prioritized ? { priority } : {}),
        ...(delayed ? { delay: DELAY_MS } : {}),
        ...(kind === 'lifo' ? { lifo: true } : {}),
      },
    );
    this.tasks.set(id, { id, origin: node, kind, priority: prioritized ? priority : 0, node, moves: 0 });
    const s = (await this.readAll())[node]!;
    const where: Struct = delayed ? 'delayed' : prioritized ? 'prioritized' : 'wait';
    expect(s[where].map((e) => e.id), `add ${id} (${kind})`).toContain(id);
  }

  async move(from: number, to: number, max: number, fence: Fence): Promise<void> {
    const before = await this.readAll();
    const movedBefore = await redis.connection.hgetall(this.movedKey);
    const token = fence === 'current' ? this.fenceSeq : this.fenceSeq - 1;
    const request = {
      prefix: this.prefix,
      from: this.nodes[from]!,
      to: this.nodes[to]!,
      max,
      ...(fence === 'none' ? {} : { fence: { token: String(token) } }),
    };

    if (fence !== 'none' && token < this.fenceSeen) {
      await expect(moveWaitingJobs(redis.connection, request), 'a token older than the fence has seen must be refused').rejects.toThrow(/no longer current/);
      stats.staleRefused++;
      expect(await this.readAll(), 'a refused move changes nothing').toEqual(before);
      expect(await redis.connection.hgetall(this.movedKey), 'a refused move records nothing').toEqual(movedBefore);
      return;
    }

    const count = await moveWaitingJobs(redis.connection, request);
    if (fence !== 'none') this.fenceSeen = Math.max(this.fenceSeen, token);
    expect(await redis.connection.get(this.fenceKey), 'the fence keeps the highest token seen').toBe(String(this.fenceSeen));
    stats.moves++;
    stats.jobsMoved += count;
    const after = await this.readAll();
    if (from === to) {
      expect(count, 'a move to the same node moves nothing').toBe(0);
      expect(after, 'a move to the same node changes nothing').toEqual(before);
      return;
    }

    const src = before[from]!;
    const dst = before[to]!;
    // Plain waiting jobs first, newest (list head) first; then prioritized ones, least urgent first.
    const plain = src.wait.slice(0, Math.max(0, max)).map((e) => e.id);
    const room = Math.max(0, max - plain.length);
    const prio = room > 0 ? [...src.prioritized].reverse().slice(0, room) : [];
    const movedIds = [...plain, ...prio.map((e) => e.id)];
    expect(count, `move ${request.from}→${request.to} max ${max}: how many moved`).toBe(movedIds.length);

    const a = after[from]!;
    const b = after[to]!;
    expect(a.wait, 'source wait keeps the rest, in order').toEqual(src.wait.slice(plain.length));
    expect(a.prioritized, 'source prioritized keeps the rest, with their scores').toEqual(src.prioritized.filter((e) => !movedIds.includes(e.id)));
    expect(b.wait.map((e) => e.id), 'moved plain jobs land at the target newest end, in their order').toEqual([...plain, ...dst.wait.map((e) => e.id)]);
    expect(b.prioritized.filter((e) => !movedIds.includes(e.id)), 'target prioritized keeps its own').toEqual(dst.prioritized);
    const maxOwnScore = Math.max(0, ...dst.prioritized.map((e) => e.score % PRIORITY_SHIFT));
    for (const e of b.prioritized.filter((x) => movedIds.includes(x.id))) {
      const t = this.tasks.get(e.id)!;
      expect(Math.floor(e.score / PRIORITY_SHIFT), `${e.id} keeps its priority`).toBe(t.priority);
      // Behind the target's own jobs of equal priority (a fresh counter of the target).
      if (maxOwnScore > 0) expect(e.score % PRIORITY_SHIFT, `${e.id} gets a fresh counter`).toBeGreaterThan(maxOwnScore);
    }
    // Within one priority they keep the order they had at the source (BullMQ runs a priority FIFO).
    expect(b.prioritized.filter((x) => movedIds.includes(x.id)).map((e) => e.id), 'moved prioritized jobs keep their order').toEqual(
      src.prioritized.filter((x) => movedIds.includes(x.id)).map((e) => e.id),
    );
    // Everything else in both queues untouched.
    for (const s of [...LISTS, ...ZSETS].filter((x) => x !== 'wait' && x !== 'prioritized')) {
      expect(a[s], `source ${s} untouched`).toEqual(src[s]);
      expect(b[s], `target ${s} untouched`).toEqual(dst[s]);
    }
    for (let n = 0; n < this.nodes.length; n++) if (n !== from && n !== to) expect(after[n], `bystander ${this.nodes[n]} untouched`).toEqual(before[n]);

    for (const id of movedIds) {
      const t = this.tasks.get(id)!;
      expect(t.kind === 'delayed' || t.kind === 'delayedPrioritized', `delayed ${id} must never move`).toBe(false);
      t.node = to;
      t.moves++;
    }
    if (movedIds.length > 0) {
      expect(await redis.connection.zscore(this.key(to, 'marker'), '0'), 'the target marker wakes idle workers').not.toBeNull();
      const srcEvents = (await redis.connection.xrevrange(this.key(from, 'events'), '+', '-', 'COUNT', movedIds.length)).reverse();
      expect(srcEvents.map(([, f]) => `${f[1]}:${f[3]}:${f[5]}`).sort(), 'source events say moved').toEqual(movedIds.map((id) => `moved:${id}:${request.to}`).sort());
      const dstEvents = (await redis.connection.xrevrange(this.key(to, 'events'), '+', '-', 'COUNT', movedIds.length)).map(([, f]) => `${f[1]}:${f[3]}`);
      expect(dstEvents.sort(), 'target events say waiting').toEqual(movedIds.map((id) => `waiting:${id}`).sort());
    }
  }

  /** One manual pickup; checks BullMQ hands out what the structures say is next, intact. */
  async pickup(node: number): Promise<Holding | undefined> {
    const [[, tail], [, head]] = (await redis.connection
      .multi()
      .lindex(this.key(node, 'wait'), -1)
      .zrange(this.key(node, 'prioritized'), '0', '0')
      .exec()) as [[null, string | null], [null, string[]]];
    const expected = tail ?? head[0];
    const token = `agent-${this.nodes[node]}-${this.tokenSeq++}`;
    const job = await this.workers[node]!.getNextJob(token, { block: false });
    expect(job?.id, `pickup on ${this.nodes[node]}`).toBe(expected);
    if (!job) return undefined;
    stats.pickups++;
    const t = this.tasks.get(job.id!)!;
    expect(t.node, `${job.id} picked where the model has it`).toBe(node);
    expect(job.data, `${job.id} carried intact`).toEqual({ id: t.id, origin: t.origin });
    expect(job.opts.priority ?? 0, `${job.id} priority`).toBe(t.priority);
    return { id: job.id!, node, token, job };
  }

  /** Completes a held job; only an agent still holding the lock may. */
  async complete(h: Holding): Promise<boolean> {
    const lockKey = this.key(h.node, `${h.id}:lock`);
    const askedAt = Date.now();
    const [[, lock], [, pttl]] = (await redis.connection.multi().get(lockKey).pttl(lockKey).exec()) as [[null, string | null], [null, number]];
    const holds = lock === h.token;
    let error: unknown;
    try {
      await h.job.moveToCompleted('done', h.token, false);
    } catch (err) {
      error = err;
    }
    const ok = error === undefined;
    if (!holds) expect(ok, `completing ${h.id} on ${this.nodes[h.node]} without its lock must fail`).toBe(false);
    // The lock lapses no sooner than askedAt + pttl, and the completion ran before it returned: when it
    // returned before then, the lock was still held. On a loaded machine it may not have (never renewed).
    if (holds && Date.now() - askedAt < pttl - 2) expect(error, `completing ${h.id} on ${this.nodes[h.node]} while holding its lock`).toBeUndefined();
    if (ok) stats.completed++;
    else stats.completionsRefused++;
    if (ok) {
      this.completions.set(h.id, (this.completions.get(h.id) ?? 0) + 1);
      expect(await redis.connection.zscore(this.key(h.node, 'completed'), h.id), `${h.id} recorded completed`).not.toBeNull();
    }
    return ok;
  }

  async stallPass(): Promise<void> {
    const since = Date.now() - this.lastStallPassAt;
    if (since <= STALLED_INTERVAL_MS + 5) await sleep(STALLED_INTERVAL_MS + 5 - since);
    for (const w of this.workers) await (w as unknown as StalledCheck).moveStalledJobsToWait();
    this.lastStallPassAt = Date.now();
  }

  /** BullMQ marks active jobs on one pass and moves those whose lock is gone on the next. */
  async stallCheck(): Promise<void> {
    const activeBefore = await this.activeCount();
    await this.stallPass();
    await sleep(await this.untilLocksGone());
    await this.stallPass();
    stats.stalledRecovered += activeBefore - (await this.activeCount());
  }

  /** How long until every lock of an active job has expired: the time the second pass must wait. */
  async untilLocksGone(): Promise<number> {
    const p = redis.connection.pipeline();
    let n = 0;
    for (let i = 0; i < this.nodes.length; i++) {
      for (const id of await redis.connection.lrange(this.key(i, 'active'), 0, -1)) {
        p.pttl(this.key(i, `${id}:lock`));
        n++;
      }
    }
    const left = n === 0 ? [] : (await p.exec())!.map(([, v]) => v as number);
    return Math.min(STALL_WAIT_MS, Math.max(0, ...left) + 20);
  }

  async activeCount(): Promise<number> {
    let n = 0;
    for (let i = 0; i < this.nodes.length; i++) n += await redis.connection.llen(this.key(i, 'active'));
    return n;
  }

  async readAll(): Promise<Structures[]> {
    const p = redis.connection.pipeline();
    for (let n = 0; n < this.nodes.length; n++) {
      for (const l of LISTS) p.lrange(this.key(n, l), 0, -1);
      for (const z of ZSETS) p.zrange(this.key(n, z), '0', '-1', 'WITHSCORES');
    }
    const res = (await p.exec())!;
    let i = 0;
    return this.nodes.map(() => {
      const s = {} as Structures;
      for (const l of LISTS) s[l] = (res[i++]![1] as string[]).map((id) => ({ id, score: 0 }));
      for (const z of ZSETS) {
        const flat = res[i++]![1] as string[];
        s[z] = [];
        for (let k = 0; k < flat.length; k += 2) s[z].push({ id: flat[k]!, score: Number(flat[k + 1]) });
      }
      return s;
    });
  }

  async check(where: string): Promise<void> {
    const all = await this.readAll();
    const places = new Map<string, { node: number; struct: Struct }[]>();
    all.forEach((s, node) => {
      for (const struct of [...LISTS, ...ZSETS]) {
        for (const { id } of s[struct]) {
          expect(this.tasks.has(id), `${where}: unknown id ${id} in ${this.nodes[node]} ${struct}`).toBe(true);
          places.set(id, [...(places.get(id) ?? []), { node, struct }]);
        }
      }
    });
    const holders = [...this.held, ...this.crashed, ...this.lost, ...this.abandoned];
    for (const t of this.tasks.values()) {
      const p = places.get(t.id) ?? [];
      const shown = p.map((x) => `${this.nodes[x.node]}:${x.struct}`).join(', ') || 'nowhere';
      expect(p.length, `${where}: ${t.id} must be in exactly one structure (found ${shown})`).toBe(1);
      const { node, struct } = p[0]!;
      expect(this.nodes[node], `${where}: ${t.id} is in ${shown}, the model says ${this.nodes[t.node]}`).toBe(this.nodes[t.node]);
      expect(['failed', 'paused', 'waiting-children'].includes(struct), `${where}: ${t.id} in ${shown}`).toBe(false);
      const delayed = t.kind === 'delayed' || t.kind === 'delayedPrioritized';
      if (delayed) expect(t.moves === 0 && t.node === t.origin, `${where}: delayed ${t.id} never moves`).toBe(true);
      if (delayed && !this.promoted) expect(struct, `${where}: ${t.id} stays delayed`).toBe('delayed');
      const done = this.completions.get(t.id) ?? 0;
      expect(done, `${where}: ${t.id} completed at most once`).toBeLessThanOrEqual(1);
      expect(struct === 'completed', `${where}: ${t.id} in ${shown} but completed ${done} times by agents`).toBe(done === 1);
      if (struct === 'active') expect(holders.some((h) => h.id === t.id && h.node === node), `${where}: ${t.id} active without a pickup`).toBe(true);
    }

    // The job hash lives under the queue that lists the id, and under no other.
    const ids = [...this.tasks.keys()];
    const p = redis.connection.pipeline();
    for (const id of ids) for (let n = 0; n < this.nodes.length; n++) p.exists(this.key(n, id));
    const exists = (await p.exec())!.map(([, v]) => v as number);
    ids.forEach((id, i) => {
      const t = this.tasks.get(id)!;
      for (let n = 0; n < this.nodes.length; n++) {
        expect(exists[i * this.nodes.length + n], `${where}: hash of ${id} under ${this.nodes[n]}`).toBe(n === t.node ? 1 : 0);
      }
    });

    // BullMQ's counts agree with the raw structures.
    for (let n = 0; n < this.nodes.length; n++) {
      // (BullMQ 6 has no paused list, so no count of it; the raw list must stay empty, checked above.)
      const counted = ['wait', 'active', ...ZSETS] as const;
      const counts = await this.queues[n]!.getJobCounts(...counted);
      const raw = Object.fromEntries(counted.map((s) => [s, all[n]![s].length]));
      expect(counts, `${where}: ${this.nodes[n]} getJobCounts`).toEqual(raw);
    }

    // The swarm's moved hash names the node every moved task is in now; unmoved ones are absent.
    const expectedMoved = Object.fromEntries([...this.tasks.values()].filter((t) => t.moves > 0).map((t) => [t.id, this.nodes[t.node]!]));
    expect(await redis.connection.hgetall(this.movedKey), `${where}: swarm moved hash`).toEqual(expectedMoved);
  }

  /** Promote delayed jobs, recover crashed ones, run everything left, then check the end state. */
  async drain(): Promise<void> {
    for (const q of this.queues) await q.promoteJobs();
    this.promoted = true;
    await this.check('after promoting delayed jobs');
    // Agents still holding a job at the end crashed.
    this.abandoned = [...this.held, ...this.crashed, ...this.lost];
    this.held = [];
    this.crashed = [];
    this.lost = [];
    for (let round = 0; round < 10; round++) {
      for (let n = 0; n < this.nodes.length; n++) {
        for (;;) {
          const h = await this.pickup(n);
          if (!h) break;
          // Completed at once, so it succeeds unless the box stalled past the lock (then the next
          // stalled check brings it back, and this agent's late completion is checked below).
          if (!(await this.complete(h))) this.abandoned.push(h);
        }
      }
      if ([...this.tasks.keys()].every((id) => this.completions.get(id) === 1)) break;
      await this.stallCheck();
    }
    await this.check('after draining');
    for (const id of this.tasks.keys()) expect(this.completions.get(id), `${id} completed exactly once`).toBe(1);
    // A crashed agent that comes back finds its job done by someone else: its completion fails.
    for (const h of this.abandoned) {
      const ok = await this.complete(h);
      expect(ok, `late completion of ${h.id} by crashed ${h.token}`).toBe(false);
      stats.lateCompletionsRefused++;
    }
    this.abandoned = [];
    await this.check('final');
    for (let n = 0; n < this.nodes.length; n++) {
      const here = [...this.tasks.values()].filter((t) => t.node === n).length;
      expect(await this.queues[n]!.getJobCounts('wait', 'active', 'prioritized', 'delayed', 'completed', 'failed'), `final counts of ${this.nodes[n]}`).toEqual({
        wait: 0,
        active: 0,
        prioritized: 0,
        delayed: 0,
        completed: here,
        failed: 0,
      });
    }
  }
}

const kindArb = fc.constantFrom<Kind>('plain', 'plain', 'lifo', 'prioritized', 'prioritized', 'delayed', 'delayedPrioritized');
// Small priorities make ties (ordered by the counter); large ones reach BullMQ's limit (2^21 - 1).
const priorityArb = fc.oneof(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 2_097_151 }));
const nodeArb = fc.nat({ max: 3 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 14, arbitrary: fc.record({ op: fc.constant('add' as const), node: nodeArb, kind: kindArb, priority: priorityArb, count: fc.integer({ min: 1, max: 3 }) }) },
  {
    weight: 10,
    arbitrary: fc.record({
      op: fc.constant('move' as const),
      from: nodeArb,
      shift: fc.oneof({ weight: 1, arbitrary: fc.constant(0) }, { weight: 6, arbitrary: fc.integer({ min: 1, max: 3 }) }),
      max: fc.integer({ min: 0, max: 10 }),
      fence: fc.constantFrom<Fence>('none', 'current', 'current', 'stale'),
    }),
  },
  { weight: 2, arbitrary: fc.constant({ op: 'newLeaderStamps' as const }) },
  { weight: 1, arbitrary: fc.constant({ op: 'newLeaderUnstamped' as const }) },
  { weight: 8, arbitrary: fc.record({ op: fc.constant('pickup' as const), node: nodeArb, crash: fc.boolean() }) },
  { weight: 6, arbitrary: fc.record({ op: fc.constant('complete' as const), crashed: fc.boolean(), pick: fc.nat({ max: 7 }) }) },
  { weight: 2, arbitrary: fc.constant({ op: 'stall' as const }) },
);
// Generated ops are rarely no-ops, but every op shrinks towards one (its `keep` towards 0).
const opOrNoopArb: fc.Arbitrary<Op> = fc.tuple(fc.integer({ min: 0, max: 19 }), opArb).map(([keep, op]) => (keep === 0 ? { op: 'noop' as const } : op));

describe('moveJobs, model-based against BullMQ', () => {
  it(
    'interleaved adds, moves, fenced moves, manual pickups, crashes and stalled checks keep every task in one place, completed once',
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 3, max: 4 }), fc.array(opOrNoopArb, { minLength: 20, maxLength: 40 }), async (nodeCount, ops) => {
          const run = new Run(nodeCount);
          stats.runs++;
          stats.ops += ops.length;
          try {
            await run.start();
            for (const [i, op] of ops.entries()) {
              await run.apply(op);
              if (op.op !== 'noop') await run.check(`after op ${i} ${JSON.stringify(op)}`);
            }
            await run.drain();
          } catch (err) {
            if (err instanceof Error) err.message += `\n  on ${nodeCount} nodes, ops without no-ops: ${JSON.stringify(ops.filter((o) => o.op !== 'noop'))}`;
            throw err;
          } finally {
            await run.close();
          }
        }),
        {
          numRuns: RUNS,
          ...(SEED === undefined ? {} : { seed: SEED }),
          ...(PATH === undefined ? {} : { path: PATH }),
          // Shrinking against Redis is slow: stop it in time for the counterexample to be printed.
          interruptAfterTimeLimit: 100_000,
        },
      );
    },
    240_000,
  );
});

// Run order. BullMQ runs plain waiting jobs first-in first-out, then prioritized ones by priority and,
// within one priority, first-in first-out. A move keeps the order of the plain jobs it carries (they
// run behind the target's own); the jobs of one priority it carries must likewise keep their order.
type OrderOp = { op: 'add'; node: number; priority: number } | { op: 'move'; from: number; max: number };

interface OrderModel {
  /** Plain jobs, next to run first. */
  plain: string[];
  /** Prioritized jobs with the order they arrived in this queue. */
  prioritized: { id: string; priority: number; seq: number }[];
}

const orderOpArb: fc.Arbitrary<OrderOp> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ op: fc.constant('add' as const), node: fc.nat({ max: 1 }), priority: fc.integer({ min: 0, max: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('move' as const), from: fc.nat({ max: 1 }), max: fc.integer({ min: 0, max: 6 }) }) },
);

describe('moveJobs keeps run order', () => {
  it('moved jobs run in their source order: plain ones, and prioritized ones within each priority', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(orderOpArb, { minLength: 1, maxLength: 25 }), async (ops) => {
        const prefix = uniquePrefix('mvorder');
        const nodes = ['n1', 'n2'];
        const queues = nodes.map((n) => new Queue(nodeQueueName(n), { connection: redis.connection, prefix }));
        const workers = nodes.map((n) => new Worker(nodeQueueName(n), null, { connection: redis.connection, prefix, autorun: false }));
        const model: OrderModel[] = nodes.map(() => ({ plain: [], prioritized: [] }));
        let seq = 0;
        try {
          for (const [i, op] of ops.entries()) {
            if (op.op === 'add') {
              const id = `${nodes[op.node]}.${i}`;
              await queues[op.node]!.add('task', {}, { jobId: id, ...(op.priority > 0 ? { priority: op.priority } : {}) });
              if (op.priority > 0) model[op.node]!.prioritized.push({ id, priority: op.priority, seq: seq++ });
              else model[op.node]!.plain.push(id);
              continue;
            }
            const to = 1 - op.from;
            const src = model[op.from]!;
            const dst = model[to]!;
            // The newest plain jobs (which would run last), then the least urgent prioritized ones.
            const plain = src.plain.splice(Math.max(0, src.plain.length - op.max), op.max);
            const byUrgency = [...src.prioritized].sort((a, b) => a.priority - b.priority || a.seq - b.seq);
            const prio = byUrgency.slice(byUrgency.length - Math.min(byUrgency.length, op.max - plain.length));
            src.prioritized = src.prioritized.filter((e) => !prio.includes(e));
            dst.plain.push(...plain);
            // They join the target behind its own, in the order they had at the source.
            for (const e of prio) dst.prioritized.push({ ...e, seq: seq++ });
            const moved = await moveWaitingJobs(redis.connection, { prefix, from: nodes[op.from]!, to: nodes[to]!, max: op.max });
            expect(moved, `move ${JSON.stringify(op)}`).toBe(plain.length + prio.length);
          }
          for (const [n, w] of workers.entries()) {
            const m = model[n]!;
            const expected = [...m.plain, ...[...m.prioritized].sort((a, b) => a.priority - b.priority || a.seq - b.seq).map((e) => e.id)];
            const ran: string[] = [];
            for (;;) {
              const job = await w.getNextJob(`t${ran.length}`, { block: false });
              if (!job) break;
              ran.push(job.id!);
            }
            expect(ran, `run order on ${nodes[n]}`).toEqual(expected);
          }
        } finally {
          await Promise.all(workers.map((w) => w.close(true)));
          await Promise.all(queues.map((q) => q.close()));
          const keys = await redis.connection.keys(`${prefix}:*`);
          if (keys.length > 0) await redis.connection.del(...keys);
        }
      }),
      { numRuns: 50, ...(SEED === undefined ? {} : { seed: SEED }), ...(PATH === undefined ? {} : { path: PATH }) },
    );
  }, 120_000);
});

afterAll(() => {
  if (process.env.MOVEPROP_STATS) console.log('moveJobs property:', JSON.stringify(stats));
});
