import { expect } from 'chai';
import { setTimeout as sleep } from 'node:timers/promises';
import { createController, type Controller, type Request } from '../../lib/controller.ts';
import { createInformerFactory, type InformerFactory } from '../../lib/informer.ts';
import { createKubeClient, isConflict, objectKey, retryOnConflict, type KubeObject, type ResourceType } from '../../lib/kube-client.ts';
import { log } from '../../lib/log.ts';
import { createRuntimeMetrics, type RuntimeMetrics } from '../../lib/metrics.ts';
import { setControllerReference } from '../../lib/ownership.ts';
import { useTestNamespace } from '../support/cluster.ts';
import { until } from '../support/until.ts';

const CONFIGMAPS: ResourceType = { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', namespaced: true };
const SECRETS: ResourceType = { group: '', version: 'v1', plural: 'secrets', kind: 'Secret', namespaced: true };

interface ConfigMap extends KubeObject {
  data?: Record<string, string>;
}

/** Waits until `check` holds, polling the in-process state every 20 ms. */
function whenTrue(what: string, check: () => boolean, timeoutMs = 30_000): Promise<true> {
  return until(what, timeoutMs, () => Promise.resolve(check() || undefined), 20);
}

/** The value of a controller's metric for the given labels (0 before the first sample). */
async function sample(metrics: RuntimeMetrics, metric: string, labels: Record<string, string>): Promise<number> {
  const values = (await metrics.registry.getSingleMetric(metric)?.get())?.values ?? [];
  return values.find((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want))?.value ?? 0;
}

/**
 * Waits until the controller has nothing to do: an empty queue and no reconcile in flight.
 * What the events so far caused has then run, so a check for what did not happen is meaningful.
 */
async function idle(metrics: RuntimeMetrics, controller: string): Promise<void> {
  await until(`controller ${controller} to be idle`, 30_000, async () => {
    const depth = await sample(metrics, 'workqueue_depth', { name: controller });
    const active = await sample(metrics, 'controller_runtime_active_workers', { controller });
    return depth === 0 && active === 0 ? true : undefined;
  }, 20);
}

/** Runs `fn` over `items` with at most `limit` at a time. */
async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

describe('runtime: controllers against the real apiserver', function () {
  this.timeout(180_000);
  const ns = useTestNamespace('rt-ctrl');
  let factory: InformerFactory | undefined;
  let controller: Controller | undefined;
  afterEach(() => {
    controller?.stop();
    factory?.stop();
    controller = factory = undefined;
  });

  it('sees the final state of 50 objects after 1,000 rapid updates, never reconciling a key twice at once', async () => {
    const client = createKubeClient(ns.kc);
    const cms = client.resource<ConfigMap>(CONFIGMAPS);
    const names = Array.from({ length: 50 }, (_, i) => `obj-${i}`);
    await pool(names, 10, async (name) => void (await cms.create({ metadata: { name, namespace: ns.name }, data: { n: '0' } })));

    factory = createInformerFactory(client, log);
    const informer = factory.informer<ConfigMap>(CONFIGMAPS, { namespace: ns.name });
    const running = new Set<string>();
    const overlaps: string[] = [];
    const lastSeen = new Map<string, string | undefined>();
    let reconciles = 0;
    controller = createController(
      {
        name: 'rapid',
        for: informer,
        maxConcurrentReconciles: 8,
        reconcile: async (_ctx, request: Request) => {
          const key = objectKey(request);
          if (running.has(key)) overlaps.push(key);
          running.add(key);
          reconciles++;
          try {
            // Yield to the event loop so other workers run while this key is in flight.
            await sleep(Math.random() * 3);
            lastSeen.set(key, informer.get(request)?.data?.n);
          } finally {
            running.delete(key);
          }
        },
      },
      { logger: log },
    );
    factory.start();
    await controller.start();

    const updatesPerObject = 20;
    await pool(names, 25, async (name) => {
      for (let n = 1; n <= updatesPerObject; n++) await cms.patch({ namespace: ns.name, name }, { data: { n: String(n) } });
    });
    await whenTrue('every object reconciled at its final state', () => names.every((name) => lastSeen.get(`${ns.name}/${name}`) === String(updatesPerObject)));
    expect(overlaps).to.deep.equal([], 'a key was reconciled by two workers at once');
    log.info('rapid updates', { updates: names.length * updatesPerObject, reconciles });
    expect(reconciles).to.be.at.least(names.length);
  });

  it('re-queues the owner when an owned object changes, and a mapped object when a watched one does', async () => {
    const client = createKubeClient(ns.kc);
    const cms = client.resource<ConfigMap>(CONFIGMAPS);
    const secrets = client.resource<KubeObject & { stringData?: Record<string, string> }>(SECRETS);
    const parent = await cms.create({ metadata: { name: 'parent', namespace: ns.name } });
    const child: KubeObject & { stringData?: Record<string, string> } = { metadata: { name: 'child', namespace: ns.name }, stringData: { a: '1' } };
    setControllerReference(parent, child);
    await secrets.create(child);
    await cms.create({ metadata: { name: 'referrer', namespace: ns.name, labels: { refers: 'parent' } } });

    factory = createInformerFactory(client, log);
    const primary = factory.informer<ConfigMap>(CONFIGMAPS, { namespace: ns.name });
    const requests: string[] = [];
    const metrics = createRuntimeMetrics({ processMetrics: false });
    controller = createController(
      {
        name: 'owner-mapping',
        for: primary,
        owns: [factory.informer(SECRETS, { namespace: ns.name })],
        watches: [{ informer: primary, map: (obj) => (obj.metadata.labels?.refers ? [{ namespace: obj.metadata.namespace, name: obj.metadata.labels.refers }] : []) }],
        reconcile: (_ctx, request) => {
          requests.push(request.name);
          return Promise.resolve();
        },
      },
      { logger: log, metrics },
    );
    factory.start();
    await controller.start();
    await whenTrue('the initial reconciles', () => requests.includes('parent') && requests.includes('referrer'));
    // Every initial event is handled before the record restarts, so what follows is caused by the changes alone.
    await idle(metrics, 'owner-mapping');
    requests.length = 0;
    await secrets.patch({ namespace: ns.name, name: 'child' }, { stringData: { a: '2' } });
    await whenTrue('the owner to be re-queued', () => requests.includes('parent'));
    expect(requests).to.not.include('child', 'an owned object maps to its owner, not to itself');
    requests.length = 0;
    await cms.patch({ namespace: ns.name, name: 'referrer' }, { data: { x: 'y' } });
    await whenTrue('the mapped object to be re-queued', () => requests.includes('parent') && requests.includes('referrer'));
  });

  it('retries a reconcile that hits 409 Conflict until its write lands', async () => {
    const client = createKubeClient(ns.kc);
    const cms = client.resource<ConfigMap>(CONFIGMAPS);
    await cms.create({ metadata: { name: 'contended', namespace: ns.name }, data: { other: '0' } });
    factory = createInformerFactory(client, log);
    const informer = factory.informer<ConfigMap>(CONFIGMAPS, { namespace: ns.name });
    const metrics = createRuntimeMetrics({ processMetrics: false });
    const outcomes: string[] = [];
    controller = createController(
      {
        name: 'conflicts',
        for: informer,
        reconcile: async (ctx, request) => {
          const cached = informer.get(request);
          if (!cached || cached.data?.reconciled) return;
          if (outcomes.length === 0) {
            // Another writer gets in between our read (the cache) and our write.
            await cms.patch(request, { data: { other: '1' } });
          }
          try {
            await cms.update({ ...cached, data: { ...cached.data, reconciled: 'yes' } }, { signal: ctx.signal });
            outcomes.push('written');
          } catch (err) {
            outcomes.push(isConflict(err) ? 'conflict' : 'other-error');
            throw err;
          }
        },
      },
      { logger: log, metrics },
    );
    factory.start();
    await controller.start();
    await whenTrue('the write to land and reach the cache', () => informer.get({ namespace: ns.name, name: 'contended' })?.data?.reconciled === 'yes');
    await idle(metrics, 'conflicts');
    // Later reconciles from a cache that lagged behind may conflict too; each is retried.
    expect(outcomes[0]).to.equal('conflict');
    expect(outcomes.filter((o) => o === 'written')).to.have.length(1);
    expect(outcomes).to.not.include('other-error');
    const stored = await cms.get({ namespace: ns.name, name: 'contended' });
    expect(stored.data).to.deep.equal({ other: '1', reconciled: 'yes' }, 'the retry wrote on top of the other writer, losing nothing');
    const errors = await metrics.reconcileErrors.get();
    expect(errors.values.find((v) => v.labels.controller === 'conflicts')?.value).to.equal(outcomes.filter((o) => o === 'conflict').length);
  });

  it('retryOnConflict re-reads and re-applies concurrent read-modify-writes', async () => {
    const cms = createKubeClient(ns.kc).resource<ConfigMap>(CONFIGMAPS);
    await cms.create({ metadata: { name: 'counter', namespace: ns.name }, data: { n: '0' } });
    let conflicts = 0;
    const increment = () =>
      retryOnConflict(async () => {
        const current = await cms.get({ namespace: ns.name, name: 'counter' });
        try {
          await cms.update({ ...current, data: { n: String(Number(current.data?.n) + 1) } });
        } catch (err) {
          if (isConflict(err)) conflicts++;
          throw err;
        }
      }, 50);
    await Promise.all(Array.from({ length: 8 }, increment));
    expect((await cms.get({ namespace: ns.name, name: 'counter' })).data?.n).to.equal('8');
    expect(conflicts).to.be.greaterThan(0, 'eight concurrent writers must have collided at least once');
  });

  it('backs off a failing reconcile exponentially, then succeeds and forgets', async () => {
    const client = createKubeClient(ns.kc);
    await client.resource<ConfigMap>(CONFIGMAPS).create({ metadata: { name: 'flaky', namespace: ns.name } });
    factory = createInformerFactory(client, log);
    const metrics = createRuntimeMetrics({ processMetrics: false });
    const attempts: number[] = [];
    controller = createController(
      {
        name: 'flaky',
        for: factory.informer<ConfigMap>(CONFIGMAPS, { namespace: ns.name }),
        reconcile: () => {
          attempts.push(performance.now());
          if (attempts.length <= 5) throw new TypeError(`attempt ${attempts.length} fails`);
          return Promise.resolve();
        },
      },
      { logger: log, metrics },
    );
    factory.start();
    await controller.start();
    await whenTrue('the sixth attempt', () => attempts.length >= 6);
    await idle(metrics, 'flaky');
    // A retry is counted when it is scheduled, not when it runs: five failures, five retries, none after the success.
    expect(await sample(metrics, 'workqueue_retries_total', { name: 'flaky' })).to.equal(5, 'after success the key is not retried');
    expect(attempts).to.have.length(6);
    const gaps = attempts.slice(1).map((t, i) => t - attempts[i]!);
    // 5, 10, 20, 40, 80 ms by the per-key backoff (timers may fire late, never early).
    gaps.forEach((gap, i) => expect(gap, `gap ${i}`).to.be.at.least(5 * 2 ** i - 1));
    expect(gaps[4]!).to.be.greaterThan(gaps[0]!);
    const total = await metrics.reconcileTotal.get();
    const count = (result: string) => total.values.find((v) => v.labels.controller === 'flaky' && v.labels.result === result)?.value;
    expect([count('error'), count('success')]).to.deep.equal([5, 1]);
  });
});
