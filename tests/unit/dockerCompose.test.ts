// Static checks of docker-compose.yml, the Dockerfile and .dockerignore: no
// Docker engine is needed. They guard the deployment's promises (durable Redis,
// one shared swarm, agent hosts that scale) against drift from the CLI.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it, expect } from 'vitest';
import { parse } from 'yaml';
import { aclUserName } from '../../src/security/aclRules.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const read = (p: string): string => readFileSync(join(root, p), 'utf8');

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const compose = parse(read('docker-compose.yml')) as unknown;
if (!isObj(compose) || !isObj(compose.services)) throw new Error('docker-compose.yml has no services mapping');
const services = compose.services;

function service(name: string): Obj {
  const s = services[name];
  if (!isObj(s)) throw new Error(`service "${name}" missing from docker-compose.yml`);
  return s;
}

/** A compose command (string or list) as a list of words. */
function words(cmd: unknown): string[] {
  if (Array.isArray(cmd)) return cmd.map(String);
  if (typeof cmd === 'string') return cmd.trim().split(/\s+/);
  return [];
}

/** The value following `flag` in a word list (`--flag value` or `--flag=value`). */
function flagValue(ws: string[], flag: string): string | undefined {
  for (let i = 0; i < ws.length; i++) {
    const w = ws[i]!;
    if (w === flag) return ws[i + 1];
    if (w.startsWith(`${flag}=`)) return w.slice(flag.length + 1);
  }
  return undefined;
}

/** environment as a map, from either the mapping or the KEY=VALUE list form. */
function env(s: Obj): Record<string, string> {
  const e = s.environment;
  const out: Record<string, string> = {};
  if (Array.isArray(e)) {
    for (const item of e) {
      const str = String(item);
      const eq = str.indexOf('=');
      if (eq > 0) out[str.slice(0, eq)] = str.slice(eq + 1);
    }
  } else if (isObj(e)) {
    for (const [k, v] of Object.entries(e)) out[k] = v === null ? '' : String(v);
  }
  return out;
}

/** Compose duration ("30s", "1m30s", "500ms") in seconds. */
function seconds(d: unknown): number {
  const str = String(d ?? '');
  const units: Record<string, number> = { h: 3600, m: 60, s: 1, ms: 0.001, us: 1e-6 };
  let total = 0;
  let matched = '';
  for (const m of str.matchAll(/(\d+(?:\.\d+)?)(ms|us|h|m|s)/g)) {
    total += Number(m[1]) * units[m[2]!]!;
    matched += m[0];
  }
  if (matched === '' || matched !== str) throw new Error(`not a compose duration: "${str}"`);
  return total;
}

/** The host side of a compose port entry, or undefined when none is bound. */
function hostPort(p: unknown): string | undefined {
  if (isObj(p)) return p.published === undefined ? undefined : String(p.published);
  const parts = String(p).split('/')[0]!.split(':');
  return parts.length >= 2 ? parts[parts.length - 2] : undefined;
}

/** The CLI's subcommands, from src/cli/main.ts when it exists. */
function cliCommands(): { names: string[]; source: string } {
  const file = join(root, 'src/cli/main.ts');
  if (existsSync(file)) {
    const names = [...readFileSync(file, 'utf8').matchAll(/\.command\(\s*['"`]([\w-]+)/g)].map((m) => m[1]!);
    if (names.length > 0) return { names, source: 'src/cli/main.ts' };
  }
  // Fallback while the CLI is not written yet: the commands it is specified to have.
  return { names: ['start', 'coordinator', 'agents', 'submit', 'status'], source: 'the expected list' };
}

const dockerfile = read('Dockerfile');

/** A Dockerfile instruction's exec-form (JSON array) argument. */
function execForm(instruction: string): string[] {
  const m = dockerfile.match(new RegExp(`^\\s*${instruction}\\s+(\\[.*\\])\\s*$`, 'im'));
  if (!m) throw new Error(`Dockerfile has no exec-form ${instruction}`);
  return JSON.parse(m[1]!) as string[];
}

describe('docker-compose.yml', () => {
  it('defines redis, coordinator and agents', () => {
    expect(Object.keys(services)).toEqual(expect.arrayContaining(['redis', 'coordinator', 'agents']));
  });

  it('runs Redis 7 with AOF and fsync on every write, on a named volume', () => {
    const redis = service('redis');
    expect(String(redis.image)).toMatch(/^redis:7(\.|-|$)/);
    const cmd = words(redis.command);
    expect(cmd[0]).toBe('redis-server');
    expect(flagValue(cmd, '--appendonly')).toBe('yes');
    expect(flagValue(cmd, '--appendfsync')).toBe('always');

    const volumes = (redis.volumes ?? []) as unknown[];
    const data = volumes.map((v) => (isObj(v) ? `${String(v.source)}:${String(v.target)}` : String(v))).find((v) => /:\/data(:|$)/.test(v));
    expect(data, 'redis needs a volume on /data').toBeDefined();
    const source = data!.split(':')[0]!;
    expect(source, '/data must be a named volume, not a bind mount').not.toMatch(/^[./~]/);
    expect(isObj(compose.volumes) && source in compose.volumes, `volume "${source}" declared at top level`).toBe(true);
  });

  it('health-checks Redis with redis-cli ping', () => {
    const hc = service('redis').healthcheck;
    expect(isObj(hc)).toBe(true);
    expect(words((hc as Obj).test).join(' ')).toMatch(/redis-cli\b.*\bping\b/);
  });

  const redisPorts = (): string[] => {
    const cmd = words(service('redis').command);
    const port = flagValue(cmd, '--port');
    return [port ?? '6379'];
  };

  for (const name of ['coordinator', 'agents']) {
    describe(name, () => {
      it('reaches Redis at the redis service', () => {
        const url = new URL(env(service(name)).REDIS_URL ?? '');
        expect(url.protocol).toBe('redis:');
        expect(url.hostname).toBe('redis');
        expect(redisPorts()).toContain(url.port || '6379');
      });

      it('waits for Redis to be healthy', () => {
        const dep = service(name).depends_on;
        expect(isObj(dep), 'depends_on must be the long form with a condition').toBe(true);
        const redis = (dep as Obj).redis;
        expect(isObj(redis) && redis.condition).toBe('service_healthy');
      });

      it('is built from the Dockerfile and restarts unless stopped', () => {
        const s = service(name);
        const build = isObj(s.build) ? s.build : { context: s.build };
        expect(build.context).toBe('.');
        expect(build.dockerfile ?? 'Dockerfile').toBe('Dockerfile');
        expect(s.restart).toBe('unless-stopped');
      });

      it('runs a command the CLI has', () => {
        const { names, source } = cliCommands();
        const sub = words(service(name).command)[0];
        expect(sub).toBe(name);
        expect(names, `"${sub}" must be a command in ${source}`).toContain(sub);
      });
    });
  }

  it('coordinator and agents share one image and one swarm prefix', () => {
    const c = service('coordinator');
    const a = service('agents');
    expect(a.image).toBe(c.image);
    expect(env(a).SWARMQ_PREFIX ?? 'swarmq').toBe(env(c).SWARMQ_PREFIX ?? 'swarmq');
  });

  it('coordinator publishes the API on 3000 and health-checks /readyz', () => {
    const c = service('coordinator');
    const port = env(c).PORT ?? '3000';
    expect(port).toBe('3000');
    const ports = ((c.ports ?? []) as unknown[]).map(String);
    expect(ports).toContain('3000:3000');

    const hc = c.healthcheck;
    expect(isObj(hc)).toBe(true);
    const test = words((hc as Obj).test);
    expect(['CMD', 'CMD-SHELL']).toContain(test[0]);
    expect(test.join(' ')).toContain('/readyz');
  });

  it('agents scale: no container_name, no host port, no fixed host id', () => {
    const a = service('agents');
    expect(a.container_name).toBeUndefined();
    expect(a.hostname, 'replicas would share one hostname').toBeUndefined();
    for (const p of (a.ports ?? []) as unknown[]) expect(hostPort(p), `agents binds host port in ${JSON.stringify(p)}`).toBeUndefined();
    const cmd = words(a.command);
    expect(flagValue(cmd, '--host-id'), 'replicas would share one host id').toBeUndefined();
    expect(Number(flagValue(cmd, '--count'))).toBeGreaterThan(0);
    expect(Number.isInteger(Number(flagValue(cmd, '--count')))).toBe(true);
    expect(flagValue(cmd, '--type')).toBe('worker');
  });

  it('agents get time to drain on SIGTERM', () => {
    expect(seconds(service('agents').stop_grace_period)).toBeGreaterThanOrEqual(20);
  });
});

describe('docker-compose.yml, profile acl', () => {
  const acl = Object.entries(services).filter(([, s]) => isObj(s) && Array.isArray(s.profiles) && s.profiles.includes('acl'));
  const secrets = isObj(compose.secrets) ? compose.secrets : {};
  const secretFile = (name: string): string => {
    const s = secrets[name];
    if (!isObj(s) || typeof s.file !== 'string') throw new Error(`secret "${name}" is not declared at top level with a file`);
    return s.file;
  };
  /** The secrets a service mounts (short or long form), by name. */
  const mounted = (s: Obj): string[] => ((s.secrets ?? []) as unknown[]).map((e) => (isObj(e) ? String(e.source) : String(e)));
  const mountPath = (name: string) => `/run/secrets/${name}`;

  it('has its own Redis, coordinator and an agent host, and leaves the plain services out of it', () => {
    expect(acl.map(([n]) => n).sort()).toEqual(['agent-1-acl', 'coordinator-acl', 'redis-acl']);
    for (const name of ['redis', 'coordinator', 'agents']) expect(service(name).profiles, name).toBeUndefined();
  });

  it('runs Redis with AOF and the users of an ACL file it mounts as a secret', () => {
    const cmd = words(service('redis-acl').command);
    expect(flagValue(cmd, '--appendfsync')).toBe('always');
    const aclfile = flagValue(cmd, '--aclfile');
    const secret = mounted(service('redis-acl')).find((n) => mountPath(n) === aclfile);
    expect(secret, `--aclfile ${aclfile} must be a mounted secret`).toBeDefined();
    expect(secretFile(secret!)).toMatch(/\.acl$/);
  });

  for (const [name, role] of [['coordinator-acl', 'coordinator'], ['agent-1-acl', 'host']] as const) {
    it(`${name} connects as its own role's user, its password from a mounted secret`, () => {
      const s = service(name);
      const e = env(s);
      const url = new URL(e.REDIS_URL ?? '');
      expect(url.hostname).toBe('redis-acl');
      expect(url.password, 'no password in REDIS_URL').toBe('');
      const prefix = e.SWARMQ_PREFIX ?? 'swarmq';
      const hostId = flagValue(words(s.command), '--host-id');
      const user = aclUserName(prefix, role === 'host' ? { kind: 'host', hostId: hostId ?? '' } : { kind: role });
      expect(decodeURIComponent(url.username)).toBe(user);
      const secret = mounted(s).find((n) => mountPath(n) === e.SWARMQ_REDIS_PASSWORD_FILE);
      expect(secret, `SWARMQ_REDIS_PASSWORD_FILE must be one of ${name}'s secrets`).toBeDefined();
      // The file `swarmq acl` makes for that user.
      expect(secretFile(secret!).split('/').pop()).toBe(`${user}.password`);
      const dep = s.depends_on as Obj;
      expect(isObj(dep['redis-acl']) && (dep['redis-acl'] as Obj).condition).toBe('service_healthy');
    });
  }

  it('gives the coordinator its API token from a file', () => {
    const e = env(service('coordinator-acl'));
    expect(e.SWARMQ_API_TOKEN).toBeUndefined();
    expect(mounted(service('coordinator-acl')).map(mountPath)).toContain(e.SWARMQ_API_TOKEN_FILE);
  });

  it('writes no secret: no password in a URL, secrets only as _FILE, their files gitignored and kept out of the image', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const [k, v] of Object.entries(env(s as Obj))) {
        if (/PASSWORD|TOKEN|SECRET/.test(k) && !k.endsWith('_FILE')) expect(v, `${name}: ${k} holds a literal value`).toMatch(/^(\$\{[A-Z_]+:?-?\}|)$/);
        if (/^rediss?:/.test(v)) for (const u of v.split(',')) expect(new URL(u).password, `${name}: ${k} carries a password`).toBe('');
      }
    }
    const ignored = (file: string) => read(file).split('\n').map((l) => l.trim().replace(/\/$/, ''));
    for (const name of Object.keys(secrets)) {
      const path = secretFile(name).replace(/^\.\//, '');
      const top = path.split('/')[0]!;
      expect(ignored('.gitignore'), `${path} must be gitignored`).toContain(top);
      expect(ignored('.dockerignore'), `${path} must stay out of the image`).toContain(top);
    }
  });
});

describe('Dockerfile', () => {
  it('uses a Node 24 LTS base and installs from the lockfile without scripts', () => {
    expect(dockerfile).toMatch(/^FROM\s+node:24[\w.-]*/m);
    expect(dockerfile).toMatch(/^WORKDIR\s+\/app\s*$/m);
    expect(dockerfile).toMatch(/^COPY\s+package\.json\s+package-lock\.json\s+\S+/m);
    expect(dockerfile).toMatch(/\bnpm ci\b[^\n]*--ignore-scripts/);
    expect(existsSync(join(root, 'package-lock.json'))).toBe(true);
  });

  it('runs as the non-root node user', () => {
    const users = [...dockerfile.matchAll(/^USER\s+(\S+)/gm)].map((m) => m[1]);
    expect(users.at(-1)).toBe('node');
  });

  it('ENTRYPOINT runs a file that exists in the repo', () => {
    const entry = execForm('ENTRYPOINT');
    const file = entry.find((w) => /\.(c|m)?(j|t)s$/.test(w));
    expect(file, `ENTRYPOINT ${JSON.stringify(entry)} names no script`).toBeDefined();
    expect(existsSync(join(root, file!)), `${file} (the image's ENTRYPOINT) does not exist`).toBe(true);
  });

  it('default CMD is a CLI command', () => {
    const { names, source } = cliCommands();
    const cmd = execForm('CMD');
    expect(cmd[0]).toBe('start');
    expect(names, `"start" must be a command in ${source}`).toContain('start');
  });
});

describe('.dockerignore', () => {
  const patterns = read('.dockerignore')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));

  it('keeps the host node_modules and .git out of the build context', () => {
    expect(patterns).toContain('node_modules');
    expect(patterns).toContain('.git');
  });

  it('does not exclude what the image runs', () => {
    const needed = ['package.json', 'package-lock.json', 'src', 'bin', 'queues', 'processors', ...execForm('ENTRYPOINT').filter((w) => w.includes('/'))];
    for (const p of patterns) {
      if (p.startsWith('!')) continue;
      const bare = p.replace(/^\/+/, '').replace(/\/+$/, '');
      for (const n of needed) {
        expect(n === bare || n.startsWith(`${bare}/`), `.dockerignore pattern "${p}" excludes ${n}`).toBe(false);
      }
    }
  });
});
