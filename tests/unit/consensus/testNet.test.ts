// The test network itself (tests/support/testNet.ts): what the protocol tests
// rely on it to catch, and the faults it plays, checked on the quorum core.
import { describe, expect, it } from 'vitest';
import type { Protocol } from '../../../src/consensus/protocol.ts';
import { quorum, type QuorumMessage, type QuorumState } from '../../../src/consensus/quorum/index.ts';
import { TestNet } from '../../support/testNet.ts';

const peers = ['a0', 'a1', 'a2'];

/** The quorum core, with `step` swapped: a core that misbehaves in one way. */
const broken = (step: Protocol<QuorumState, QuorumMessage>['step']): Protocol<QuorumState, QuorumMessage> => ({ ...quorum, step });

describe('the test network', () => {
  it('carries a round to a decision at every node, through JSON and the wire schema', () => {
    const net = new TestNet(quorum, peers);
    net.propose('a0', 'x');
    expect(net.sentByType.get('accept')).toBe(2);
    expect(net.settle()).toBe(true);
    expect(net.decidedValues()).toEqual(['x', 'x', 'x']);
  });

  it('throws when an honest core sends a message its schema refuses, or one to itself', () => {
    const garbage = broken((s, input) => ({ ...quorum.step(s, input), send: [{ to: 'all', message: { type: 'forged' } as unknown as QuorumMessage }] }));
    expect(() => new TestNet(garbage, peers).propose('a0', 'x')).toThrow(/failing the schema/);
    const toSelf = broken((s, input) => ({ ...quorum.step(s, input), send: [{ to: s.config.self, message: { type: 'query' } }] }));
    expect(() => new TestNet(toSelf, peers).propose('a0', 'x')).toThrow(/itself/);
  });

  it('throws when a core mutates the state it was given (states are frozen)', () => {
    const mutating = broken((s, input) => {
      (s as { promised: number }).promised = 99;
      return quorum.step(s, input);
    });
    expect(() => new TestNet(mutating, peers).propose('a0', 'x')).toThrow(TypeError);
  });

  it('lets a Byzantine node send anything: what fails the schema is refused and counted, the rest is delivered', () => {
    const net = new TestNet(quorum, peers, {
      byzantine: ['a0'],
      behaviour: (_self, honest) => [...honest.send, { to: 'all', message: { type: 'forged' } }],
    });
    net.propose('a0', 'x');
    expect(net.rejected).toBe(2);
    expect(net.inFlight.map((e) => e.message.type)).toEqual(['accept', 'accept']);
    expect(net.honest().map((n) => n.id)).toEqual(['a1', 'a2']);
  });

  it('dropIf loses messages on the way; a crashed node loses its inbox and comes back from what it persisted', () => {
    const net = new TestNet(quorum, peers);
    net.dropIf = (e) => e.to === 'a2';
    net.propose('a0', 'x');
    expect(net.inFlight.map((e) => e.to)).toEqual(['a1']);
    net.dropIf = undefined;
    net.deliver(0); // a1 votes: its vote is persisted
    const persisted = net.node('a1').persisted;
    expect(persisted).toMatchObject({ accepted: { ballot: 0, value: 'x' } });
    net.crash('a0');
    expect(net.inFlight).toEqual([]);
    net.crash('a1');
    net.restart('a1');
    expect(net.state('a1')).toMatchObject({ accepted: { ballot: 0, value: 'x' } });
    expect(net.node('a0').up).toBe(false);
  });
});
