// The consensus API: put a value to agents and get their decision.
//
//   const consensus = new Consensus({ redis: 'redis://…', prefix: 'swarmq' });
//   const r = await consensus.propose({ protocol: 'raft', value: { deploy: 'v2' }, participants: { count: 5 } });
//
// A class of its own rather than methods of SwarmClient: a proposal is a
// BullMQ job whose completion this waits for (a QueueEvents connection), and
// a process may also drive proposals (`drive()`), none of which a task
// producer needs on its one-round-trip submit path.
import { Queue, QueueEvents, type Job } from 'bullmq';
import { connectRedis, duplicateClient, fromGiven, type RedisClient, type RedisGiven, type RedisTarget } from '../../../queues/redisTarget.ts';
import { CONSENSUS_QUEUE } from '../../../queues/keys.ts';
import { swarmConfigSchema, type SwarmConfigInput } from '../../config/schema.ts';
import { SwarmError } from '../../errors.ts';
import { silentLogger, type Logger } from '../../log.ts';
import { checkFieldDepth } from '../../tasks/jsonDepth.ts';
import { issuesOf } from '../../validation.ts';
import type { ProtocolName } from '../protocol.ts';
import { RoundDriver } from './driver.ts';
import type { DurabilityPolicy } from '../../../queues/durability.ts';
import { confirmDurable } from '../../durability.ts';
import { consensusKeys } from './keys.ts';
import { outcomeOf, parseDecisions } from './outcome.ts';
import { sendNotice } from './outbox.ts';
import { resolveParticipants } from './participants.ts';
import { REPLICATED_JOB } from './judgeReplicated.ts';
import { MAX_VALUE_BYTES, newProposalId, proposalIdSchema, proposalInputSchema, roundSeed, roundSpecSchema, type ProposalInput, type ProposalResult, type RoundSpec } from './proposal.ts';
import { PROTOCOLS, PROTOCOL_NAMES } from './protocols.ts';
import { certifySpec, decisionCheck } from './roundProof.ts';
import { processTrust, type ProcessTrust } from '../../trust/processTrust.ts';
import { RoundTrace, tracing } from './trace.ts';

export interface ConsensusOptions {
  /** Where Redis is (a URL, a Cluster's seed URLs separated by commas, a RedisTarget), or an ioredis Redis or Cluster to share (not closed by close()). */
  redis: RedisGiven;
  prefix?: string;
  /** Other swarm settings; `agents.failedAfterMs` decides which agents count as live. */
  config?: Omit<SwarmConfigInput, 'redisUrl' | 'prefix'>;
  logger?: Logger;
  /** The swarm's trust, given in memory; by default from config.trust (the anchor, SWARMQ_PROPOSER_IDENTITY_FILE), none without an anchor. */
  trust?: ProcessTrust;
}

export interface ProposalView {
  id: string;
  protocol: ProtocolName;
  /** BullMQ's state of the proposal's job: waiting, active (the round runs), completed. */
  state: string;
  value: unknown;
  participants: string[];
  createdAt: number;
  timeoutMs: number;
  /** The final outcome once completed; before that, what the agents have recorded so far. */
  outcome: ProposalResult;
}

const KEEP = { age: 7 * 24 * 3600 };

export class Consensus {
  private readonly redis: RedisClient;
  private readonly ownsRedis: boolean;
  private readonly target: RedisTarget | undefined;
  private readonly prefix: string;
  private readonly liveWithinMs: number;
  private readonly maxDepth: number;
  private readonly queue: Queue;
  private events: Promise<QueueEvents> | undefined;
  /** QueueEvents' own connection: BullMQ leaves a connection it was given open when it closes. */
  private eventsConnection: RedisClient | undefined;
  private driver: RoundDriver | undefined;
  private readonly logger: Logger;
  private readonly durability: DurabilityPolicy;
  /** With a trust anchor: specs are certified and signed here, and outcomes are counted only from host-signed decisions. */
  private readonly trust: ProcessTrust | undefined;

  constructor(opts: ConsensusOptions) {
    const config = swarmConfigSchema.parse({ ...opts.config, ...(opts.prefix ? { prefix: opts.prefix } : {}) });
    this.prefix = config.prefix;
    this.liveWithinMs = config.agents.failedAfterMs;
    this.maxDepth = config.http.maxJsonDepth;
    this.durability = config.durability;
    this.logger = opts.logger ?? silentLogger;
    this.trust = opts.trust ?? processTrust(config, { proposer: true });
    const given = fromGiven(opts.redis);
    this.ownsRedis = 'target' in given;
    this.target = 'target' in given ? given.target : undefined;
    this.redis = 'target' in given ? connectRedis(given.target, { maxRetriesPerRequest: null, connectionName: 'swarmq:consensus' }) : given.client;
    if (this.ownsRedis) this.redis.on('error', () => {});
    this.queue = new Queue(CONSENSUS_QUEUE, { connection: this.redis, prefix: this.prefix });
    // Without a listener BullMQ prints every connection error to stderr; the connection's owner reports them.
    this.queue.on('error', () => {});
  }

  /** The queue proposals live in (for Bull Board). */
  get proposals(): Queue {
    return this.queue;
  }

  /** Validates, chooses the participants and queues the proposal; nothing is written when the input is refused. */
  async submit(input: ProposalInput | unknown): Promise<{ id: string }> {
    const job = await this.add(input);
    return { id: job.id! };
  }

  /** Proposes and waits for the outcome (decided: false when the proposal's timeoutMs ran out). */
  async propose(input: ProposalInput): Promise<ProposalResult> {
    const events = await this.queueEvents();
    const job = await this.add(input);
    const spec = roundSpecSchema.parse(job.data);
    const reported = (await job.waitUntilFinished(events, spec.timeoutMs + 30_000)) as ProposalResult;
    // The job's result is whatever Redis holds: with an anchor, the outcome is counted again here, from the spec this process signed.
    return this.trust ? await this.outcomeNow(spec) : reported;
  }

  /** The outcome from the decisions recorded now (checked against the anchor, with one). */
  private async outcomeNow(spec: RoundSpec): Promise<ProposalResult> {
    const k = consensusKeys(this.prefix);
    const [decided, rejected] = await Promise.all([this.redis.hgetall(k.decided(spec.id)), this.redis.hgetall(k.rejected(spec.id))]);
    return outcomeOf(spec, parseDecisions(decided), rejected, this.trust && decisionCheck(spec, this.trust.verifier));
  }

  async get(id: string): Promise<ProposalView | null> {
    if (!proposalIdSchema.safeParse(id).success) return null; // no such proposal, and no key built from it
    const job = (await this.queue.getJob(id)) as Job | undefined;
    if (!job || job.name === REPLICATED_JOB) return null; // a replicated task: GET /api/tasks/:id shows it
    const spec = roundSpecSchema.parse(job.data);
    const state = await job.getState();
    let outcome = job.returnvalue as ProposalResult | null;
    // With an anchor, never the stored result: the spec's signature and the decisions' are checked each time.
    if (state !== 'completed' || !outcome || this.trust) outcome = await this.outcomeNow(spec);
    return { id, protocol: spec.protocol, state, value: JSON.parse(spec.value) as unknown, participants: spec.participants.map((p) => p.id), createdAt: spec.createdAt, timeoutMs: spec.timeoutMs, outcome };
  }

  /** Runs proposals in this process too (coordinators do). */
  async drive(): Promise<void> {
    if (this.driver) return;
    if (!this.target) throw new Error('drive() needs to know where Redis is (the driver opens its own connections): construct Consensus with redis: <url> or a RedisTarget');
    this.driver = new RoundDriver({ target: this.target, prefix: this.prefix, logger: this.logger, durability: this.durability, ...(this.trust ? { trust: this.trust } : {}) });
    await this.driver.start();
  }

  async close(): Promise<void> {
    await this.driver?.stop();
    if (this.events) await (await this.events).close();
    // Left open, it would reconnect forever once Redis is gone and keep the process alive.
    this.eventsConnection?.disconnect();
    await this.queue.close();
    if (this.ownsRedis) this.redis.disconnect();
  }

  private queueEvents(): Promise<QueueEvents> {
    this.events ??= (async () => {
      const connection = this.target ? connectRedis(this.target, { maxRetriesPerRequest: null }) : duplicateClient(this.redis, {});
      connection.on('error', () => {});
      this.eventsConnection = connection;
      const ev = new QueueEvents(CONSENSUS_QUEUE, { connection, prefix: this.prefix });
      await ev.waitUntilReady();
      return ev;
    })();
    return this.events;
  }

  private async add(input: unknown): Promise<Job> {
    checkFieldDepth(input, this.maxDepth); // before zod's z.json, which recurses, walks the value
    const parsed = proposalInputSchema.safeParse(input);
    if (!parsed.success) throw new SwarmError('invalid_request', `invalid proposal: ${parsed.error.issues[0]?.message ?? 'invalid'}`, issuesOf(parsed.error));
    const p = parsed.data;
    if (!Object.hasOwn(PROTOCOLS, p.protocol)) {
      throw new SwarmError('invalid_request', `unknown protocol "${p.protocol}"; known: ${PROTOCOL_NAMES.join(', ')}`, [{ path: 'protocol', message: 'unknown protocol' }]);
    }
    const protocol = p.protocol as ProtocolName;
    const value = JSON.stringify(p.value);
    if (Buffer.byteLength(value) > MAX_VALUE_BYTES) throw new SwarmError('payload_too_large', `the value is over ${MAX_VALUE_BYTES} bytes of JSON`);
    const min = PROTOCOLS[protocol].minParticipants;
    if (Array.isArray(p.participants) && p.participants.length < min) throw tooFew(protocol, p.participants.length, min);
    const proposer = this.trust && this.trust.proposer;
    if (this.trust && !proposer) throw new SwarmError('not_enrolled', 'SWARMQ_TRUST_ANCHOR is set, so a proposal must be signed, and this process has no proposer identity: set SWARMQ_PROPOSER_IDENTITY_FILE (`swarmq trust enroll --proposer <name>`)');
    const { participants, certs } = await resolveParticipants(this.redis, this.prefix, p.participants, this.liveWithinMs, this.trust?.verifier);
    if (participants.length < min) throw tooFew(protocol, participants.length, min);
    const id = newProposalId();
    const unsigned: RoundSpec = {
      id,
      protocol,
      value,
      participants,
      seed: roundSeed(id),
      tickMs: p.tickMs,
      timeoutMs: p.timeoutMs,
      createdAt: Date.now(),
    };
    const trace = tracing ? new RoundTrace(id, 'proposer') : undefined;
    if (trace) trace.createdAt = unsigned.createdAt;
    const spec = proposer ? certifySpec(unsigned, certs, proposer) : unsigned;
    trace?.mark('signed');
    const job = await this.queue.add('proposal', spec, { jobId: spec.id, attempts: 1, removeOnComplete: KEEP, removeOnFail: KEEP });
    trace?.mark('added');
    // The proposal is acknowledged (its id returned) once a replica has it, with replicated durability.
    await confirmDurable(this.redis, [`${this.prefix}:${CONSENSUS_QUEUE}`], this.durability, `proposal ${id}`);
    trace?.mark('confirmed');
    // The hosts may start now, from the job just written, rather than after a driver has picked it up (which tells them again).
    const k = consensusKeys(this.prefix);
    await sendNotice(this.redis, new Set(participants.map((x) => k.inbox(x.host))), { k: 'start', round: id }).catch((err: Error) =>
      this.logger.warn({ round: id, err: err.message }, 'could not tell the hosts a round was queued; its driver will'),
    );
    trace?.mark('noticed');
    trace?.write({ protocol });
    return job;
  }
}

function tooFew(protocol: ProtocolName, n: number, min: number): SwarmError {
  const why = protocol === 'pbft' ? 'PBFT needs n ≥ 3f+1 with f ≥ 1' : 'fewer could not tolerate a single crash';
  return new SwarmError('invalid_request', `${protocol} needs at least ${min} participants (${why}); got ${n}`, [{ path: 'participants', message: `at least ${min}` }]);
}

