import { fork } from 'node:child_process';
import * as http from 'node:http';

/**
 * What the HTTP benchmarks share: a server forked into a process of its own (so the load
 * generator never competes with it on one event loop), a keep-alive GET load over a fixed set
 * of paths, and the median of repeated rounds.
 */

/** Forks `script` with `args`; the child sends `{ port }` once it listens and stops on 'stop'. */
export async function forkServer(script: string, args: string[], label: string): Promise<{ port: number; stop: () => void }> {
  const child = fork(script, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const port = await new Promise<number>((done, fail) => {
    child.once('message', (message: { port: number }) => done(message.port));
    child.once('exit', (code) => fail(new Error(`${label} server exited with ${code}`)));
  });
  return { port, stop: () => child.send('stop') };
}

function get(agent: http.Agent, port: number, path: string): Promise<{ status: number; bytes: number }> {
  return new Promise((done, fail) => {
    const request = http.get({ host: '127.0.0.1', port, path, agent }, (response) => {
      let bytes = 0;
      response.on('data', (chunk: Buffer) => (bytes += chunk.length));
      response.on('end', () => done({ status: response.statusCode ?? 0, bytes }));
    });
    request.on('error', fail);
  });
}

export interface Measurement {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  failures: number;
  /** Size of the last response body. */
  bytes: number;
}

/** `concurrency` clients GET `paths` in turn for `seconds`, after a one-second warm-up. */
export async function load(port: number, paths: readonly string[], seconds: number, concurrency: number): Promise<Measurement> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const latencies: number[] = [];
  let failures = 0;
  let bytes = 0;
  let next = 0;
  const drive = async (until: number, record: boolean): Promise<void> => {
    while (performance.now() < until) {
      const path = paths[next++ % paths.length] as string;
      const start = performance.now();
      const reply = await get(agent, port, path);
      if (!record) continue;
      latencies.push(performance.now() - start);
      bytes = reply.bytes;
      if (reply.status !== 200 && failures++ === 0) console.error(`first failure: HTTP ${reply.status}`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, () => drive(performance.now() + 1000, false)));
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, () => drive(started + seconds * 1000, true)));
  const elapsed = (performance.now() - started) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return { requestsPerSecond: latencies.length / elapsed, p50Ms: at(0.5), p99Ms: at(0.99), failures, bytes };
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}
