// The quorum protocol's pure step function.
//
// A round of votes is one ballot: its proposer broadcasts `accept(b, v)`, each
// participant votes at most once per ballot and sends `vote(b, v)` to the
// ballot's owner, and the owner decides v when the votes of ballot b for v
// reach the decide quorum (rules.ts), then tells everyone (`decided`). Votes go
// to the owner rather than to all: a decision takes the same two message delays
// at the owner (the first decider is what a client waits for), and n votes are
// counted once instead of n times, which at n = 100 was a hundred times the
// work of the round on every host. Everyone else learns one delay later; if
// the owner dies before telling, they time out and a new ballot (whose
// promises report the votes) re-decides the same value.
//
// Why this is safe with rival proposers (this is single-decree Paxos):
//   1. Each ballot has one owner (b mod n) and its owner proposes one value in
//      it, ever: it persists `maxBallot` before sending, so not even a restart
//      reuses a ballot. So one ballot never carries two values, and the votes
//      of one ballot can only decide one value.
//   2. Before proposing in ballot b > 0, the owner gathers promises from a
//      prepare quorum: each promiser stops voting below b and reports its
//      latest vote. The owner must propose the value of the highest-ballot
//      vote reported (its own candidate only if none was). Every prepare
//      quorum meets every decide quorum, so if v was decided in some a < b,
//      some promiser voted v in a ballot ≥ a and, by induction over the
//      ballots between, the highest reported vote is v: b proposes v too.
//   3. Ballot 0 is the lowest there is: no value can have been decided below
//      it, so its owner (peers[0]) skips the prepare phase. A proposal that
//      reaches peers[0] first is decided in one round of votes. When every
//      node knows ballot 0's value from the start (`ballotZero`, the round's
//      value read from its job), the owner proposes exactly that value in
//      ballot 0 and nobody waits for its accept: a node told to propose it
//      votes for it in ballot 0 at once, as if the accept had arrived, and a
//      decision takes one message delay (the votes) instead of two.
//   4. Promises and votes are persisted before they are sent (`persist` of the
//      output), so a restarted voter neither votes twice in a ballot nor
//      forgets a promise.
// A round that cannot decide (votes split by a rival, drops, crashes) times
// out after a random number of ticks and its node starts a higher ballot.
import type { Input, NodeId, Output, Value } from '../protocol.ts';
import type { QuorumMessage, QuorumVote } from './messages.ts';
import { isParticipant, reachesDecide, reachesPrepare, weightOf } from './rules.ts';
import { drawTimeout, durableOf, type QuorumState } from './state.ts';
import { addVote, EMPTY_TALLY } from '../tally.ts';

type Send = { to: NodeId | 'all'; message: QuorumMessage };

/**
 * Accumulates one step's effects on a copy of the state; the input state is
 * never mutated. The copy is this step's own, so fields are assigned in place
 * on it (a fresh spread per change cost more than the protocol at n = 100);
 * maps and nested objects are replaced, never changed, as old states share them.
 */
class Step {
  s: QuorumState;
  readonly sends: Send[] = [];
  readonly decide: { slot: number; value: Value }[] = [];
  private durableChanged = false;

  constructor(state: QuorumState) {
    this.s = { ...state };
  }

  get self(): NodeId {
    return this.s.config.self;
  }

  output(): Output<QuorumState, QuorumMessage> {
    return { state: this.s, send: this.sends, decide: this.decide, ...(this.durableChanged ? { persist: durableOf(this.s) } : {}) };
  }

  /** Changes durable fields; the output will carry `persist`, which the shell stores before sending anything. */
  setDurable(patch: Partial<Pick<QuorumState, 'promised' | 'accepted' | 'maxBallot' | 'decided'>>): void {
    Object.assign(this.s, patch);
    this.durableChanged = true;
  }

  /** To one node; a message to self is handled at once, in this same step. */
  send(to: NodeId, message: QuorumMessage): void {
    if (to === this.self) this.receive(this.self, message);
    else this.sends.push({ to, message });
  }

  /** To every other participant, and handled locally too (a node is also a voter and a learner). */
  broadcast(message: QuorumMessage): void {
    this.sends.push({ to: 'all', message });
    this.receive(this.self, message);
  }

  resetTimer(): void {
    const { timeout, rng } = drawTimeout(this.s.config, this.s.rng);
    Object.assign(this.s, { idleTicks: 0, timeout, rng });
  }

  seen(ballot: number): void {
    if (ballot > this.s.highestSeen) this.s.highestSeen = ballot;
  }

  owner(ballot: number): NodeId {
    const peers = this.s.config.peers;
    return peers[ballot % peers.length] as NodeId;
  }

  /** The smallest ballot this node owns above every ballot it knows of. */
  nextBallot(): number {
    const n = this.s.config.peers.length;
    const index = this.s.config.indexOf.get(this.self) ?? 0;
    const base = Math.max(this.s.highestSeen, this.s.promised, this.s.maxBallot);
    return (Math.floor(base / n) + 1) * n + index;
  }

  /** Someone else leads a higher ballot: stop leading ours (it can no longer win) and give theirs time. */
  yieldTo(ballot: number, from: NodeId): void {
    if (from === this.self) return;
    if (this.s.proposer !== null && this.s.proposer.ballot < ballot) this.s.proposer = null;
    this.resetTimer();
  }

  /** Whether this node may vote for `value` (replicated tasks: only for its own output). */
  accepts(value: Value): boolean {
    const own = this.s.config.accept;
    return own === undefined || own === value;
  }

  propose(value: Value): void {
    if (this.s.decided !== null) return;
    if (this.voteBallotZero(value)) return;
    // Even a node that will not vote for `value` leads ballots for it: a replicated task's round puts one value to the
    // replicas (the judge's), and every ballot must carry that one, or a dissenter's own value, once voted, would be what
    // later ballots have to re-propose (Paxos) and the round could stall on a value a quorum refuses.
    if (this.s.candidate === null) this.s.candidate = value;
    if (this.s.proposer === null) this.startBallot();
  }

  /**
   * Ballot 0's accept is implicit when its value is known to all (3 above): a
   * node that has voted in no ballot and promised none above 0 votes now. A
   * node that has (a driver's retry reaches it later) proposes as usual.
   */
  voteBallotZero(value: Value): boolean {
    const known = this.s.config.ballotZero;
    if (known === undefined || value !== known) return false;
    const owner = this.owner(0);
    if (owner === this.self) {
      // The owner leads ballot 0 unless it already has: even after votes or higher ballots were seen, ballot 0
      // carries only the known value, so starting it late is safe, and votes that came first then count.
      if (this.s.maxBallot >= 0) return false;
      if (this.s.candidate === null) this.s.candidate = known;
      this.leadBallotZero(known);
      return true;
    }
    if (this.s.accepted !== null || this.s.promised > 0) return false;
    this.onAccept(owner, 0, known);
    if (this.s.candidate === null) this.s.candidate = known; // refused (replicated tasks): it may still lead a later ballot for it
    return true;
  }

  tick(): void {
    if (this.s.decided !== null) return;
    const idleTicks = this.s.idleTicks + 1;
    this.s.idleTicks = idleTicks;
    if (idleTicks < this.s.timeout) return;
    this.resetTimer();
    const candidate = this.s.candidate ?? this.s.accepted?.value ?? null;
    if (candidate !== null) {
      this.s.candidate = candidate;
      this.startBallot();
    } else {
      // Nothing to propose: ask whether anyone decided (a node that missed every vote learns this way).
      this.sends.push({ to: 'all', message: { type: 'query' } });
    }
  }

  startBallot(): void {
    const value = this.s.candidate;
    if (value === null) return;
    const ballot = this.nextBallot();
    this.setDurable({ maxBallot: ballot });
    this.seen(ballot);
    this.resetTimer();
    if (ballot === 0) {
      const known = this.s.config.ballotZero;
      if (known === undefined) {
        this.s.proposer = { phase: 'accepting', ballot, value };
        this.broadcast({ type: 'accept', ballot, value });
      } else this.leadBallotZero(known);
    } else {
      this.s.proposer = { phase: 'preparing', ballot, promises: new Map() };
      this.broadcast({ type: 'prepare', ballot });
    }
  }

  /** Ballot 0 with its known value: everyone votes for it without an accept (3 above); sending one would only draw every vote twice. */
  leadBallotZero(known: Value): void {
    this.setDurable({ maxBallot: 0 });
    this.seen(0);
    this.resetTimer();
    this.s.proposer = { phase: 'accepting', ballot: 0, value: known };
    this.receive(this.self, { type: 'accept', ballot: 0, value: known });
  }

  receive(from: NodeId, m: QuorumMessage): void {
    // The shell authenticates senders and drops non-participants; the core re-checks, as votes must count only from participants.
    if (!isParticipant(this.s.config.rule, from)) return;
    switch (m.type) {
      case 'prepare':
        return this.onPrepare(from, m.ballot);
      case 'promise':
        return this.onPromise(from, m.ballot, m.accepted);
      case 'accept':
        return this.onAccept(from, m.ballot, m.value);
      case 'vote':
        return this.onVote(from, m.ballot, m.value);
      case 'nack':
        return this.seen(m.promised);
      case 'decided':
        return this.learn(m.value, true);
      case 'query':
        if (this.s.decided !== null && from !== this.self) this.send(from, { type: 'decided', value: this.s.decided });
        return;
    }
  }

  onPrepare(from: NodeId, ballot: number): void {
    if (this.owner(ballot) !== from) return; // only a ballot's owner may lead it
    if (this.s.decided !== null) return this.send(from, { type: 'decided', value: this.s.decided });
    this.seen(ballot);
    if (ballot < this.s.promised) return this.send(from, { type: 'nack', ballot, promised: this.s.promised });
    if (ballot > this.s.promised) {
      this.setDurable({ promised: ballot });
      this.yieldTo(ballot, from);
    }
    this.send(from, { type: 'promise', ballot, accepted: this.s.accepted });
  }

  onPromise(from: NodeId, ballot: number, accepted: QuorumVote | null): void {
    const p = this.s.proposer;
    if (p === null || p.phase !== 'preparing' || p.ballot !== ballot || p.promises.has(from)) return;
    // A promise for b reports a vote below b; anything else is not a promise this ballot can rely on.
    if (accepted !== null && accepted.ballot >= ballot) return;
    const promises = new Map(p.promises).set(from, accepted);
    this.s.proposer = { ...p, promises };
    if (!reachesPrepare(this.s.config.rule, weightOf(this.s.config.rule, promises.keys()))) return;
    let highest: QuorumVote | null = null;
    for (const v of promises.values()) if (v !== null && (highest === null || v.ballot > highest.ballot)) highest = v;
    const value = highest?.value ?? this.s.candidate;
    if (value === null) return; // unreachable: a ballot is only started with a candidate
    this.s.proposer = { phase: 'accepting', ballot, value };
    this.broadcast({ type: 'accept', ballot, value });
  }

  onAccept(from: NodeId, ballot: number, value: Value): void {
    if (this.owner(ballot) !== from) return;
    if (this.s.decided !== null) return this.send(from, { type: 'decided', value: this.s.decided });
    this.seen(ballot);
    if (ballot < this.s.promised) return this.send(from, { type: 'nack', ballot, promised: this.s.promised });
    if (!this.accepts(value)) {
      // Refused, as if the accept were lost; but the ballot (≥ our promise) is live: give it time rather than pre-empt it with our own.
      this.yieldTo(ballot, from);
      return;
    }
    const prior = this.s.accepted;
    if (prior !== null && prior.ballot === ballot) {
      // Already voted in this ballot: never for a second value; the same vote again only helps lossy links.
      if (prior.value === value && from !== this.self) this.send(from, { type: 'vote', ballot, value });
      return;
    }
    const newer = ballot > this.s.promised;
    this.setDurable({ promised: ballot, accepted: { ballot, value } });
    if (newer) this.yieldTo(ballot, from);
    else if (from !== this.self) this.resetTimer(); // the ballot we promised is progressing: give it time
    if (this.s.candidate === null) this.s.candidate = value;
    this.send(from, { type: 'vote', ballot, value });
  }

  onVote(from: NodeId, ballot: number, value: Value): void {
    this.seen(ballot);
    if (this.s.decided !== null) return;
    // Tallied per ballot: votes of different ballots never add up (a voter may vote in several ballots, for different values).
    const tally = this.s.votes.get(ballot);
    const before = tally?.votes ?? EMPTY_TALLY;
    const votes = addVote(before, this.s.config.indexOf.get(from) ?? -1, value);
    if (votes === before) return; // a duplicated or replayed vote counts once
    const sum = (tally?.weight.get(value) ?? 0) + (this.s.config.rule.weights.get(from) ?? 0);
    this.s.votes = new Map(this.s.votes).set(ballot, { votes, weight: new Map(tally?.weight ?? []).set(value, sum) });
    if (this.s.candidate === null) this.s.candidate = value;
    if (reachesDecide(this.s.config.rule, sum)) this.learn(value, false);
  }

  /** `told`: learned from a `decided` message rather than from counting votes. */
  learn(value: Value, told: boolean): void {
    if (this.s.decided !== null) return;
    // A node told the outcome while leading a ballot had made everyone promise it and hold back their own timers, but they
    // may have missed the votes too: pass the outcome on, or they would each wait out a timeout in turn to learn it.
    // A node that counted the votes itself tells everyone: they sent their votes to it alone.
    if (!told || this.s.proposer !== null) this.sends.push({ to: 'all', message: { type: 'decided', value } });
    this.setDurable({ decided: value });
    // Decided for good: the tallies and the proposer role are no longer needed.
    Object.assign(this.s, { proposer: null, votes: new Map(), candidate: null });
    this.decide.push({ slot: 0, value });
  }
}

export function stepQuorum(state: QuorumState, input: Input<QuorumMessage>): Output<QuorumState, QuorumMessage> {
  const step = new Step(state);
  switch (input.kind) {
    case 'propose':
      step.propose(input.value);
      break;
    case 'tick':
      step.tick();
      break;
    case 'receive':
      step.receive(input.from, input.message);
      break;
  }
  return step.output();
}
