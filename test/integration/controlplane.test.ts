import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { setTimeout as sleep } from 'node:timers/promises';
import { KUBERNETES_VERSION } from '../../lib/controlplane/index.ts';
import { installCrds } from '../../lib/install-crds.ts';
import { log } from '../../lib/log.ts';
import { sharedControlPlane, sharedKubeConfig, uniqueName, useTestNamespace } from '../support/cluster.ts';
import { testCrd } from '../support/test-crd.ts';
import { until } from '../support/until.ts';

const group = 'probe.kumulus.io';
const plural = 'widgets';

const widgetCrd = testCrd(
  { group, version: 'v1', plural, kind: 'Widget', namespaced: true },
  {
    subresources: { status: {} },
    schema: {
      openAPIV3Schema: {
        type: 'object',
        properties: {
          spec: {
            type: 'object',
            required: ['size'],
            properties: {
              size: { type: 'integer', minimum: 1, maximum: 10 },
              colour: { type: 'string', enum: ['red', 'blue'] },
            },
          },
          status: { type: 'object', properties: { phase: { type: 'string' } } },
        },
      },
    },
  },
);

interface Widget extends k8s.KubernetesObject {
  spec: { size: number; colour?: string };
}


const isNotFound = (err: unknown) => (err as { code?: number }).code === 404;

describe('the control plane is real', function () {
  this.timeout(120_000);
  const ns = useTestNamespace('cp');

  before(async function () {
    this.timeout(3_600_000);
    await installCrds(await sharedKubeConfig(), [widgetCrd], log);
  });

  it('serves the pinned Kubernetes version', async () => {
    const version = await ns.kc.makeApiClient(k8s.VersionApi).getCode();
    expect(version.gitVersion).to.equal(KUBERNETES_VERSION);
    expect((await sharedControlPlane()).server).to.match(/^https:\/\/127\.0\.0\.1:\d+$/);
  });

  it('creates, gets, watches and server-side-applies a custom resource', async () => {
    const objects = k8s.KubernetesObjectApi.makeApiClient(ns.kc);
    const name = uniqueName('w');
    const seen: { type: string; size: number }[] = [];
    // A CRD's watch cache may still be initialising just after it is Established; the apiserver
    // answers 429 until it is, and clients are expected to retry.
    const watch = await until(
      'a watch to be accepted',
      30_000,
      async () => {
        let failed = false;
        const started = await new k8s.Watch(ns.kc).watch(
          `/apis/${group}/v1/namespaces/${ns.name}/${plural}`,
          {},
          (type: string, obj: Widget) => seen.push({ type, size: obj.spec.size }),
          (err: unknown) => (failed = err !== null && err !== undefined),
        );
        await sleep(200);
        if (!failed) return started;
        started.abort();
        return undefined;
      },
    );
    try {
      const created = await objects.create<Widget>({ apiVersion: `${group}/v1`, kind: 'Widget', metadata: { name, namespace: ns.name }, spec: { size: 1 } });
      expect(created.metadata?.uid).to.be.a('string');

      const applied = await objects.patch<Widget>(
        { apiVersion: `${group}/v1`, kind: 'Widget', metadata: { name, namespace: ns.name }, spec: { size: 3, colour: 'blue' } },
        undefined,
        undefined,
        'kumulus-test',
        true,
        k8s.PatchStrategy.ServerSideApply,
      );
      expect(applied.spec).to.deep.equal({ size: 3, colour: 'blue' });
      expect(applied.metadata?.managedFields?.map((f) => f.manager)).to.include('kumulus-test');

      const read = await objects.read<Widget>({ apiVersion: `${group}/v1`, kind: 'Widget', metadata: { name, namespace: ns.name } });
      expect(read.spec.size).to.equal(3);
      expect(read.metadata?.uid).to.equal(created.metadata?.uid);

      await until('the MODIFIED event', 10_000, () => Promise.resolve(seen.some((e) => e.type === 'MODIFIED' && e.size === 3) ? true : undefined));
      expect(seen[0]).to.deep.equal({ type: 'ADDED', size: 1 });
    } finally {
      watch.abort();
    }
  });

  for (const [field, spec, text] of [
    ['spec.size', { size: 11 }, 'less than or equal to 10'],
    ['spec.colour', { size: 1, colour: 'green' }, 'supported values: "red", "blue"'],
    ['spec.size', {}, 'Required value'],
  ] as const) {
    it(`rejects an object whose ${field} breaks the schema (${text})`, async () => {
      const objects = k8s.KubernetesObjectApi.makeApiClient(ns.kc);
      const bad = { apiVersion: `${group}/v1`, kind: 'Widget', metadata: { name: uniqueName('bad'), namespace: ns.name }, spec };
      const err = await objects.create(bad).then(
        () => expect.fail('the apiserver accepted an invalid object'),
        (e: unknown) => e as { code?: number; body?: string },
      );
      expect(err.code).to.equal(422);
      const status = JSON.parse(String(err.body)) as { message: string };
      expect(status.message).to.include(field).and.to.include(text);
      await objects.read(bad).then(
        () => expect.fail('a rejected object was stored'),
        (e: unknown) => expect(isNotFound(e)).to.equal(true),
      );
    });
  }

  it('garbage-collects an object whose owner is deleted', async () => {
    const core = ns.kc.makeApiClient(k8s.CoreV1Api);
    const owner = await core.createNamespacedConfigMap({ namespace: ns.name, body: { metadata: { name: uniqueName('owner') } } });
    const dependent = uniqueName('dependent');
    await core.createNamespacedConfigMap({
      namespace: ns.name,
      body: {
        metadata: {
          name: dependent,
          ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: owner.metadata?.name ?? '', uid: owner.metadata?.uid ?? '' }],
        },
      },
    });
    await core.deleteNamespacedConfigMap({ namespace: ns.name, name: owner.metadata?.name ?? '' });
    await until(
      'the garbage collector to delete the dependent',
      60_000,
      () => core.readNamespacedConfigMap({ namespace: ns.name, name: dependent }).then(() => undefined, (e: unknown) => (isNotFound(e) ? true : undefined)),
    );
  });

  it('finishes deleting a namespace with content (the namespace controller runs)', async () => {
    const core = ns.kc.makeApiClient(k8s.CoreV1Api);
    const name = uniqueName('doomed');
    await core.createNamespace({ body: { metadata: { name } } });
    await core.createNamespacedConfigMap({ namespace: name, body: { metadata: { name: 'content' } } });
    await core.deleteNamespace({ name });
    const phase = (await core.readNamespace({ name }).catch(() => undefined))?.status?.phase;
    expect(phase === undefined || phase === 'Terminating').to.equal(true);
    await until(
      `namespace ${name} to finish deleting`,
      60_000,
      () => core.readNamespace({ name }).then(() => undefined, (e: unknown) => (isNotFound(e) ? true : undefined)),
    );
  });
});
