// What a host persists of a round's replay protection (keys.replay), in the
// same MULTI as its agents' protocol state: per sender, the window of message
// numbers this host accepted (replay.ts), written with the first durable
// effect after it moved or at the next tick (LocalRound.saveWindows); per
// local agent, the number its next message gets, written with the messages.
// A host that reloads the round (after a failed write, or a restart that kept
// its keys) so refuses the messages whose effects it had stored, and its
// agents never number two messages alike under one key, which their peers'
// windows would refuse as replays. Bounded: one field per participant that
// sent to this host, one per local agent; gone 10 minutes after the round.
import type { NodeId } from '../protocol.ts';
import { decodeWindow, type KeyedWindow } from '../replay.ts';

export const windowField = (from: NodeId): string => `r ${from}`;
export const nextSeqField = (agent: NodeId): string => `s ${agent}`;

export interface ReplayState {
  windows: [NodeId, KeyedWindow][];
  nextSeq: Map<NodeId, number>;
}

export const NO_REPLAY_STATE: ReplayState = { windows: [], nextSeq: new Map() };

/**
 * Parses the hash; throws on a field it cannot read rather than forget a
 * window (which would let replays in): the host then leaves the round, as it
 * does for protocol state it cannot read.
 */
export function parseReplayHash(fields: Record<string, string>): ReplayState {
  const state: ReplayState = { windows: [], nextSeq: new Map() };
  for (const [field, value] of Object.entries(fields)) {
    const kind = field.slice(0, 2);
    const id = field.slice(2);
    if (kind === 'r ' && id) {
      const w = decodeWindow(value);
      if (w === undefined) throw new Error(`unreadable replay window for sender ${id}: ${JSON.stringify(value.slice(0, 80))}`);
      state.windows.push([id, w]);
    } else if (kind === 's ' && id) {
      const n = /^(0|[1-9]\d{0,15})$/.test(value) ? Number(value) : NaN;
      if (!Number.isSafeInteger(n)) throw new Error(`unreadable next message number for agent ${id}: ${JSON.stringify(value.slice(0, 80))}`);
      state.nextSeq.set(id, n);
    } else {
      throw new Error(`unknown field ${JSON.stringify(field.slice(0, 80))} in a round's replay state`);
    }
  }
  return state;
}
