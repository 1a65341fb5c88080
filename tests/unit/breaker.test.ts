// The circuit breaker of an agent: pure, so its promises are checked over random histories.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { advance, CLOSED, cooldownLeft, DEFAULT_BREAKER, recordResult, slots, type Breaker, type BreakerOptions } from '../../src/health/breaker.ts';

const o: BreakerOptions = { failures: 3, cooldownMs: 1000, probeShare: 0.5, successesToClose: 2 };

function replay(events: readonly ({ ok: boolean } | { waitMs: number })[], opts: BreakerOptions) {
  let b: Breaker = CLOSED;
  let now = 0;
  const transitions: string[] = [];
  for (const e of events) {
    const step = 'ok' in e ? recordResult(b, e.ok, now, opts) : advance(b, (now += e.waitMs), opts);
    b = step.breaker;
    if (step.transition) transitions.push(step.transition);
  }
  return { b, transitions };
}

describe('circuit breaker', () => {
  it('isolates after the set number of failures in a row, not before, and a success resets the count', () => {
    expect(replay([{ ok: false }, { ok: false }], o).b.state).toBe('closed');
    expect(replay([{ ok: false }, { ok: false }, { ok: true }, { ok: false }, { ok: false }], o).b.state).toBe('closed');
    expect(replay([{ ok: false }, { ok: false }, { ok: false }], o)).toMatchObject({ b: { state: 'open' }, transitions: ['isolated'] });
  });

  it('an isolated agent takes nothing until its cool-down ends, then half its capacity, then all after successes', () => {
    const isolated = replay([{ ok: false }, { ok: false }, { ok: false }], o).b;
    expect(slots(isolated, 4, o)).toBe(0);
    expect(advance(isolated, 999, o).transition).toBeNull();
    const probing = advance(isolated, 1000, o);
    expect(probing).toMatchObject({ transition: 'reintegrating', breaker: { state: 'half-open' } });
    expect(slots(probing.breaker, 4, o)).toBe(2);
    expect(slots(probing.breaker, 1, o)).toBe(1); // never below one slot
    const once = recordResult(probing.breaker, true, 1001, o);
    expect(once.transition).toBeNull();
    expect(recordResult(once.breaker, true, 1002, o)).toMatchObject({ transition: 'reintegrated', breaker: { state: 'closed' } });
    expect(recordResult(once.breaker, false, 1002, o)).toMatchObject({ transition: 'isolated', breaker: { state: 'open', openedAt: 1002 } });
  });

  it('an isolated agent whose cool-down timer fired early by the clock knows how much longer to wait', () => {
    const isolated = replay([{ ok: false }, { ok: false }, { ok: false }], o).b;
    expect(cooldownLeft(isolated, 999, o)).toBe(1);
    expect(cooldownLeft(isolated, 950, o)).toBe(50);
    expect(cooldownLeft(isolated, 1000, o)).toBe(0);
    expect(cooldownLeft(CLOSED, 0, o)).toBe(0);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 5000 }), (now) => {
        // Nothing left to wait exactly when the cool-down may end.
        expect(cooldownLeft(isolated, now, o) === 0).toBe(advance(isolated, now, o).transition === 'reintegrating');
      }),
    );
  });

  it('failures 0 never isolates', () => {
    expect(replay(Array.from({ length: 50 }, () => ({ ok: false })), { ...DEFAULT_BREAKER, failures: 0 }).b).toEqual(CLOSED);
  });

  const history = fc.array(fc.oneof(fc.record({ ok: fc.boolean() }), fc.record({ waitMs: fc.integer({ min: 0, max: 3000 }) })), { maxLength: 60 });

  it('transitions alternate in the only legal order, and slots follow the state', () => {
    fc.assert(
      fc.property(history, fc.integer({ min: 1, max: 8 }), (events, capacity) => {
        const { b, transitions } = replay(events, o);
        const legal: Record<string, string[]> = { '': ['isolated'], isolated: ['reintegrating'], reintegrating: ['isolated', 'reintegrated'], reintegrated: ['isolated'] };
        let prev = '';
        for (const t of transitions) {
          expect(legal[prev]).toContain(t);
          prev = t;
        }
        const n = slots(b, capacity, o);
        if (b.state === 'open') expect(n).toBe(0);
        else if (b.state === 'closed') expect(n).toBe(capacity);
        else {
          expect(n).toBeGreaterThanOrEqual(1);
          expect(n).toBeLessThanOrEqual(capacity);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('an agent that never fails is never isolated', () => {
    fc.assert(
      fc.property(history, (events) => {
        expect(replay(events.map((e) => ('ok' in e ? { ok: true } : e)), o).transitions).toEqual([]);
      }),
      { numRuns: 500 },
    );
  });
});
