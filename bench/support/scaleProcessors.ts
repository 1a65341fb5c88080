// The task type the scale benchmark submits: `stamp` returns the moment it
// started, as performance.timeOrigin + performance.now() (sub-millisecond, and
// comparable across processes on one machine), so pickup is measured without
// BullMQ's millisecond timestamps.
import { performance } from 'node:perf_hooks';

export const stamp = (): { startedAt: number } => ({ startedAt: performance.timeOrigin + performance.now() });
