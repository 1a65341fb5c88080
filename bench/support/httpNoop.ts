// The HTTP agent contender's service: a no-op endpoint on loopback in the
// bench process, as a real service would be written: it reads the body,
// checks the signature, reports the start to the probe, answers JSON null.
// (In this process, so its start is timed on the same clock as the submit;
// its CPU counts in this process's CPU per task.)
import { createServer, type Server } from 'node:http';
import { verifySignature } from '../../src/agents/httpSignature.ts';
import { seqOf, type StartProbe } from './measure.ts';

export interface NoopService {
  url: string;
  close(): Promise<void>;
}

export async function startNoopService(secret: string, probe: StartProbe): Promise<NoopService> {
  const server: Server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const body = Buffer.concat(parts);
      const one = (name: string) => {
        const v = req.headers[name];
        return Array.isArray(v) ? v[0] : v;
      };
      const verdict = verifySignature(secret, { timestamp: one('x-swarmq-timestamp'), signature: one('x-swarmq-signature') }, body, Date.now());
      if (!verdict.ok) {
        res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: verdict.why }));
        return;
      }
      probe.onStart(seqOf((JSON.parse(body.toString('utf8')) as { payload: unknown }).payload));
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': 4 }).end('null');
    });
  });
  server.keepAliveTimeout = 10_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}/run`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
