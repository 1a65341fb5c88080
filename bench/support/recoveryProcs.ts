// The processes the recovery benchmark kills and stops: swarmq agent hosts
// started through the real CLI (`node bin/swarmq.js agents …`), and plain
// BullMQ Worker processes (recoveryRawChild.ts). Each must be its own OS
// process, since SIGKILL and SIGSTOP act on processes; the bench process only
// watches Redis.
import { spawn, fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { RawChildSpec } from './recoveryRawChild.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RAW_CHILD = fileURLToPath(new URL('./recoveryRawChild.ts', import.meta.url));

/** A child we can signal, with the tail of what it wrote to stderr for error messages. */
export interface Proc {
  readonly pid: number;
  readonly child: ChildProcess;
  stderrTail(): string;
  /** SIGKILL unless it has exited already; resolves once it is gone. */
  destroy(): Promise<void>;
}

/**
 * The environment of a child: ours without REDIS_URL and SWARMQ_* settings, so
 * a host runs with swarmq's defaults whatever the shell that started the bench
 * had set (the budget is "with default settings").
 */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (k !== 'REDIS_URL' && !k.startsWith('SWARMQ_')) env[k] = v;
  env.SWARMQ_LOG_LEVEL = 'warn';
  return env;
}

function wrap(child: ChildProcess, what: string): Proc {
  if (child.pid === undefined) throw new Error(`${what}: could not start`);
  let tail = '';
  child.stderr?.on('data', (d: Buffer) => {
    tail = (tail + d.toString()).slice(-2000);
  });
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  return {
    pid: child.pid,
    child,
    stderrTail: () => tail.trim(),
    async destroy() {
      if (child.exitCode === null && child.signalCode === null) {
        // A stopped process would only die once continued; SIGKILL works either way.
        child.kill('SIGKILL');
      }
      await exited;
    },
  };
}

/** Rejects after `ms`, or as soon as the child exits; resolves when `ready` does. */
function readyOrFail<T>(proc: Proc, what: string, ms: number, ready: Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} (pid ${proc.pid}) not ready within ${ms} ms; stderr: ${proc.stderrTail() || '-'}`)), ms);
    const onExit = (code: number | null, signal: string | null) =>
      reject(new Error(`${what} (pid ${proc.pid}) exited (${signal ?? code}) before it was ready; stderr: ${proc.stderrTail() || '-'}`));
    proc.child.once('exit', onExit);
    ready.then(
      (v) => {
        clearTimeout(timer);
        proc.child.off('exit', onExit);
        resolve(v);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err as Error);
      },
    );
  });
}

/**
 * `swarmq agents --count N --type worker --host-id ID`, resolved once the CLI
 * prints its "spawned N agents on host …" line (every agent seated, every node
 * Worker running). Rejects if that does not come within `timeoutMs`.
 */
export async function startCliHost(o: { url: string; prefix: string; hostId: string; count: number; timeoutMs?: number }): Promise<Proc & { summary: string }> {
  const child = spawn(
    process.execPath,
    ['bin/swarmq.js', 'agents', '--count', String(o.count), '--type', 'worker', '--host-id', o.hostId, '--redis-url', o.url, '--prefix', o.prefix],
    { cwd: ROOT, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const proc = wrap(child, `host ${o.hostId}`);
  let out = '';
  const spawned = new Promise<string>((resolve) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.startsWith('spawned '));
      if (line) resolve(line.trim());
    });
  });
  try {
    const summary = await readyOrFail(proc, `host ${o.hostId}`, o.timeoutMs ?? 30_000, spawned);
    return { ...proc, summary };
  } catch (err) {
    await proc.destroy();
    throw err;
  }
}

/** A process of plain BullMQ Workers (recoveryRawChild.ts), resolved once every Worker is running. */
export async function startRawWorkers(spec: RawChildSpec, timeoutMs: number): Promise<Proc> {
  const child = fork(RAW_CHILD, [JSON.stringify(spec)], {
    cwd: ROOT,
    env: cleanEnv(),
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
  });
  const proc = wrap(child, `raw ${spec.name}`);
  const ready = new Promise<void>((resolve, reject) => {
    child.on('message', (m: { ready?: true; error?: string }) => {
      if (m.ready) resolve();
      else if (m.error) reject(new Error(`raw ${spec.name} (pid ${proc.pid}): ${m.error}`));
    });
  });
  try {
    await readyOrFail(proc, `raw ${spec.name}`, timeoutMs, ready);
    return proc;
  } catch (err) {
    await proc.destroy();
    throw err;
  }
}
