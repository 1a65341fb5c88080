// Secrets given as files (`<VAR>_FILE`): read at start, refused when ambiguous,
// missing or empty, with the path and the variables named.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig, secretSettings } from '../../src/config/settings.ts';
import { withSecretFiles } from '../../src/config/secretFiles.ts';

const dir = mkdtempSync(join(tmpdir(), 'swarmq-secrets-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text, { mode: 0o600 });
  return p;
};

describe('secrets from files', () => {
  it('the API token and the Redis password may come from files', () => {
    expect(secretSettings()).toEqual(expect.arrayContaining(['SWARMQ_API_TOKEN', 'SWARMQ_REDIS_PASSWORD']));
  });

  it('reads SWARMQ_API_TOKEN_FILE, dropping one trailing newline only', () => {
    const c = loadConfig({ SWARMQ_API_TOKEN_FILE: file('token', 'tok en\n') });
    expect(c.http.apiToken).toBe('tok en');
    expect(loadConfig({ SWARMQ_API_TOKEN_FILE: file('token2', 'x\n\n') }).http.apiToken).toBe('x\n');
  });

  it('refuses a variable set both ways, naming both', () => {
    expect(() => loadConfig({ SWARMQ_API_TOKEN: 'a', SWARMQ_API_TOKEN_FILE: file('t3', 'b') })).toThrow('SWARMQ_API_TOKEN and SWARMQ_API_TOKEN_FILE are both set');
  });

  it('fails with the path when the file is missing, empty or unreadable', () => {
    const missing = join(dir, 'nope');
    expect(() => loadConfig({ SWARMQ_API_TOKEN_FILE: missing })).toThrow(`SWARMQ_API_TOKEN_FILE=${missing}: cannot read it (no such file)`);
    const empty = file('empty', '\n');
    expect(() => loadConfig({ SWARMQ_API_TOKEN_FILE: empty })).toThrow(`SWARMQ_API_TOKEN_FILE=${empty}: the file is empty`);
    expect(() => loadConfig({ SWARMQ_API_TOKEN_FILE: dir })).toThrow(`SWARMQ_API_TOKEN_FILE=${dir}: cannot read it (a directory, not a file)`);
    if (process.getuid?.() !== 0) {
      const locked = file('locked', 'secret');
      chmodSync(locked, 0o000);
      expect(() => loadConfig({ SWARMQ_API_TOKEN_FILE: locked })).toThrow(`SWARMQ_API_TOKEN_FILE=${locked}: cannot read it (permission denied)`);
    }
  });

  it('leaves variables without a _FILE, and names it is not asked about, alone', () => {
    const env = { A: 'x', B_FILE: file('b', 'y') };
    expect(withSecretFiles(env, ['A'])).toEqual(env);
    expect(withSecretFiles(env, ['B'])).toMatchObject({ B: 'y' });
  });
});

describe('SWARMQ_REDIS_PASSWORD', () => {
  it("goes into the URL of the user it names, never beside a password the URL has", () => {
    const c = loadConfig({ REDIS_URL: 'redis://swarmq-host-h1@redis:6379', SWARMQ_REDIS_PASSWORD_FILE: file('pw', 'p@ss/w:rd\n') });
    expect(c.redis.kind).toBe('single');
    const url = new URL((c.redis as { url: string }).url);
    expect([decodeURIComponent(url.username), decodeURIComponent(url.password), url.host]).toEqual(['swarmq-host-h1', 'p@ss/w:rd', 'redis:6379']);
    expect(() => loadConfig({ REDIS_URL: 'redis://u:old@redis:6379', SWARMQ_REDIS_PASSWORD: 'new' })).toThrow(/redisPassword \(SWARMQ_REDIS_PASSWORD or its flag\): the Redis URL carries a password/);
  });

  it("is every Cluster node's password", () => {
    const c = loadConfig({ REDIS_URL: 'redis://u@a:7000,redis://u@b:7001', SWARMQ_REDIS_PASSWORD: 'pw' });
    expect(c.redis).toMatchObject({ kind: 'cluster', username: 'u', password: 'pw' });
  });
});
