// Watching one task: its events as they happen, from its queue's events stream
// (`<prefix>:<queue>:events`, where BullMQ writes `active`, `delayed`,
// `completed`, `failed`… and reportProgress-4.lua writes `progress`), read on a
// connection of its own (XREAD BLOCK holds it) and filtered by the task's id.
//
// A task is in one node's queue at a time, and changes node only while it
// waits (the balancer moves waiting jobs; a running one stays until it ends or
// goes back to waiting for a retry). The watch follows it: moveJobs-12.lua
// writes a `moved` entry naming the new node in the old stream, and the task's
// view, read again every pollMs while the stream is quiet, catches any other
// move (a cross-group move) and an end the stream no longer has (trimmed). On
// a new node the watch reads from the same moment on (sameTimeIn), so nothing
// the task did there is missed.
import { StopSignal } from '../../queues/connection.ts';
import { bullKey, CONSENSUS_QUEUE, nodeQueueName } from '../../queues/keys.ts';
import { duplicateClient, type RedisClient } from '../../queues/redisTarget.ts';
import { SwarmError } from '../errors.ts';
import type { StreamEntry } from '../swarm/events.ts';
import type { TaskView } from '../tasks/schema.ts';
import { finishedOf, formatResumePoint, isFinalView, meaningOf, sameTimeIn, snapshotOf, type ResumePoint, type TaskEvent } from '../tasks/taskEvents.ts';

export interface TaskWatchOptions {
  redis: RedisClient;
  prefix: string;
  id: string;
  /** The task as GET /api/tasks/:id reads it (wherever it moved). */
  read: (id: string) => Promise<TaskView | null>;
  /** Resume after this event (Last-Event-ID); unset: start now, told the task's state so far. */
  after?: ResumePoint;
  /** How often the task's view is read again while its stream is quiet (default 1000 ms). */
  pollMs?: number;
}

const BATCH = 500;

/** The queue holding a task that is on `node` (a replicated task's is the consensus queue). */
function queueOf(node: string): string {
  return node === CONSENSUS_QUEUE ? CONSENSUS_QUEUE : nodeQueueName(node);
}

export class TaskWatch {
  private readonly conn: RedisClient;
  private readonly halt = new StopSignal();
  private node = '';
  private cursor = '0-0';
  /** Events known before reading the stream: the snapshot of a fresh watch. */
  private pending: TaskEvent[] = [];
  private done = false;

  private constructor(private readonly o: TaskWatchOptions) {
    this.conn = duplicateClient(o.redis, { lazyConnect: false, maxRetriesPerRequest: null, enableOfflineQueue: true, connectionName: 'swarmq:watch' });
    this.conn.on('error', () => {}); // a read fails and is retried in events()
  }

  /** A watch positioned on the task; throws not_found (before anything is sent) when there is no such task. */
  static async open(o: TaskWatchOptions): Promise<TaskWatch> {
    const w = new TaskWatch(o);
    try {
      await w.position();
    } catch (err) {
      await w.close();
      throw err;
    }
    return w;
  }

  private key(): string {
    return bullKey(this.o.prefix, queueOf(this.node), 'events');
  }

  private async mustRead(): Promise<TaskView> {
    const v = await this.o.read(this.o.id);
    if (!v) throw new SwarmError('not_found', `no task ${this.o.id}`);
    return v;
  }

  private async position(): Promise<void> {
    let view = await this.mustRead();
    const after = this.o.after;
    if (after) {
      this.node = view.node;
      this.cursor = after.node === view.node ? after.entry : sameTimeIn(after.entry);
      return;
    }
    // The start is fixed before the view is read, so whatever happens after that read is in the stream after the start.
    for (let tries = 0; ; tries++) {
      this.node = view.node;
      const last = (await this.conn.xrevrange(this.key(), '+', '-', 'COUNT', 1)) as StreamEntry[];
      this.cursor = last[0]?.[0] ?? '0-0';
      const again = await this.mustRead();
      // Moved between the two reads: position on where it is now.
      if (again.node === view.node || tries >= 3) {
        view = again;
        break;
      }
      view = again;
    }
    const id = formatResumePoint({ node: this.node, entry: this.cursor });
    this.pending = snapshotOf(view).map((e) => ({ id, taskId: this.o.id, ...e }) as TaskEvent);
    this.done = isFinalView(view);
  }

  /** The task's events, ending after `finished` (or when close() is called). */
  async *events(): AsyncGenerator<TaskEvent> {
    for (const e of this.pending) yield e;
    this.pending = [];
    const pollMs = this.o.pollMs ?? 1000;
    let polled = Date.now();
    let endSeen: TaskView | undefined;
    while (!this.done && !this.halt.stopped) {
      let entries: StreamEntry[];
      try {
        // Once the view says it ended, one read without blocking drains what the stream still has.
        const read = endSeen ? this.conn.xread('COUNT', BATCH, 'STREAMS', this.key(), this.cursor) : this.conn.xread('COUNT', BATCH, 'BLOCK', pollMs, 'STREAMS', this.key(), this.cursor);
        const res = (await this.halt.race(read)) as [string, StreamEntry[]][] | null | undefined;
        if (this.halt.stopped) return;
        entries = res?.[0]?.[1] ?? [];
      } catch {
        if (this.halt.stopped) return;
        // Redis restarting or failing over: the watch waits it out, as the client's waitFor does.
        await new Promise((r) => setTimeout(r, 250));
        continue;
      }
      let moved = false;
      for (const [entry, flat] of entries) {
        this.cursor = entry;
        const m = meaningOf(this.o.id, this.node, flat);
        if (m.kind === 'moved') {
          this.node = m.to;
          this.cursor = sameTimeIn(entry);
          moved = true;
          break;
        }
        if (m.kind !== 'event') continue;
        yield { id: formatResumePoint({ node: this.node, entry }), taskId: this.o.id, ...m.event } as TaskEvent;
        if (m.event.type === 'finished') {
          this.done = true;
          return;
        }
      }
      if (moved) continue;
      if (endSeen && entries.length === BATCH) continue; // more to drain first
      if (endSeen) {
        // The view said it ended and the stream, read to its end, does not say how: tell it from the view.
        this.done = true;
        yield { id: formatResumePoint({ node: this.node, entry: this.cursor }), taskId: this.o.id, type: 'finished', data: finishedOf(endSeen) };
        return;
      }
      if (Date.now() - polled < pollMs) continue;
      polled = Date.now();
      let view: TaskView | null;
      try {
        view = await this.o.read(this.o.id);
      } catch {
        continue; // Redis down: the next round tries again
      }
      if (!view) return; // removed from Redis (retention): nothing more will happen
      if (view.node !== this.node) {
        this.node = view.node;
        this.cursor = sameTimeIn(this.cursor);
      } else if (isFinalView(view)) endSeen = view; // one more read, without blocking, for its own events first
    }
  }

  async close(): Promise<void> {
    this.done = true;
    this.halt.stop();
    this.conn.disconnect();
  }
}
