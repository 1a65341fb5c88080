// The processes of the scale benchmark, each a real child (node --import tsx):
// one coordinator (`swarmq coordinator`), agent hosts (`swarmq agents --count N`),
// producers (scaleProducer.ts); and what each costs, read from /proc (Linux).
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { RawProducerSpec } from './scaleRawProducer.ts';
import type { RawWorkersSpec } from './scaleRawWorkers.ts';
import type { ProducerResult, ProducerSpec } from './scaleProducer.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = 'src/cli/main.ts';
const PRODUCER = fileURLToPath(new URL('./scaleProducer.ts', import.meta.url));
const PROCESSORS = fileURLToPath(new URL('./scaleProcessors.ts', import.meta.url));
const RAW_WORKERS = fileURLToPath(new URL('./scaleRawWorkers.ts', import.meta.url));
const RAW_PRODUCER = fileURLToPath(new URL('./scaleRawProducer.ts', import.meta.url));
/** Linux's USER_HZ: /proc reports CPU time in these ticks (fixed at 100 by the kernel ABI). */
const TICKS_PER_SECOND = 100;

export interface Proc {
  name: string;
  child: ChildProcess;
  /** The last lines it wrote to stderr, for a failure message. */
  tail(): string;
}

function start(name: string, args: string[], env: Record<string, string>): Proc {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let tail = '';
  child.stderr!.on('data', (d: Buffer) => {
    tail = (tail + d.toString()).slice(-4000);
  });
  child.stdout!.resume();
  return { name, child, tail: () => tail };
}

export function startCoordinator(url: string, port: number): Proc {
  return start('coordinator', [CLI, 'coordinator', '--port', String(port)], { REDIS_URL: url });
}

export function startHost(url: string, i: number, agents: number): Proc {
  return start(`host${i}`, [CLI, 'agents', '--count', String(agents), '--processors', PROCESSORS], { REDIS_URL: url });
}

/** A raw-BullMQ host of the reference layout; resolves once its Workers are connected. */
export async function startRawWorkers(spec: RawWorkersSpec, i: number): Promise<Proc> {
  const p = start(`raw${i}`, [RAW_WORKERS, JSON.stringify(spec)], {});
  await new Promise<void>((resolve, reject) => {
    p.child.stdout!.once('data', () => resolve());
    p.child.once('exit', (code) => reject(new Error(`raw worker process ${i} exited (${code}): ${p.tail()}`)));
  });
  return p;
}

/** A producer (swarmq's, or raw BullMQ's for the reference layout); `result` is its last line of output (idle: ready; others: the result), `warm` its warm-up's end (throughput). */
export function startProducer(spec: ProducerSpec | RawProducerSpec, i = 0): { proc: Proc; result: Promise<ProducerResult>; warm: Promise<void> } {
  const script = 'prefix' in spec ? RAW_PRODUCER : PRODUCER;
  const child = spawn(process.execPath, ['--import', 'tsx', script, JSON.stringify(spec)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let tail = '';
  child.stderr!.on('data', (d: Buffer) => {
    tail = (tail + d.toString()).slice(-4000);
  });
  const proc: Proc = { name: `producer${i}`, child, tail: () => tail };
  let warmed: () => void = () => {};
  const warm = new Promise<void>((resolve) => {
    warmed = resolve;
  });
  const result = new Promise<ProducerResult>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      for (let nl = out.indexOf('\n'); nl >= 0; nl = out.indexOf('\n')) {
        const line = JSON.parse(out.slice(0, nl)) as ProducerResult;
        out = out.slice(nl + 1);
        if (line.mode === 'warm') warmed();
        else resolve(line);
      }
    });
    child.on('exit', (code) => reject(new Error(`producer ${spec.mode} exited (${code}) before reporting: ${tail}`)));
  });
  return { proc, result, warm };
}

/** CPU seconds (user + system) a process has used so far. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start past the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

export async function stopAll(procs: readonly Proc[]): Promise<void> {
  await Promise.all(
    procs.map(
      (p) =>
        new Promise<void>((resolve) => {
          if (p.child.exitCode !== null || p.child.signalCode !== null) return resolve();
          const kill = setTimeout(() => p.child.kill('SIGKILL'), 10_000);
          p.child.once('exit', () => {
            clearTimeout(kill);
            resolve();
          });
          p.child.kill('SIGTERM');
        }),
    ),
  );
}
