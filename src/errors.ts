// Errors are values a user can act on: a stable code, what was wrong, and where.
export type ErrorCode =
  | 'invalid_request'
  | 'unauthorized'
  | 'host_not_allowed'
  | 'origin_not_allowed'
  | 'too_many_requests'
  | 'budget_exhausted'
  | 'unknown_task_type'
  | 'no_capable_agent'
  | 'not_found'
  | 'conflict'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'redis_unavailable'
  | 'not_replicated'
  | 'host_unavailable'
  | 'not_enrolled'
  | 'internal';

const STATUS: Record<ErrorCode, number> = {
  invalid_request: 400,
  unauthorized: 401,
  host_not_allowed: 403,
  origin_not_allowed: 403,
  too_many_requests: 429,
  /** The task's key has spent its budget for the period (details: spent, limit, resetsAt). */
  budget_exhausted: 429,
  unknown_task_type: 400,
  no_capable_agent: 400,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  redis_unavailable: 503,
  not_replicated: 503,
  host_unavailable: 503,
  /** A trust anchor is set and this process lacks the enrolled identity the operation signs with: a deployment fix. */
  not_enrolled: 503,
  internal: 500,
};

export class SwarmError extends Error {
  readonly code: ErrorCode;
  readonly details?: unknown;
  constructor(code: ErrorCode, message: string, details?: unknown) {
    super(message);
    this.name = 'SwarmError';
    this.code = code;
    this.details = details;
  }
  get status(): number {
    return STATUS[this.code];
  }
  toJSON(): { error: { code: ErrorCode; message: string; details?: unknown } } {
    return { error: { code: this.code, message: this.message, ...(this.details === undefined ? {} : { details: this.details }) } };
  }
}

/** ioredis/BullMQ failures that mean "Redis is not answering" rather than a bug. */
/**
 * What ioredis and Redis say while a server, a Cluster or a Sentinel-managed
 * primary cannot take a command for now: a connection lost or refused, a
 * server loading its data, a Cluster with slots unserved during a failover
 * (CLUSTERDOWN, TRYAGAIN, redirections given up, no slot map), a primary
 * demoted under a client that has not moved yet (READONLY), no Sentinel.
 */
const REDIS_DOWN =
  /ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|Connection is closed|Stream isn't writeable|enableOfflineQueue|MaxRetriesPerRequest|LOADING|Reached the max retries|CLUSTERDOWN|TRYAGAIN|Too many Cluster redirections|Failed to refresh slots cache|None of startup nodes is available|MASTERDOWN|READONLY You can't write|All sentinels are unreachable/i;

export function isRedisDown(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const text = `${err.name} ${err.message}`;
  return REDIS_DOWN.test(text);
}

/**
 * A Redis Cluster refusing one command, script, MULTI or pipeline over keys of
 * several hash slots: an operation swarmq does not run on a Cluster yet, not a
 * fault of the request or of Redis's health.
 */
export function isCrossSlot(err: unknown): boolean {
  return err instanceof Error && /CROSSSLOT|should belong to the same slots allocation group/.test(err.message);
}
