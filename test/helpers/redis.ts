/**
 * A real Redis for tests: Debian's redis-server, started by the test itself on a unix socket
 * in a fresh temporary folder (no TCP port at all, so parallel test files never collide and
 * no port is picked before it is bound). Nothing is persisted; `stop()` ends the server.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface TestRedis {
  /** `unix:///tmp/…/redis.sock`, as `queue.url` takes it. */
  url: string;
  socket: string;
  stop(): Promise<void>;
}

export async function startRedis(): Promise<TestRedis> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bw-redis-'));
  const socket = path.join(dir, 'redis.sock');
  const child: ChildProcess = spawn('redis-server', [
    '--port', '0', '--unixsocket', socket, '--unixsocketperm', '700',
    '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no', '--loglevel', 'warning',
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const started = Date.now();
  // Ready once the socket accepts a PING.
  for (;;) {
    if (child.exitCode !== null) throw new Error(`redis-server exited at start (is Debian's redis-server installed?): ${output}`);
    if (await pings(socket)) break;
    if (Date.now() - started > 10000) {
      child.kill('SIGKILL');
      throw new Error(`redis-server did not start within 10 s: ${output}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return {
    url: `unix://${socket}`,
    socket,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function pings(socket: string): Promise<boolean> {
  const net = await import('node:net');
  return new Promise((resolve) => {
    const c = net.createConnection(socket);
    c.once('error', () => resolve(false));
    c.once('connect', () => c.write('PING\r\n'));
    c.once('data', (d) => {
      c.destroy();
      resolve(d.toString().startsWith('+PONG'));
    });
  });
}
