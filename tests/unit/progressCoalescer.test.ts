// The coalescer in front of a task's progress writes, driven by fake timers:
// one write per interval at most, the first at once, the latest value always
// written (a trailing write after a burst, a flush before the finish).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ProgressCoalescer } from '../../src/agents/progressCoalescer.ts';

let written: { text: string; at: number }[];
let errors: Error[];

function coalescer(intervalMs = 50, write?: (text: string) => Promise<void>): ProgressCoalescer {
  return new ProgressCoalescer({
    intervalMs,
    write:
      write ??
      (async (text) => {
        written.push({ text, at: Date.now() });
      }),
    onError: (err) => errors.push(err),
  });
}

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 });
  written = [];
  errors = [];
});
afterEach(() => {
  vi.useRealTimers();
});

describe('ProgressCoalescer', () => {
  it('writes the first value at once, then at most one per interval, always the latest', async () => {
    const c = coalescer(50);
    c.report('1');
    await vi.advanceTimersByTimeAsync(0);
    expect(written.map((w) => w.text)).toEqual(['1']);
    // 10,000 reports a second for one second: one every 0.1 ms.
    for (let i = 2; i <= 10_001; i++) {
      c.report(String(i));
      if (i % 10 === 0) await vi.advanceTimersByTimeAsync(1);
    }
    await vi.advanceTimersByTimeAsync(100);
    // 1 s of reports at one write per 50 ms: the first, ~20 more, and the trailing one with the last value.
    expect(written.length).toBeLessThanOrEqual(1 + 1000 / 50 + 1);
    expect(written.length).toBeGreaterThanOrEqual(1000 / 50);
    expect(written.at(-1)!.text).toBe('10001');
    for (let i = 1; i < written.length; i++) expect(written[i]!.at - written[i - 1]!.at).toBeGreaterThanOrEqual(50);
    expect(c.writes).toBe(written.length);
  });

  it('a burst inside one interval costs the leading write and one trailing write of its last value', async () => {
    const c = coalescer(50);
    for (let i = 0; i < 1000; i++) c.report(`v${i}`);
    await vi.advanceTimersByTimeAsync(49);
    expect(written.map((w) => w.text)).toEqual(['v0']);
    await vi.advanceTimersByTimeAsync(1);
    expect(written.map((w) => w.text)).toEqual(['v0', 'v999']);
    await vi.advanceTimersByTimeAsync(500);
    expect(written).toHaveLength(2);
  });

  it('flush writes the unwritten last value at once, after any write under way, and stops later reports', async () => {
    let release!: () => void;
    const slow = vi.fn(
      (text: string) =>
        new Promise<void>((r) => {
          written.push({ text, at: Date.now() });
          release = r;
        }),
    );
    const c = coalescer(50, slow);
    c.report('a');
    c.report('b');
    const flushed = c.flush();
    await vi.advanceTimersByTimeAsync(0);
    // 'a' is being written; 'b' waits for it, without waiting for the interval.
    expect(written.map((w) => w.text)).toEqual(['a']);
    release();
    await vi.advanceTimersByTimeAsync(0);
    expect(written.map((w) => w.text)).toEqual(['a', 'b']);
    release();
    await flushed;
    c.report('c');
    await vi.advanceTimersByTimeAsync(1000);
    expect(written.map((w) => w.text)).toEqual(['a', 'b']);
  });

  it('never has two writes under way: a slow Redis slows the writes and they still end on the latest value', async () => {
    let inFlight = 0;
    let most = 0;
    const c = coalescer(10, async (text) => {
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise((r) => setTimeout(r, 35));
      inFlight--;
      written.push({ text, at: Date.now() });
    });
    for (let i = 0; i < 200; i++) {
      c.report(String(i));
      await vi.advanceTimersByTimeAsync(1);
    }
    await vi.advanceTimersByTimeAsync(200);
    expect(most).toBe(1);
    expect(written.at(-1)!.text).toBe('199');
    expect(written.length).toBeLessThanOrEqual(Math.ceil(200 / 35) + 2);
  });

  it('a failed write is reported and later values are still written; discard drops what is pending', async () => {
    let fail = true;
    const c = coalescer(50, async (text) => {
      if (fail) throw new Error('redis down');
      written.push({ text, at: Date.now() });
    });
    c.report('x');
    await vi.advanceTimersByTimeAsync(0);
    expect(errors.map((e) => e.message)).toEqual(['redis down']);
    fail = false;
    c.report('y');
    await vi.advanceTimersByTimeAsync(50);
    expect(written.map((w) => w.text)).toEqual(['y']);
    c.report('z');
    c.report('zz');
    c.discard();
    await vi.advanceTimersByTimeAsync(200);
    expect(written.map((w) => w.text)).toEqual(['y']);
  });
});
