/**
 * How soon `kumulus local`'s agent brings its Host Up once its cluster exists (the 30 s budget
 * DESIGN.md gives a joining host), through the real control plane, the operator's
 * infrastructure controllers and the agent on this machine's libvirt. Prints JSON lines:
 * - baseline: a created Cluster until an informer of this process sees it (apiserver and
 *   watch latency, the floor of every figure below);
 * - host_up_after_cluster: the zone example created (names suffixed), from the Cluster's
 *   creation until its Host is Up, over BENCH_JOINS (default 3) runs, each with a new agent
 *   and zone, each torn down (untimed) before the next.
 * Touches host-global state (bind mount, bridges): run under flock /tmp/kumulus-host.lock.
 */
import * as k8s from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { prepareInfrastructure, registerInfrastructureControllers } from '../controllers/infrastructure.ts';
import { Cluster, kindByName } from '../crds/index.ts';
import { startControlPlane } from '../lib/controlplane/index.ts';
import { installCrds, readCrdManifests } from '../lib/install-crds.ts';
import { createKubeClient, resourceTypeOf, type KubeObject } from '../lib/kube-client.ts';
import { log, setLogLevel } from '../lib/log.ts';
import { createManager } from '../lib/manager.ts';
import { startLocalAgent } from '../node-daemon/local.ts';
import { suffixedZoneExample } from '../test/support/examples.ts';
import { until } from '../test/support/until.ts';

const JOINS = Number(process.env['BENCH_JOINS'] ?? 3);
const repoRoot = resolve(import.meta.dirname, '..');
type Obj = KubeObject & { status?: { state?: string } };

function emit(figure: string, value: number, unit: string, extra: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ bench: 'agent-join', figure, value: Math.round(value * 100) / 100, unit, ...extra })}\n`);
}

setLogLevel('warn');
const plane = await startControlPlane({ logger: log, readyTimeoutMs: 120_000 });
try {
  const kc = new k8s.KubeConfig();
  kc.loadFromString(plane.kubeconfig);
  await installCrds(kc, await readCrdManifests(join(repoRoot, 'crds')), log);
  const client = createKubeClient(kc);
  const api = (kind: string) => client.resource<Obj>(resourceTypeOf(kindByName(kind)!));
  const operator = createManager({ kubeConfig: kc, eventSource: 'kumulus.io/operator', httpBindAddress: '127.0.0.1:0', logger: log });
  registerInfrastructureControllers(operator);
  await prepareInfrastructure(operator.client);
  const clusters = operator.informer<Obj>(resourceTypeOf(Cluster));
  await operator.start();

  const seen = `baseline-${randomBytes(3).toString('hex')}`;
  const sent = performance.now();
  await api('Cluster').create({ metadata: { name: seen }, spec: { podRef: { name: 'none' }, hypervisor: 'KVM' } } as Obj);
  await until('the informer to see the Cluster', 30_000, () => Promise.resolve(clusters.get({ name: seen }) ? true : undefined), 1);
  emit('baseline_create_to_informer', performance.now() - sent, 'ms');
  await api('Cluster').delete({ name: seen }).catch(() => undefined);

  const times: number[] = [];
  for (let run = 0; run < JOINS; run++) {
    const suffix = `bj${randomBytes(3).toString('hex')}`;
    const node = `node-${suffix}`;
    const { docs, names } = await suffixedZoneExample(suffix);
    const stateDir = await mkdtemp(join(tmpdir(), 'kumulus-bench-join-'));
    const local = await startLocalAgent({ kubeConfig: kc, stateDir, logger: log, cluster: names.get('cluster1') ?? '', nodeName: node });
    const created: Obj[] = [];
    let clusterCreatedAt = 0;
    for (const doc of docs) {
      created.push(await api(doc.kind ?? '').create(doc));
      if (doc.kind === 'Cluster') clusterCreatedAt = performance.now();
    }
    await until(`Host ${node} Up`, 300_000, async () => ((await api('Host').get({ name: node }).catch(() => undefined))?.status?.state === 'Up' ? true : undefined), 50);
    times.push(performance.now() - clusterCreatedAt);
    emit('host_up_after_cluster', times.at(-1)!, 'ms', { run, libvirt: local.libvirtUri });
    await local.stop();
    for (const obj of created.reverse()) await api(obj.kind ?? '').delete({ name: obj.metadata.name ?? '', namespace: obj.metadata.namespace }).catch(() => undefined);
    await api('Host').delete({ name: node }).catch(() => undefined);
    await rm(stateDir, { recursive: true, force: true });
    await sleep(2000);
  }
  emit('host_up_after_cluster_max', Math.max(...times), 'ms', { runs: times.length, budget_ms: 30_000 });
  await operator.stop();
} finally {
  await plane.stop();
}
