// GET /api/tasks/:id/events: one task's events as Server-Sent Events
// (`started`, `progress`, `retrying`, `finished`; see src/tasks/taskEvents.ts),
// ending after `finished`. Each message's id is where the task's watch resumes,
// so a browser's EventSource picks up after a reconnect with Last-Event-ID,
// on whichever node the task is by then (src/coordinator/taskWatch.ts).
import type { Request, RequestHandler, Response } from 'express';
import type { RedisClient } from '../../queues/redisTarget.ts';
import { SwarmError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { TaskWatch } from '../coordinator/taskWatch.ts';
import { isIssuedTaskId } from '../tasks/ids.ts';
import type { TaskView } from '../tasks/schema.ts';
import { resumePointSchema, type ResumePoint, type TaskEvent } from '../tasks/taskEvents.ts';
import { emptyQuerySchema, parseQuery } from './listQuery.ts';

export interface TaskEventsRouteOptions {
  redis: RedisClient;
  prefix: string;
  logger: Logger;
  read: (id: string) => Promise<TaskView | null>;
  heartbeatMs: number;
  /** Each stream holds a Redis connection of its own: past this many, 429. */
  maxStreams: number;
}

/** One SSE message: `id` (the resume point), `event` (the type) and `data` (JSON `{ id, type, taskId, data }`). */
export function taskSseMessage(e: TaskEvent): string {
  return `id: ${e.id}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`;
}

function resumeOf(req: Request): ResumePoint | undefined {
  const header = req.get('last-event-id');
  if (header === undefined || header === '') return undefined;
  const p = resumePointSchema.safeParse(header);
  if (!p.success) throw new SwarmError('invalid_request', 'Last-Event-ID must be an event id from this task\'s stream', [{ path: 'Last-Event-ID', message: p.error.issues[0]?.message ?? 'expected <node>@<ms>-<seq>' }]);
  return p.data;
}

export function taskEventsRoute(o: TaskEventsRouteOptions): RequestHandler {
  let open = 0;
  return async (req: Request, res: Response) => {
    parseQuery(emptyQuerySchema, req.query, 'GET /api/tasks/:id/events');
    const id = String(req.params.id);
    if (!isIssuedTaskId(id)) throw new SwarmError('not_found', `no task ${id}`);
    const after = resumeOf(req);
    if (open >= o.maxStreams) throw new SwarmError('too_many_requests', `this coordinator already serves ${open} task event streams; close one, or connect to another coordinator`);
    open++;
    let watch: TaskWatch | undefined;
    let closed = false;
    let heartbeat: NodeJS.Timeout | undefined;
    res.on('close', () => {
      closed = true;
      open--;
      clearInterval(heartbeat);
      void watch?.close();
    });
    // not_found (and a Redis failure) answer as JSON errors: nothing has been sent yet.
    watch = await TaskWatch.open({ redis: o.redis, prefix: o.prefix, id, read: o.read, ...(after ? { after } : {}) });
    if (closed) {
      await watch.close();
      return;
    }
    res.status(200).set({ 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.flushHeaders();
    const write = (chunk: string) => {
      if (!res.destroyed && !res.writableEnded) res.write(chunk);
    };
    write('retry: 2000\n: connected\n\n');
    heartbeat = setInterval(() => write(`: heartbeat ${Date.now()}\n\n`), o.heartbeatMs);
    try {
      for await (const e of watch.events()) write(taskSseMessage(e));
    } catch (err) {
      o.logger.warn({ task: id, err: (err as Error).message }, 'task event stream failed');
    } finally {
      clearInterval(heartbeat);
      await watch.close();
      if (!res.writableEnded) res.end();
    }
  };
}
