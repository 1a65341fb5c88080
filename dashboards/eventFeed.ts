// The swarm's event stream as Server-Sent Events for the dashboard: the most
// recent entries first (the feeds start filled), then each new one as it is
// written. The SSE id is the stream id, so a reconnecting EventSource resumes
// where it left off (Last-Event-ID).
import type { Request, Response } from 'express';
import type { Redis } from 'ioredis';
import { swarmKeys } from '../queues/keys.ts';

/** Entries replayed to a new viewer. */
const REPLAYED = 200;
const BLOCK_MS = 10_000;
const STREAM_ID = /^[0-9]{1,20}-[0-9]{1,20}$/;

type Entry = [id: string, fields: string[]];

function field(fields: string[], name: string): string | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}

function write(res: Response, [id, fields]: Entry): void {
  const type = field(fields, 'type');
  const data = field(fields, 'data');
  // SSE frames are line-based: an event name or data with a newline cannot be sent as is (JSON has none).
  if (!type || data === undefined || /[\r\n]/.test(type + data)) return;
  res.write(`id: ${id}\nevent: ${type}\ndata: ${data}\n\n`);
}

export async function serveEventFeed(redis: Redis, prefix: string, req: Request, res: Response): Promise<void> {
  const key = swarmKeys(prefix).events;
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
  res.write('retry: 2000\n\n');
  const reader = redis.duplicate({ maxRetriesPerRequest: null, lazyConnect: true });
  reader.on('error', () => {});
  let open = true;
  req.on('close', () => {
    open = false;
    reader.disconnect();
  });
  try {
    await reader.connect();
    const resume = req.header('last-event-id');
    let last: string;
    if (resume && STREAM_ID.test(resume)) {
      last = resume;
    } else {
      const recent = (await reader.xrevrange(key, '+', '-', 'COUNT', REPLAYED)) as Entry[];
      for (const e of recent.reverse()) write(res, e);
      last = recent.at(-1)?.[0] ?? '0-0';
    }
    while (open) {
      const got = (await reader.xread('COUNT', 200, 'BLOCK', BLOCK_MS, 'STREAMS', key, last)) as [string, Entry[]][] | null;
      if (!got) {
        res.write(': idle\n\n'); // keeps proxies from closing a quiet stream
        continue;
      }
      for (const e of got[0]?.[1] ?? []) {
        write(res, e);
        last = e[0];
      }
    }
  } catch {
    // The viewer left (the reader was disconnected) or Redis went away: EventSource reconnects.
  } finally {
    reader.disconnect();
    res.end();
  }
}
