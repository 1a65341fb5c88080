// Runs inside a BullMQ sandbox child process (plain JS, so the child needs no
// loader to start it). It loads the host's processors once per child, through
// tsx so the built-ins (TypeScript) load too, and runs the task it is handed.
let loaded;

async function load(modulePath) {
  const { register } = await import('tsx/esm/api');
  register();
  const { processorsFor } = await import('./load.ts');
  const { processorFor } = await import('../src/agents/processor.ts');
  const { encodeProgress } = await import('../src/tasks/progress.ts');
  return { processors: await processorsFor(modulePath || undefined), processorFor, encodeProgress };
}

export default async function runTask(job, _token, signal) {
  const { payload, ctx, modulePath, progressLimits, holdKey } = job.data;
  loaded ??= await load(modulePath);
  // Own entries only, as in the host: not `constructor` or `__proto__` from Object.prototype.
  const processor = loaded.processorFor(loaded.processors, job.name);
  if (!processor) {
    throw new Error(`sandbox child of agent ${ctx.agentId}: no processor for task type ${JSON.stringify(job.name)} in ${modulePath || 'the built-ins'}; export it from the --processors module`);
  }
  // Checked here, so a bad value throws in the processor; the host coalesces the writes.
  const progress = (value) => {
    loaded.encodeProgress(value, progressLimits);
    void job.updateProgress(value).catch(() => {});
  };
  // ctx.usage and ctx.holdKey are answered by the host (src/agents/sandbox.ts), through BullMQ's request that waits for a reply.
  const call = async (swarmqCall, arg) => {
    const reply = await job.getDependencies({ swarmqCall, arg });
    if (reply && 'error' in reply) throw new Error(reply.error);
    return reply?.ok;
  };
  const calls = { usage: (value) => call('usage', value), ...(holdKey ? { holdKey: (ms) => call('holdKey', ms) } : {}) };
  return await processor(payload, { ...ctx, signal: signal ?? new AbortController().signal, progress, ...calls });
}
