// Records which agent runs which job on the job hash. Records gather for one
// tick and go out as one script call, so recording costs no round trip of its
// own and never delays a task's start.
import type { Redis } from 'ioredis';
import { scripts } from '../../queues/scripts.ts';
import { AGENT_FIELD } from '../tasks/view.ts';

export class AgentRecorder {
  private keys: string[] = [];
  private agents: string[] = [];
  private scheduled = false;

  constructor(
    private readonly redis: Redis,
    private readonly onError: (err: Error) => void,
  ) {}

  record(jobKey: string, agentId: string): void {
    this.keys.push(jobKey);
    this.agents.push(agentId);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    const keys = this.keys;
    const agents = this.agents;
    this.keys = [];
    this.agents = [];
    scripts.recordAgents.run(this.redis, keys, [...agents, AGENT_FIELD]).catch(this.onError);
  }
}
