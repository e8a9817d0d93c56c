/**
 * A real gateway in a child process (the compiled CLI, see cli-build.ts), for tests that must
 * SIGKILL it: started on a configuration file with both listeners on port 0, ready once its
 * traffic listener logs its address.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import type { CliBuild } from './cli-build';

export interface GatewayProcess {
  /** `http://127.0.0.1:PORT` of the traffic listener. */
  url: string;
  adminUrl: string;
  child: ChildProcess;
  /** Resolves with the exit code or signal once the process is gone. */
  exited: Promise<string>;
  /** SIGKILL: no drain, no clean-up, mid-whatever. */
  kill(): Promise<string>;
  /** SIGTERM: the drain. */
  stop(): Promise<string>;
}

/** Writes `config` as JSON to `file` and starts a gateway on it; rejects if it is not listening within 15 s. */
export function startGatewayProcess(build: CliBuild, file: string, config: Record<string, unknown>): Promise<GatewayProcess> {
  writeFileSync(file, JSON.stringify({ ...config, listen: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: 0, ...(config.admin as object | undefined) } }));
  const child = spawn(process.execPath, [build.main, '--config', file], { env: build.env, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<string>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? String(code))));
  return new Promise((resolve, reject) => {
    let traffic: string | undefined;
    let admin: string | undefined;
    let buffer = '';
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`gateway process did not start within 15 s: ${stderr}`));
    }, 15000);
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout?.on('data', (d: Buffer) => {
      if (traffic && admin) return; // ready: the rest of the log is not needed
      buffer += d.toString();
      let nl: number;
      while ((nl = buffer.indexOf('\n')) !== -1) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (!line.includes('"listening"')) continue;
        const entry = JSON.parse(line) as { listener: string; port: number };
        if (entry.listener === 'traffic') traffic = `http://127.0.0.1:${entry.port}`;
        if (entry.listener === 'admin') admin = `http://127.0.0.1:${entry.port}`;
        if (traffic && admin) {
          clearTimeout(timer);
          child.stdout?.resume();
          resolve({
            url: traffic,
            adminUrl: admin,
            child,
            exited,
            kill: () => {
              if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
              return exited;
            },
            stop: () => {
              if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
              return exited;
            },
          });
        }
      }
    });
    void exited.then((how) => {
      if (!(traffic && admin)) {
        clearTimeout(timer);
        reject(new Error(`gateway process exited (${how}) before listening: ${stderr}`));
      }
    });
  });
}
