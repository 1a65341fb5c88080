// An HTTP agent's processor: the task goes to the user's service as a signed
// POST, and the answer (a JSON body, or a stream of progress lines ending in a
// result) comes back as the task's result or failure. The agent itself (its
// seat, heartbeats, breaker, votes, recovery) stays in the host; only the work
// is remote. The contract is docs/http-agents.md.
import http from 'node:http';
import https from 'node:https';
import { UnrecoverableError } from 'bullmq';
import type { Processor, TaskContext } from './processor.ts';
import { signedHeaders } from './httpSignature.ts';
import { isJsonType, judgeStatus, LineSplitter, LineTooLong, mediaType, NDJSON, streamLineSchema, USAGE_HEADER, type StreamLine } from './httpReply.ts';
import { RetryLaterError } from './retryLater.ts';
import { TaskRefusedError } from './taskRefused.ts';
import { exchangeOutcome, type ExchangeFacts, type ExchangeOutcome } from '../health/endpointHealth.ts';

export interface HttpProcessorOptions {
  /** The task type this processor runs (it goes in the request body). */
  type: string;
  /** The service's URL, http: or https:. */
  endpoint: string;
  /** Shared with the service, which checks each request's signature with it. */
  secret: string;
  /** Longest one request may take, from sending it to the answer's last byte; past it the connection is closed and the attempt fails (retriable). */
  timeoutMs: number;
  /** Connections kept open to the endpoint at most; requests beyond wait for one. Ignored when `agent` is given. */
  maxSockets: number;
  /** Largest JSON answer, and largest line of a streamed one. */
  maxResponseBytes?: number;
  /** Each `{ "progress": … }` line of a streamed answer, in order. */
  onProgress?: (ctx: TaskContext, value: unknown) => void;
  /** A keep-alive pool shared with other processors of the same endpoint (see keepAliveAgent). */
  agent?: http.Agent;
  /**
   * Each exchange that says something of the endpoint: whether it answered
   * (src/health/endpointHealth.ts). Not called for one the task's signal ended
   * (a cancel, the task's timeout, a shutdown): that says nothing of the service.
   */
  onExchange?: (e: ExchangeReport) => void;
  now?: () => number;
}

export interface ExchangeReport {
  /** The endpoint's name: origin and path (endpointName). */
  endpoint: string;
  outcome: ExchangeOutcome;
  sentAt: number;
  endedAt: number;
}

export type HttpProcessor = Processor & {
  /** Closes the endpoint's idle kept-alive connections (those of a given, shared agent are its owner's to close). */
  close(): void;
};

/** A retriable failure of the exchange, already worded with the endpoint and the task. */
export class HttpAgentFailure extends Error {
  override readonly name = 'HttpAgentFailure';
}

export const DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024;
const IDLE_SOCKET_MS = 4000;
/** How much of a refusal's body goes into the task's error. */
const ERROR_BODY_CHARS = 2000;

/** A keep-alive connection pool for one endpoint, at most maxSockets connections open. */
export function keepAliveAgent(endpoint: URL, maxSockets: number): http.Agent {
  // An idle connection is closed after 4 s, before a Node service's (5 s by default) would close it under a request
  // being sent (the Agent applies `timeout` to idle sockets only; a request's own time is timeoutMs).
  const o: http.AgentOptions = { keepAlive: true, maxSockets, maxFreeSockets: maxSockets, scheduling: 'lifo', timeout: IDLE_SOCKET_MS };
  return endpoint.protocol === 'https:' ? new https.Agent(o) : new http.Agent(o);
}

/** How errors and health name an endpoint: origin and path, never the query (it may hold a token). */
export function endpointName(url: URL): string {
  return `${url.origin}${url.pathname}`;
}

/** The endpoint as a URL, or an error saying what is wrong with it. */
export function endpointUrl(endpoint: string): URL {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new Error(`HTTP agent endpoint ${JSON.stringify(endpoint)} is not a URL; give one like http://127.0.0.1:8000/run`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`HTTP agent endpoint ${endpoint}: only http: and https: are supported`);
  if (url.username || url.password) throw new Error(`HTTP agent endpoint ${url.origin}${url.pathname}: put no credentials in the URL; the swarm signs each request with SWARMQ_AGENT_SECRET`);
  return url;
}

export function httpProcessor(o: HttpProcessorOptions): HttpProcessor {
  const url = endpointUrl(o.endpoint);
  const where = endpointName(url);
  const agent = o.agent ?? keepAliveAgent(url, o.maxSockets);
  const send: typeof http.request = url.protocol === 'https:' ? https.request : http.request;
  const maxBytes = o.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  const now = o.now ?? Date.now;

  const run = async (payload: unknown, ctx: TaskContext): Promise<unknown> => {
    const sentAt = now();
    const body = Buffer.from(
      JSON.stringify({ taskId: ctx.taskId, type: o.type, payload: payload ?? null, attempt: ctx.attempt, agentId: ctx.agentId, nodeId: ctx.nodeId, deadline: sentAt + o.timeoutMs, ...(ctx.feedback !== undefined ? { feedback: ctx.feedback, revision: ctx.revision } : {}) }),
    );
    // One signal for both ends of the request, the task's (cancel, its timeout, shutdown) and this
    // exchange's time limit; either closes the connection, so the service sees the request aborted.
    // A timer and a listener of our own, both undone when the exchange ends, so none outlives it.
    const stop = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      stop.abort();
    }, o.timeoutMs);
    const onTaskAbort = () => stop.abort(ctx.signal.reason);
    ctx.signal.addEventListener('abort', onTaskAbort, { once: true });
    const signal = stop.signal;
    // What the endpoint's health is judged by: filled in as the exchange goes.
    const seen: Pick<ExchangeFacts, 'status' | 'socketError'> = { status: undefined, socketError: undefined };
    const failure = (err: unknown): Error => {
      if (ctx.signal.aborted) return ctx.signal.reason instanceof Error ? ctx.signal.reason : new Error(`task ${ctx.taskId} was aborted`);
      if (timedOut) return new HttpAgentFailure(`HTTP agent ${where} did not finish task ${ctx.taskId} within ${o.timeoutMs} ms; the request was closed`);
      if (err instanceof UnrecoverableError || err instanceof RetryLaterError || err instanceof HttpAgentFailure) return err;
      const code = (err as NodeJS.ErrnoException | undefined)?.code;
      // A socket's error (ECONNREFUSED, ECONNRESET, EPIPE…) means the service could not be reached or dropped us; anything else is said as it is.
      if (code) {
        seen.socketError = code;
        return new HttpAgentFailure(`HTTP agent ${where} could not be reached for task ${ctx.taskId}: ${code} ${(err as Error).message}`);
      }
      return new HttpAgentFailure(`HTTP agent ${where}, task ${ctx.taskId}: ${(err as Error).message}`);
    };
    const report = () => {
      if (!o.onExchange) return;
      const outcome = exchangeOutcome({ taskAborted: ctx.signal.aborted, timedOut, ...seen });
      if (outcome) o.onExchange({ endpoint: where, outcome, sentAt, endedAt: now() });
    };
    try {
      const result = await exchange(body, sentAt, ctx, signal, failure, seen);
      report();
      return result;
    } catch (err) {
      report();
      throw err;
    } finally {
      clearTimeout(timer);
      ctx.signal.removeEventListener('abort', onTaskAbort);
    }
  };

  async function exchange(body: Buffer, sentAt: number, ctx: TaskContext, signal: AbortSignal, failure: (err: unknown) => Error, seen: { status: number | undefined }): Promise<unknown> {
    if (signal.aborted || ctx.signal.aborted) throw failure(signal.reason);
    const request = () =>
      new Promise<http.IncomingMessage>((resolve, reject) => {
        const req = send(url, {
          method: 'POST',
          agent,
          signal,
          headers: {
            'content-type': 'application/json',
            'content-length': body.length,
            accept: `application/json, ${NDJSON}`,
            ...signedHeaders(o.secret, body, sentAt, ctx.taskId, ctx.attempt, ctx.revision),
          },
        });
        req.on('error', (err) => reject(Object.assign(err, { reusedSocket: req.reusedSocket })));
        req.on('response', resolve);
        req.end(body);
      });
    let res: http.IncomingMessage;
    try {
      res = await request();
    } catch (err) {
      // A kept-alive connection the service closed while idle fails as it is reused, before any answer:
      // sent again once on a fresh one (the same Idempotency-Key, so a service that did see it can tell).
      const stale = (err as { reusedSocket?: boolean }).reusedSocket === true && ['ECONNRESET', 'EPIPE'].includes((err as NodeJS.ErrnoException).code ?? '');
      if (!stale || signal.aborted) throw failure(err);
      try {
        res = await request();
      } catch (again) {
        throw failure(again);
      }
    }
    seen.status = res.statusCode;
    try {
      // Usage in a header counts whatever the answer says: the service spent it.
      const spent = header(res, USAGE_HEADER);
      if (spent !== undefined) reportUsage(ctx, spent, 'its swarmq-usage header');
      return await answer(res, ctx);
    } catch (err) {
      // Whatever was left unread goes with the connection: it cannot be reused mid-answer.
      res.destroy();
      throw failure(err);
    }
  }

  async function answer(res: http.IncomingMessage, ctx: TaskContext): Promise<unknown> {
    const status = res.statusCode ?? 0;
    const verdict = judgeStatus(status, header(res, 'retry-after'), now());
    if (verdict.kind !== 'result') {
      const text = (await readCapped(res, maxBytes, true)).toString('utf8');
      const shown = text.length > ERROR_BODY_CHARS ? `${text.slice(0, ERROR_BODY_CHARS)}…` : text;
      const said = `HTTP agent ${where} answered ${status} for task ${ctx.taskId}${shown.trim() ? `: ${shown.trim()}` : ''}`;
      // A 4xx is the service judging the task; a 3xx (not followed) is an endpoint set up wrong, which its agents answer for.
      if (verdict.kind === 'permanent') throw status >= 400 && status < 500 ? new TaskRefusedError(said) : new UnrecoverableError(said);
      if (verdict.kind === 'later') throw new RetryLaterError(verdict.delayMs, `${said} (retry after ${verdict.delayMs} ms)`);
      throw new HttpAgentFailure(said);
    }
    if (status === 204) {
      res.resume();
      return null;
    }
    const media = mediaType(header(res, 'content-type'));
    if (media === NDJSON) return await streamed(res, ctx);
    if (!isJsonType(media)) throw new HttpAgentFailure(`HTTP agent ${where} answered ${status} with content-type ${JSON.stringify(media || 'none')} for task ${ctx.taskId}; expected application/json or ${NDJSON}`);
    const text = (await readCapped(res, maxBytes, false)).toString('utf8');
    try {
      // JSON.parse's output is JSON by construction: nothing more to check of a plain result.
      return JSON.parse(text) as unknown;
    } catch {
      throw new HttpAgentFailure(`HTTP agent ${where} answered ${status} with a body that is not JSON for task ${ctx.taskId}: ${excerpt(text)}`);
    }
  }

  async function streamed(res: http.IncomingMessage, ctx: TaskContext): Promise<unknown> {
    const lines = new LineSplitter(maxBytes);
    let last: Exclude<StreamLine, { progress: unknown } | { usage: unknown }> | undefined;
    const take = (line: string) => {
      if (last) throw new HttpAgentFailure(`HTTP agent ${where} sent a line after the ${'result' in last ? 'result' : 'error'} of task ${ctx.taskId}: ${excerpt(line)}`);
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        throw new HttpAgentFailure(`HTTP agent ${where} streamed a line that is not JSON for task ${ctx.taskId}: ${excerpt(line)}`);
      }
      const parsed = streamLineSchema.safeParse(value);
      if (!parsed.success) throw new HttpAgentFailure(`HTTP agent ${where} streamed a line that is none of {"progress"}, {"result"}, {"error"} for task ${ctx.taskId}: ${excerpt(line)}`);
      if ('progress' in parsed.data) o.onProgress?.(ctx, parsed.data.progress);
      else if ('usage' in parsed.data) reportUsage(ctx, parsed.data.usage, 'a usage line');
      else last = parsed.data;
    };
    try {
      for await (const chunk of res) for (const line of lines.push(chunk as Buffer)) take(line);
      const tail = lines.end();
      if (tail !== undefined) take(tail);
    } catch (err) {
      if (err instanceof LineTooLong) throw new HttpAgentFailure(`HTTP agent ${where} streamed a line over ${err.maxBytes} bytes for task ${ctx.taskId}`);
      throw err;
    }
    if (!last) throw new HttpAgentFailure(`HTTP agent ${where} ended the stream of task ${ctx.taskId} without a {"result"} or {"error"} line`);
    if ('result' in last) return last.result;
    const said = `HTTP agent ${where} reported task ${ctx.taskId} failed: ${typeof last.error === 'string' ? last.error : JSON.stringify(last.error)}`;
    throw last.permanent ? new TaskRefusedError(said) : new HttpAgentFailure(said);
  }

  /** A usage report from the service, counted as the processor's ctx.usage (the run settles it before finishing); one that is not a usage fails the attempt. */
  function reportUsage(ctx: TaskContext, value: unknown, place: string): void {
    let usage: unknown = value;
    if (typeof value === 'string') {
      try {
        usage = JSON.parse(value);
      } catch {
        throw new HttpAgentFailure(`HTTP agent ${where} sent usage in ${place} that is not JSON for task ${ctx.taskId}: ${excerpt(value)}`);
      }
    }
    try {
      void ctx.usage(usage as Parameters<TaskContext['usage']>[0]).catch(() => {});
    } catch (err) {
      throw new HttpAgentFailure(`HTTP agent ${where} sent usage in ${place} for task ${ctx.taskId} that is not one: ${(err as Error).message}`);
    }
  }

  async function readCapped(res: http.IncomingMessage, cap: number, truncate: boolean): Promise<Buffer> {
    const parts: Buffer[] = [];
    let size = 0;
    for await (const chunk of res) {
      const b = chunk as Buffer;
      if (size + b.length > cap) {
        if (!truncate) throw new HttpAgentFailure(`HTTP agent ${where} answered with a body over ${cap} bytes`);
        parts.push(b.subarray(0, cap - size));
        break;
      }
      size += b.length;
      parts.push(b);
    }
    return Buffer.concat(parts);
  }

  return Object.assign(run, {
    close: () => {
      if (!o.agent) agent.destroy();
    },
  });
}

function header(res: http.IncomingMessage, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function excerpt(text: string): string {
  const t = text.length > 200 ? `${text.slice(0, 200)}…` : text;
  return JSON.stringify(t);
}
