// Certified consensus set up as an operator would, from the command line:
// `swarmq trust init`, `swarmq trust enroll` for two hosts and a coordinator,
// then `swarmq agents` and `swarmq coordinator` as child processes given the
// anchor and their identity files by environment. A PBFT proposal over HTTP
// decides with `certified: true`; a host given another host's identity does
// not start, and says which file and which id.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliFleet, spawnCli } from '../support/cli.ts';
import { freePort, redisForFile, uniquePrefix } from '../support/redis.ts';
import { until } from '../support/swarm.ts';

const redis = redisForFile();
const fleet = new CliFleet();
const dir = mkdtempSync(join(tmpdir(), 'swarmq-trust-cli-'));
const trustDir = join(dir, 'trust');
const prefix = uniquePrefix('trustcli');
let anchor = '';
let base = '';

async function cli(args: string[]): Promise<string> {
  const c = spawnCli(args);
  const { code } = await c.exited;
  if (code !== 0) throw new Error(`swarmq ${args.join(' ')} exited ${code}: ${c.output()}`);
  return c.output();
}

const env = (extra: Record<string, string>) => ({ REDIS_URL: redis.url, SWARMQ_PREFIX: prefix, SWARMQ_HEARTBEAT_INTERVAL_MS: '200', SWARMQ_TRUST_ANCHOR: anchor, ...extra });

beforeAll(async () => {
  anchor = /SWARMQ_TRUST_ANCHOR=(\S+)/.exec(await cli(['trust', 'init', '--dir', trustDir]))![1]!;
  await Promise.all([cli(['trust', 'enroll', '--host', 'th1', '--authority', join(trustDir, 'authority.json')]), cli(['trust', 'enroll', '--host', 'th2', '--authority', join(trustDir, 'authority.json')]), cli(['trust', 'enroll', '--proposer', 'c1', '--authority', join(trustDir, 'authority.json')])]);
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  fleet.spawn(['coordinator'], { env: env({ PORT: String(port), SWARMQ_PROPOSER_IDENTITY_FILE: join(trustDir, 'proposer-c1.json') }) });
  for (const h of ['th1', 'th2']) fleet.spawn(['agents', '--count', '2', '--type', 'voter', '--host-id', h], { env: env({ SWARMQ_HOST_IDENTITY_FILE: join(trustDir, `host-${h}.json`) }) });
  // Child processes can take long to start on a loaded box: a generous bound, not a speed claim.
  await until(async () => (await fetch(`${base}/healthz`).catch(() => null))?.ok, 45_000, 'the child coordinator');
  await until(async () => {
    const res = await fetch(`${base}/api/agents`).then((r) => r.json() as Promise<{ agents?: unknown[] }>, () => undefined);
    return (res?.agents?.length ?? 0) >= 4;
  }, 45_000, 'four agents');
}, 90_000);

afterAll(() => {
  fleet.killAll();
  rmSync(dir, { recursive: true, force: true });
});

describe('certified consensus from the command line', () => {
  it('decides a PBFT proposal among enrolled hosts, certified', async () => {
    const res = await fetch(`${base}/api/proposals`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ protocol: 'pbft', value: { release: 'signed' }, participants: { count: 4, type: 'voter' } }) });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    const view = await until(async () => {
      const v = (await fetch(`${base}/api/proposals/${id}`).then((r) => r.json())) as { state: string; outcome: Record<string, unknown> };
      return v.state === 'completed' ? v : undefined;
    }, 20_000, 'the proposal to complete');
    expect(view.outcome).toMatchObject({ decided: true, value: { release: 'signed' }, certified: true });
  });

  it("a host started with another host's identity refuses to start, naming the file and both ids", async () => {
    const wrong = spawnCli(['agents', '--count', '1', '--host-id', 'th3'], { env: env({ SWARMQ_HOST_IDENTITY_FILE: join(trustDir, 'host-th1.json') }) });
    const { code } = await wrong.exited;
    expect(code).not.toBe(0);
    expect(wrong.output()).toMatch(/host-th1\.json enrolls host "th1", but this host is "th3"/);
  });
});
