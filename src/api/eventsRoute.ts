// GET /api/events: the swarm's events as Server-Sent Events. Each SSE message
// carries the stream entry id, so a browser's EventSource resumes after a
// reconnect with Last-Event-ID and loses nothing the stream still keeps.
import type { Request, RequestHandler, Response } from 'express';
import type { RedisClient } from '../../queues/redisTarget.ts';
import { z } from 'zod';
import { swarmKeys } from '../../queues/keys.ts';
import { SwarmError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { EventReader } from '../swarm/eventReader.ts';
import { isSwarmEventType, SWARM_EVENT_TYPES, type SwarmEvent, type SwarmEventType } from '../swarm/eventSchemas.ts';
import { isStreamId, parseEventEntry, type StreamEntry } from '../swarm/events.ts';

/** Most past events one connection may ask to be replayed. */
export const MAX_BACKLOG = 1000;

const resumePoint = z.string().refine((s) => s === '0' || s === '$' || isStreamId(s), 'a stream id (1733100000000-0, each part below 2^64), 0 or $');

const querySchema = z.object({
  types: z
    .string()
    .transform((s) => s.split(',').map((t) => t.trim()).filter(Boolean))
    .pipe(z.array(z.string().refine(isSwarmEventType, { message: `known types: ${SWARM_EVENT_TYPES.join(', ')}` })).min(1))
    .optional(),
  from: resumePoint.optional(),
  backlog: z.coerce.number().int().min(0).max(MAX_BACKLOG).optional(),
});

export interface EventsRouteOptions {
  redis: RedisClient;
  prefix: string;
  logger: Logger;
  /** A comment line this often keeps proxies from closing an idle stream. */
  heartbeatMs: number;
  /** Each stream holds a Redis connection of its own: past this many, 429 rather than exhaust Redis' clients. */
  maxStreams: number;
}

/** One SSE message: `id`, `event` (the type) and `data` (JSON `{ id, type, at, data }`). */
export function sseMessage(e: SwarmEvent): string {
  return `id: ${e.id}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`;
}

function parseRequest(req: Request) {
  const q = querySchema.safeParse(req.query);
  if (!q.success) {
    throw new SwarmError('invalid_request', 'bad query for /api/events', q.error.issues.map((i) => ({ path: i.path.join('.') || '(query)', message: i.message })));
  }
  const header = req.get('last-event-id');
  if (header !== undefined && !isStreamId(header)) {
    throw new SwarmError('invalid_request', 'Last-Event-ID must be an event id from this stream', [{ path: 'Last-Event-ID', message: 'expected <ms>-<seq>, each part below 2^64' }]);
  }
  const types = q.data.types ? new Set(q.data.types.filter(isSwarmEventType)) : undefined;
  return { types, from: header ?? q.data.from, backlog: header === undefined ? (q.data.backlog ?? 0) : 0 };
}

export function eventsRoute(o: EventsRouteOptions): RequestHandler {
  const key = swarmKeys(o.prefix).events;
  let open = 0;
  return async (req: Request, res: Response) => {
    const { types, from, backlog } = parseRequest(req);
    if (open >= o.maxStreams) throw new SwarmError('too_many_requests', `this coordinator already serves ${open} event streams; close one, or connect to another coordinator`);
    open++;
    let closed = false;
    let reader: EventReader | undefined;
    let heartbeat: NodeJS.Timeout | undefined;
    // The blocking connection lives exactly as long as the client's, however early it leaves.
    res.on('close', () => {
      closed = true;
      open--;
      clearInterval(heartbeat);
      void reader?.close();
    });
    const wanted = (t: SwarmEventType) => !types || types.has(t);
    let start = from;
    let replay: SwarmEvent[] = [];
    // The start is fixed before the client hears `connected`, so an event published after that reaches it.
    if (start === undefined || start === '$' || backlog > 0) {
      const recent = (await o.redis.xrevrange(key, '+', '-', 'COUNT', Math.max(1, backlog))) as StreamEntry[];
      start = recent[0]?.[0] ?? '0-0';
      if (backlog > 0) {
        replay = recent.reverse().flatMap((entry) => {
          const p = parseEventEntry(entry);
          return p.ok && wanted(p.event.type) ? [p.event] : [];
        });
      }
    }
    if (closed) return;
    res.status(200).set({ 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.flushHeaders();
    const write = (chunk: string) => {
      if (!res.destroyed && !res.writableEnded) res.write(chunk);
    };
    write('retry: 2000\n: connected\n\n');
    for (const e of replay) write(sseMessage(e));
    reader = new EventReader({
      redis: o.redis,
      prefix: o.prefix,
      from: start,
      ...(types ? { types } : {}),
      onEvent: (e) => write(sseMessage(e)),
      onInvalid: (id, reason) => o.logger.warn({ id, reason }, 'skipping a malformed swarm event'),
      onError: (err) => o.logger.debug({ err: err.message }, 'event stream read failed; retrying'),
    });
    heartbeat = setInterval(() => write(`: heartbeat ${Date.now()}\n\n`), o.heartbeatMs);
  };
}
