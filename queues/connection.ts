// Connections. BullMQ may connect a lazy ioredis client it is given, so we
// connect only a client that is still waiting, and otherwise wait for ready.
import { Redis, type Cluster, type RedisOptions } from 'ioredis';
// Deep import of one internal: the handler ioredis itself runs when a stream closes.
import { closeHandler } from 'ioredis/built/redis/event_handler.js';

/**
 * ioredis, with disconnect() able to end a connection that is waiting to
 * reconnect. ioredis (to 6.0 at least; redis/ioredis#1247, #1830) only clears
 * the retry timer there: no stream is left to close, so 'end' never comes and
 * queued commands stay pending. BullMQ's Worker.close() waits for that 'end'
 * on its blocking connection, so a Worker closed just after a Redis restart
 * hung for ever. We run the close handler ourselves, as a closing stream would.
 * duplicate() keeps the class, since BullMQ makes its blocking connections so.
 */
export class SwarmRedis extends Redis {
  override disconnect(reconnect = false): void {
    const waiting = !reconnect && this.status === 'reconnecting';
    super.disconnect(reconnect);
    if (waiting && this.status === 'reconnecting') closeHandler(this)();
  }
}
// Set on the prototype: an override in the class body cannot match ioredis's generic signature.
SwarmRedis.prototype.duplicate = function duplicate(this: SwarmRedis, override?: Partial<RedisOptions>) {
  return new SwarmRedis({ ...this.options, ...(override ?? {}) } as RedisOptions & { replyMapping?: 'legacy' });
} as Redis['duplicate'];

export async function ensureConnected(redis: Redis | Cluster): Promise<void> {
  if (redis.status === 'ready') return;
  if (redis.status === 'wait') {
    await redis.connect();
    return;
  }
  await new Promise<void>((resolve, reject) => {
    const ready = () => {
      redis.off('end', ended);
      resolve();
    };
    const ended = () => {
      redis.off('ready', ready);
      reject(new Error('Redis connection ended before it was ready'));
    };
    redis.once('ready', ready);
    redis.once('end', ended);
  });
}

/**
 * Lets a reading loop stop while a command of its own is still queued.
 * ioredis's disconnect() while a connection waits to reconnect (just after a
 * Redis restart) leaves its queued commands pending for ever, so a loop that
 * awaited one directly could never be stopped.
 */
export class StopSignal {
  private fire!: () => void;
  private readonly fired = new Promise<undefined>((resolve) => {
    this.fire = () => resolve(undefined);
  });
  stopped = false;

  stop(): void {
    this.stopped = true;
    this.fire();
  }

  /** What `command` gives, or undefined as soon as stop() is called. */
  async race<T>(command: Promise<T>): Promise<T | undefined> {
    command.catch(() => {}); // abandoned after a stop: its rejection, if ever, is nobody's
    return await Promise.race([command, this.fired]);
  }
}
