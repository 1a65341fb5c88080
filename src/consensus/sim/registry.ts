// Protocol name → what the simulator needs to run it. Each protocol's author
// exports a SimSpec from src/consensus/<protocol>/sim.ts; whoever integrates a
// protocol adds one line here.
import { fastPaxosSimSpec } from '../fast-paxos/sim.ts';
import { pbftSimSpec } from '../pbft/sim.ts';
import { quorumSimSpec } from '../quorum/sim.ts';
import { raftSimSpec } from '../raft/sim.ts';
import type { SimSpec } from './spec.ts';

// The registry holds specs of different state and message types; the simulator is generic over them.
export type AnySimSpec = SimSpec<any, any>;

export const simSpecs: Readonly<Record<string, AnySimSpec>> = {
  quorum: quorumSimSpec,
  raft: raftSimSpec,
  pbft: pbftSimSpec,
  'fast-paxos': fastPaxosSimSpec,
};

export function knownProtocols(specs: Readonly<Record<string, AnySimSpec>> = simSpecs): string[] {
  return Object.keys(specs).sort();
}

export class UnknownProtocolError extends Error {
  constructor(
    readonly protocol: string,
    readonly known: readonly string[],
  ) {
    super(`unknown protocol ${JSON.stringify(protocol)}; known: ${known.join(', ')}`);
    this.name = 'UnknownProtocolError';
  }
}

export function simSpecFor(protocol: string, specs: Readonly<Record<string, AnySimSpec>> = simSpecs): AnySimSpec {
  if (!Object.hasOwn(specs, protocol)) throw new UnknownProtocolError(protocol, knownProtocols(specs));
  return specs[protocol] as AnySimSpec;
}
