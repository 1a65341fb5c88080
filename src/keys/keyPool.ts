// A host's pool for one key: slots and rate tokens the key lent this host
// (leaseKeyed-6.lua), so that while the key is well below its limits most of
// its starts here skip the per-start admission (admitKeyed-6.lua) and cost no
// round trip. What a start may take, what the next lease call asks for and
// gives back, and what its answer changes are decided here; the gate
// (src/agents/keyGate.ts) sends the calls and keeps the clock.
//
// The pool's promise, kept by the script and these rules together:
// - a lent slot counts as active in Redis from the moment it is lent, so
//   maxActive is never exceeded by pooled starts;
// - a lent token is recorded as a start at the end of its validity, and is
//   used only before then (measured from before the call was sent), so every
//   window of starts as they happened counts it;
// - nothing is started from a pool more than VALID_MS after the call that last
//   confirmed it was sent: a hold or lowered limits reach this host by then.
//
// Pure: no clock, no I/O; `now` is the caller's monotonic milliseconds.

/** No pool for a limit below this: with few slots or starts, each one's exact place matters. */
export const POOL_MIN_LIMIT = 32;
/** Lent only while use stays within 1/POOL_SHARE of each limit; past it, starts are admitted one at a time again. */
export const POOL_SHARE = 2;
/** How often a pool in use is confirmed (and its starts reported). */
export const POOL_REFRESH_MS = 100;
/** How long a confirmation lasts: a hold or lowered limits reach a host within this. */
export const POOL_VALID_MS = 200;
/** A pool unused this long gives everything back. */
export const POOL_IDLE_MS = 1000;
/** After the key answered that it lends no pool, it is asked again after this. */
export const POOL_OFF_RECHECK_MS = 1000;
/**
 * A pool that ran dry asks again at once; after an answer that lent less than
 * it asked (a key at its share lends nothing more), not more often than this.
 */
export const POOL_DRY_GAP_MS = 10;
/**
 * A pool asks at once, before it runs dry, when its tokens left would last less
 * than this share of the two periods its recent starts cover (a quarter: about
 * 50 ms at the current pace). Past ~5,000 starts/s a period's top-up (at most
 * POOL_BLOCK_MAX) no longer lasts a period, and a dry pool sends its starts to
 * one-at-a-time admission until the next answer.
 */
export const POOL_LOW_SHARE = 4;
/** Fewest and most slots or tokens asked for at once. */
export const POOL_BLOCK_MIN = 4;
export const POOL_BLOCK_MAX = 512;

export interface TokenBlock {
  names: readonly string[];
  /** The first `taken` names are used (counted, not sliced off: a start copies no names). */
  taken: number;
  /** Usable before this (the caller's clock). */
  until: number;
}

export interface KeyPool {
  /** Whether the key lends a pool now (the last answer said so and was not overtaken by a hold here). */
  on: boolean;
  /** Pooled starts only before this. */
  validUntil: number;
  /** Not asked again before this (after 'off', 'hold'). */
  askAfter: number;
  hasMax: boolean;
  hasRate: boolean;
  /** Lent slots free here. */
  idle: readonly string[];
  /** Tasks running here from the pool: task id → its lent slot ('' for none: the key has no maxActive, or the slot lapsed) and how many runs of it here share it. */
  busy: ReadonlyMap<string, { slot: string; runs: number }>;
  tokens: readonly TokenBlock[];
  /** Slots to give back at the next call. */
  giveBack: readonly string[];
  /** Tokens that expired unused, to give back at the next call. */
  unused: readonly string[];
  /** Task ids started from the pool since the last call, the latest first (a start adds one, copying nothing). */
  started: StartedLog;
  /** Starts from the pool in the current period, and in the one before. */
  used: number;
  usedBefore: number;
  /** Last start from the pool, or the pool's making. */
  lastUse: number;
  /** Slots renewed at this time (renewed again after a third of their lease). */
  renewedAt: number;
  /** A call is under way: no other is sent. */
  inFlight: boolean;
  /** Names: the next number. */
  nextNumber: number;
  /** The pool ran dry while on: ask now rather than at the next period. */
  dry: boolean;
  /** When the last call was sent. */
  askedAt: number;
  /** What the last call asked for. */
  askedFor: { slots: number; tokens: number };
  /** The last answer lent less than was asked (the key is at its share): a dry pool asks again only POOL_DRY_GAP_MS after its last call. */
  short: boolean;
}

/** Task ids, the latest first, each entry sharing the ones before it. */
export type StartedLog = { readonly id: string; readonly before: StartedLog } | null;

/** The started ids in the order they started. */
export function startedIds(p: Pick<KeyPool, 'started'>): string[] {
  const ids: string[] = [];
  for (let e = p.started; e; e = e.before) ids.push(e.id);
  return ids.reverse();
}

const logOf = (ids: readonly string[]): StartedLog => ids.reduce<StartedLog>((before, id) => ({ id, before }), null);

/** Names of a block not used yet. */
const namesLeft = (b: TokenBlock) => b.names.length - b.taken;
const unusedNames = (b: TokenBlock) => b.names.slice(b.taken);
/** Tokens of blocks still valid at `now`, not used yet. */
function tokensLeft(tokens: readonly TokenBlock[], now: number): number {
  let left = 0;
  for (const b of tokens) if (now < b.until) left += namesLeft(b);
  return left;
}

export function newPool(now: number): KeyPool {
  return {
    on: false,
    validUntil: 0,
    askAfter: 0,
    hasMax: false,
    hasRate: false,
    idle: [],
    busy: new Map(),
    tokens: [],
    giveBack: [],
    unused: [],
    started: null,
    used: 0,
    usedBefore: 0,
    lastUse: now,
    renewedAt: now,
    inFlight: false,
    nextNumber: 0,
    dry: false,
    askedAt: -Infinity,
    askedFor: { slots: 0, tokens: 0 },
    short: false,
  };
}

export type Take = { pooled: true; pool: KeyPool } | { pooled: false; pool: KeyPool };

/** A start from the pool: a slot (when the key has a maxActive) and a token (when it has a rate), or none and the start is admitted one at a time. */
export function takeStart(p: KeyPool, taskId: string, now: number): Take {
  if (!p.on) return { pooled: false, pool: p };
  // Lent but no longer confirmed: as good as dry, so the start asks for it again rather than wait for a period.
  if (now >= p.validUntil) return { pooled: false, pool: { ...p, dry: true } };
  const again = p.busy.get(taskId);
  const block = p.hasRate ? p.tokens.find((b) => now < b.until && namesLeft(b) > 0) : undefined;
  const slotNeeded = p.hasMax && !again;
  if ((slotNeeded && p.idle.length === 0) || (p.hasRate && !block)) return { pooled: false, pool: { ...p, dry: true } };
  const busy = new Map(p.busy);
  let idle = p.idle;
  // Every run from the pool is noted, so its end is known to be the pool's; with no maxActive it holds no slot ('').
  if (again) busy.set(taskId, { slot: again.slot, runs: again.runs + 1 });
  else if (slotNeeded) {
    busy.set(taskId, { slot: idle[idle.length - 1]!, runs: 1 });
    idle = idle.slice(0, -1);
  } else busy.set(taskId, { slot: '', runs: 1 });
  const tokens = block ? p.tokens.map((b) => (b === block ? { ...b, taken: b.taken + 1 } : b)) : p.tokens;
  return { pooled: true, pool: { ...p, idle, busy, tokens, started: { id: taskId, before: p.started }, used: p.used + 1, lastUse: now } };
}

/** A dry pool's call now would not come sooner after a short answer than POOL_DRY_GAP_MS (one that lent what it was asked sets no pace). */
const gapWaited = (p: KeyPool, now: number) => !p.short || now - p.askedAt >= POOL_DRY_GAP_MS;

/**
 * The pool is on but its tokens would last less than about a quarter of the
 * pace of its recent starts: worth a call now (nextAsk sends it, no more often
 * than POOL_DRY_GAP_MS), so it is topped up before it runs dry. Cheap: a start
 * asks it after every pooled start.
 */
export function runningLow(p: KeyPool, now: number): boolean {
  if (!p.on || p.inFlight || !p.hasRate || now - p.askedAt < POOL_DRY_GAP_MS) return false;
  return tokensLeft(p.tokens, now) * POOL_LOW_SHARE < p.used + p.usedBefore;
}

/** Whether the task runs here from the pool. */
export function runsFromPool(p: KeyPool, taskId: string): boolean {
  return p.busy.has(taskId);
}

/** A run of a pooled task ended: its slot is free here again (given back at the next call when the pool is off). */
export function endStart(p: KeyPool, taskId: string): KeyPool {
  const b = p.busy.get(taskId);
  if (!b) return p;
  const busy = new Map(p.busy);
  if (b.runs > 1) {
    busy.set(taskId, { slot: b.slot, runs: b.runs - 1 });
    return { ...p, busy };
  }
  busy.delete(taskId);
  // A slot lost while its task ran (its lease lapsed) is nobody's any more.
  if (b.slot === '') return { ...p, busy };
  return p.on ? { ...p, busy, idle: [...p.idle, b.slot] } : { ...p, busy, giveBack: [...p.giveBack, b.slot] };
}

/** The key is held here (a 429, ctx.holdKey): nothing more starts from the pool; its idle slots go back. */
export function stopPool(p: KeyPool, until: number): KeyPool {
  return { ...p, on: false, validUntil: 0, askAfter: Math.max(p.askAfter, until), giveBack: [...p.giveBack, ...p.idle], idle: [], unused: [...p.unused, ...p.tokens.flatMap(unusedNames)], tokens: [] };
}

const clamp = (n: number) => Math.min(POOL_BLOCK_MAX, Math.max(POOL_BLOCK_MIN, Math.ceil(n)));

/** What a lease call carries, and the pool while it is under way. */
export interface LeaseAsk {
  pool: KeyPool;
  wantSlots: number;
  wantTokens: number;
  firstNumber: number;
  /** Lent slots to renew: all of them, every third of their lease. */
  kept: readonly string[];
  giveBack: readonly string[];
  unused: readonly string[];
  started: readonly string[];
}

export interface AskWhen {
  /** The caller's period timer fired (else: a start or an answer asks whether a call is due at once). */
  period: boolean;
  /** A keyed start here found no pool: ask for one if the key may lend again. */
  wanted?: boolean;
  /** The host stops: give everything back. */
  closing?: boolean;
}

/**
 * The next call for this pool, or none. At each period while the pool is used
 * or holds anything; at once when it ran dry, when a start wants a pool the key
 * may lend again, when it has slots to give back after a stop, and on closing.
 */
export function nextAsk(p: KeyPool, now: number, leaseMs: number, w: AskWhen): LeaseAsk | undefined {
  if (p.inFlight) return undefined;
  const closing = w.closing === true;
  // A start that wants a pool is a use.
  const lastUse = w.wanted === true ? now : p.lastUse;
  // Unused this long, or closing: everything idle goes back (slots of tasks still running here stay lent until they end, or the host closes).
  const giveAll = closing || now - lastUse >= POOL_IDLE_MS;
  // Tokens past their time were never used: they go back so they stop counting against the rate.
  const live = giveAll ? [] : p.tokens.filter((b) => now < b.until);
  const unused = [...p.unused, ...p.tokens.filter((b) => !live.includes(b)).flatMap(unusedNames)];
  const busySlots = [...new Set([...p.busy.values()].map((b) => b.slot).filter((s) => s !== ''))];
  const giveBack = giveAll ? [...p.giveBack, ...p.idle, ...(closing ? busySlots : [])] : p.giveBack;
  const idle = giveAll ? [] : p.idle;
  const renew = !closing && idle.length + busySlots.length > 0 && now - p.renewedAt >= leaseMs / 3;
  const asking = !giveAll && (p.on || (w.wanted === true && now >= p.askAfter));
  // A pool whose confirmation lapsed is asked again like a dry one: a start that wants it would otherwise wait for the
  // period, whose ask an old lastUse turns into giving back, with nothing to give (a pool left on, lapsed, for good).
  // A dry one asks at once, so a burst that runs through what was lent grows its asks with its starts (the recent
  // count includes this period's); only a key at its share spaces them. One running low is topped up before it runs
  // dry, no more often than POOL_DRY_GAP_MS (a busy pool would otherwise ask after every answer).
  const dry = p.on && (p.dry || now >= p.validUntil);
  const urgent = closing || (dry && gapWaited(p, now)) || (p.on && runningLow(p, now)) || (!p.on && asking) || (!p.on && giveBack.length > 0);
  const worth = asking || renew || giveBack.length > 0 || unused.length > 0 || p.started !== null;
  if (!worth || !(urgent || w.period)) return undefined;
  const recent = p.used + p.usedBefore;
  let wantSlots = 0;
  let wantTokens = 0;
  if (asking) {
    // Unknown limits (the first call) ask for both; the answer says which the key has.
    const first = !p.on;
    // Slots come back as tasks end, so what is needed is what runs at once: idle ones for half as many again.
    if (p.hasMax || first) wantSlots = Math.max(0, clamp(p.busy.size / 2) - idle.length);
    const left = tokensLeft(live, now);
    // Tokens last POOL_VALID_MS, two periods: what was used in the last two tops the stock up for as long as they last.
    // (Twice that lent about three tokens per start used, each one a member the key's starts set added and removed.)
    if (p.hasRate || first) wantTokens = Math.max(0, clamp(recent) - left);
  }
  const pool: KeyPool = {
    ...p,
    inFlight: true,
    askedAt: now,
    askedFor: { slots: wantSlots, tokens: wantTokens },
    idle,
    tokens: live,
    giveBack: [],
    unused: [],
    started: null,
    lastUse,
    ...(w.period ? { used: 0, usedBefore: p.used } : {}),
    ...(renew ? { renewedAt: now } : {}),
    ...(giveAll ? { on: false, validUntil: 0 } : {}),
    ...(closing ? { busy: new Map() } : {}),
    nextNumber: p.nextNumber + wantSlots + wantTokens,
    dry: false,
  };
  return { pool, wantSlots, wantTokens, firstNumber: p.nextNumber, kept: renew ? [...idle, ...busySlots] : [], giveBack, unused, started: startedIds(p) };
}

/** What a lease call answered, as the host needs it. */
export interface LeaseAnswer {
  verdict: 'ok' | 'hold' | 'off' | 'full';
  ms: number;
  hasMax: boolean;
  hasRate: boolean;
  slots: readonly string[];
  tokens: readonly string[];
  lost: readonly string[];
}

/**
 * The pool after a call's answer. `sentAt` is when the call was sent (the
 * caller's clock): the confirmation and the tokens run from then, never from
 * the answer, so a slow answer shortens them rather than stretching them.
 * Refused ('hold', 'off', 'full'), the pool stops: its idle slots go back at
 * once (nextAsk says so), and it is asked again after the hold, or a while.
 */
export function applyAnswer(p: KeyPool, a: LeaseAnswer, sentAt: number, now: number): KeyPool {
  const lost = new Set(a.lost);
  const busy = new Map(p.busy);
  // A busy slot whose lease lapsed: its task goes on, uncounted, and the slot is not handed on.
  for (const [id, b] of busy) if (lost.has(b.slot)) busy.set(id, { slot: '', runs: b.runs });
  const base: KeyPool = { ...p, inFlight: false, hasMax: a.hasMax, hasRate: a.hasRate, busy, idle: p.idle.filter((s) => !lost.has(s)) };
  if (a.verdict !== 'ok') {
    const after = a.verdict === 'hold' ? sentAt + a.ms : a.verdict === 'off' ? now + POOL_OFF_RECHECK_MS : now + POOL_REFRESH_MS;
    return stopPool(base, after);
  }
  // Stopped here while the call was under way (a hold this host learned first): what it lent goes back unused.
  if (now < p.askAfter) return { ...base, giveBack: [...base.giveBack, ...a.slots], unused: [...base.unused, ...a.tokens] };
  const tokens = a.tokens.length ? [...base.tokens, { names: a.tokens, taken: 0, until: sentAt + POOL_VALID_MS }] : base.tokens;
  const short = (a.hasRate && a.tokens.length < p.askedFor.tokens) || (a.hasMax && a.slots.length < p.askedFor.slots);
  return { ...base, on: true, validUntil: sentAt + POOL_VALID_MS, idle: [...base.idle, ...a.slots], tokens, short };
}

/** The call failed (Redis did not answer): the pool lapses at its validity; what the call carried is carried again. */
export function failedAsk(p: KeyPool, ask: LeaseAsk): KeyPool {
  return {
    ...p,
    inFlight: false,
    giveBack: [...p.giveBack, ...ask.giveBack],
    unused: [...p.unused, ...ask.unused],
    started: logOf([...ask.started, ...startedIds(p)]),
  };
}

/** The pool holds nothing and owes no report: the gate may drop it. */
export function emptyPool(p: KeyPool, now: number): boolean {
  return !p.inFlight && !p.on && now >= p.askAfter && p.idle.length === 0 && p.busy.size === 0 && p.tokens.length === 0 && p.giveBack.length === 0 && p.unused.length === 0 && p.started === null;
}
