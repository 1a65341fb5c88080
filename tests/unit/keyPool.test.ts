// The pure core of a host's key pool (src/keys/keyPool.ts): what a start may
// take, what a lease call asks for and gives back, what an answer changes.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyAnswer, emptyPool, endStart, failedAsk, newPool, nextAsk, POOL_DRY_GAP_MS, POOL_IDLE_MS, POOL_VALID_MS, runningLow, runsFromPool, startedIds, stopPool, takeStart, type KeyPool, type LeaseAnswer } from '../../src/keys/keyPool.ts';

const LEASE = 30_000;
const ok = (a: Partial<LeaseAnswer> = {}): LeaseAnswer => ({ verdict: 'ok', ms: 0, hasMax: true, hasRate: true, slots: [], tokens: [], lost: [], ...a });
const names = (p: string, n: number) => Array.from({ length: n }, (_, i) => `${p}${i}`);

/** A pool lent `slots` slots and `tokens` tokens by a call sent at `at`. */
function lent(slots: number, tokens: number, at = 0, a: Partial<LeaseAnswer> = {}): KeyPool {
  const ask = nextAsk(newPool(at), at, LEASE, { period: false, wanted: true })!;
  return applyAnswer(ask.pool, ok({ slots: names('s', slots), tokens: names('t', tokens), ...a }), at, at + 1);
}

describe('a start from the pool', () => {
  it('takes a slot and a token while the pool is confirmed, and none once its confirmation is POOL_VALID_MS old', () => {
    const p = lent(2, 2);
    const t = takeStart(p, 'a', 10);
    expect(t.pooled).toBe(true);
    expect(t.pool.idle).toHaveLength(1);
    expect(t.pool.tokens[0]!.names.length - t.pool.tokens[0]!.taken).toBe(1);
    expect(startedIds(t.pool)).toEqual(['a']);
    expect(runsFromPool(t.pool, 'a')).toBe(true);
    expect(takeStart(p, 'b', POOL_VALID_MS).pooled).toBe(false);
    expect(takeStart(p, 'b', POOL_VALID_MS - 1).pooled).toBe(true);
  });

  it('needs a slot only with a maxActive and a token only with a rate', () => {
    const noMax = lent(0, 1, 0, { hasMax: false });
    expect(takeStart(noMax, 'a', 1).pooled).toBe(true);
    const noRate = lent(1, 0, 0, { hasRate: false });
    expect(takeStart(noRate, 'a', 1).pooled).toBe(true);
    const neither = lent(0, 0, 0, { hasMax: false, hasRate: false });
    let p = neither;
    for (let i = 0; i < 50; i++) {
      const t = takeStart(p, `x${i}`, 1);
      expect(t.pooled).toBe(true);
      p = t.pool;
    }
  });

  it('runs dry with no idle slot or no token left, and says so', () => {
    const p = takeStart(lent(1, 5), 'a', 1).pool;
    const t = takeStart(p, 'b', 2);
    expect(t.pooled).toBe(false);
    expect(t.pool.dry).toBe(true);
    const q = takeStart(lent(5, 1), 'a', 1).pool;
    expect(takeStart(q, 'b', 2).pooled).toBe(false);
  });

  it('a task run twice here shares its slot, and frees it when both runs end', () => {
    let p = takeStart(lent(2, 5), 'a', 1).pool;
    const again = takeStart(p, 'a', 2);
    expect(again.pooled).toBe(true);
    p = again.pool;
    expect(p.idle).toHaveLength(1);
    p = endStart(p, 'a');
    expect(p.idle).toHaveLength(1);
    p = endStart(p, 'a');
    expect(p.idle).toHaveLength(2);
    expect(runsFromPool(p, 'a')).toBe(false);
  });

  it('no start from a pool that was never lent, or was stopped by a hold here', () => {
    expect(takeStart(newPool(0), 'a', 1).pooled).toBe(false);
    const held = stopPool(lent(3, 3), 5000);
    expect(takeStart(held, 'a', 1).pooled).toBe(false);
    expect(held.giveBack).toHaveLength(3);
    expect(held.unused).toHaveLength(3);
  });
});

describe('lease calls', () => {
  it('the first call asks for both slots and tokens (the limits are not known yet); none is sent before the key may lend again', () => {
    const a = nextAsk(newPool(0), 0, LEASE, { period: false, wanted: true })!;
    expect(a.wantSlots).toBeGreaterThan(0);
    expect(a.wantTokens).toBeGreaterThan(0);
    const off = applyAnswer(a.pool, { ...ok(), verdict: 'off' }, 0, 1);
    expect(off.on).toBe(false);
    expect(nextAsk(off, 500, LEASE, { period: false, wanted: true })).toBeUndefined();
    expect(nextAsk(off, 1001, LEASE, { period: false, wanted: true })).toBeDefined();
  });

  it('one call at a time; a call while one is under way is not sent', () => {
    const a = nextAsk(newPool(0), 0, LEASE, { period: false, wanted: true })!;
    expect(nextAsk(a.pool, 1, LEASE, { period: true })).toBeUndefined();
  });

  it('the confirmation and the tokens run from when the call was sent, not from the answer', () => {
    const a = nextAsk(newPool(0), 100, LEASE, { period: false, wanted: true })!;
    const p = applyAnswer(a.pool, ok({ slots: ['s0'], tokens: ['t0'] }), 100, 250);
    expect(p.validUntil).toBe(100 + POOL_VALID_MS);
    expect(p.tokens[0]!.until).toBe(100 + POOL_VALID_MS);
  });

  it('reports starts, gives back expired tokens, and asks for more at each period while in use', () => {
    let p = lent(8, 8);
    for (let i = 0; i < 6; i++) p = takeStart(p, `t${i}`, 10).pool;
    const a = nextAsk(p, 300, LEASE, { period: true })!;
    expect(a.started).toEqual(['t0', 't1', 't2', 't3', 't4', 't5']);
    // The block lent at 0 lapsed at 200: its two unused tokens go back.
    expect(a.unused).toEqual(['t6', 't7']);
    // As many as were used in the last two periods (six), none left live: the stock lasts as long as the tokens do.
    expect(a.wantTokens).toBe(6);
    expect(startedIds(a.pool)).toEqual([]);
  });

  it('a refusal stops the pool; its idle slots go back at once in a second call', () => {
    const p = takeStart(lent(4, 4), 'a', 1).pool;
    const a = nextAsk(p, 50, LEASE, { period: true })!;
    const held = applyAnswer(a.pool, { ...ok(), verdict: 'hold', ms: 1500 }, 50, 52);
    expect(held.on).toBe(false);
    expect(takeStart(held, 'b', 53).pooled).toBe(false);
    const back = nextAsk(held, 53, LEASE, { period: false })!;
    expect([...back.giveBack].sort()).toEqual(['s0', 's1', 's2']);
    expect([...back.unused].sort()).toEqual(['t1', 't2', 't3']);
    expect(back.wantSlots + back.wantTokens).toBe(0);
    // The running task's slot goes back when it ends.
    const after = applyAnswer(back.pool, { ...ok(), verdict: 'hold', ms: 1400 }, 53, 54);
    const ended = endStart(after, 'a');
    expect(nextAsk(ended, 55, LEASE, { period: false })!.giveBack).toEqual(['s3']);
    // Not asked again before the hold ends.
    expect(nextAsk({ ...ended, giveBack: [] }, 1000, LEASE, { period: false, wanted: true })).toBeUndefined();
  });

  it('a pool stopped here while a call was under way stays stopped when the call answers, and gives back what it lent', () => {
    const a = nextAsk(newPool(0), 0, LEASE, { period: false, wanted: true })!;
    const held = stopPool(a.pool, 1500);
    const p = applyAnswer(held, ok({ slots: ['s0', 's1'], tokens: ['t2'] }), 0, 3);
    expect(p.on).toBe(false);
    expect(takeStart(p, 'x', 4).pooled).toBe(false);
    const back = nextAsk(p, 4, LEASE, { period: false })!;
    expect([...back.giveBack].sort()).toEqual(['s0', 's1']);
    expect(back.unused).toEqual(['t2']);
  });

  it('a pool left on with nothing in it after its confirmation lapsed is asked again by the next start that wants it', () => {
    // In the bench: lent, drained, then unused past POOL_IDLE_MS: every start went to the key one at a time for good.
    const p = lent(0, 0);
    const at = POOL_IDLE_MS + 500;
    expect(nextAsk(p, at, LEASE, { period: true })).toBeUndefined(); // idle: the period sends nothing
    const t = takeStart(p, 'x', at);
    expect(t.pooled).toBe(false);
    expect(t.pool.dry).toBe(true);
    const a = nextAsk(t.pool, at, LEASE, { period: false, wanted: true });
    expect(a).toBeDefined();
    expect(a!.wantSlots + a!.wantTokens).toBeGreaterThan(0);
  });

  it('an unused pool gives everything idle back after POOL_IDLE_MS, and is then empty', () => {
    const p = lent(4, 4);
    const a = nextAsk(p, POOL_IDLE_MS + 1, LEASE, { period: true })!;
    expect(a.giveBack).toHaveLength(4);
    expect(a.unused).toHaveLength(4);
    expect(a.wantSlots + a.wantTokens).toBe(0);
    const done = applyAnswer(a.pool, { ...ok(), verdict: 'off' }, POOL_IDLE_MS + 1, POOL_IDLE_MS + 2);
    expect(emptyPool(done, POOL_IDLE_MS + 3000)).toBe(true);
  });

  it('slots are renewed every third of their lease, and a lost one is never handed on', () => {
    let p = takeStart(lent(2, 4), 'a', 1).pool;
    expect(nextAsk(p, 50, LEASE, { period: true })!.kept).toEqual([]);
    p = { ...p, lastUse: LEASE };
    const a = nextAsk(p, LEASE / 3 + 1, LEASE, { period: true })!;
    expect([...a.kept].sort()).toEqual(['s0', 's1']);
    const lost = applyAnswer(a.pool, ok({ lost: ['s1'] }), LEASE / 3 + 1, LEASE / 3 + 2);
    // s1 was the busy one (taken last): its task ends and nothing is handed on.
    const ended = endStart(lost, 'a');
    expect(ended.idle).toEqual(['s0']);
  });

  it('closing gives back every slot, busy ones too, and every token', () => {
    const p = takeStart(lent(3, 3), 'a', 1).pool;
    const a = nextAsk(p, 10, LEASE, { period: false, closing: true })!;
    expect([...a.giveBack].sort()).toEqual(['s0', 's1', 's2']);
    expect(a.unused).toHaveLength(2);
  });

  it('a failed call carries its reports again at the next', () => {
    const p = takeStart(lent(3, 3), 'a', 1).pool;
    const a = nextAsk(p, 50, LEASE, { period: true })!;
    const failed = failedAsk(a.pool, a);
    expect(failed.inFlight).toBe(false);
    expect(nextAsk(failed, 60, LEASE, { period: true })!.started).toEqual(['a']);
  });
});

describe('token sizing', () => {
  // Lent tokens count against the key's rate until they expire: lending twice what is used filled a pool's half share of
  // the rate at a quarter of it, and each token is a member the key's starts set adds and removes. A start that finds
  // the pool dry asks the key itself (a round trip on its path): a pool running low is topped up before that.
  // The gate's steps (keyGate.ts fromPool) at the given start times, its period timer firing every 100 ms (idle or not),
  // answers arriving `lagMs` after each call and lending what `lend` gives of what was asked.
  const simulate = (times: readonly number[], lagMs: number, lend: (asked: number) => number = (n) => n) => {
    let p = newPool(0);
    let lent = 0;
    let used = 0;
    let dry = 0;
    let pending: { at: number; sent: number; ask: NonNullable<ReturnType<typeof nextAsk>> } | undefined;
    const deliver = (now: number) => {
      if (!pending || now < pending.at) return;
      const { sent, at, ask: a } = pending;
      pending = undefined;
      const n = lend(a.wantTokens);
      lent += n;
      p = applyAnswer(p, ok({ hasMax: false, tokens: names(`t${a.firstNumber}-`, n) }), sent, at);
    };
    const ask = (now: number, period: boolean, wanted = false) => {
      const a = nextAsk(p, now, LEASE, { period, wanted });
      if (!a) return;
      p = a.pool;
      pending = { at: now + lagMs, sent: now, ask: a };
    };
    let tick = 0;
    times.forEach((t, i) => {
      for (; tick * 100 <= t; tick++) {
        deliver(tick * 100);
        ask(tick * 100, true);
      }
      deliver(t);
      const s = takeStart(p, `x${i}`, t);
      p = s.pool;
      if (s.pooled) {
        used++;
        p = endStart(p, `x${i}`);
        if (runningLow(p, t)) ask(t, false);
      } else {
        dry++;
        ask(t, false, true);
      }
    });
    return { lentPerStart: lent / used, dryShare: dry / (used + dry), used, dry };
  };
  const steady = (rate: number, lagMs: number) => simulate(Array.from({ length: Math.floor(rate * 10) }, (_, i) => (i * 1000) / rate), lagMs);
  /** `size` starts `apartMs` apart, then `idleMs` with none, for 10 s. */
  const bursts = (size: number, apartMs: number, idleMs: number) => {
    const times: number[] = [];
    for (let t = 0; t < 10_000; t += idleMs) for (let i = 0; i < size; i++, t += apartMs) times.push(t);
    return times;
  };

  it.each([
    [300, 2],
    [4000, 2],
    [6000, 10],
    [10_000, 10],
  ])('a steady %i starts/s, answers after %i ms: about one token lent per start used, under one start in fifty finding it dry', (rate, lagMs) => {
    const r = steady(rate, lagMs);
    expect(r.used).toBeGreaterThan(rate * 9.9 * 0.97);
    expect(r.lentPerStart).toBeLessThan(1.1);
    expect(r.dryShare).toBeLessThan(0.02);
  });

  // Bounds between what a pool that waited POOL_DRY_GAP_MS after every call found (2.0, 92.8 and 36 % dry) and now
  // (0.3, 30.8 and 11.3 %: a top-up before it runs dry still waits the gap, or a busy pool would ask after every answer).
  it.each([
    [50, 0.35, 150, 0.5, 0.01],
    [200, 0.1, 300, 1, 0.4],
    [20, 1, 500, 0.5, 0.2],
  ])('bursts of %i starts %f ms apart, %i ms idle between, answers after %f ms: a burst that runs through its tokens asks again at once (dry under %f)', (size, apartMs, idleMs, lagMs, most) => {
    const r = simulate(bursts(size, apartMs, idleMs), lagMs);
    expect(r.dryShare).toBeLessThan(most);
    // Tokens lent for the last periods' pace expire unused while a burst's key is idle: bounded, not one per start.
    expect(r.lentPerStart).toBeLessThan(2.5);
  });

  it('a key at its share (an answer lending less than asked) is asked again by a dry pool only POOL_DRY_GAP_MS after the last call', () => {
    const r = simulate(bursts(50, 0.35, 150), 0.5, (n) => Math.min(n, 2));
    // Starts 0.35 ms apart: a call each 10 ms, not one per start.
    const calls = Math.ceil(10_000 / POOL_DRY_GAP_MS);
    expect(r.dry).toBeGreaterThan(r.used);
    expect(r.used).toBeLessThan(calls * 2 + 200);
  });

  it('a dry pool asks at once after an answer that lent all it asked, and only after POOL_DRY_GAP_MS after a short one', () => {
    const dryAfter = (lentTokens: number) => {
      const a = nextAsk(newPool(0), 0, LEASE, { period: false, wanted: true })!;
      let p = applyAnswer(a.pool, ok({ hasMax: false, tokens: names('t', lentTokens) }), 0, 1);
      for (let i = 0; i < lentTokens; i++) p = endStart(takeStart(p, `x${i}`, 2).pool, `x${i}`);
      const s = takeStart(p, 'dry', 2);
      expect(s.pooled).toBe(false);
      return { asked: a.wantTokens, pool: s.pool };
    };
    const full = dryAfter(4);
    expect(full.asked).toBe(4);
    expect(nextAsk(full.pool, 3, LEASE, { period: false, wanted: true })?.wantTokens).toBeGreaterThan(0);
    const short = dryAfter(2);
    expect(nextAsk(short.pool, 3, LEASE, { period: false, wanted: true })).toBeUndefined();
    expect(nextAsk(short.pool, POOL_DRY_GAP_MS, LEASE, { period: false, wanted: true })?.wantTokens).toBeGreaterThan(0);
  });

  it('runningLow: only while on, with no call under way, past the dry gap, and tokens left under a quarter of recent starts', () => {
    const base = { ...newPool(0), on: true, hasRate: true, validUntil: 1000, askedAt: 0, used: 80, usedBefore: 0 };
    const withLeft = (n: number) => ({ ...base, tokens: [{ names: names('t', n), taken: 0, until: 500 }] });
    expect(runningLow(withLeft(30), 50)).toBe(false);
    expect(runningLow(withLeft(19), 50)).toBe(true);
    expect(runningLow(withLeft(19), POOL_DRY_GAP_MS - 1)).toBe(false);
    expect(runningLow({ ...withLeft(19), inFlight: true }, 50)).toBe(false);
    expect(runningLow({ ...withLeft(19), on: false }, 50)).toBe(false);
    // Expired tokens are not left.
    expect(runningLow(withLeft(100), 600)).toBe(true);
    // A low pool's ask is sent at once, not at the next period.
    expect(nextAsk(withLeft(19), 50, LEASE, { period: false })?.wantTokens).toBeGreaterThan(0);
    expect(nextAsk(withLeft(30), 50, LEASE, { period: false })).toBeUndefined();
  });
});

describe('property: a pool never starts more at once than it was lent slots, nor more than it was lent tokens', () => {
  it('holds over random starts, ends and calls', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom('start', 'end', 'call'), fc.integer({ min: 0, max: 9 })), { maxLength: 200 }), (steps) => {
        let p = newPool(0);
        let now = 0;
        let slotsLent = 0;
        let tokensLent = 0;
        let tokensUsed = 0;
        const running = new Set<string>();
        for (const [what, n] of steps) {
          now += 7;
          if (what === 'start') {
            const id = `task${n}`;
            const t = takeStart(p, id, now);
            p = t.pool;
            if (t.pooled && !running.has(id)) {
              running.add(id);
              tokensUsed++;
            } else if (t.pooled) tokensUsed++;
          } else if (what === 'end') {
            const id = `task${n}`;
            if (running.has(id)) {
              p = endStart(p, id);
              if (!runsFromPool(p, id)) running.delete(id);
            }
          } else {
            const a = nextAsk(p, now, LEASE, { period: true, wanted: true });
            if (!a) continue;
            slotsLent += a.wantSlots;
            tokensLent += a.wantTokens;
            p = applyAnswer(a.pool, ok({ slots: names(`s${a.firstNumber}-`, a.wantSlots), tokens: names(`t${a.firstNumber}-`, a.wantTokens) }), now, now);
          }
          const busySlots = new Set([...p.busy.values()].map((b) => b.slot).filter((s) => s !== ''));
          expect(busySlots.size).toBe(p.busy.size);
          expect(busySlots.size + p.idle.length).toBeLessThanOrEqual(slotsLent);
          expect(tokensUsed).toBeLessThanOrEqual(tokensLent);
          // No slot is both idle and busy.
          for (const s of p.idle) expect(busySlots.has(s)).toBe(false);
        }
      }),
    );
  });
});
