// The parent's side of the cost mode's child processes (costChild.ts): start
// one, ask it for its CPU time, tell a producer to submit, close it. A child
// that errs or exits makes the pending request reject with its stderr's tail.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { CostChildSpec, FromChild, ToChild } from './costChild.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CHILD = fileURLToPath(new URL('./costChild.ts', import.meta.url));

type Reply<T extends FromChild['type']> = Extract<FromChild, { type: T }>;

export class CostProc {
  private tail = '';
  private waiting: { type: FromChild['type']; resolve: (m: FromChild) => void; reject: (e: Error) => void }[] = [];
  private gone: Error | undefined;
  readonly exited: Promise<void>;

  private constructor(
    readonly spec: CostChildSpec,
    private readonly child: ChildProcess,
  ) {
    child.stderr?.on('data', (d: Buffer) => {
      this.tail = (this.tail + d.toString()).slice(-2000);
    });
    child.on('message', (m: FromChild) => {
      if (m.type === 'error') return this.fail(new Error(`${this.what}: ${m.error}`));
      const i = this.waiting.findIndex((w) => w.type === m.type);
      if (i >= 0) this.waiting.splice(i, 1)[0]!.resolve(m);
    });
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.fail(new Error(`${this.what} exited (${signal ?? code}); stderr: ${this.tail.trim() || '-'}`));
        resolve();
      });
    });
  }

  get what(): string {
    return `${this.spec.contender} ${this.spec.role} (pid ${this.child.pid})`;
  }

  private fail(err: Error): void {
    this.gone ??= err;
    for (const w of this.waiting.splice(0)) w.reject(err);
  }

  private ask<T extends FromChild['type']>(msg: ToChild | undefined, type: T, timeoutMs: number): Promise<Reply<T>> {
    if (this.gone) return Promise.reject(this.gone);
    return new Promise<Reply<T>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.what}: no ${type} within ${timeoutMs} ms; stderr: ${this.tail.trim() || '-'}`)), timeoutMs);
      this.waiting.push({
        type,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m as Reply<T>);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      if (msg) this.child.send(msg);
    });
  }

  static async start(spec: CostChildSpec, timeoutMs = 60_000): Promise<{ proc: CostProc; ready: Reply<'ready'> }> {
    const child = fork(CHILD, [JSON.stringify(spec)], { cwd: ROOT, execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'pipe', 'ipc'] });
    const proc = new CostProc(spec, child);
    try {
      return { proc, ready: await proc.ask(undefined, 'ready', timeoutMs) };
    } catch (err) {
      await proc.kill();
      throw err;
    }
  }

  /** The child's CPU time (user + system) in µs since it started. */
  async cpuUs(): Promise<number> {
    return (await this.ask({ type: 'cpu' }, 'cpu', 10_000)).us;
  }

  async submit(first: number, n: number, window: number): Promise<void> {
    await this.ask({ type: 'submit', first, n, window }, 'submitted', 300_000);
  }

  /** Closes what the child runs and waits for it to exit (SIGKILL after 15 s). */
  async close(): Promise<void> {
    if (!this.gone) await this.ask({ type: 'close' }, 'closed', 15_000).catch(() => {});
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await this.exited;
    clearTimeout(timer);
  }

  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.exited;
  }
}
