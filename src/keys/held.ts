// Tasks held for a key's active slot (admitKeyed-6.lua) wait delayed in their
// node's queue; when a slot frees (releaseKeyed-3.lua hands them out) they are
// brought back with BullMQ's promote, by whoever freed it: the host whose task
// ended, or the process that raised the key's limits.
import type { Queue } from 'bullmq';
import type { HeldTask } from '../../queues/keyState.ts';

/** A held task is moved to delayed just after its refusal: a release in between finds it not yet there, so it is tried once more after this. */
export const PROMOTE_RETRY_MS = 50;

/**
 * Brings each handed-out task back to its queue. One that is not delayed
 * (cancelled, or not yet moved) is left: its own recheck brings it back later.
 * Resolves with how many came back.
 */
export async function bringBack(held: readonly HeldTask[], queueFor: (node: string) => Queue): Promise<number> {
  const results = await Promise.all(
    held.map(async (h) => {
      const backend = queueFor(h.node).getBackend();
      try {
        await backend.promote(h.id);
        return true;
      } catch {
        await new Promise((r) => setTimeout(r, PROMOTE_RETRY_MS));
        return await backend.promote(h.id).then(
          () => true,
          () => false,
        );
      }
    }),
  );
  return results.filter(Boolean).length;
}
