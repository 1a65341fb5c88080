// Sandboxed processors: a task type's processor runs in one of BullMQ's sandbox
// child processes (for CPU-heavy or untrusted work), while the agent host keeps
// everything else: seating, the agent record, timeouts, and the job's lock,
// renewed by the parent's Worker as the child computes.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { ChildPool, type Job } from 'bullmq';
import type { TaskContext, UsageReceipt } from './processor.ts';
import type { ProgressLimits } from '../tasks/progress.ts';

// BullMQ keeps its sandbox wrapper out of its index; Node loads bullmq as CommonJS.
const { default: sandbox } = createRequire(import.meta.url)('bullmq/dist/cjs/classes/sandbox.js') as {
  default: (processFile: string, pool: ChildPool) => (job: Job, token?: string, signal?: AbortSignal) => Promise<unknown>;
};

const ENTRY = fileURLToPath(new URL('../../processors/sandboxEntry.mjs', import.meta.url));
// BullMQ's own child main, next to its sandbox module.
const CHILD_MAIN = fileURLToPath(new URL('./classes/main.js', import.meta.resolve('bullmq')));

export interface SandboxOptions {
  /** Which task types run sandboxed: every one, or these. */
  types: 'all' | readonly string[];
  /** The user processors module, loaded again inside each child. */
  modulePath?: string;
}

export class Sandbox {
  private readonly pool = new ChildPool({ mainFile: CHILD_MAIN });
  private readonly process = sandbox(ENTRY, this.pool);

  constructor(private readonly o: SandboxOptions) {}

  covers(type: string): boolean {
    return this.o.types === 'all' || this.o.types.includes(type);
  }

  /**
   * `progress` is the task's ctx.progress in the host: the child checks each
   * value against `limits` (so its processor sees a bad one at once) and sends
   * it here, where it is coalesced like any task's, never written by BullMQ's
   * own updateProgress.
   */
  run(
    job: Job,
    token: string,
    payload: unknown,
    ctx: Omit<TaskContext, 'signal' | 'progress' | 'usage' | 'holdKey'>,
    signal: AbortSignal,
    progress: (value: unknown) => void,
    limits: ProgressLimits,
    calls: HostCalls,
  ): Promise<unknown> {
    // The child sees the job with its data replaced by what the processor needs.
    const data = JSON.stringify({ payload, ctx, modulePath: this.o.modulePath ?? '', progressLimits: limits, holdKey: calls.holdKey !== undefined });
    const view = Object.create(job, {
      // BullMQ's one child request that carries a value and waits for the answer: the child's ctx.usage and
      // ctx.holdKey come through it (processors/sandboxEntry.mjs). Never throws: a throw here would fail the task.
      getDependencies: { value: (req: unknown) => answerCall(req, calls) },
      asJSONSandbox: { value: () => ({ ...job.asJSONSandbox(), data }) },
      updateProgress: {
        value: (value: unknown) => {
          // Checked in the child already; one changed in transit is dropped rather than failing BullMQ's message handler.
          try {
            progress(value);
          } catch {
            // nothing to do: the child's check is the one the processor sees
          }
          return Promise.resolve();
        },
      },
    }) as Job;
    return this.process(view, token, signal);
  }

  async close(): Promise<void> {
    await this.pool.clean();
  }
}

/** What a sandboxed processor's ctx asks of its host. */
export interface HostCalls {
  usage: (value: unknown) => Promise<UsageReceipt>;
  holdKey?: (ms: number) => Promise<number>;
}

/** A call from the child: `{ swarmqCall: 'usage' | 'holdKey', arg }` → `{ ok: value }` or `{ error: message }`. */
async function answerCall(req: unknown, calls: HostCalls): Promise<{ ok: unknown } | { error: string }> {
  const r = (req ?? {}) as { swarmqCall?: unknown; arg?: unknown };
  try {
    if (r.swarmqCall === 'usage') return { ok: await calls.usage(r.arg) };
    if (r.swarmqCall === 'holdKey' && calls.holdKey && typeof r.arg === 'number') return { ok: await calls.holdKey(r.arg) };
    return { error: `a sandboxed processor asked its host for ${JSON.stringify(r.swarmqCall)}, which it does not answer` };
  } catch (err) {
    return { error: (err as Error).message };
  }
}
