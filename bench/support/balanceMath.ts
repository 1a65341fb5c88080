// Small deterministic helpers for the balance benchmark: a seeded generator (so
// every scenario runs the very same list of task lengths) and summaries.

/** mulberry32: a tiny seeded PRNG, uniform in [0, 1). Same seed, same sequence. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` integer lengths uniform in [minMs, maxMs], from `seed`. */
export function taskLengths(n: number, minMs: number, maxMs: number, seed: number): number[] {
  const rnd = seededRandom(seed);
  return Array.from({ length: n }, () => minMs + Math.floor(rnd() * (maxMs - minMs + 1)));
}

export function median(xs: readonly number[]): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function sum(xs: readonly number[]): number {
  let s = 0;
  for (const x of xs) s += x;
  return s;
}

/**
 * Makespan of running `lengths` in order on `slots` identical slots, each task
 * taken by the first slot to come free (what a queue with that many workers
 * does, with zero overhead): the floor a real run is compared with.
 */
export function listScheduleMs(lengths: readonly number[], slots: number): number {
  // A binary heap of slot free-times.
  const heap: number[] = new Array<number>(slots).fill(0);
  const down = (i: number) => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && heap[l]! < heap[m]!) m = l;
      if (r < heap.length && heap[r]! < heap[m]!) m = r;
      if (m === i) return;
      [heap[i], heap[m]] = [heap[m]!, heap[i]!];
      i = m;
    }
  };
  let end = 0;
  for (const len of lengths) {
    const t = heap[0]! + len;
    heap[0] = t;
    if (t > end) end = t;
    down(0);
  }
  return end;
}
