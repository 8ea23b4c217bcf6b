import { expect } from 'chai';
import { createInformer, createInformerFactory, type Informer } from '../../lib/informer.ts';
import { installCrds } from '../../lib/install-crds.ts';
import { createKubeClient, keyOf, type KubeObject, type ResourceType } from '../../lib/kube-client.ts';
import { log } from '../../lib/log.ts';
import { byLabel, OWNER_UID_INDEX } from '../../lib/store.ts';
import { useTestNamespace } from '../support/cluster.ts';
import { until } from '../support/until.ts';
import { testCrd } from '../support/test-crd.ts';
import { startRelay, type Relay } from './runtime-relay.ts';

const CONFIGMAPS: ResourceType = { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', namespaced: true };
const GIZMOS: ResourceType = { group: 'relist.runtime-test.kumulus.io', version: 'v1', plural: 'gizmos', kind: 'Gizmo', namespaced: true };

interface ConfigMap extends KubeObject {
  data?: Record<string, string>;
}

/** Records every notification, and checks that no key ever sees a resourceVersion twice or out of order. */
function recordEvents(informer: Informer<ConfigMap>) {
  const lastRv = new Map<string, number>();
  const problems: string[] = [];
  const deleted: string[] = [];
  const note = (obj: KubeObject) => {
    const key = keyOf(obj);
    const rv = Number(obj.metadata.resourceVersion);
    const last = lastRv.get(key);
    if (last !== undefined && rv <= last) problems.push(`${key}: resourceVersion ${rv} after ${last}`);
    lastRv.set(key, rv);
  };
  informer.addHandler({
    onAdd: note,
    onUpdate: (_old, obj) => note(obj),
    onDelete: (obj) => {
      deleted.push(keyOf(obj));
      lastRv.delete(keyOf(obj));
    },
  });
  return { problems, deleted };
}

/** Waits until `check` holds, polling the in-process state every 50 ms. */
function whenTrue(what: string, check: () => boolean, timeoutMs = 20_000): Promise<true> {
  return until(what, timeoutMs, () => Promise.resolve(check() || undefined), 50);
}

describe('runtime: informers against the real apiserver', function () {
  this.timeout(120_000);
  const ns = useTestNamespace('rt-informer');
  let relay: Relay | undefined;
  let informer: Informer<ConfigMap> | undefined;
  afterEach(async () => {
    informer?.stop();
    await relay?.close();
    relay = informer = undefined;
  });

  it('lists, watches and indexes by label and owner', async () => {
    const client = createKubeClient(ns.kc);
    const cms = client.resource<ConfigMap>(CONFIGMAPS);
    const parent = await cms.create({ metadata: { name: 'parent', namespace: ns.name, labels: { tier: 'a' } } });
    informer = createInformer<ConfigMap>(client, CONFIGMAPS, { namespace: ns.name }, log);
    informer.addIndex('tier', byLabel('tier'));
    informer.start();
    await informer.waitForSync();
    expect(informer.hasSynced()).to.equal(true);
    const ownerRef = { apiVersion: 'v1', kind: 'ConfigMap', name: 'parent', uid: parent.metadata.uid!, controller: true };
    await cms.create({ metadata: { name: 'child', namespace: ns.name, labels: { tier: 'b' }, ownerReferences: [ownerRef] } });
    await whenTrue('the child in the cache', () => informer!.get({ namespace: ns.name, name: 'child' }) !== undefined);
    expect(informer.byIndex('tier', 'a').map((o) => o.metadata.name)).to.deep.equal(['parent']);
    expect(informer.byIndex('tier', 'b').map((o) => o.metadata.name)).to.deep.equal(['child']);
    expect(informer.byIndex(OWNER_UID_INDEX, parent.metadata.uid!).map((o) => o.metadata.name)).to.deep.equal(['child']);
    expect(informer.get(`${ns.name}/child`)?.metadata.managedFields).to.equal(undefined, 'managedFields are dropped to save memory');
  });

  it('keeps selector variants apart: a field-selected informer holds only its match', async () => {
    const client = createKubeClient(ns.kc);
    const cms = client.resource<ConfigMap>(CONFIGMAPS);
    for (const name of ['x', 'y']) await cms.create({ metadata: { name, namespace: ns.name, labels: { pick: name } } });
    const factory = createInformerFactory(client, log);
    const byField = factory.informer<ConfigMap>(CONFIGMAPS, { namespace: ns.name, fieldSelector: 'metadata.name=x' });
    const byLabelSelector = factory.informer<ConfigMap>(CONFIGMAPS, { namespace: ns.name, labelSelector: 'pick=y' });
    expect(factory.informer(CONFIGMAPS, { namespace: ns.name, fieldSelector: 'metadata.name=x' })).to.equal(byField, 'the same variant is shared');
    factory.start();
    try {
      await Promise.all([byField.waitForSync(), byLabelSelector.waitForSync()]);
      expect(factory.hasSynced()).to.equal(true);
      expect(byField.list().map((o) => o.metadata.name)).to.deep.equal(['x']);
      expect(byLabelSelector.list().map((o) => o.metadata.name)).to.deep.equal(['y']);
    } finally {
      factory.stop();
    }
  });

  it('resumes after a dropped connection without missing or repeating anything', async () => {
    relay = await startRelay(ns.kc);
    const direct = createKubeClient(ns.kc).resource<ConfigMap>(CONFIGMAPS);
    for (const name of ['keep', 'change', 'remove']) await direct.create({ metadata: { name, namespace: ns.name }, data: { v: '0' } });
    informer = createInformer<ConfigMap>(createKubeClient(relay.kubeConfig), CONFIGMAPS, { namespace: ns.name }, log);
    const seen = recordEvents(informer);
    informer.start();
    await informer.waitForSync();

    relay.cut();
    await direct.patch({ namespace: ns.name, name: 'change' }, { data: { v: '1' } });
    await direct.patch({ namespace: ns.name, name: 'change' }, { data: { v: '2' } });
    await direct.delete({ namespace: ns.name, name: 'remove' });
    await direct.create({ metadata: { name: 'new', namespace: ns.name }, data: { v: '9' } });
    // The informer must have tried to reconnect and failed before the way is open again.
    await whenTrue('a reconnect attempt while the connection is cut', () => relay!.refused() > 0, 30_000);
    relay.restore();

    const expected = (await direct.list({ namespace: ns.name })).items;
    await whenTrue('the cache to match the apiserver', () =>
      expected.every((o) => informer!.get(keyOf(o))?.metadata.resourceVersion === o.metadata.resourceVersion) && informer!.list().length === expected.length,
    );
    expect(informer.get({ namespace: ns.name, name: 'change' })?.data).to.deep.equal({ v: '2' });
    expect(informer.get({ namespace: ns.name, name: 'remove' })).to.equal(undefined);
    expect(seen.deleted).to.deep.equal([`${ns.name}/remove`]);
    expect(seen.problems).to.deep.equal([]);
    expect(informer.stats.lists).to.equal(1, 'a dropped connection resumes the watch from its resourceVersion, without relisting');
    expect(informer.stats.watches).to.be.greaterThan(1);
  });

  it('relists on 410 Gone and reports only what changed meanwhile', async () => {
    const crd = (columns: number) =>
      testCrd(GIZMOS, {
        schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
        additionalPrinterColumns: Array.from({ length: columns }, (_, i) => ({ name: `c${i}`, type: 'string', jsonPath: `.spec.c${i}` })),
      });
    await installCrds(ns.kc, [crd(0)], log);
    relay = await startRelay(ns.kc);
    const direct = createKubeClient(ns.kc).resource<KubeObject & { spec?: Record<string, unknown> }>(GIZMOS);
    for (const name of ['same', 'change', 'remove']) await direct.create({ metadata: { name, namespace: ns.name }, spec: { n: 0 } });
    informer = createInformer<ConfigMap>(createKubeClient(relay.kubeConfig), GIZMOS, { namespace: ns.name }, log);
    const seen = recordEvents(informer);
    const updates: string[] = [];
    informer.addHandler({ onUpdate: (_o, obj) => updates.push(obj.metadata.name!) });
    informer.start();
    await informer.waitForSync();

    relay.cut();
    await direct.patch({ namespace: ns.name, name: 'change' }, { spec: { n: 1 } });
    await direct.delete({ namespace: ns.name, name: 'remove' });
    await direct.create({ metadata: { name: 'new', namespace: ns.name }, spec: { n: 7 } });
    // Changing the CRD's spec rebuilds the apiserver's watch cache for the kind: its window now
    // starts after the informer's last resourceVersion, so resuming the watch answers 410 Gone.
    await installCrds(ns.kc, [crd(1)], log);
    relay.restore();

    const expected = (await direct.list({ namespace: ns.name })).items;
    await whenTrue('the cache to match the apiserver', () =>
      expected.every((o) => informer!.get(keyOf(o))?.metadata.resourceVersion === o.metadata.resourceVersion) && informer!.list().length === expected.length,
    );
    expect(informer.stats.lists).to.equal(2, 'the 410 must have caused exactly one relist');
    expect((informer.get({ namespace: ns.name, name: 'change' }) as { spec?: unknown }).spec).to.deep.equal({ n: 1 });
    expect(seen.deleted).to.deep.equal([`${ns.name}/remove`]);
    expect(updates).to.deep.equal(['change'], 'the unchanged object must not be re-announced by the relist');
    expect(seen.problems).to.deep.equal([]);
  });
});
