// One pure step of a Fast Paxos node: (state, input) → (state, messages,
// decisions, what to persist). Messages a node sends to 'all' are also
// delivered to itself, synchronously, within the same step (it is one of the
// acceptors and learners), so e.g. a proposer votes for its own value and
// counts its own 2b before anything leaves the node.
import type { Input, NodeId, Output, Value } from '../protocol.ts';
import { on1a, on2a, onPropose } from './acceptor.ts';
import { maybeRecoverCollision, on1b, onNack, startRound } from './coordinator.ts';
import { noEffects, hear, type Effects, type Envelope } from './effects.ts';
import { on2b, onDecided, onQuery } from './learner.ts';
import type { FastPaxosMessage } from './messages.ts';
import { nextOwnedRound, ownerIndex } from './quorums.ts';
import { durableChanged, isActive, MAX_BACKOFF, persistedOf, type FastPaxosState } from './state.ts';

/** Ticks without progress before a node at `distance` after the next round's owner starts a round. Grows with the rounds tried. */
export function roundTimeout(s: FastPaxosState, distance: number): number {
  const { timeoutTicks, staggerTicks } = s.config;
  return timeoutTicks * (1 + Math.min(s.maxRound, MAX_BACKOFF - 1)) + distance * staggerTicks;
}

/** Ticks between queries of a node that has heard of nothing: T, 2T, 4T, then 8T. */
export function queryInterval(s: FastPaxosState): number {
  return s.config.timeoutTicks * Math.min(2 ** s.queries, MAX_BACKOFF);
}

/** Positions this node stands after the owner of the next round (0: it owns it). */
export function distanceToNextOwner(s: FastPaxosState): number {
  const n = s.config.n;
  return (((s.config.index - ownerIndex(s.maxRound + 1, n)) % n) + n) % n;
}

function receive(s: FastPaxosState, from: NodeId, m: FastPaxosMessage): Effects {
  switch (m.type) {
    case 'propose':
      return onPropose(s, from, m.value);
    case '1a':
      return on1a(s, from, m.round);
    case '1b':
      return on1b(s, from, m);
    case '2a':
      return on2a(s, from, m.round, m.value);
    case '2b': {
      const learnt = on2b(s, from, m.round, m.value);
      if (m.round !== 0) return learnt;
      const recovery = maybeRecoverCollision(learnt.state);
      return { state: recovery.state, send: [...learnt.send, ...recovery.send] };
    }
    case 'nack':
      return onNack(s, m);
    case 'query':
      return onQuery(s, from);
    case 'decided':
      return onDecided(s, m.value);
  }
}

function propose(s: FastPaxosState, value: Value): Effects {
  // One proposal per node and decision: a later one while the first is pending is dropped.
  if (s.decided !== null || s.proposal !== null) return noEffects(s);
  // A value every node knows from the start (the round's, read from its job), each of them told to propose it as the
  // round starts: this node's own acceptor takes it now, and nobody needs it sent (a resend after a timeout still goes to all).
  const to = value === s.config.proposal ? s.self : 'all';
  return { state: { ...hear(s, value), proposal: value, retryTicks: 0 }, send: [{ to, message: { type: 'propose', value } }] };
}

function tick(s0: FastPaxosState): Effects {
  if (s0.decided !== null) return noEffects(s0);
  let s: FastPaxosState = { ...s0, idleTicks: s0.idleTicks + 1, retryTicks: s0.retryTicks + 1 };
  const send: Envelope[] = [];
  const active = isActive(s);
  const proposal = s.proposal;
  if (proposal !== null && s.retryTicks >= roundTimeout(s, 0)) {
    // A proposer resends its value: it may have been lost, it wakes nodes that heard of
    // nothing, and nodes that know the decision answer it.
    s = { ...s, retryTicks: 0 };
    send.push({ to: 'all', message: { type: 'propose', value: proposal } });
  } else if (!active && s.retryTicks >= queryInterval(s)) {
    // A node that has heard of nothing (it was down or cut off while the others decided,
    // or no proposal has come yet) asks whether anything was decided; only decided nodes answer.
    s = { ...s, retryTicks: 0, queries: s.queries + 1 };
    send.push({ to: 'all', message: { type: 'query' } });
  }
  if (active && s.idleTicks >= roundTimeout(s, distanceToNextOwner(s))) {
    s = { ...s, idleTicks: 0 };
    const started = startRound(s, nextOwnedRound(s.maxRound, s.config.index, s.config.n));
    return { state: started.state, send: [...send, ...started.send] };
  }
  return { state: s, send };
}

/** Runs one input, delivering this node's own messages to itself until none is left. */
export function step(state: FastPaxosState, input: Input<FastPaxosMessage>): Output<FastPaxosState, FastPaxosMessage> {
  let first: Effects;
  if (input.kind === 'propose') first = propose(state, input.value);
  else if (input.kind === 'tick') first = tick(state);
  else if (!state.peers.includes(input.from)) first = noEffects(state);
  else first = receive(state, input.from, input.message);

  let s = first.state;
  const out: Envelope[] = [];
  const local: FastPaxosMessage[] = [];
  const route = (envelopes: readonly Envelope[]): void => {
    for (const e of envelopes) {
      if (e.to !== s.self && !(e.to === 'all' && s.peers.length === 1)) out.push(e);
      if (e.to === 'all' || e.to === s.self) local.push(e.message);
    }
  };
  route(first.send);
  for (let m = local.shift(); m !== undefined; m = local.shift()) {
    const e = receive(s, s.self, m);
    s = e.state;
    route(e.send);
  }

  const output: { state: FastPaxosState; send: Envelope[]; decide: { slot: number; value: Value }[]; persist?: unknown } = {
    state: s,
    send: out,
    decide: state.decided === null && s.decided !== null ? [{ slot: 0, value: s.decided }] : [],
  };
  if (durableChanged(state, s)) output.persist = persistedOf(s);
  return output;
}
