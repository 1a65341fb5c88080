// The wake-ups of the hosts running tasks just cancelled, one control-queue
// job per host however many of its tasks a cancel took (a batch, a replicated
// task's replicas). The control queue, because each host already blocks on it
// (its control Worker), so the wake-up costs no connection and no poll.
import { HostControl } from './hostControl.ts';

export class CancelNotices {
  private readonly byHost = new Map<string, string[]>();

  add(host: string, taskId: string): void {
    const list = this.byHost.get(host);
    if (list) list.push(taskId);
    else this.byHost.set(host, [taskId]);
  }

  /**
   * Sends them. A notice that cannot be sent is reported, not thrown: the
   * cancel is already recorded, and its host finds it when it next renews the
   * task's lock (lockDurationMs / 2), only later.
   */
  async send(control: HostControl, onError: (host: string, err: Error) => void): Promise<void> {
    await Promise.all(
      [...this.byHost].map(async ([host, tasks]) => {
        try {
          await control.tell(host, 'cancel', { tasks });
        } catch (err) {
          onError(host, err as Error);
        }
      }),
    );
  }
}
