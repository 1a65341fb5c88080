// Runs inside a BullMQ sandbox child process (plain JS, so the child needs no
// loader to start it). It loads the host's processors once per child, through
// tsx so the built-ins (TypeScript) load too, and runs the task it is handed.
let processors;

async function load(modulePath) {
  const { register } = await import('tsx/esm/api');
  register();
  const { processorsFor } = await import('./load.ts');
  return await processorsFor(modulePath || undefined);
}

export default async function runTask(job, _token, signal) {
  const { payload, ctx, modulePath } = job.data;
  processors ??= await load(modulePath);
  const processor = processors[job.name];
  if (!processor) throw new Error(`sandbox: no processor for task type "${job.name}"`);
  return await processor(payload, { ...ctx, signal: signal ?? new AbortController().signal });
}
