import * as k8s from '@kubernetes/client-node';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { registerTenancyControllers } from '../../controllers/tenancy.ts';
import { Account } from '../../crds/index.ts';
import { bootstrapAdmin } from '../../lib/bootstrap-admin.ts';
import { installCrds, readCrdManifests } from '../../lib/install-crds.ts';
import { createKubeClient, type KubeClient, type KubeObject, resourceTypeOf } from '../../lib/kube-client.ts';
import { log } from '../../lib/log.ts';
import { createManager, type Manager } from '../../lib/manager.ts';
import { specSignature } from '../../test/support/cloudstack-client.ts';
import { sharedControlPlane, stopSharedControlPlane } from '../../test/support/cluster.ts';
import { forkServer, median, type Measurement } from './http-load.ts';

/** What the API benchmarks start from: a real control plane with the CRDs, the tenancy controllers and the bootstrap admin's account Ready. */
export interface BenchCloud {
  kubeconfig: string;
  kc: k8s.KubeConfig;
  client: KubeClient;
  manager: Manager;
  keys: { apiKey: string; secretKey: string };
  /** The admin account's namespace. */
  namespace: string;
  /** Stops the tenancy controllers and the control plane. */
  stop(): Promise<void>;
}

export async function startBenchCloud(): Promise<BenchCloud> {
  const plane = await sharedControlPlane();
  const kc = new k8s.KubeConfig();
  kc.loadFromString(plane.kubeconfig);
  const client = createKubeClient(kc);
  await installCrds(kc, await readCrdManifests(resolve(import.meta.dirname, '../../crds')), log);
  // The tenancy controllers give the admin's domain its path and its account its namespace and role binding.
  const manager = createManager({ kubeConfig: kc, eventSource: 'kumulus.io/bench', httpBindAddress: '127.0.0.1:0', logger: log });
  registerTenancyControllers(manager);
  await manager.start();
  const keys = await bootstrapAdmin(client, log);
  for (;;) {
    const account = (await client.resource(resourceTypeOf(Account)).get({ name: 'admin' })) as KubeObject & { spec: { namespace?: string }; status?: { conditions?: { type: string; status: string }[] } };
    const namespace = account.spec.namespace ?? '';
    if (namespace && account.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) {
      const stop = async () => {
        await manager.stop();
        await stopSharedControlPlane();
      };
      return { kubeconfig: plane.kubeconfig, kc, client, manager, keys, namespace, stop };
    }
    await new Promise((done) => setTimeout(done, 200));
  }
}

/** The path of a v3-signed GET of `command`; `index` makes each one distinct. */
export function signed(command: string, params: Record<string, string>, keys: { apiKey: string; secretKey: string }, index: number): string {
  const expires = `${new Date(Date.now() + 3_600_000).toISOString().slice(0, 19)}+0000`;
  const all: Record<string, string> = { command, ...params, response: 'json', apiKey: keys.apiKey, signatureVersion: '3', expires, _: String(index) };
  all['signature'] = specSignature(all, keys.secretKey);
  return `/client/api?${new URLSearchParams(all).toString()}`;
}

/** Runs `tasks` with at most `width` in flight. */
export async function pool(tasks: (() => Promise<unknown>)[], width: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < tasks.length) await tasks[next++]!();
    }),
  );
}

export const round = (value: number): number => Math.round(value * 100) / 100;

/** The medians of alternating rounds of one figure, and every failure. */
export function summary(measurements: Measurement[]): { p50Ms: number; p99Ms: number; requestsPerSecond: number; responseBytes: number; failures: number } {
  return {
    p50Ms: round(median(measurements.map((m) => m.p50Ms))),
    p99Ms: round(median(measurements.map((m) => m.p99Ms))),
    requestsPerSecond: round(median(measurements.map((m) => m.requestsPerSecond))),
    responseBytes: measurements[0]?.bytes ?? 0,
    failures: measurements.reduce((sum, m) => sum + m.failures, 0),
  };
}

/**
 * The benchmark script's two servers, each a child process: `serve baseline` (an empty express
 * handler) and `serve api`, given the kubeconfig in a private file; stop() ends both and removes it.
 */
export async function forkBaselineAndApi(script: string, kubeconfig: string): Promise<{ baseline: { port: number }; api: { port: number }; stop(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'kumulus-bench-'));
  const path = join(dir, 'kubeconfig');
  await writeFile(path, kubeconfig, { mode: 0o600 });
  const baseline = await forkServer(script, ['serve', 'baseline', path], 'baseline');
  const api = await forkServer(script, ['serve', 'api', path], 'api');
  return {
    baseline,
    api,
    async stop() {
      baseline.stop();
      api.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
