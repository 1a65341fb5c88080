// Replay protection across restarts and reloads, at the host runtime, through
// real Redis: an in-process ConsensusHost "R" runs agents r1 and r2 of a
// quorum round of five; this test plays host "S" (agents s1..s3), sealing
// messages with their keys straight into R's inbox and reading what R sends
// to S's inbox, which nobody else reads.
//   - s1 comes back with a new key and numbers its messages from 0 again:
//     once R uses the new key, those messages are accepted, not replays.
//   - R reloads the round from Redis (restarted with its keys, or after a
//     failed write): a message it accepted before is refused as a replay, and
//     its own agents go on numbering their messages where they left off.
import { pino } from 'pino';
import { redisTargetFromUrl } from '../../queues/redisTarget.ts';
import { afterEach, describe, expect, it } from 'vitest';
import { swarmKeys } from '../../queues/keys.ts';
import { Authenticator, generateAgentKeys, type AgentKeys, type Envelope } from '../../src/consensus/auth.ts';
import { ConsensusHost } from '../../src/consensus/runtime/hostRuntime.ts';
import { consensusKeys } from '../../src/consensus/runtime/keys.ts';
import { sendNotice } from '../../src/consensus/runtime/outbox.ts';
import { roundSeed, type RoundSpec } from '../../src/consensus/runtime/proposal.ts';
import type { Logger } from '../../src/log.ts';
import { redisForFile, uniquePrefix } from '../support/redis.ts';
import { until } from '../support/swarm.ts';

const redis = redisForFile();
const running: ConsensusHost[] = [];

afterEach(async () => {
  await redis.connection.config('SET', 'maxmemory', '0');
  await Promise.all(running.splice(0).map((h) => h.stop()));
});

const VALUE = JSON.stringify('v');

/** A logger whose lines the test can wait for. */
function recordingLogger(): { logger: Logger; lines: { msg: string }[] } {
  const lines: { msg: string }[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as { msg: string }) });
  return { logger, lines };
}

async function setUp() {
  const prefix = uniquePrefix('crp');
  const k = consensusKeys(prefix);
  const keys = new Map<string, AgentKeys>(['r1', 'r2', 's1', 's2', 's3'].map((id) => [id, generateAgentKeys()]));
  const hostOf = (id: string) => (id.startsWith('r') ? 'R' : 'S');
  const register = (id: string) =>
    redis.connection.hset(
      swarmKeys(prefix).agents,
      id,
      JSON.stringify({ id, type: 'voter', capabilities: [], taskTypes: [], capacity: 1, node: 'n1', hostId: hostOf(id), startedAt: Date.now(), consensusKey: keys.get(id)!.publicKey }),
    );
  for (const id of keys.keys()) await register(id);
  const id = `p-replay-${prefix}`;
  // r1 first: ballot 0 is its own, so the votes go to it; a majority is 3, and R's two agents vote at once.
  const spec: RoundSpec = {
    id,
    protocol: 'quorum',
    value: VALUE,
    participants: [...keys.keys()].map((a) => ({ id: a, host: hostOf(a), key: keys.get(a)!.publicKey })),
    seed: roundSeed(id),
    tickMs: 50,
    timeoutMs: 60_000,
    createdAt: Date.now(),
  };
  // Where hosts read a round's spec: the proposal's job hash (no driver here: nobody else acts on the round).
  await redis.connection.hset(k.job(id), 'data', JSON.stringify(spec));

  const startHost = (logger: Logger) => {
    const h = new ConsensusHost({ target: redisTargetFromUrl(redis.url), prefix, hostId: 'R', keyOf: (a) => (hostOf(a) === 'R' ? keys.get(a)?.privateKey : undefined), logger });
    running.push(h);
    return h;
  };
  const loadRound = async (h: ConsensusHost) => {
    await h.start();
    await sendNotice(redis.connection, [k.inbox('R')], { k: 'start', round: id });
    await until(async () => h.activeRounds().includes(id), 5000, 'R to load the round');
  };
  /** R started on the round, once its two agents have voted (with a majority of 3, nothing is decided yet). */
  const startVoting = async (logger: Logger) => {
    const h = startHost(logger);
    await loadRound(h);
    await until(async () => (await redis.connection.hlen(k.state(id))) === 2, 5000, "R's agents to vote");
    return h;
  };
  /** What the test's agent `from` seals for r1 (its MAC is r1's: r1 is the first addressee on R). */
  const sealer = (from: string, agentKeys: AgentKeys) => {
    const pub = new Map(spec.participants.map((p) => [p.id, p.key]));
    pub.set(from, agentKeys.publicKey);
    const auth = new Authenticator(from, agentKeys.privateKey, pub, id);
    return (m: unknown): Envelope => auth.seal(JSON.stringify({ to: ['r1'], m }), ['r1']);
  };
  const deliver = (...envs: Envelope[]) => redis.connection.xadd(k.inbox('R'), '*', 'm', JSON.stringify(envs.map((env) => ({ k: 'env', env }))));
  const rejected = async () => await redis.connection.hgetall(k.rejected(id));
  /** Envelopes R's agents sent to host S, in stream order. */
  const sentToS = async () => (await redis.connection.xrange(k.inbox('S'), '-', '+')).flatMap(([sid, f]) => (JSON.parse(f[1]!) as { k: string; env?: Envelope }[]).filter((x) => x.k === 'env').map((x) => ({ sid, env: x.env! })));
  return { k, id, keys, register, startHost, loadRound, startVoting, sealer, deliver, rejected, sentToS };
}

/** Bodies the core cannot use, sealed properly: R checks the MAC and the number, then counts each as malformed. */
const PROBE = { type: 'not-a-quorum-message' };

describe('replay protection across restarts', () => {
  it("a participant back with a new key numbers its messages from 0 again, and its first messages are accepted once R uses the new key", async () => {
    const t = await setUp();
    const { logger, lines } = recordingLogger();
    await t.startVoting(logger);

    // s1's first life: five messages, numbered 0..4, accepted.
    const before = t.sealer('s1', t.keys.get('s1')!);
    await t.deliver(...Array.from({ length: 5 }, () => before(PROBE)));
    await until(async () => (await t.rejected()).malformed === '5', 5000, 'R to check the five messages');

    // s1's host restarts: a new key, registered; its messages are numbered from 0 again.
    const fresh = generateAgentKeys();
    t.keys.set('s1', fresh);
    await t.register('s1');
    const after = t.sealer('s1', fresh);
    const vote = { type: 'vote', ballot: 0, value: VALUE };
    // R still checks with the old key: refused as forged, which makes it look the key up.
    await t.deliver(after(vote));
    await until(async () => lines.some((l) => /came back with a new consensus key/.test(l.msg)), 5000, 'R to take the new key');
    // Its next message, number 1, is s1's vote: the third, so r1 decides.
    const second = after(vote);
    expect(second.seq).toBe(1);
    await t.deliver(second);
    await until(async () => (await redis.connection.hexists(t.k.decided(t.id), 'r1')) === 1, 5000, 'r1 to decide with the vote s1 sent under its new key');
    expect(await t.rejected()).toEqual({ malformed: '5', forged: '1' });
  }, 30_000);

  it('a host restarted with its keys reloads the round and refuses a message it accepted before; new ones get through', async () => {
    const t = await setUp();
    const first = await t.startVoting(recordingLogger().logger);
    const s1 = t.sealer('s1', t.keys.get('s1')!);
    const vote = s1({ type: 'vote', ballot: 0, value: VALUE });
    await t.deliver(vote);
    await until(async () => (await redis.connection.hexists(t.k.decided(t.id), 'r1')) === 1, 5000, 'r1 to decide');

    running.splice(running.indexOf(first), 1);
    await first.stop();
    await t.loadRound(t.startHost(recordingLogger().logger));
    await t.deliver(structuredClone(vote));
    await until(async () => (await t.rejected()).replayed === '1', 5000, 'the reloaded host to refuse the replayed vote');
    // A new message of s1 is still accepted: r1, decided, answers its query.
    const answered = (await t.sentToS()).length;
    await t.deliver(s1({ type: 'query' }));
    const reply = await until(async () => (await t.sentToS()).slice(answered).find((x) => x.env.from === 'r1'), 5000, "r1's answer to s1's query");
    expect(JSON.parse(reply.env.body)).toEqual({ to: ['s1'], m: { type: 'decided', value: VALUE } });
    expect(await t.rejected()).toEqual({ replayed: '1' });
  }, 30_000);

  it('after a failed write the host reloads the round from Redis: it refuses what it had accepted, and its agents never reuse a message number', async () => {
    const t = await setUp();
    const { logger, lines } = recordingLogger();
    await t.startVoting(logger);
    const s1 = t.sealer('s1', t.keys.get('s1')!);
    const probe = s1(PROBE);
    await t.deliver(probe);
    await until(async () => (await t.rejected()).malformed === '1', 5000, 'R to accept the message (and count its body malformed)');
    // Both of R's agents have sent S something (prepares of their next ballots): numbers a reload must not reuse.
    await until(async () => new Set((await t.sentToS()).map((x) => x.env.from)).size === 2, 10_000, 'r1 and r2 to send to S');

    // Redis refuses writes: the next thing R's agents persist (a new ballot, once their timeout runs out) fails,
    // and R drops the round, to reload it from Redis when it next hears of it.
    await redis.connection.config('SET', 'maxmemory', '1');
    await until(async () => lines.some((l) => /could not write consensus state/.test(l.msg)), 10_000, 'a write of R to fail');
    await redis.connection.config('SET', 'maxmemory', '0');
    const reloadedAt = (await t.sentToS()).length;

    await t.deliver(structuredClone(probe));
    await until(async () => (await t.rejected()).replayed === '1', 5000, 'the reloaded round to refuse the replay');
    expect((await t.rejected()).malformed).toBe('1');
    // R's agents go on (their next ballot's prepare to S): numbered after everything they sent before the reload.
    await until(async () => (await t.sentToS()).length > reloadedAt, 10_000, 'R to send after the reload');
    const sent = await t.sentToS();
    for (const agent of ['r1', 'r2']) {
      const seqs = sent.filter((x) => x.env.from === agent).map((x) => x.env.seq);
      expect(new Set(seqs).size, `${agent} numbered two messages alike: ${seqs.join(', ')}`).toBe(seqs.length);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    }
  }, 30_000);
});
