// The fair order of keyed tasks within a node: start-time fair queueing (Goyal
// et al., 1996) carried by BullMQ's own priorities, so no worker, fetch or
// balancer move changes: a key's tasks get start tags spaced 1000 / weight
// apart, starting from the node's current head (its virtual time), and BullMQ
// serves the smallest score first. A key with 10,000 tasks waiting has tags far
// ahead; a key that just arrived gets tags at the head, interleaved with the
// big one by weight. The tag is given in the MULTI that adds the job
// (fairTag-5.lua), so a keyed submit is still one round trip; a task without a
// key takes BullMQ's path untouched.
//
// With a user priority: BullMQ's score is `priority * 2^32 + counter`; the
// priority stays the band (0 for none), and the tag replaces the counter in the
// band's upper half. So priority still comes first, keys are fair within a
// priority, and tasks without a key go before keyed ones of the same priority
// (no priority: BullMQ's wait list, before every prioritized job).
//
// Pure: the numbers the router hands the script.

/** The tag step of a weight-1 key: enough resolution for weights from 0.001 (a step of 10^6) to 1000 (a step of 1). */
export const TAG_UNIT = 1000;

/** How far apart a key's tags are: 1000 / weight, an integer ≥ 1. */
export function tagStep(weight = 1): number {
  return Math.max(1, Math.round(TAG_UNIT / weight));
}

/** The band a task's tag goes in: its priority (BullMQ's), 0 for none. */
export function bandOf(priority: number | undefined): number {
  return priority ?? 0;
}
