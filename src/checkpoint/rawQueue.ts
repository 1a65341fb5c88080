// One queue as the checkpoint read script saw it: raw Redis values, parsed by
// read.ts and turned into checkpoint entries by snapshot.ts (tasks) and
// consensusSnapshot.ts (the consensus queue). Its own module so neither of
// those two imports the other for it.
export interface RawQueue {
  name: string;
  /** The queue's meta says paused. */
  paused: boolean;
  /** Lists as LRANGE gives them (head first: the newest). */
  wait: string[];
  active: string[];
  /** BullMQ's legacy paused list. */
  pausedList: string[];
  /** In priority order. */
  prioritized: string[];
  /** [id, score] in score order; a delayed score is (due ms) × 4096 + a counter. */
  delayed: [string, string][];
  /** [id, finishedOn] (read only when finished tasks are asked for). */
  completed: [string, string][];
  failed: [string, string][];
  /** Parked tasks claimed for a node but not yet dropped from the parked queue (the parked queue only). */
  unparking: string[];
  /** Job hashes by id (missing: listed but no hash). */
  jobs: Map<string, Record<string, string>>;
  /** Intake jobs whose routing chose a task id already: jobId → { taskId, pttl }. */
  intakeTasks: Map<string, { taskId: string; pttl: number }>;
}
