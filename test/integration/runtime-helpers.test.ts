import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { setTimeout as sleep } from 'node:timers/promises';
import { setCondition, type StatusWithConditions } from '../../lib/conditions.ts';
import { createEventRecorder, EVENTS } from '../../lib/events.ts';
import { installCrds } from '../../lib/install-crds.ts';
import { createKubeClient, isNotFound, type KubeObject, type ResourceType } from '../../lib/kube-client.ts';
import { log } from '../../lib/log.ts';
import { handleFinalizer, hasFinalizer } from '../../lib/ownership.ts';
import { commitFailure, commitStatus, type StatusWriter } from '../../lib/status.ts';
import { useTestNamespace } from '../support/cluster.ts';
import { testCrd } from '../support/test-crd.ts';

const WIDGETS: ResourceType = { group: 'helpers.runtime-test.kumulus.io', version: 'v1', plural: 'widgets', kind: 'Widget', namespaced: true };

interface Widget extends KubeObject {
  spec?: { size?: number; color?: string };
  status?: StatusWithConditions & { state?: string };
}

const widgetCrd = testCrd(WIDGETS, {
  subresources: { status: {} },
  schema: {
    openAPIV3Schema: {
      type: 'object',
      properties: {
        spec: { type: 'object', properties: { size: { type: 'integer' }, color: { type: 'string' } } },
        status: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
      },
    },
  },
});

interface Event extends KubeObject {
  reason?: string;
  note?: string;
  action?: string;
  type?: string;
  reportingController?: string;
  regarding?: { kind?: string; name?: string; uid?: string };
  related?: { kind?: string; name?: string };
  series?: { count: number; lastObservedTime: string };
}

describe('runtime: helpers against the real apiserver', function () {
  this.timeout(60_000);
  const ns = useTestNamespace('rt-helpers');
  before(async function () {
    this.timeout(130_000);
    const { sharedKubeConfig } = await import('../support/cluster.ts');
    await installCrds(await sharedKubeConfig(), [widgetCrd], log);
  });

  it('server-side applies with a named field manager, and writes status only through the subresource', async () => {
    const widgets = createKubeClient(ns.kc).resource<Widget>(WIDGETS);
    const applied = await widgets.apply({ metadata: { name: 'w', namespace: ns.name }, spec: { size: 1 } }, { fieldManager: 'kumulus-test' });
    expect(applied.apiVersion).to.equal(`${WIDGETS.group}/v1`);
    const full = await widgets.get({ namespace: ns.name, name: 'w' });
    const managers = (full.metadata.managedFields as { manager: string; operation: string }[]).map((m) => `${m.manager}:${m.operation}`);
    expect(managers).to.include('kumulus-test:Apply');

    // A second manager owns color; re-applying size does not take it away.
    await widgets.apply({ metadata: { name: 'w', namespace: ns.name }, spec: { color: 'blue' } }, { fieldManager: 'other' });
    const reapplied = await widgets.apply({ metadata: { name: 'w', namespace: ns.name }, spec: { size: 2 } }, { fieldManager: 'kumulus-test' });
    expect(reapplied.spec).to.deep.equal({ size: 2, color: 'blue' });

    const generation = reapplied.metadata.generation;
    const status: StatusWithConditions & { state?: string } = { state: 'Ready', observedGeneration: generation };
    setCondition(status, { type: 'Synced', status: 'True', reason: 'ReconcileSuccess' }, generation);
    setCondition(status, { type: 'Ready', status: 'True', reason: 'Available' }, generation);
    const written = await widgets.patchStatus({ namespace: ns.name, name: 'w' }, { status, spec: { size: 99 } });
    expect(written.status?.state).to.equal('Ready');
    expect(written.spec?.size).to.equal(2, 'the status subresource ignores spec');
    expect(written.metadata.generation).to.equal(generation, 'status writes do not bump the generation');
    expect(written.status?.conditions?.find((c) => c.type === 'Ready')).to.deep.include({ status: 'True', reason: 'Available', observedGeneration: generation });

    const applyStatus = await widgets.applyStatus({ apiVersion: `${WIDGETS.group}/v1`, kind: 'Widget', metadata: { name: 'w', namespace: ns.name }, status: { state: 'Stopped' } }, { fieldManager: 'kumulus-agent' });
    expect(applyStatus.status?.state).to.equal('Stopped');
  });

  it('keeps lastTransitionTime when a condition is re-set with the same status, and moves it on a flip', async () => {
    const widgets = createKubeClient(ns.kc).resource<Widget>(WIDGETS);
    const w = await widgets.create({ metadata: { name: 'c', namespace: ns.name }, spec: { size: 1 } });
    const writer: StatusWriter = { fieldManager: 'kumulus-test', fields: ['observedGeneration'], conditions: ['Synced'] };
    const failure = { type: 'Synced', reason: 'DependencyNotReady' };
    const key = { namespace: ns.name, name: 'c' };
    expect(await commitFailure(widgets, w, writer, new Error('PrimaryStorage nfs1 is in Maintenance'), undefined, failure, new Date('2026-01-01T00:00:00Z'))).to.equal(true);
    const read = await widgets.get(key);
    expect(await commitFailure(widgets, read, writer, new Error('PrimaryStorage nfs1 is in Maintenance'), undefined, failure, new Date('2026-01-01T00:05:00Z'))).to.equal(false, 'nothing changed');
    const synced = () => read.status?.conditions?.find((c) => c.type === 'Synced');
    expect(synced()?.lastTransitionTime).to.equal('2026-01-01T00:00:00Z');
    expect(await commitStatus(widgets, read, writer, { conditions: [] }, undefined, new Date('2026-01-01T00:10:00Z'))).to.equal(true);
    const written = await widgets.get(key);
    expect(written.status?.conditions?.find((c) => c.type === 'Synced')).to.deep.include({ status: 'True', lastTransitionTime: '2026-01-01T00:10:00Z', message: '' });
    expect(written.status?.observedGeneration).to.equal(w.metadata.generation);
  });

  it('holds deletion with a finalizer until cleanup has run', async () => {
    const widgets = createKubeClient(ns.kc).resource<Widget>(WIDGETS);
    const finalizer = 'kumulus.io/test-cleanup';
    let w = await widgets.create({ metadata: { name: 'f', namespace: ns.name } });
    let cleaned = 0;
    const cleanup = () => {
      cleaned++;
      return Promise.resolve();
    };
    const live = await handleFinalizer(widgets, w, finalizer, cleanup);
    expect(live.state).to.equal('live');
    expect(hasFinalizer(live.object, finalizer)).to.equal(true);
    await widgets.delete({ namespace: ns.name, name: 'f' });
    w = await widgets.get({ namespace: ns.name, name: 'f' });
    expect(w.metadata.deletionTimestamp, 'the finalizer holds the object').to.be.a('string');
    expect(cleaned).to.equal(0);
    const going = await handleFinalizer(widgets, w, finalizer, cleanup);
    expect([going.state, cleaned]).to.deep.equal(['deleted', 1]);
    const gone = await widgets.get({ namespace: ns.name, name: 'f' }).then(() => false, (err: unknown) => isNotFound(err));
    expect(gone).to.equal(true);
  });

  it('records events.k8s.io/v1 events and aggregates repeats into a series', async () => {
    const client = createKubeClient(ns.kc);
    const widgets = client.resource<Widget>(WIDGETS);
    const vm = await widgets.create({ metadata: { name: 'e', namespace: ns.name } });
    const host = await widgets.create({ metadata: { name: 'host1', namespace: ns.name } });
    const recorder = createEventRecorder({ client, controller: 'kumulus.io/operator', instance: 'test', logger: log, seriesFlushMs: 50 });
    for (let i = 0; i < 4; i++) recorder.event(vm, { reason: 'VM.START', note: 'started on host1', related: host });
    recorder.event(vm, { type: 'Warning', reason: 'VM.STOP', note: 'stopped', action: 'Stop' });
    await sleep(100);
    await recorder.flush();
    const events = (await client.resource<Event>(EVENTS).list({ namespace: ns.name })).items;
    const starts = events.filter((e) => e.reason === 'VM.START');
    expect(starts).to.have.length(1, 'repeats aggregate into one Event');
    expect(starts[0]).to.deep.include({ note: 'started on host1', action: 'VM.START', type: 'Normal', reportingController: 'kumulus.io/operator' });
    expect(starts[0]!.series?.count).to.equal(4);
    expect(starts[0]!.regarding).to.deep.include({ kind: 'Widget', name: 'e', uid: vm.metadata.uid });
    expect(starts[0]!.related).to.deep.include({ kind: 'Widget', name: 'host1' });
    const stops = events.filter((e) => e.reason === 'VM.STOP');
    expect(stops).to.have.length(1);
    expect(stops[0]).to.deep.include({ type: 'Warning', action: 'Stop' });
    expect(stops[0]!.series).to.equal(undefined);
  });

  it('sends typed client-node API calls through the same counted transport', async () => {
    const counted: string[] = [];
    const client = createKubeClient(ns.kc, { observe: (method, code) => counted.push(`${method} ${code}`) });
    const core = client.api(k8s.CoreV1Api);
    const namespace = await core.readNamespace({ name: ns.name });
    expect(namespace.metadata?.name).to.equal(ns.name);
    await core.readNamespacedConfigMap({ namespace: ns.name, name: 'absent' }).catch(() => undefined);
    expect(counted).to.deep.equal(['GET 200', 'GET 404']);
  });
});
