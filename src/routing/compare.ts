// The orders every strategy breaks ties by: load per unit of live capacity, then id.

/** -1, 0, 1 comparing (wa + aa) / max(1, ca) with (wb + ab) / max(1, cb), exactly (cross multiplication). */
export function compareLoad(a: { capacity: number; waiting: number; active: number }, b: { capacity: number; waiting: number; active: number }): number {
  return Math.sign((a.waiting + a.active) * Math.max(1, b.capacity) - (b.waiting + b.active) * Math.max(1, a.capacity));
}

export function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
