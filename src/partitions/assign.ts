// Which live coordinator owns each partition (a slot group, the parked queue, an
// agent host): rendezvous (highest-random-weight) hashing. Every coordinator
// scores every partition against every member with one deterministic hash and
// the highest score owns it, so any two coordinators that read the same
// membership agree without talking, and a member joining or leaving moves only
// the partitions it wins or held: nothing moves between the others.
//
// Pure: no Redis, no clock. The shell (src/coordinator/partitions.ts) feeds it
// the membership it read and acts on the answer.

/** A partition's name: `g<k>` for a slot group, `parked`, or `host:<id>`. */
export type PartitionName = string;

/** `host:<id>`: the health monitor's partition of one agent host. */
export function hostPartition(hostId: string): PartitionName {
  return `host:${hostId}`;
}

/** The host a host partition names, or undefined for a group's. */
export function hostOfPartition(p: PartitionName): string | undefined {
  return p.startsWith('host:') ? p.slice(5) : undefined;
}

/**
 * A 53-bit hash of a string (two 32-bit multiply-xorshift lanes, as cyrb53 does):
 * well mixed for short, similar inputs like `c1|g3`, and the same on every
 * platform, which is all rendezvous hashing needs (not cryptographic: members
 * are coordinators of one deployment, nobody games their share).
 */
export function hash53(s: string): number {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

/** The member that owns `partition` among `members`, or undefined when there are none. Ties (never seen in practice) go to the smaller id. */
export function ownerOf(partition: PartitionName, members: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestScore = -1;
  for (const m of members) {
    const score = hash53(`${m}|${partition}`);
    if (score > bestScore || (score === bestScore && best !== undefined && m < best)) {
      best = m;
      bestScore = score;
    }
  }
  return best;
}

/** Every partition's owner. Members and partitions may come in any order and with repeats: the answer depends on the sets only. */
export function assignPartitions(members: readonly string[], partitions: readonly PartitionName[]): Map<PartitionName, string> {
  const live = [...new Set(members)].sort();
  const out = new Map<PartitionName, string>();
  if (!live.length) return out;
  for (const p of [...new Set(partitions)].sort()) out.set(p, ownerOf(p, live)!);
  return out;
}
