// `swarmq checkpoint` and `swarmq restore`: files and connections around the
// checkpoint core, and the lines they print.
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import type { RedisClient, RedisTarget } from '../../queues/redisTarget.ts';
import { withRedisOnce } from '../redisOnce.ts';
import type { SwarmConfig } from '../config/schema.ts';
import { SwarmError } from '../errors.ts';
import { parseCheckpoint } from './format.ts';
import { takeCheckpoint } from './read.ts';
import { restoreCheckpoint } from './restore.ts';
import { countCheckpoint } from './snapshot.ts';

// On a Cluster the checkpoint reads slot by slot and the restore writes slot by slot (read.ts, restore.ts).
const withRedis = <T>(target: RedisTarget, run: (redis: RedisClient) => Promise<T>): Promise<T> => withRedisOnce(target, 'swarmq:checkpoint', run);

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

function listStates(states: Partial<Record<string, number>>): string {
  return Object.entries(states)
    .filter(([, n]) => n)
    .map(([s, n]) => `${n} ${s}`)
    .join(', ');
}

function keyDetails(c: { keyLimits: number; keyBudgets: number; keySpend: number }): string {
  const parts = [c.keyLimits ? `${c.keyLimits} with limits` : '', c.keyBudgets ? `${c.keyBudgets} with a budget` : '', c.keySpend ? `${c.keySpend} with spend this period` : ''].filter(Boolean);
  return parts.length ? ` (${parts.join(', ')})` : '';
}

export interface CheckpointCommandResult {
  summary: string;
  warnings: string[];
}

/** Takes a checkpoint of the configured swarm and writes it to `out` (whole or not at all). */
export async function checkpointToFile(config: SwarmConfig, out: string, o: { includeFinished?: boolean } = {}): Promise<CheckpointCommandResult> {
  const { checkpoint, warnings } = await withRedis(config.redis, (redis) => takeCheckpoint(redis, config.prefix, { includeFinished: o.includeFinished ?? false }));
  const tmp = `${out}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, JSON.stringify(checkpoint, null, 2) + '\n');
    renameSync(tmp, out);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw new SwarmError('invalid_request', `cannot write ${out}: ${(err as Error).message}`);
  }
  const c = countCheckpoint(checkpoint);
  const states = listStates(c.byState);
  const proposals = Object.values(c.proposals).reduce<number>((sum, n) => sum + (n ?? 0), 0);
  const summary =
    `checkpoint of swarm "${config.prefix}" at ${new Date(checkpoint.createdAt).toISOString()} written to ${out}: ` +
    `${plural(c.agents, 'agent')}, ${plural(c.nodes, 'node')}, ${plural(c.tasks, 'unfinished task')}${states ? ` (${states})` : ''}` +
    (c.deadLetters ? `, ${plural(c.deadLetters, 'dead-letter record')}` : '') +
    (checkpoint.includesFinished ? `, ${plural(c.finished, 'finished task')}` : '') +
    `, ${plural(c.idempotencyKeys, 'idempotency key')}, ${plural(c.moved, 'moved record')}, ${plural(c.cancelled, 'cancelled record')}` +
    `, ${plural(proposals, 'proposal')}${proposals ? ` (${listStates(c.proposals)})` : ''}, ${plural(c.rounds, 'consensus round')} with state` +
    `, ${plural(c.keys, 'key')}${keyDetails(c)}`;
  return { summary, warnings };
}

/** Reads a checkpoint file and rebuilds its swarm under the configured prefix. */
export async function restoreFromFile(config: SwarmConfig, file: string, o: { force?: boolean } = {}): Promise<string> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new SwarmError('invalid_request', `cannot read ${file}: ${(err as Error).message}`);
  }
  const checkpoint = parseCheckpoint(text, file);
  const r = await withRedis(config.redis, (redis) => restoreCheckpoint(redis, config.prefix, checkpoint, { force: o.force ?? false }));
  const hosts = [...new Set(checkpoint.roster.agents.map((a) => a.hostId))].sort();
  const tasks = Object.values(r.tasks).reduce((sum, n) => sum + (n ?? 0), 0);
  const active = r.tasks.active ?? 0;
  return (
    `restored swarm "${config.prefix}" from ${file} (taken ${new Date(checkpoint.createdAt).toISOString()} of "${checkpoint.prefix}"): ` +
    `${plural(r.agents, 'agent')}, ${plural(r.nodes, 'node')}, ${plural(tasks, 'unfinished task')}` +
    (tasks ? ` (${listStates(r.landsAs)})` : '') +
    (active ? `, ${active} of them active when taken: they run again` : '') +
    (r.keyed ? `, ${r.keyed} carrying a key` : '') +
    (r.awaitingApproval ? `, ${plural(r.awaitingApproval, 'output')} awaiting approval` : '') +
    (r.deadLetters ? `, ${plural(r.deadLetters, 'dead-letter record')}` : '') +
    (r.finished ? `, ${plural(r.finished - r.skippedFinished, 'finished task')}` : '') +
    `, ${plural(r.idempotencyKeys, 'idempotency key')}, ${plural(r.moved, 'moved record')}, ${plural(r.cancelled, 'cancelled record')}` +
    `, ${plural(r.consensus.proposals, 'proposal')} (waiting)` +
    (r.consensus.finishedProposals ? `, ${plural(r.consensus.finishedProposals, 'finished proposal')}` : '') +
    `, ${plural(r.consensus.rounds, 'consensus round')} with state` +
    (r.keyLimits ? `, limits of ${plural(r.keyLimits, 'key')}` : '') +
    (r.keyBudgets ? `, budgets of ${plural(r.keyBudgets, 'key')}` : '') +
    (r.spend.restored + r.spend.merged ? `, this period's spend of ${plural(r.spend.restored + r.spend.merged, 'key')}${r.spend.merged ? ` (${r.spend.merged} raised to it where the target had less)` : ''}` : '') +
    (r.spend.stale ? `; the spend of ${plural(r.spend.stale, 'key')} was of a period that has ended, not restored` : '') +
    (r.consensus.skipped || r.consensus.skippedRounds ? `; ${plural(r.consensus.skipped, 'proposal')} and ${plural(r.consensus.skippedRounds, 'round')} already in the target, left as they were` : '') +
    (r.renamed ? `; ${plural(r.renamed, 'intake job')} got a new id (BullMQ refuses integer custom ids)` : '') +
    (r.skipped ? `; ${plural(r.skipped, 'task')} already in the target, left as ${r.skipped === 1 ? 'it was' : 'they were'}` : '') +
    '.' +
    (hosts.length ? ` Start the hosts again with the same --host-id (and agents) to take their seats: ${hosts.join(', ')}.` : '') +
    (r.consensus.proposals ? ' Proposals resume once a coordinator (or a Consensus.drive()) runs, each round from where its agents left it.' : '')
  );
}
