// A swarmq HTTP agent service in plain Node (built-ins only). It checks each
// request's signature, runs the task, and answers as docs/http-agents.md says.
// The "work" is a toy writer; the payload fields below show each part of the
// contract at work (a retriable failure, a refusal, a rate limit, progress).
//
//   SWARMQ_AGENT_SECRET=… PORT=8000 node examples/node-agent/server.mjs
//
// It prints one JSON line per event on stdout ({"event":"listening","port":…},
// started, done, aborted, refused), which the swarm's tests read.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';

const SECRET = process.env.SWARMQ_AGENT_SECRET;
if (!SECRET) {
  console.error('set SWARMQ_AGENT_SECRET to the secret the swarm signs requests with');
  process.exit(2);
}
const PORT = Number(process.env.PORT ?? 8000);
const TOLERANCE_MS = 5 * 60_000;
const MAX_BODY = 1024 * 1024;

const log = (event, fields = {}) => console.log(JSON.stringify({ event, ...fields }));

/** The check of docs/http-agents.md: a fresh timestamp, and HMAC-SHA256 of "v1:<timestamp>:<body>". */
function verify(headers, body) {
  const ts = headers['x-swarmq-timestamp'];
  const sig = headers['x-swarmq-signature'];
  if (typeof ts !== 'string' || !/^[0-9]{1,16}$/.test(ts)) return 'missing or malformed x-swarmq-timestamp';
  if (Math.abs(Date.now() - Number(ts)) > TOLERANCE_MS) return 'stale x-swarmq-timestamp';
  if (typeof sig !== 'string') return 'missing x-swarmq-signature';
  const mac = createHmac('sha256', SECRET).update(`v1:${ts}:`).update(body).digest('hex');
  const expected = Buffer.from(`v1=${mac}`);
  const given = Buffer.from(sig);
  return given.length === expected.length && timingSafeEqual(given, expected) ? null : 'bad signature';
}

// Answers already given, by Idempotency-Key, for as long as a signed request can be replayed.
const answered = new Map();
// Tasks already told to come back later (rateLimitSeconds), so the next call runs.
const limited = new Set();

const sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(t), reject(new Error('aborted'))), { once: true });
  });

function json(res, status, value, headers = {}) {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

async function handle(task, res, signal) {
  const p = task.payload && typeof task.payload === 'object' ? task.payload : {};
  if (typeof p.reject === 'string') return json(res, 422, { error: p.reject });
  if (Number.isInteger(p.failAttempts) && task.attempt <= p.failAttempts) return json(res, 503, { error: `attempt ${task.attempt} fails on purpose` });
  if (Number.isInteger(p.rateLimitSeconds) && !limited.has(task.taskId)) {
    limited.add(task.taskId);
    return json(res, 429, { error: 'busy' }, { 'retry-after': String(p.rateLimitSeconds) });
  }
  if (Number.isInteger(p.sleepMs)) await sleep(p.sleepMs, signal);
  const result = { written: typeof p.text === 'string' ? p.text.toUpperCase() : null, type: task.type, attempt: task.attempt, agentId: task.agentId, by: 'node' };
  if (Number.isInteger(p.progress)) {
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    for (let i = 1; i <= p.progress; i++) {
      res.write(`${JSON.stringify({ progress: { step: i, of: p.progress } })}\n`);
      await sleep(p.stepMs ?? 10, signal);
    }
    res.end(`${JSON.stringify({ result })}\n`);
    return result;
  }
  json(res, 200, result);
  return result;
}

const server = createServer((req, res) => {
  if (req.method !== 'POST' || req.url !== '/run') return json(res, 404, { error: 'POST /run' });
  const parts = [];
  let size = 0;
  req.on('data', (c) => {
    size += c.length;
    if (size > MAX_BODY) req.destroy();
    else parts.push(c);
  });
  req.on('end', async () => {
    const body = Buffer.concat(parts);
    const refused = verify(req.headers, body);
    if (refused) {
      log('refused', { why: refused });
      return json(res, 401, { error: refused });
    }
    const key = req.headers['idempotency-key'];
    if (answered.has(key)) return json(res, 200, answered.get(key).result);
    let task;
    try {
      task = JSON.parse(body.toString('utf8'));
    } catch {
      return json(res, 400, { error: 'the body is not JSON' });
    }
    // The swarm closes the connection when it cancels the task or its time is up: stop working then.
    const stop = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) {
        stop.abort();
        log('aborted', { taskId: task.taskId });
      }
    });
    log('started', { taskId: task.taskId, attempt: task.attempt });
    try {
      const result = await handle(task, res, stop.signal);
      if (result !== undefined) {
        answered.set(key, { result, at: Date.now() });
        log('done', { taskId: task.taskId });
      }
    } catch (err) {
      if (stop.signal.aborted) return;
      // Mid-stream the status is sent: closing the connection is how the swarm learns of the failure.
      if (res.headersSent) res.destroy();
      else json(res, 500, { error: err.message });
    }
  });
});
// Idle connections stay open longer than the swarm keeps them (4 s), so it closes them, never us mid-send.
server.keepAliveTimeout = 10_000;
setInterval(() => {
  for (const [k, v] of answered) if (Date.now() - v.at > TOLERANCE_MS) answered.delete(k);
}, 60_000).unref();
server.listen(PORT, '127.0.0.1', () => log('listening', { port: server.address().port }));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
