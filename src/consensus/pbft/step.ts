// The step function: one input (a client proposal, an authenticated message,
// a tick) in, the new state, messages, decisions and what to persist out.
import type { Input, Output } from '../protocol.ts';
import { onCheckpoint } from './checkpoints.ts';
import { closeCtx, isPrimary, openCtx, setTimers, type Ctx } from './context.ts';
import type { PbftMessage } from './messages.ts';
import { assignRequests, onCommit, onPrePrepare, onPrepare, onPropose, onRequest, waiting } from './normal.ts';
import type { PbftState } from './state.ts';
import { onState, onStatus, retransmit, unsettled } from './transfer.ts';
import { onNewView, onNewViewEcho, onViewChange, onViewChangeAck, startViewChange, viewChangeSupport } from './viewChange.ts';

export function stepPbft(state: PbftState, input: Input<PbftMessage>): Output<PbftState, PbftMessage> {
  const c = openCtx(state, assignRequests);
  switch (input.kind) {
    case 'propose':
      onPropose(c, input.value);
      break;
    case 'tick':
      onTick(c);
      break;
    case 'receive':
      // Only participants take part; a replica never hears itself over the wire.
      if (input.from !== state.self && state.peers.includes(input.from)) onMessage(c, input.from, input.message);
      break;
  }
  return closeCtx(c);
}

function onMessage(c: Ctx, from: string, m: PbftMessage): void {
  switch (m.type) {
    case 'request':
      return onRequest(c, m.value);
    case 'pre-prepare':
      return onPrePrepare(c, from, m);
    case 'prepare':
      return onPrepare(c, from, m);
    case 'commit':
      return onCommit(c, from, m);
    case 'checkpoint':
      return onCheckpoint(c, from, { seq: m.seq, digest: m.digest });
    case 'view-change':
      return onViewChange(c, from, m.body);
    case 'view-change-ack':
      return onViewChangeAck(c, from, m);
    case 'new-view':
      return onNewView(c, from, m);
    case 'new-view-echo':
      return onNewViewEcho(c, from, m);
    case 'status':
      return onStatus(c, from, m);
    case 'state':
      return onState(c, from, m);
  }
}

/**
 * Time: a backup waiting too long for a request suspects the primary and starts
 * a view change; a view change that a quorum joined but that does not finish in
 * time gives way to the next view, with the timeout doubled (up to 2^maxBackoff);
 * a waiting replica retransmits every few ticks.
 */
function onTick(c: Ctx): void {
  const cfg = c.s.config;
  const t = c.s.timers;
  const d = c.s.durable;
  setTimers(c, { retransmit: t.retransmit + 1 });
  if (d.active) {
    if (!isPrimary(c.s) && waiting(c.s)) {
      const request = t.request + 1;
      if (request >= cfg.requestTimeout) startViewChange(c, d.view + 1);
      else setTimers(c, { request });
    } else if (t.request !== 0) setTimers(c, { request: 0 });
  } else if (viewChangeSupport(c.s) >= cfg.quorum) {
    const elapsed = t.viewChange + 1;
    if (elapsed >= cfg.viewChangeTimeout * 2 ** t.backoff) {
      setTimers(c, { backoff: Math.min(t.backoff + 1, cfg.maxBackoff) });
      startViewChange(c, d.view + 1);
    } else setTimers(c, { viewChange: elapsed });
  }
  if (c.s.timers.retransmit >= cfg.retransmitTicks) {
    setTimers(c, { retransmit: 0 });
    if (unsettled(c.s)) retransmit(c);
  }
}
