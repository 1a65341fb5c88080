// The Host and Origin decisions of the web guard (src/api/webGuard.ts), and the
// settings that feed them, without a server.
import { describe, expect, it } from 'vitest';
import { parseAuthority } from '../../src/api/authority.ts';
import { hostVerdict, originVerdict, webPolicy, type WebPolicy } from '../../src/api/webGuard.ts';
import { loadConfig } from '../../src/config/settings.ts';

function policy(listenHost: string, allowed: string[] = [], token = false): WebPolicy {
  return webPolicy({ host: listenHost, allowedHosts: allowed, ...(token ? { apiToken: 't' } : {}) });
}

const accepted = (p: WebPolicy, host: string | undefined, scheme = 'http') => hostVerdict(p, host, scheme).ok;

describe('hostVerdict', () => {
  it('on loopback, serves addresses, localhost and the listen name on any port, and refuses any other name', () => {
    const p = policy('127.0.0.1');
    for (const h of ['127.0.0.1:3000', '127.0.0.1', 'localhost:3000', 'localhost:8080', '[::1]:3000', 'LocalHost:1', '10.0.0.5:3000']) expect(accepted(p, h), h).toBe(true);
    for (const h of ['attacker.example', 'attacker.example:3000', 'localhost.attacker.example:3000', '127.0.0.1.nip.io:3000', 'localhost.', 'swarm']) expect(accepted(p, h), h).toBe(false);
  });

  it('refuses a missing or malformed Host, saying what to do', () => {
    const p = policy('127.0.0.1');
    for (const h of [undefined, '', 'a b', 'host:', 'host:99999', '[zz]:1', 'user@host', 'host/path', '[::1']) {
      const v = hostVerdict(p, h, 'http');
      expect(v.ok, String(h)).toBe(false);
    }
    const v = hostVerdict(p, 'attacker.example', 'http');
    expect(v.ok === false && v.message).toMatch(/SWARMQ_ALLOWED_HOSTS/);
  });

  it('serves the name it listens on, and the allowed names (a port where one is given: no port is the scheme default)', () => {
    const p = policy('swarm.internal', ['swarm.example.com', 'ops.example.com:8443', 'web.example.com:443', '[fd00::1]:80']);
    for (const h of ['swarm.internal:3000', 'swarm.example.com', 'swarm.example.com:1', 'ops.example.com:8443', 'SWARM.EXAMPLE.COM']) expect(accepted(p, h), h).toBe(true);
    for (const h of ['ops.example.com', 'ops.example.com:8444', 'web.example.com', 'example.com', 'x.swarm.example.com']) expect(accepted(p, h), h).toBe(false);
    expect(accepted(p, 'web.example.com', 'https')).toBe(true);
  });

  it('on every interface, serves any Host only when a token is set', () => {
    for (const listen of ['0.0.0.0', '::', '[::]']) {
      expect(accepted(policy(listen), 'swarm.example.com:3000'), listen).toBe(false);
      expect(accepted(policy(listen), '172.17.0.2:3000'), listen).toBe(true);
      expect(accepted(policy(listen), 'localhost:8080'), listen).toBe(true);
      expect(accepted(policy(listen, [], true), 'swarm.example.com:3000'), listen).toBe(true);
    }
    // A token does not widen a specific address: nothing there needs it.
    expect(accepted(policy('127.0.0.1', [], true), 'attacker.example')).toBe(false);
  });
});

describe('originVerdict', () => {
  const p = policy('127.0.0.1', ['swarm.example.com']);
  const host = parseAuthority('127.0.0.1:3000')!;
  const ok = (method: string, origin: string | undefined, fetchSite?: string, h = host) => originVerdict(p, { method, host: h, origin, fetchSite }).ok;

  it('lets reads through from anywhere', () => {
    for (const m of ['GET', 'HEAD', 'OPTIONS']) expect(ok(m, 'https://attacker.example', 'cross-site'), m).toBe(true);
  });

  it('serves changes from tools, from this origin and from allowed names', () => {
    expect(ok('POST', undefined)).toBe(true);
    expect(ok('POST', undefined, 'same-origin')).toBe(true);
    expect(ok('POST', undefined, 'none')).toBe(true);
    expect(ok('POST', 'http://127.0.0.1:3000')).toBe(true);
    expect(ok('DELETE', 'http://127.0.0.1:3000', 'same-origin')).toBe(true);
    expect(ok('PUT', 'https://swarm.example.com')).toBe(true);
    // A TLS proxy that passes the Host on: https://x and Host x are one place.
    expect(ok('POST', 'https://swarm.internal', undefined, parseAuthority('swarm.internal')!)).toBe(true);
    expect(ok('POST', 'http://[::1]:3000', undefined, parseAuthority('[::1]:3000')!)).toBe(true);
  });

  it('refuses changes from another site, another origin of this site, or an opaque origin', () => {
    expect(ok('POST', 'https://attacker.example')).toBe(false);
    expect(ok('POST', undefined, 'cross-site')).toBe(false);
    expect(ok('POST', 'http://127.0.0.1:3000', 'cross-site')).toBe(false);
    expect(ok('POST', undefined, 'same-site')).toBe(false);
    expect(ok('POST', 'http://127.0.0.1:8080', 'same-site')).toBe(false);
    expect(ok('POST', 'http://127.0.0.1:8080')).toBe(false);
    expect(ok('POST', 'http://localhost:3000')).toBe(false);
    expect(ok('PATCH', 'null')).toBe(false);
    expect(ok('POST', 'file://')).toBe(false);
    expect(ok('POST', 'https://swarm.example.com.attacker.example')).toBe(false);
  });
});

describe('settings', () => {
  it('reads SWARMQ_ALLOWED_HOSTS as a comma-separated list and refuses an entry that is not host[:port]', () => {
    expect(loadConfig({ SWARMQ_ALLOWED_HOSTS: ' a.example.com, b.example.com:8443 ,' }).http.allowedHosts).toEqual(['a.example.com', 'b.example.com:8443']);
    expect(() => loadConfig({ SWARMQ_ALLOWED_HOSTS: 'https://a.example.com' })).toThrow(/SWARMQ_ALLOWED_HOSTS/);
  });

  it('reads SWARMQ_TRUST_PROXY as off, on, a hop count or proxy addresses, and refuses anything else', () => {
    expect(loadConfig({}).http.trustProxy).toBe(false);
    expect(loadConfig({ SWARMQ_TRUST_PROXY: 'false' }).http.trustProxy).toBe(false);
    expect(loadConfig({ SWARMQ_TRUST_PROXY: '0' }).http.trustProxy).toBe(false);
    expect(loadConfig({ SWARMQ_TRUST_PROXY: 'true' }).http.trustProxy).toBe(true);
    expect(loadConfig({ SWARMQ_TRUST_PROXY: '2' }).http.trustProxy).toBe(2);
    expect(loadConfig({ SWARMQ_TRUST_PROXY: 'loopback, 10.0.0.0/8, fd00::/8, 192.168.0.0/255.255.0.0' }).http.trustProxy).toBe('loopback, 10.0.0.0/8, fd00::/8, 192.168.0.0/255.255.0.0');
    for (const bad of ['yes', '10.0.0.0/33', 'proxy.example.com', 'loopback,,']) expect(() => loadConfig({ SWARMQ_TRUST_PROXY: bad }), bad).toThrow(/SWARMQ_TRUST_PROXY/);
  });
});
