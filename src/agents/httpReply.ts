// What an HTTP agent's answer means, decided without I/O: which statuses are a
// result, a permanent failure, a retriable one or a request to come back
// later; how long Retry-After asks to wait; what a line of a streamed answer
// may be; and how a stream of bytes splits into lines under a size cap.
import { z } from 'zod';

export type StatusVerdict =
  | { kind: 'result' }
  /** The service refused this task: retrying it unchanged cannot help (400, 401, 404, 422, …). */
  | { kind: 'permanent' }
  /** The service is at fault or overloaded (5xx, 408, a 429 that says nothing of when): an attempt is spent and BullMQ's backoff applies. */
  | { kind: 'retriable' }
  /** 429 with a usable Retry-After: the task waits that long without spending an attempt. */
  | { kind: 'later'; delayMs: number };

/** Longest a Retry-After is honoured; a longer one is cut to this, so a task never waits out a misconfigured service for days. */
export const MAX_RETRY_AFTER_MS = 3600_000;

export function judgeStatus(status: number, retryAfter: string | undefined, nowMs: number): StatusVerdict {
  if (status >= 200 && status < 300) return { kind: 'result' };
  if (status === 429) {
    const delayMs = retryAfterMs(retryAfter, nowMs);
    return delayMs === undefined ? { kind: 'retriable' } : { kind: 'later', delayMs };
  }
  // 408: the service timed out reading our request, a transient fault on the way.
  if (status === 408) return { kind: 'retriable' };
  if (status >= 400 && status < 500) return { kind: 'permanent' };
  // 5xx, and anything a service has no business answering (1xx left over, 3xx: redirects are not followed).
  return status >= 500 ? { kind: 'retriable' } : { kind: 'permanent' };
}

/** Retry-After as delay-seconds or an HTTP-date, in ms from now (at least 0, at most MAX_RETRY_AFTER_MS); undefined when absent or unreadable. */
export function retryAfterMs(value: string | undefined, nowMs: number): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (/^[0-9]+$/.test(v)) return Math.min(MAX_RETRY_AFTER_MS, Number(v) * 1000);
  // An HTTP-date names a day of the week and GMT; Date.parse alone would take "1" or "2026" as dates.
  if (!/GMT$/.test(v)) return undefined;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.min(MAX_RETRY_AFTER_MS, Math.max(0, at - nowMs));
}

/** The media type of a Content-Type header, lower-cased, without parameters. */
export function mediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase();
}

export function isJsonType(media: string): boolean {
  return media === 'application/json' || /^application\/[a-z0-9.+-]+\+json$/.test(media);
}

export const NDJSON = 'application/x-ndjson';

/**
 * One line of a streamed answer: progress and usage (any number of them, first), then
 * exactly one result or error, last. `permanent: true` on an error fails the
 * task at once; otherwise it is retried like any thrown error.
 */
export const streamLineSchema = z.union([
  z.object({ progress: z.json() }).strict(),
  /** What the service spent since its last report (ctx.usage's shape, docs/budgets.md); any number of them, before the end. */
  z.object({ usage: z.json() }).strict(),
  z.object({ result: z.json() }).strict(),
  z.object({ error: z.json(), permanent: z.boolean().optional() }).strict(),
]);
export type StreamLine = z.infer<typeof streamLineSchema>;

export class LineTooLong extends Error {
  constructor(readonly maxBytes: number) {
    super(`a line of the stream is over ${maxBytes} bytes`);
  }
}

/**
 * Splits a byte stream into lines at "\n" (a trailing "\r" dropped), decoding
 * each whole line as UTF-8, so a character split across chunks is never
 * garbled. A line longer than the cap is an error, before it is all buffered.
 */
export class LineSplitter {
  private parts: Buffer[] = [];
  private held = 0;
  constructor(private readonly maxLineBytes: number) {}

  /** The complete lines in this chunk (empty lines skipped); throws when a line outgrows the cap. */
  push(chunk: Buffer): string[] {
    const lines: string[] = [];
    let from = 0;
    for (let nl = chunk.indexOf(10, from); nl !== -1; nl = chunk.indexOf(10, from)) {
      this.take(chunk.subarray(from, nl));
      lines.push(this.flush());
      from = nl + 1;
    }
    if (from < chunk.length) this.take(chunk.subarray(from));
    return lines.filter((l) => l.trim() !== '');
  }

  /** The last line, when the stream ended without a newline after it. */
  end(): string | undefined {
    const last = this.flush();
    return last.trim() === '' ? undefined : last;
  }

  private take(bytes: Buffer): void {
    this.held += bytes.length;
    if (this.held > this.maxLineBytes) throw new LineTooLong(this.maxLineBytes);
    if (bytes.length) this.parts.push(bytes);
  }

  private flush(): string {
    const line = Buffer.concat(this.parts).toString('utf8').replace(/\r$/, '');
    this.parts = [];
    this.held = 0;
    return line;
  }
}

/** The header a JSON answer reports its usage in: the JSON of one ctx.usage report. */
export const USAGE_HEADER = 'swarmq-usage';
