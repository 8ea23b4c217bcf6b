import express from 'express';
import type { AddressInfo } from 'node:net';
import winston from 'winston';
import { createApiApp } from '../cloudstack-api/app.ts';
import { createCommandTable } from '../cloudstack-api/commands/define.ts';
import { defaultCapabilities, discoveryCommands } from '../cloudstack-api/commands/discovery.ts';
import { createInMemorySessionStore } from '../cloudstack-api/protocol/memory-session-store.ts';
import { specSignature } from '../test/support/cloudstack-client.ts';
import { singleKeyAuthenticator } from '../test/support/single-key-auth.ts';
import { forkServer, load, median, type Measurement } from './support/http-load.ts';

/**
 * Signed GET requests per second against listCapabilities, and the same load against an
 * empty express handler as the baseline, measured in the same run. Each server runs in a
 * child process of its own; this process only generates load, over keep-alive connections,
 * from a pool of distinct pre-signed URLs (so every request is verified for real).
 * Prints one JSON line per figure (medians of alternating rounds).
 * Usage: node bench/cloudstack-api.ts [seconds per round] [concurrency] [rounds]
 */

const API_KEY = 'BENCHKEY';
const SECRET = 'bench-secret';

function serve(kind: string): void {
  const app =
    kind === 'baseline'
      ? express().get('/client/api', (_req, res) => {
          res.end();
        })
      : createApiApp({
          auth: singleKeyAuthenticator(API_KEY, SECRET),
          sessions: createInMemorySessionStore(),
          commands: createCommandTable(
            discoveryCommands({ capabilities: () => defaultCapabilities, hypervisors: () => ['KVM'], zoneHypervisors: () => Promise.resolve(undefined) }),
          ),
          log: winston.createLogger({ silent: true }),
        });
  const server = app.listen(0, '127.0.0.1', () => process.send?.({ port: (server.address() as AddressInfo).port }));
  // Exit cleanly when asked, so `--cpu-prof` runs write their profiles.
  process.on('message', () => process.exit(0));
}


/** Signed as the Python cs client signs (v3, expires with +0000), by the spec client's signer. */
function signedPath(index: number): string {
  const expires = `${new Date(Date.now() + 3_600_000).toISOString().slice(0, 19)}+0000`;
  const params: Record<string, string> = { command: 'listCapabilities', response: 'json', apiKey: API_KEY, signatureVersion: '3', expires, _: String(index) };
  params['signature'] = specSignature(params, SECRET);
  return `/client/api?${new URLSearchParams(params).toString()}`;
}

async function main(): Promise<void> {
  const seconds = Number(process.argv[2] ?? 3);
  const concurrency = Number(process.argv[3] ?? 16);
  const rounds = Number(process.argv[4] ?? 3);
  const paths = Array.from({ length: 2000 }, (_, i) => signedPath(i));
  const round = (value: number) => Math.round(value * 100) / 100;

  // Both servers stay up and take turns, so a busy neighbour on a shared machine slows both alike.
  const servers = { baseline: await forkServer(import.meta.filename, ['serve', 'baseline'], 'baseline'), api: await forkServer(import.meta.filename, ['serve', 'api'], 'api') };
  const samples: Record<keyof typeof servers, Measurement[]> = { baseline: [], api: [] };
  try {
    for (let i = 0; i < rounds; i++) {
      for (const kind of ['baseline', 'api'] as const) samples[kind].push(await load(servers[kind].port, paths, seconds, concurrency));
    }
  } finally {
    servers.baseline.stop();
    servers.api.stop();
  }

  const summary = (measurements: Measurement[]) => ({
    value: round(median(measurements.map((m) => m.requestsPerSecond))),
    p50Ms: round(median(measurements.map((m) => m.p50Ms))),
    p99Ms: round(median(measurements.map((m) => m.p99Ms))),
    samples: measurements.map((m) => round(m.requestsPerSecond)),
    failures: measurements.reduce((sum, m) => sum + m.failures, 0),
  });
  const baseline = summary(samples.baseline);
  const api = summary(samples.api);
  const common = { seconds, concurrency, rounds, node: process.version };
  console.log(JSON.stringify({ bench: 'cloudstack-api', figure: 'empty express handler (baseline)', unit: 'req/s', ...baseline, ...common }));
  console.log(JSON.stringify({ bench: 'cloudstack-api', figure: 'signed GET listCapabilities', unit: 'req/s', ...api, ofBaseline: round(api.value / baseline.value), ...common }));
  if (baseline.failures > 0 || api.failures > 0) process.exitCode = 1;
}

if (process.argv[2] === 'serve') serve(process.argv[3] ?? 'api');
else await main();
