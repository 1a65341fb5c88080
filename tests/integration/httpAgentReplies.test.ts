// An HTTP agent's processor against a service that answers badly: each kind of
// garbage is a retriable failure naming the endpoint, never a result; a stream's
// error line fails the attempt (for good when it says permanent); an answer
// over the cap is refused; and each exchange is reported as answered or not,
// for the endpoint's health. A real server on loopback, no swarm needed.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { UnrecoverableError } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpAgentFailure, httpProcessor, type ExchangeReport } from '../../src/agents/httpAgent.ts';
import { verifySignature } from '../../src/agents/httpSignature.ts';
import { TaskRefusedError } from '../../src/agents/taskRefused.ts';
import { freePort } from '../../src/cli/redisServer.ts';

const SECRET = 'replies-secret-0123456789';
type Reply = (res: ServerResponse, req: IncomingMessage, body: Buffer) => void;
const replies: Record<string, Reply> = {
  html: (res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>oops</html>'),
  notJson: (res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"half": '),
  big: (res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ s: 'x'.repeat(5000) })),
  lineAfterResult: (res) => res.writeHead(200, { 'content-type': 'application/x-ndjson' }).end('{"result":1}\n{"progress":2}\n'),
  unknownLine: (res) => res.writeHead(200, { 'content-type': 'application/x-ndjson' }).end('{"progress":1}\n{"status":"ok"}\n'),
  noLastLine: (res) => res.writeHead(200, { 'content-type': 'application/x-ndjson' }).end('{"progress":1}\n'),
  streamError: (res) => res.writeHead(200, { 'content-type': 'application/x-ndjson' }).end('{"progress":1}\n{"error":"model overloaded"}\n'),
  streamPermanent: (res) => res.writeHead(200, { 'content-type': 'application/x-ndjson' }).end('{"error":{"code":"bad_input"},"permanent":true}'),
  tailWithoutNewline: (res) => res.writeHead(200, { 'content-type': 'application/x-ndjson' }).end('{"progress":"é"}\n{"result":{"ok":"ü"}}'),
  noContent: (res) => res.writeHead(204).end(),
  retryLaterNoHeader: (res) => res.writeHead(429).end('slow down'),
  redirect: (res) => res.writeHead(302, { location: 'http://example.com/' }).end(),
  unprocessable: (res) => res.writeHead(422).end('no such document'),
  unavailable: (res) => res.writeHead(503).end('down for maintenance'),
  ok: (res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'),
  reset: (_res, req) => req.socket.destroy(),
  hang: () => {},
  signed: (res, req, body) => {
    const one = (n: string) => req.headers[n] as string | undefined;
    const v = verifySignature(SECRET, { timestamp: one('x-swarmq-timestamp'), signature: one('x-swarmq-signature') }, body, Date.now());
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ verdict: v, key: one('idempotency-key'), sent: JSON.parse(body.toString('utf8')) }));
  },
};

let server: Server;
let base = '';
beforeAll(async () => {
  server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => replies[req.url!.slice(1)]!(res, req, Buffer.concat(parts)));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

async function call(path: string, progress: unknown[] = [], o: { onExchange?: (e: ExchangeReport) => void; timeoutMs?: number; signal?: AbortSignal; endpoint?: string } = {}): Promise<unknown> {
  const p = httpProcessor({
    type: 'w',
    endpoint: o.endpoint ?? `${base}/${path}`,
    secret: SECRET,
    timeoutMs: o.timeoutMs ?? 3000,
    maxSockets: 2,
    maxResponseBytes: 2048,
    onProgress: (_ctx, v) => progress.push(v),
    ...(o.onExchange ? { onExchange: o.onExchange } : {}),
  });
  try {
    return await Promise.resolve(p({ text: 'hi' }, { taskId: 'n1.t1', agentId: 'h-a1', nodeId: 'n1', attempt: 2, signal: o.signal ?? new AbortController().signal, progress: () => {}, usage: async () => ({ task: null, key: null }) }));
  } finally {
    p.close();
  }
}

async function failure(path: string, o: Parameters<typeof call>[2] = {}): Promise<Error> {
  return await call(path, [], o).then(
    (v) => {
      throw new Error(`expected a failure, got ${JSON.stringify(v)}`);
    },
    (e: unknown) => e as Error,
  );
}

describe('an HTTP agent answered badly', () => {
  it.each([
    ['html', /answered 200 with content-type "text\/html".*expected application\/json/],
    ['notJson', /answered 200 with a body that is not JSON/],
    ['big', /body over 2048 bytes/],
    ['lineAfterResult', /sent a line after the result/],
    ['unknownLine', /none of \{"progress"\}, \{"result"\}, \{"error"\}/],
    ['noLastLine', /ended the stream of task n1\.t1 without a \{"result"\} or \{"error"\} line/],
    ['streamError', /reported task n1\.t1 failed: model overloaded/],
    ['retryLaterNoHeader', /answered 429 for task n1\.t1: slow down/],
  ])('%s: a retriable failure naming the endpoint', async (path, message) => {
    const err = await failure(path);
    expect(err).toBeInstanceOf(HttpAgentFailure);
    expect(err).not.toBeInstanceOf(UnrecoverableError);
    expect(err.message).toContain(`HTTP agent ${base}/${path}`);
    expect(err.message).toMatch(message);
  });

  it('a permanent stream error and a redirect fail for good', async () => {
    const permanent = await failure('streamPermanent');
    expect(permanent).toBeInstanceOf(UnrecoverableError);
    expect(permanent.message).toContain('{"code":"bad_input"}');
    expect(await failure('redirect')).toBeInstanceOf(UnrecoverableError);
  });

  it("a 4xx and a permanent stream error are the task's fault (not counted by the breaker); a redirect, a 5xx are not", async () => {
    const refused = await failure('unprocessable');
    expect(refused).toBeInstanceOf(TaskRefusedError);
    expect(refused).toBeInstanceOf(UnrecoverableError);
    // BullMQ also goes by the name to fail a task for good.
    expect(refused.name).toBe('UnrecoverableError');
    expect(refused.message).toMatch(/answered 422 for task n1\.t1: no such document/);
    expect(await failure('streamPermanent')).toBeInstanceOf(TaskRefusedError);
    expect(await failure('redirect')).not.toBeInstanceOf(TaskRefusedError);
    expect(await failure('unavailable')).not.toBeInstanceOf(TaskRefusedError);
  });

  it('reports each exchange as answered (any status below 500) or not (5xx, reset, refused, timed out), and nothing for a cancelled one', async () => {
    const outcome = async (path: string, o: Parameters<typeof call>[2] = {}): Promise<ExchangeReport[]> => {
      const seen: ExchangeReport[] = [];
      await call(path, [], { ...o, onExchange: (e) => seen.push(e) }).catch(() => {});
      return seen;
    };
    for (const path of ['ok', 'noContent', 'html', 'notJson', 'streamError', 'unprocessable', 'retryLaterNoHeader', 'redirect']) {
      const seen = await outcome(path);
      expect(seen.map((e) => e.outcome), path).toEqual(['answered']);
      expect(seen[0]!.endpoint).toBe(`${base}/${path}`);
    }
    for (const path of ['unavailable', 'reset']) expect((await outcome(path)).map((e) => e.outcome), path).toEqual(['unanswered']);
    const before = Date.now();
    const late = await outcome('hang', { timeoutMs: 200 });
    expect(late).toMatchObject([{ outcome: 'unanswered' }]);
    expect(late[0]!.sentAt).toBeGreaterThanOrEqual(before);
    expect(late[0]!.endedAt - late[0]!.sentAt).toBeGreaterThanOrEqual(200);
    const nobody = `http://127.0.0.1:${await freePort()}/run`;
    expect(await outcome('refused', { endpoint: nobody })).toMatchObject([{ outcome: 'unanswered', endpoint: nobody }]);
    // The task's signal (a cancel, its own timeout, a shutdown) says nothing of the service.
    const cancel = new AbortController();
    setTimeout(() => cancel.abort(new Error('cancelled')), 100);
    expect(await outcome('hang', { signal: cancel.signal })).toEqual([]);
  });

  it('takes a last line without a newline, characters intact, and a 204 as null', async () => {
    const progress: unknown[] = [];
    expect(await call('tailWithoutNewline', progress)).toEqual({ ok: 'ü' });
    expect(progress).toEqual(['é']);
    expect(await call('noContent')).toBeNull();
  });

  it('sends the documented body and headers, signed', async () => {
    const before = Date.now();
    const got = (await call('signed')) as { verdict: unknown; key: string; sent: Record<string, unknown> };
    expect(got.verdict).toEqual({ ok: true });
    expect(got.key).toBe('n1.t1:2');
    expect(got.sent).toMatchObject({ taskId: 'n1.t1', type: 'w', payload: { text: 'hi' }, attempt: 2, agentId: 'h-a1', nodeId: 'n1' });
    expect(got.sent.deadline).toBeGreaterThanOrEqual(before + 3000);
  });
});
