// The swarmq CLI as a real child process, for chaos and end-to-end tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../bin/swarmq.js', import.meta.url));

export interface CliChild {
  child: ChildProcess;
  /** stderr + stdout so far */
  output(): string;
  /** Resolves with the first log line matching, parsed when JSON. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<Record<string, unknown>>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `ownGroup`: the child leads a process group, so a test can signal the group as a terminal's Ctrl-C does. */
export function spawnCli(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; ownGroup?: boolean } = {}): CliChild {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: opts.cwd,
    detached: opts.ownGroup ?? false,
    env: { ...process.env, SWARMQ_LOG_LEVEL: 'info', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const waiters: { pattern: RegExp; resolve: (v: Record<string, unknown>) => void }[] = [];
  const onData = (chunk: Buffer) => {
    out += chunk.toString();
    for (const w of [...waiters]) {
      const line = out.split('\n').find((l) => w.pattern.test(l));
      if (line) {
        waiters.splice(waiters.indexOf(w), 1);
        try {
          w.resolve(JSON.parse(line) as Record<string, unknown>);
        } catch {
          w.resolve({ line });
        }
      }
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  return {
    child,
    output: () => out,
    exited,
    waitFor(pattern, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms; output:\n${out}`)), timeoutMs);
        const done = (v: Record<string, unknown>) => {
          clearTimeout(timer);
          resolve(v);
        };
        waiters.push({ pattern, resolve: done });
        onData(Buffer.alloc(0));
        void exited.then(({ code, signal }) => {
          clearTimeout(timer);
          reject(new Error(`process exited (${code ?? signal}) before a line matching ${pattern}; output:\n${out}`));
        });
      });
    },
  };
}

export function isRunning(c: CliChild): boolean {
  return c.child.exitCode === null && c.child.signalCode === null;
}

/** The CLI processes a test file starts, so afterAll can kill whatever is still running. */
export class CliFleet {
  private readonly children: CliChild[] = [];

  spawn(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): CliChild {
    const c = spawnCli(args, opts);
    this.children.push(c);
    return c;
  }

  killAll(): void {
    for (const c of this.children) if (isRunning(c)) c.child.kill('SIGKILL');
  }
}
