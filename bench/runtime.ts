/**
 * Benchmarks the controller runtime against a real control plane started for the run.
 * Prints one JSON line per figure on stdout:
 * - baseline: the raw watch event rate (client-node's Watch, no informer), and the
 *   write-to-raw-watch latency;
 * - no-op reconciles per second over 10,000 objects (after the cache is synced);
 * - event-to-reconcile latency p50/p99 (watch event handed to the informer → reconcile
 *   starts) and write-to-reconcile latency p50/p99 (write acknowledged → reconcile starts).
 */
import * as k8s from '@kubernetes/client-node';
import { setTimeout as sleep } from 'node:timers/promises';
import { startControlPlane } from '../lib/controlplane/index.ts';
import { createController } from '../lib/controller.ts';
import { createInformerFactory } from '../lib/informer.ts';
import { collectionPath, createKubeClient, keyOf, objectKey, type KubeObject, type ResourceType } from '../lib/kube-client.ts';
import { log, setLogLevel } from '../lib/log.ts';

const CONFIGMAPS: ResourceType = { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', namespaced: true };
const OBJECTS = Number(process.env['BENCH_OBJECTS'] ?? 10_000);
const UPDATES = Number(process.env['BENCH_UPDATES'] ?? 2_000);

interface ConfigMap extends KubeObject {
  data?: Record<string, string>;
}

function emit(figure: string, value: number, unit: string, extra: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ bench: 'runtime', figure, value: Math.round(value * 100) / 100, unit, ...extra })}\n`);
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

async function until(check: () => boolean, timeoutMs = 600_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('benchmark timed out');
    await sleep(5);
  }
}

setLogLevel('warn');
const plane = await startControlPlane({ logger: log, readyTimeoutMs: 120_000 });
try {
  const kc = new k8s.KubeConfig();
  kc.loadFromString(plane.kubeconfig);
  const client = createKubeClient(kc);
  const namespace = 'bench-runtime';
  await client.resource({ group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false }).create({ metadata: { name: namespace } });
  const cms = client.resource<ConfigMap>(CONFIGMAPS);
  const names = Array.from({ length: OBJECTS }, (_, i) => `cm-${i}`);
  const created = performance.now();
  await pool(names, 64, async (name) => void (await cms.create({ metadata: { name, namespace }, data: { n: '0' } })));
  emit('setup_create_rate', OBJECTS / ((performance.now() - created) / 1000), 'objects/s', { objects: OBJECTS });

  // Baseline 1: a raw watch from resourceVersion 0 replays every object as ADDED.
  {
    let events = 0;
    const started = performance.now();
    const watch = new k8s.Watch(kc);
    const controller = await watch.watch(collectionPath(CONFIGMAPS, namespace), { resourceVersion: '0' }, () => events++, () => undefined);
    await until(() => events >= OBJECTS);
    const seconds = (performance.now() - started) / 1000;
    controller.abort();
    emit('baseline_raw_watch_event_rate', events / seconds, 'events/s', { objects: OBJECTS });
  }

  // Baseline 2: write acknowledged → the same change arrives on a raw watch.
  const patchAll = async (onSent: (key: string, rv: string, sentAt: number) => void) => {
    const targets = Array.from({ length: UPDATES }, (_, i) => names[i % names.length]!);
    await pool(targets, 8, async (name) => {
      const sentAt = performance.now();
      const updated = await cms.patch({ namespace, name }, { data: { n: `${sentAt}` } });
      onSent(objectKey({ namespace, name }), updated.metadata.resourceVersion!, sentAt);
    });
  };
  {
    const acked = new Map<string, number>();
    const arrived = new Map<string, number>();
    const list = await cms.list({ namespace, limit: 1 });
    const watch = new k8s.Watch(kc);
    const controller = await watch.watch(
      collectionPath(CONFIGMAPS, namespace),
      { resourceVersion: list.metadata.resourceVersion },
      (_type, obj: ConfigMap) => arrived.set(obj.metadata.resourceVersion!, performance.now()),
      () => undefined,
    );
    await patchAll((_key, rv, at) => acked.set(rv, at));
    await until(() => [...acked.keys()].every((rv) => arrived.has(rv)));
    controller.abort();
    const latencies = [...acked].map(([rv, at]) => arrived.get(rv)! - at);
    emit('baseline_write_to_watch_event_latency_p50', percentile(latencies, 50), 'ms', { updates: latencies.length });
    emit('baseline_write_to_watch_event_latency_p99', percentile(latencies, 99), 'ms', { updates: latencies.length });
  }

  // The runtime: informer + controller with a no-op reconcile.
  const factory = createInformerFactory(client, log);
  const informer = factory.informer<ConfigMap>(CONFIGMAPS, { namespace });
  const listed = performance.now();
  factory.start();
  await informer.waitForSync();
  emit('informer_list_and_sync', performance.now() - listed, 'ms', { objects: OBJECTS });

  const eventAt = new Map<string, number>();
  informer.addHandler({ onUpdate: (_old, obj) => eventAt.set(`${keyOf(obj)}@${obj.metadata.resourceVersion}`, performance.now()) });
  let reconciles = 0;
  const startedAt = new Map<string, number>();
  const controller = createController(
    {
      name: 'bench',
      for: informer,
      reconcile: (_ctx, request) => {
        reconciles++;
        const rv = informer.get(request)?.metadata.resourceVersion;
        const key = `${objectKey(request)}@${rv}`;
        if (!startedAt.has(key)) startedAt.set(key, performance.now());
        return Promise.resolve();
      },
    },
    { logger: log },
  );
  const began = performance.now();
  await controller.start();
  await until(() => reconciles >= OBJECTS);
  emit('noop_reconciles_per_second', OBJECTS / ((performance.now() - began) / 1000), 'reconciles/s', { objects: OBJECTS, workers: 1 });

  const acked = new Map<string, number>();
  await patchAll((key, rv, at) => acked.set(`${key}@${rv}`, at));
  await until(() => [...acked.keys()].every((k) => startedAt.has(k) || !eventAt.has(k)) && [...acked.keys()].filter((k) => startedAt.has(k)).length > UPDATES * 0.5, 60_000);
  await sleep(500);
  // A key updated again before its reconcile ran is reconciled once, at the newer version:
  // latencies count the versions a reconcile actually saw.
  const seen = [...acked.keys()].filter((k) => startedAt.has(k) && eventAt.has(k));
  const eventLatency = seen.map((k) => startedAt.get(k)! - eventAt.get(k)!);
  const writeLatency = seen.map((k) => startedAt.get(k)! - acked.get(k)!);
  emit('event_to_reconcile_latency_p50', percentile(eventLatency, 50), 'ms', { samples: seen.length });
  emit('event_to_reconcile_latency_p99', percentile(eventLatency, 99), 'ms', { samples: seen.length });
  emit('write_to_reconcile_latency_p50', percentile(writeLatency, 50), 'ms', { samples: seen.length });
  emit('write_to_reconcile_latency_p99', percentile(writeLatency, 99), 'ms', { samples: seen.length });
  controller.stop();
  factory.stop();
} finally {
  await plane.stop();
}
