// Records which agent runs which job on the job hash. Records gather for one
// tick and go out as one script call, so recording costs no round trip of its
// own and never delays a task's start; the script fences each by its start count.
import type { Redis } from 'ioredis';
import { scripts } from '../../queues/scripts.ts';
import { AGENT_FIELD } from '../tasks/view.ts';

export class AgentRecorder {
  private keys: string[] = [];
  private args: string[] = [];
  private scheduled = false;

  constructor(
    private readonly redis: Redis,
    private readonly onError: (err: Error) => void,
  ) {}

  /** `started` is the job's attempts-started count as this agent took it. */
  record(jobKey: string, started: number, agentId: string): void {
    this.keys.push(jobKey);
    this.args.push(agentId, String(started));
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  /**
   * Send what is pending now. Called before a job's result is handed to BullMQ:
   * the shared connection keeps command order, so the record lands before the
   * completion and no reader sees a finished task without its agent.
   */
  flush(): void {
    if (this.keys.length === 0) return;
    const keys = this.keys;
    const args = this.args;
    this.keys = [];
    this.args = [];
    scripts.recordAgents.run(this.redis, keys, [...args, AGENT_FIELD]).catch(this.onError);
  }
}
