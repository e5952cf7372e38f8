/**
 * Benchmark clients in a child process of their own (so they never share the controller's event
 * loop: on 2 cores, one core each), driven over IPC: `ask` sends a command and waits for the
 * reply of the type named.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';

export class ClientProcess<Reply extends { type: string }> {
  private constructor(private readonly child: ChildProcess) {}

  /** Forks `script` (a .ts file, through tsx) and waits for its first message of type `ready`. */
  static async start<Reply extends { type: string }>(script: URL, ready: string): Promise<ClientProcess<Reply>> {
    const child = fork(script, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const process = new ClientProcess<Reply>(child);
    await process.next(ready);
    return process;
  }

  private async next(type: string): Promise<Reply> {
    for (;;) {
      const [message] = (await once(this.child, 'message')) as [Reply];
      if (message.type === type) return message;
    }
  }

  async ask(command: Record<string, unknown>, answer: string): Promise<Reply> {
    const reply = this.next(answer);
    this.child.send(command);
    return reply;
  }

  /** Asks it to close, and waits for it to exit. */
  async close(command: Record<string, unknown> = { type: 'close' }): Promise<void> {
    if (this.child.exitCode !== null) return;
    this.child.send(command);
    await once(this.child, 'exit');
  }
}
