#!/usr/bin/env node
// swarmq runs from its TypeScript sources through tsx: no build step to forget.
import { register } from 'tsx/esm/api';

register();
const { buildCli } = await import('../src/cli/main.ts');
try {
  await buildCli().parseAsync(process.argv);
} catch (err) {
  console.error(`swarmq: ${err?.code ? `${err.code}: ` : ''}${err?.message ?? err}`);
  process.exit(1);
}
