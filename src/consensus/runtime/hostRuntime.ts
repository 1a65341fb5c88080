// An agent host's part in consensus: one inbox stream for all its agents, one
// pump that steps their protocol cores, one MULTI per pass (outbox.ts), and a
// tick timer per round it takes part in.
//
// Inputs are handled strictly one pass at a time: whatever arrived while the
// previous pass was being written (stream entries, ticks, this host's own
// messages) is stepped together, so batching grows with load by itself.
import type { KeyObject } from 'node:crypto';
import { connectRedis, type RedisClient, type RedisTarget } from '../../../queues/redisTarget.ts';
import type { Logger } from '../../log.ts';
import { swarmKeys } from '../../../queues/keys.ts';
import { agentRecordSchema } from '../../swarm/records.ts';
import { InboxReader } from './inbox.ts';
import { consensusKeys, type ConsensusKeys } from './keys.ts';
import { Outbox } from './outbox.ts';
import { roundSpecOfJobData, type RoundSpec } from './proposal.ts';
import { parseReplayHash } from './replayState.ts';
import { LINGER_MS, LocalRound, roundEndsAt, roundOfEnvelope } from './round.ts';
import type { InboxItem } from './wire.ts';
import { slotPipeline } from '../../../queues/slotPipeline.ts';
import type { ProcessTrust } from '../../trust/processTrust.ts';
import type { AgentCert } from '../../trust/certificates.ts';
import { decisionRecorded, signDecision, verifySpec, type VerifiedSpec } from './roundProof.ts';
import { acceptRotatedKey } from './keyRotation.ts';
import { RoundTrace, tracing, wallMs } from './trace.ts';

export interface ConsensusHostOptions {
  target: RedisTarget;
  prefix: string;
  hostId: string;
  /** The private consensus key of an agent of this host (undefined: not here any more). */
  keyOf(agentId: string): KeyObject | undefined;
  /**
   * With a trust anchor: a round is joined only if its spec is an enrolled
   * proposer's and every participant's key is certified; this host signs its
   * agents' decisions; a participant's key changes only for a newer certified one.
   */
  trust?: ProcessTrust;
  logger: Logger;
}

/** Work units (one XREAD's entries, or one tick) stepped in one pass, before one MULTI. */
const MAX_WORK_PER_PASS = 16;

/** `readAt`: when these items were read (from the inbox, or handed back by this host's own flush), for tracing. */
type Work = { kind: 'items'; items: InboxItem[]; bad: number; readAt: number; addedAt: number } | { kind: 'tick'; round: LocalRound };

export class ConsensusHost {
  private readonly keys: ConsensusKeys;
  private readonly inbox: string;
  private readonly reader: InboxReader;
  /**
   * Its own command connection, not the host's: BullMQ defines its scripts on
   * the host's, and ioredis copies every defined command into each pipeline
   * it builds (~60 µs against ~8 µs), several times per round.
   */
  private readonly redis: RedisClient;
  private readonly rounds = new Map<string, LocalRound>();
  /** Rounds dropped after a failed write, with their driver: reloaded from Redis when next heard of. */
  private readonly stale = new Map<string, string | undefined>();
  private queue: Work[] = [];
  private pumping: Promise<void> | undefined;
  private stopped = false;
  /** When a participant's registered key was last looked up, per round. */
  private readonly lookedUp = new Map<string, number>();
  /** Per agent key: pairwise MAC keys derived in earlier rounds (an X25519 agreement each). */
  private readonly pairKeys = new WeakMap<KeyObject, Map<string, Buffer>>();
  /** With SWARMQ_CONSENSUS_TRACE=1: this host's timings per round (trace.ts), written when the round finishes here. */
  private readonly traces = new Map<string, RoundTrace>();

  constructor(private readonly o: ConsensusHostOptions) {
    this.keys = consensusKeys(o.prefix);
    this.inbox = this.keys.inbox(o.hostId);
    this.redis = connectRedis(o.target, { maxRetriesPerRequest: null, connectionName: `swarmq:consensus:${o.hostId}:commands`, retryStrategy: (t) => Math.min(50 * 2 ** Math.min(t, 6), 2000) });
    this.redis.on('error', () => {}); // the inbox reader and the host's own connection report outages
    this.reader = new InboxReader({
      target: o.target,
      key: this.inbox,
      name: `swarmq:consensus:${o.hostId}`,
      logger: o.logger,
      onItems: (items, bad, read) => this.enqueue({ kind: 'items', items, bad, readAt: read.at, addedAt: read.firstAddedAt }),
    });
  }

  async start(): Promise<void> {
    await this.reader.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const r of this.rounds.values()) clearInterval(r.timer);
    await this.reader.stop();
    await this.pumping;
    this.redis.disconnect();
  }

  /** Rounds this host is taking part in now (finished ones linger a while). */
  activeRounds(): string[] {
    return [...this.rounds.values()].filter((r) => !r.finished).map((r) => r.id);
  }

  private enqueue(w: Work): void {
    if (this.stopped) return;
    this.queue.push(w);
    this.pumping ??= this.pump().finally(() => (this.pumping = undefined));
  }

  private async pump(): Promise<void> {
    while (this.queue.length && !this.stopped) {
      // Bounded passes: a busy host still lets its timers (heartbeat, ticks) run between them.
      const batch = this.queue.splice(0, MAX_WORK_PER_PASS);
      const out = new Outbox(this.keys, this.inbox, this.o.hostId);
      const traced = new Set<RoundTrace>();
      for (const w of batch) {
        if (w.kind === 'tick') {
          w.round.tickQueued = false;
          const t = tracing ? this.traceOf(w.round.id) : undefined;
          const t0 = tracing ? wallMs() : 0;
          if (!w.round.finished && this.rounds.get(w.round.id) === w.round) this.guard(w.round.id, () => w.round.tick(out));
          if (t) {
            t.add('ticks', 1);
            t.add('tickMs', wallMs() - t0);
            traced.add(t);
          }
          continue;
        }
        out.count('consensusBadItems', w.bad);
        for (const item of w.items) {
          const id = tracing ? ('round' in item ? item.round : roundOfEnvelope(item.env)) : undefined;
          const t = id === undefined ? undefined : this.traceOf(id);
          const t0 = tracing ? wallMs() : 0;
          if (t) this.traceItem(t, item, w, t0);
          try {
            await this.handle(item, out);
          } catch (err) {
            this.abandon('round' in item ? item.round : roundOfEnvelope(item.env), err);
          }
          if (t) {
            t.add('handleMs', wallMs() - t0);
            traced.add(t);
          }
        }
      }
      void this.lookUpSuspects();
      try {
        const f0 = tracing ? wallMs() : 0;
        const local = await out.flush(this.redis);
        const f1 = tracing ? wallMs() : 0;
        if (local.length) this.queue.push({ kind: 'items', items: local, bad: 0, readAt: f1, addedAt: f1 });
        if (tracing) this.traceFlush(traced, out, f0, f1);
      } catch (err) {
        // The cores ran ahead of what Redis holds: drop those rounds as if this host had crashed;
        // they are rebuilt from their persisted state when next heard of.
        this.o.logger.warn({ err: (err as Error).message, rounds: [...out.touched] }, 'could not write consensus state; reloading the rounds from Redis');
        for (const id of out.touched) {
          const r = this.rounds.get(id);
          if (!r) continue;
          clearInterval(r.timer);
          this.rounds.delete(id);
          this.stale.set(id, r.driverInbox);
        }
      }
    }
  }

  /**
   * Messages from a participant failed their MAC check: if its registered key
   * changed (its host restarted with fresh keys and took its seats back), use
   * the new one. At most one look per participant per second: forgeries cost
   * a read, not a flood of them.
   */
  private async lookUpSuspects(): Promise<void> {
    const now = Date.now();
    const due: { round: LocalRound; peer: string }[] = [];
    for (const r of this.rounds.values()) {
      for (const peer of r.suspects) {
        const key = `${r.id}\u0000${peer}`;
        if ((this.lookedUp.get(key) ?? 0) > now - 1000) continue;
        this.lookedUp.set(key, now);
        due.push({ round: r, peer });
      }
      r.suspects.clear();
    }
    if (this.lookedUp.size > 10_000) for (const [k, at] of this.lookedUp) if (at < now - 1000) this.lookedUp.delete(k);
    if (!due.length) return;
    try {
      const raw = await this.redis.hmget(swarmKeys(this.o.prefix).agents, ...due.map((d) => d.peer));
      due.forEach(({ round, peer }, i) => {
        const record = agentRecordSchema.safeParse(raw[i] == null ? undefined : JSON.parse(raw[i]!));
        const key = record.success ? this.rotatedKey(round, peer, record.data) : undefined;
        if (key !== undefined && key !== round.keys.get(peer)) {
          this.o.logger.info({ round: round.id, agent: peer }, 'a participant came back with a new consensus key; using it');
          round.rekey(peer, key);
        }
      });
    } catch (err) {
      this.o.logger.warn({ err: (err as Error).message }, 'could not look up participants\' consensus keys');
    }
  }

  /**
   * The key a participant's record brings: as registered, without a trust
   * anchor; with one, only a key its own host certified after the one in use
   * (a key written into the roster by anyone else, or an older certificate
   * replayed, changes nothing).
   */
  private rotatedKey(round: LocalRound, peer: string, record: { consensusKey?: string | undefined; consensusCert?: AgentCert | undefined }): string | undefined {
    if (!this.o.trust) return record.consensusKey;
    const host = round.spec.participants.find((p) => p.id === peer)?.host;
    const taken = acceptRotatedKey(this.o.trust.verifier, peer, host, round.keyIssuedAt.get(peer), record);
    if ('rejected' in taken) {
      this.o.logger.warn({ round: round.id, agent: peer, why: taken.rejected }, "a participant's registered key is not a newer certified one: not using it");
      return undefined;
    }
    round.keyIssuedAt.set(peer, taken.issuedAt);
    return taken.key;
  }

  private guard(round: string, f: () => void): void {
    try {
      f();
    } catch (err) {
      this.abandon(round, err);
    }
  }

  /**
   * A core threw (a bug, or persisted state it cannot read): this host stops
   * running the round, as if its agents had crashed, rather than the whole
   * host going down with every other round.
   */
  private abandon(round: string | undefined, err: unknown): void {
    this.o.logger.error({ round, err: (err as Error)?.stack ?? String(err) }, 'a consensus round failed on this host; its agents here leave the round');
    const r = round === undefined ? undefined : this.rounds.get(round);
    if (r) {
      clearInterval(r.timer);
      this.rounds.delete(r.id);
    }
  }

  private async handle(item: InboxItem, out: Outbox): Promise<void> {
    switch (item.k) {
      case 'start': {
        const known = this.rounds.get(item.round);
        const driver = item.driver === undefined ? undefined : this.keys.inbox(item.driver);
        if (!known) await this.load(item.round, driver, true, out);
        else if (driver !== undefined && driver !== known.driverInbox) {
          known.driverInbox = driver;
          // Decisions taken before this driver was known were told to nobody (or to a driver that died).
          for (const agent of known.decidedAgents()) out.send(driver, { k: 'decided', round: known.id, agent });
        }
        return;
      }
      case 'propose':
        (await this.roundFor(item.round, out))?.propose(item.to, out);
        return;
      case 'done': {
        const r = this.rounds.get(item.round);
        if (r && !r.finished) this.finish(r);
        return;
      }
      case 'env': {
        const id = roundOfEnvelope(item.env);
        const r = id === undefined ? undefined : await this.roundFor(id, out);
        if (r) r.receive(item.env, out);
        else out.count('consensusUnknownRound');
        return;
      }
      case 'decided':
        // For drivers; a host ignores it.
        return;
    }
  }

  private async roundFor(id: string, out: Outbox): Promise<LocalRound | undefined> {
    const r = this.rounds.get(id);
    if (r) return r;
    if (!this.stale.has(id)) return undefined;
    const driver = this.stale.get(id);
    this.stale.delete(id);
    return await this.load(id, driver, false, out);
  }

  /**
   * Builds this host's part of a round from Redis: the spec from the proposal's
   * job (never from the wire), each local agent's persisted state, this host's
   * replay state. A round new to every local agent starts with the proposal at
   * its first participant. A round past its end is not loaded: it would only
   * stop at its first tick, and its replay state is not kept that long.
   */
  private async load(id: string, driverInbox: string | undefined, fresh: boolean, out: Outbox): Promise<LocalRound | undefined> {
    // One round trip: the spec, and whatever any agent of the round has persisted or decided, and what this host
    // accepted and sent (nothing, for a new round).
    const replies = (await slotPipeline(this.redis)
      .hget(this.keys.job(id), 'data')
      .hgetall(this.keys.state(id))
      .hgetall(this.keys.decided(id))
      .hgetall(this.keys.replay(id, this.o.hostId))
      .exec()) as [[Error | null, string | null], [Error | null, Record<string, string>], [Error | null, Record<string, string>], [Error | null, Record<string, string>]];
    // Not as if nothing were there: a window read as empty would let replays in.
    const failed = replies.find(([err]) => err);
    if (failed) throw failed[0];
    const trace = tracing ? this.traceOf(id) : undefined;
    trace?.mark('loadRead');
    const [[, raw], [, persistedAll], [, decidedAll], [, replayRaw]] = replies;
    if (raw === null || raw === undefined) return undefined;
    let spec: RoundSpec | undefined;
    try {
      spec = roundSpecOfJobData(JSON.parse(raw));
      if (spec === undefined) return undefined; // a replicated task whose vote has not begun
      // A replicated task's job holds its latest revision's spec: a round of another revision (over, or not begun) is not this one.
      if (spec.id !== id) return undefined;
    } catch (err) {
      this.o.logger.warn({ round: id, err: (err as Error).message }, 'a consensus round with an unreadable spec; not taking part');
      return undefined;
    }
    if (trace) {
      trace.createdAt = spec.createdAt;
      trace.mark('specParsed');
    }
    const stopAt = roundEndsAt(spec);
    if (Date.now() > stopAt) return undefined;
    const mine = spec.participants.filter((p) => p.host === this.o.hostId && this.o.keyOf(p.id) !== undefined);
    if (!mine.length) return undefined;
    let proof: ConstructorParameters<typeof LocalRound>[6];
    let verified: VerifiedSpec | undefined;
    if (this.o.trust) {
      const identity = this.o.trust.host;
      if (!identity) return undefined; // it could not sign its agents' decisions (warned at start)
      const v = verifySpec(spec, this.o.trust.verifier);
      if (typeof v === 'string') {
        this.o.logger.warn({ round: id, why: v }, 'a consensus round whose spec is not certified; not taking part');
        out.reject(id, v);
        return undefined;
      }
      verified = v;
      trace?.mark('verified');
      const s = spec;
      proof = { sign: (agent, value) => signDecision(s, v.digest, agent, value, identity), keyIssuedAt: v.keyIssuedAt };
    }
    const local = mine.map((p) => {
      const persisted = persistedAll[p.id];
      return {
        id: p.id,
        key: this.o.keyOf(p.id)!,
        persisted: persisted === undefined ? undefined : (JSON.parse(persisted) as unknown),
        decided: decisionRecorded(spec, verified, p.id, decidedAll[p.id]),
      };
    });
    let round: LocalRound;
    try {
      round = new LocalRound(spec, local, this.keys, driverInbox, (key) => this.pairKeysOf(key), parseReplayHash(replayRaw), proof);
    } catch (err) {
      this.o.logger.error({ round: id, err: (err as Error).message }, 'could not start or recover a consensus round');
      return undefined;
    }
    this.rounds.set(id, round);
    // A round whose driver never says done (it died and nobody took the proposal over) stops by itself.
    round.timer = setInterval(() => {
      if (Date.now() > stopAt) return this.finish(round);
      if (round.tickQueued || round.finished) return;
      round.tickQueued = true;
      this.enqueue({ kind: 'tick', round });
    }, spec.tickMs);
    round.timer.unref();
    if (fresh && round.rt.startsEverywhere) {
      // Every agent holds the value from the job: each starts on it now rather than wait for the first proposer's message.
      for (const a of local) if (a.persisted === undefined) round.propose(a.id, out);
    } else {
      const first = spec.participants[0]!.id;
      if (fresh && round.has(first) && local.every((a) => a.persisted === undefined)) round.propose(first, out);
    }
    trace?.mark('built');
    return round;
  }

  private traceOf(round: string): RoundTrace {
    let t = this.traces.get(round);
    if (!t) {
      // Rounds with no agent here are never finished here: bounded, oldest first.
      if (this.traces.size >= 1000) this.traces.delete(this.traces.keys().next().value!);
      this.traces.set(round, (t = new RoundTrace(round, this.o.hostId)));
    }
    return t;
  }

  /** arrive: first read of anything for the round; added: when Redis took that entry (ms); handled: a pass began on it. */
  private traceItem(t: RoundTrace, item: InboxItem, w: Work & { kind: 'items' }, now: number): void {
    t.mark('arrive', w.readAt);
    t.mark('added', w.addedAt);
    t.mark('handled', now);
    t.add('queuedMs', now - w.readAt);
    if (item.k !== 'env') return;
    t.add('envIn', 1);
    t.mark('envArrive', w.readAt);
    if (!t.has('decided')) t.markLast('envLastArrive', w.readAt);
  }

  private traceFlush(traced: Set<RoundTrace>, out: Outbox, f0: number, f1: number): void {
    for (const t of traced) {
      t.add('passes', 1);
      t.add('flushMs', f1 - f0);
      t.add('bytesOut', out.bytes);
      t.mark('flushed', f1);
      const decidedAt = out.firstDecisionAt.get(t.round);
      if (decidedAt !== undefined) {
        t.mark('decided', decidedAt);
        t.mark('decisionWritten', f1);
      }
    }
    for (const [round, n] of out.sentTo) this.traces.get(round)?.add('itemsOut', n);
    for (const t of traced) t.add('xadds', out.destinations);
  }

  private pairKeysOf(key: KeyObject): Map<string, Buffer> {
    let m = this.pairKeys.get(key);
    // Bounded: peers come and go; a cache this large is mostly agents long gone.
    if (!m || m.size > 50_000) this.pairKeys.set(key, (m = new Map()));
    return m;
  }

  private finish(r: LocalRound): void {
    r.finished = true;
    const t = this.traces.get(r.id);
    if (t) {
      this.traces.delete(r.id);
      t.write({ protocol: r.spec.protocol, local: r.localAgents().length });
    }
    clearInterval(r.timer);
    setTimeout(() => {
      if (this.rounds.get(r.id) === r) this.rounds.delete(r.id);
    }, LINGER_MS).unref();
  }
}
