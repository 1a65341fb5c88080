// The order ids are listed in: numeric-aware (`a2` before `a10`, `n9` before
// `n10`), then by code units, so two ids the collator calls equal (`a01`, `a1`)
// still have one order. One collator for the process: localeCompare with options
// builds a new one per call, which at 10,000 agents was most of an idle
// coordinator's time.
const collator = new Intl.Collator('en', { numeric: true });

export function idOrder(a: string, b: string): number {
  return collator.compare(a, b) || (a < b ? -1 : a > b ? 1 : 0);
}
