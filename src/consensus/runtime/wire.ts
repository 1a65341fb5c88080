// What travels through an inbox stream. One stream entry carries a batch of
// items (field `m`, a JSON array): everything one flush of one host has for one
// destination, so a step of 25 agents broadcasting to 99 peers costs one XADD
// per destination host, not 2,475.
//
// Only `env` items carry protocol messages, sealed per sender (auth.ts). The
// others are hints that make a host look at Redis: a `start` makes it read the
// round's spec from the proposal's job, a `decided` makes a driver read the
// decisions hash. A forged hint can at worst make someone read the truth.
import { z } from 'zod';

const roundId = z.string().min(1).max(100);
const agentId = z.string().min(1).max(200);

export const inboxItemSchema = z.discriminatedUnion('k', [
  /**
   * Driver → host: a round with participants here has begun; `driver` wants
   * decision notices. The proposer sends one too, without a driver, as soon
   * as the job is queued: hosts start before a driver has picked it up.
   */
  z.strictObject({ k: z.literal('start'), round: roundId, driver: z.string().min(1).max(200).optional() }),
  /** Driver → host: propose the round's value at this agent too (the first proposer may be down). */
  z.strictObject({ k: z.literal('propose'), round: roundId, to: agentId }),
  /** Driver → host: the outcome is final; stop ticking the round. */
  z.strictObject({ k: z.literal('done'), round: roundId }),
  /** Agent → agent: a sealed protocol message (its envelope is checked by the receiver's Authenticator). */
  z.strictObject({ k: z.literal('env'), env: z.unknown() }),
  /** Host → driver: this agent has recorded a decision for the round. */
  z.strictObject({ k: z.literal('decided'), round: roundId, agent: agentId }),
]);

export type InboxItem = z.infer<typeof inboxItemSchema>;

/** The field of a stream entry that holds the batch. */
export const BATCH_FIELD = 'm';

/** Parses one stream entry's batch; items that fail the schema are counted by the caller, never acted on. */
export function parseBatch(fields: readonly string[]): { items: InboxItem[]; bad: number } {
  const at = fields.indexOf(BATCH_FIELD);
  const raw = at >= 0 && at % 2 === 0 ? fields[at + 1] : undefined;
  let list: unknown;
  try {
    list = raw === undefined ? undefined : JSON.parse(raw);
  } catch {
    return { items: [], bad: 1 };
  }
  if (!Array.isArray(list)) return { items: [], bad: 1 };
  const items: InboxItem[] = [];
  let bad = 0;
  for (const x of list) {
    const p = inboxItemSchema.safeParse(x);
    if (p.success) items.push(p.data);
    else bad++;
  }
  return { items, bad };
}
