// The two attacks issue 17 found, run as a hostile process with nothing but
// Redis commands would run them, against a swarm without a trust anchor (they
// work: Redis is trusted there, as docs/security.md says) and with one (they
// fail, and are counted as rejected):
//   rekey   overwrite an honest agent's key in the roster, send one envelope
//           "from" it with a bad MAC (its receivers look the key up again),
//           then one sealed with the attacker's key saying `decided "evil"`;
//   decided write decisions straight into the round's `decided` hash.
// Each round's first participant is an agent of a Byzantine host that never
// answers, so the honest agents wait for the next ballot's owner (quorum) or
// a view change (PBFT), and the attack lands mid-round.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bullKey, CONSENSUS_QUEUE, nodeQueueName, swarmKeys } from '../../queues/keys.ts';
import { SwarmClient } from '../../src/client/swarmClient.ts';
import { AgentHost } from '../../src/agents/host.ts';
import { Authenticator, generateAgentKeys } from '../../src/consensus/auth.ts';
import { Consensus } from '../../src/consensus/runtime/consensus.ts';
import { consensusKeys } from '../../src/consensus/runtime/keys.ts';
import { parseDecisions } from '../../src/consensus/runtime/outcome.ts';
import { roundSpecSchema, type ProposalResult } from '../../src/consensus/runtime/proposal.ts';
import { silentLogger } from '../../src/log.ts';
import { certifyAgentKey } from '../../src/trust/certificates.ts';
import { builtinProcessors } from '../../processors/builtins.ts';
import { redisForFile, uniquePrefix } from '../support/redis.ts';
import { testConfig, until } from '../support/swarm.ts';
import { testAuthority, type TestAuthority } from '../support/trust.ts';

const redis = redisForFile();
const EVIL = JSON.stringify('evil');
const GOOD = 'good';

interface Swarm {
  prefix: string;
  consensus: Consensus;
  hosts: AgentHost[];
  stop(): Promise<void>;
}

/** Hosts h1 (2 agents) and h2 (2 agents), honest, in this process; hb, a Byzantine host that registers one agent and never runs a round. */
async function swarm(authority: TestAuthority | undefined): Promise<Swarm> {
  const prefix = uniquePrefix('forge');
  const config = testConfig(redis, { prefix });
  const processors = { ...builtinProcessors, gated };
  const hosts = ['h1', 'h2'].map(
    (id) => new AgentHost({ config, hostId: id, agents: [{ type: 'voter', count: 2 }], processors, logger: silentLogger, control: false, ...(authority ? { trust: authority.host(id) } : {}) }),
  );
  await Promise.all(hosts.map((h) => h.start()));
  const k = swarmKeys(prefix);
  const byz = generateAgentKeys();
  const hb = authority?.identity('host', 'hb');
  const record = {
    id: 'hb-a1',
    type: 'voter',
    capabilities: [],
    taskTypes: ['echo'],
    capacity: 1,
    node: 'n999',
    hostId: 'hb',
    startedAt: Date.now(),
    consensusKey: byz.publicKey,
    ...(hb ? { consensusCert: certifyAgentKey(hb.privateKey, hb.enrollment, 'hb-a1', 'hb', byz.publicKey) } : {}),
  };
  await redis.connection.hset(k.agents, 'hb-a1', JSON.stringify(record));
  const [sec] = await redis.connection.time();
  await redis.connection.zadd(k.hosts, Number(sec) * 1000 + 60_000, 'hb'); // beats "in the future": live for the whole test
  const consensus = new Consensus({ redis: redis.url, prefix, ...(authority ? { trust: authority.proposer() } : {}) });
  await consensus.drive();
  return {
    prefix,
    consensus,
    hosts,
    async stop() {
      await consensus.close();
      await Promise.all(hosts.map((h) => h.stop(100)));
    },
  };
}

async function finished(s: Swarm, id: string): Promise<ProposalResult> {
  const view = await until(async () => {
    const v = await s.consensus.get(id);
    return v?.state === 'completed' ? v : undefined;
  }, 30_000, 'the round to finish');
  return view.outcome;
}

async function specOf(s: Swarm, id: string) {
  const raw = await redis.connection.hget(consensusKeys(s.prefix).job(id), 'data');
  return roundSpecSchema.parse(JSON.parse(raw!));
}

async function rekeyAttack(s: Swarm, id: string): Promise<void> {
  const conn = redis.connection;
  const k = consensusKeys(s.prefix);
  const spec = await specOf(s, id);
  const victim = 'h1-a1';
  const attacker = generateAgentKeys();
  const agents = swarmKeys(s.prefix).agents;
  const rec = JSON.parse((await conn.hget(agents, victim))!) as Record<string, unknown>;
  await conn.hset(agents, victim, JSON.stringify({ ...rec, consensusKey: attacker.publicKey }));
  const targets = { h1: ['h1-a2'], h2: ['h2-a1', 'h2-a2'] };
  const junk = Buffer.alloc(32, 9).toString('base64');
  for (const [host, to] of Object.entries(targets)) {
    const env = { round: id, from: victim, seq: 900, body: JSON.stringify({ to, m: { type: 'query' } }), macs: { [to[0]!]: junk } };
    await conn.xadd(k.inbox(host), '*', 'm', JSON.stringify([{ k: 'env', env }]));
  }
  // Hosts look a suspect's key up after the pass that saw it (at most once a second).
  await new Promise((r) => setTimeout(r, 1500));
  const keys = new Map(spec.participants.map((p) => [p.id, p.key]));
  keys.set(victim, attacker.publicKey);
  const forger = new Authenticator(victim, attacker.privateKey, keys, id, { firstSeq: 1000 });
  for (const [host, to] of Object.entries(targets)) {
    const env = forger.seal(JSON.stringify({ to, m: { type: 'decided', value: EVIL } }), [to[0]!]);
    await conn.xadd(k.inbox(host), '*', 'm', JSON.stringify([{ k: 'env', env }]));
  }
}

async function decidedHashAttack(s: Swarm, id: string): Promise<void> {
  const decision = JSON.stringify({ value: EVIL, rounds: 1, at: Date.now() });
  await redis.connection.hset(consensusKeys(s.prefix).decided(id), 'h1-a1', decision, 'h2-a1', decision);
}

const participants = ['hb-a1', 'h1-a1', 'h1-a2', 'h2-a1', 'h2-a2'];

/**
 * A processor whose later replicas wait at a gate the test opens: the first
 * two of a task return at once, so their outputs sit in Redis, changeable,
 * before the last one finishes and the vote begins.
 */
const gates = new Map<string, { calls: number; open: () => void; opened: Promise<void> }>();
async function gated(payload: unknown): Promise<unknown> {
  const key = String((payload as { gate: string }).gate);
  const g = gates.get(key)!;
  if (++g.calls > 2) await g.opened;
  return 'good';
}
function gate(key: string): () => void {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  gates.set(key, { calls: 0, open, opened });
  return open;
}

/**
 * Rewrites the stored output of every finished replica of `task` to "evil", a
 * Redis writer's HSETs: in the replica's job hash, and in the parent's
 * `processed` hash where BullMQ copies a child's result for its flow.
 */
async function rewriteFinishedReplicas(s: Swarm, client: SwarmClient, task: string): Promise<number> {
  const view = await client.get(task);
  const ids = (view?.consensus?.replicaTasks ?? []) as string[];
  const processed = `${bullKey(s.prefix, CONSENSUS_QUEUE, task)}:processed`;
  let rewritten = 0;
  for (const id of ids) {
    const replica = await client.get(id);
    if (replica?.state !== 'completed') continue;
    const key = bullKey(s.prefix, nodeQueueName(replica.node), id);
    await redis.connection.hset(key, 'returnvalue', EVIL);
    if (await redis.connection.hexists(processed, key)) await redis.connection.hset(processed, key, EVIL);
    rewritten++;
  }
  return rewritten;
}

describe('forging a decision with Redis access', () => {
  let open: Swarm | undefined;
  let anchored: Swarm | undefined;
  // A pair of fresh swarms per test: an attack leaves its writes behind (a rekeyed record stays uncertified).
  beforeEach(async () => {
    [open, anchored] = await Promise.all([swarm(undefined), swarm(testAuthority())]);
  });
  afterEach(async () => {
    await Promise.all([open?.stop(), anchored?.stop()]);
  });

  it('rekey: without a trust anchor the forged key decides "evil"; with one it is refused, the forgery counted, and the honest value decided', async () => {
    // A 250 ms tick: the next ballot's owner takes over only after about 2.5 s, past the attack's 1.5 s.
    const submit = (s: Swarm) => s.consensus.submit({ protocol: 'quorum', value: GOOD, participants, tickMs: 250, timeoutMs: 20_000 });
    const [a, b] = await Promise.all([submit(open!), submit(anchored!)]);
    await Promise.all([rekeyAttack(open!, a.id), rekeyAttack(anchored!, b.id)]);

    const forged = await finished(open!, a.id);
    expect(forged).toMatchObject({ decided: true, value: 'evil' });

    const honest = await finished(anchored!, b.id);
    expect(honest).toMatchObject({ decided: true, value: GOOD, certified: true });
    expect(honest.rejected.forged, 'the two bad-MAC baits and the two sealed forgeries').toBeGreaterThanOrEqual(4);
    const values = [...parseDecisions(await redis.connection.hgetall(consensusKeys(anchored!.prefix).decided(b.id))).values()].map((d) => d.value);
    expect(values).not.toContain(EVIL);
  }, 40_000);

  it('decided hash: without a trust anchor two HSETs decide a PBFT proposal "evil"; with one they are not counted, and the honest value is decided', async () => {
    const submit = (s: Swarm) => s.consensus.submit({ protocol: 'pbft', value: GOOD, participants: participants.slice(0, 4), tickMs: 100, timeoutMs: 20_000 });
    const [a, b] = await Promise.all([submit(open!), submit(anchored!)]);
    await Promise.all([decidedHashAttack(open!, a.id), decidedHashAttack(anchored!, b.id)]);

    expect(await finished(open!, a.id)).toMatchObject({ decided: true, value: 'evil' });

    // The driver counts the bare entries as rejected until the honest agents' signed decisions replace them.
    const counted = await until(async () => {
      const v = await anchored!.consensus.get(b.id);
      return (v?.outcome.rejected['unsigned-decision'] ?? 0) >= 2 ? v : undefined;
    }, 5000, 'the bare decisions to be refused');
    expect(counted.outcome.decided).toBe(false);
    const honest = await finished(anchored!, b.id);
    expect(honest).toMatchObject({ decided: true, value: GOOD, certified: true });
  }, 40_000);

  it("replicated task: outputs rewritten in Redis before the vote win it without an anchor; with one they count as failed replicas and never as the output", async () => {
    const run = async (s: Swarm, key: string) => {
      const open = gate(key);
      const client = new SwarmClient({ redis: redis.url, prefix: s.prefix });
      try {
        const { id } = await client.submit({ type: 'gated', payload: { gate: key }, consensus: { protocol: 'quorum', replicas: 3 } });
        await until(async () => ((gates.get(key)?.calls ?? 0) >= 3 ? true : undefined), 15_000, 'all three replicas to start');
        expect(await until(async () => ((await rewriteFinishedReplicas(s, client, id)) >= 2 ? true : undefined), 10_000, 'two finished replicas to rewrite')).toBe(true);
        open();
        return await client.waitFor(id, { timeoutMs: 20_000 });
      } finally {
        await client.close();
      }
    };
    // Untouched, a replicated task runs through certified replicas and vote with an anchor.
    const client = new SwarmClient({ redis: redis.url, prefix: anchored!.prefix });
    try {
      const { id } = await client.submit({ type: 'echo', payload: 'same', consensus: { protocol: 'pbft', replicas: 4 } });
      expect(await client.waitFor(id, { timeoutMs: 20_000 })).toMatchObject({ state: 'completed', result: 'same' });
      // Rejected with retry: the second revision's round is certified and its replicas' outputs signed for it, or nothing would count.
      const approved = (await client.submit({ type: 'echo', payload: 'again', consensus: { protocol: 'quorum', replicas: 3 }, approval: { required: true } })).id;
      const atRound = (round: number) => until(async () => {
        const v = await client.get(approved);
        return v?.state === 'awaiting-approval' && v.approval?.round === round ? v : undefined;
      }, 20_000, `output ${round} to await approval`);
      await atRound(1);
      await client.reject(approved, { reason: 'once more', retry: true });
      expect((await atRound(2)).consensus).toMatchObject({ decided: true, votes: 3, dissenters: [] });
      await client.approve(approved, { round: 2 });
      expect(await client.waitFor(approved, { timeoutMs: 20_000 })).toMatchObject({ state: 'completed', result: 'again' });
    } finally {
      await client.close();
    }
    const [forged, refused] = await Promise.all([run(open!, 'open'), run(anchored!, 'anchored')]);
    expect(forged).toMatchObject({ state: 'completed', result: 'evil' });
    expect(refused.state).toBe('failed');
    expect(refused.result).toBeNull();
    expect(refused.error).toMatch(/no output reached the quorum quorum of 2 of 3/);
    expect(refused.consensus?.split).toEqual(expect.arrayContaining([expect.objectContaining({ error: expect.stringMatching(/not signed by its agent's certified host/) })]));
  }, 40_000);
});
