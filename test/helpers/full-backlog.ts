/**
 * A loopback address where a TCP connect hangs (no SYN-ACK), to provoke a *connect* timeout
 * without leaving the machine: a listener with `backlog: 1` in a child process whose event
 * loop is blocked, so it never accepts. Once its accept queue is full, Linux drops further
 * SYNs and the client stays in SYN_SENT until it gives up.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';

export interface FullBacklog {
  port: number;
  close(): Promise<void>;
}

const CHILD = `
const net = require('node:net');
const server = net.createServer();
server.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
  process.stdout.write(server.address().port + '\\n');
  // Block the event loop for good: nothing is ever accepted again.
  setTimeout(() => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0), 20);
});
`;

export async function startFullBacklog(): Promise<FullBacklog> {
  const child: ChildProcess = spawn(process.execPath, ['-e', CHILD], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.stdout?.once('data', (d: Buffer) => resolve(Number(String(d).trim())));
  });
  await new Promise((r) => setTimeout(r, 100)); // let the child block
  const fillers: net.Socket[] = [];
  const kill = async (): Promise<void> => {
    fillers.forEach((s) => s.destroy());
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    }
  };
  // Connect until one connect does not complete: the queue is full from then on.
  for (let i = 0; i < 16; i++) {
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    fillers.push(socket);
    const connected = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 300);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    if (!connected) return { port, close: kill };
  }
  await kill();
  throw new Error('could not fill the accept queue: connects kept succeeding');
}
