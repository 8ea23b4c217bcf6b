import { expect } from 'chai';
import { Volume, type VolumeObject } from '../../crds/index.ts';
import { agentVolumeStatus } from '../../lib/agent-contract.ts';
import { createKubeClient, resourceTypeOf } from '../../lib/kube-client.ts';
import { commitFailure, commitStatus, planStatus, statusCommittedOver, type StatusWriter } from '../../lib/status.ts';
import { ensureKumulusCrds, useTestNamespace } from '../support/cluster.ts';

/** The operator's part of a Volume, as controllers/ would declare it. */
const operator: StatusWriter = { fieldManager: 'kumulus-operator', fields: ['observedGeneration', 'state', 'pool'], conditions: ['Ready', 'Synced'] };
const agent = agentVolumeStatus('host1');

describe('status commit: two writers on one object (real apiserver)', function () {
  this.timeout(60_000);
  const ns = useTestNamespace('status-commit');
  before(async function () {
    this.timeout(130_000);
    await ensureKumulusCrds();
  });

  it('keeps each writer\'s fields through the other\'s writes and failures, and writes nothing when nothing changed', async () => {
    const volumes = createKubeClient(ns.kc).resource<VolumeObject>(resourceTypeOf(Volume));
    const key = { namespace: ns.name, name: 'data1' };
    const created = await volumes.create({ apiVersion: Volume.apiVersion, kind: Volume.kind, metadata: key, spec: { type: 'DATADISK', zoneRef: { name: 'zone1' }, diskOfferingRef: { name: 'small' } } });

    expect(await commitStatus(volumes, created, operator, { state: 'Creating', fields: { pool: 'pool1' }, conditions: [{ type: 'Ready', status: 'False', reason: 'Creating' }] })).to.equal(true);
    let live = await volumes.get(key);
    expect(await commitStatus(volumes, live, agent, { fields: { path: '/pool1/d1', format: 'QCOW2', sizeBytes: 1024 }, conditions: [{ type: 'Provisioned', status: 'True', reason: 'DiskCreated' }] })).to.equal(true);
    live = await volumes.get(key);
    expect(live.status).to.deep.include({ state: 'Creating', pool: 'pool1', path: '/pool1/d1', format: 'QCOW2', sizeBytes: 1024, observedGeneration: created.metadata.generation });
    expect(live.status?.conditions?.map((c) => c.type).sort()).to.deep.equal(['Provisioned', 'Ready', 'Synced']);

    // The same again from both: no write, so the resourceVersion stays.
    const version = live.metadata.resourceVersion;
    expect(await commitStatus(volumes, live, operator, { state: 'Creating', fields: { pool: 'pool1' }, conditions: [{ type: 'Ready', status: 'False', reason: 'Creating' }] })).to.equal(false);
    expect(await commitStatus(volumes, live, agent, { fields: { path: '/pool1/d1', format: 'QCOW2', sizeBytes: 1024 }, conditions: [{ type: 'Provisioned', status: 'True', reason: 'DiskCreated' }] })).to.equal(false);
    expect((await volumes.get(key)).metadata.resourceVersion).to.equal(version);

    // A failure of each records its own condition and leaves the other's fields alone.
    expect(await commitFailure(volumes, live, operator, new Error('PrimaryStorage pool1 is in Maintenance'))).to.equal(true);
    live = await volumes.get(key);
    expect(await commitFailure(volumes, live, agent, new Error('qemu-img: disk full'), undefined, { type: 'Provisioned', reason: 'CreateFailed' })).to.equal(true);
    live = await volumes.get(key);
    expect(live.status).to.deep.include({ state: 'Creating', pool: 'pool1', path: '/pool1/d1', format: 'QCOW2', sizeBytes: 1024 });
    const condition = (type: string) => live.status?.conditions?.find((c) => c.type === type);
    expect(condition('Synced')).to.deep.include({ status: 'False', reason: 'ReconcileError', message: 'PrimaryStorage pool1 is in Maintenance' });
    expect(condition('Provisioned')).to.deep.include({ status: 'False', reason: 'CreateFailed', message: 'qemu-img: disk full' });
    expect(condition('Ready')).to.deep.include({ status: 'False', reason: 'Creating' });

    // A field the agent stops reporting goes; the operator's stay.
    expect(await commitStatus(volumes, live, agent, { fields: { path: '/pool1/d1', format: 'QCOW2' }, conditions: [{ type: 'Provisioned', status: 'True', reason: 'DiskCreated' }] })).to.equal(true);
    live = await volumes.get(key);
    expect(live.status).not.to.have.property('sizeBytes');
    expect(live.status).to.deep.include({ state: 'Creating', pool: 'pool1', path: '/pool1/d1' });
    const managers = (live.metadata.managedFields as { manager: string; subresource?: string }[]).filter((m) => m.subresource === 'status').map((m) => m.manager).sort();
    expect(managers).to.deep.equal(['kumulus-agent.host1', 'kumulus-operator']);
  });

  it('does not write the same status again over a cached copy that its own write has not reached yet', async () => {
    const volumes = createKubeClient(ns.kc).resource<VolumeObject>(resourceTypeOf(Volume));
    const key = { namespace: ns.name, name: 'data2' };
    // What an informer would hold until the watch brings the write back: the version read before it.
    const cached = await volumes.create({ apiVersion: Volume.apiVersion, kind: Volume.kind, metadata: key, spec: { type: 'DATADISK', zoneRef: { name: 'zone1' }, diskOfferingRef: { name: 'small' } } });
    const creating = { state: 'Creating', fields: { pool: 'pool1' }, conditions: [{ type: 'Ready', status: 'False' as const, reason: 'Creating' }] };
    expect(statusCommittedOver(cached)).to.equal(false);
    expect(await commitStatus(volumes, cached, operator, creating)).to.equal(true);
    const version = (await volumes.get(key)).metadata.resourceVersion;
    expect(statusCommittedOver(cached)).to.equal(true);

    // Planned against the stale copy alone, the same status is a change (a new lastTransitionTime would go out)...
    expect(planStatus(cached.status, cached.metadata.generation, operator, creating)).to.not.equal(undefined);
    // ...but the commit knows what it wrote over that copy: nothing is sent.
    expect(await commitStatus(volumes, cached, operator, creating)).to.equal(false);
    expect((await volumes.get(key)).metadata.resourceVersion).to.equal(version);
    // Another writer's part is planned from the copy as read: the memo is per writer.
    expect(await commitStatus(volumes, cached, agent, { fields: { path: '/pool1/d2' }, conditions: [{ type: 'Provisioned', status: 'True', reason: 'DiskCreated' }] })).to.equal(true);
    // A real change over the stale copy is written, and what it keeps of the first write stays as it was.
    const first = (await volumes.get(key)).status?.conditions?.find((c) => c.type === 'Ready');
    expect(await commitStatus(volumes, cached, operator, { ...creating, conditions: [{ type: 'Ready', status: 'False', reason: 'Creating', message: 'copying the template' }] })).to.equal(true);
    const live = await volumes.get(key);
    expect(live.status?.conditions?.find((c) => c.type === 'Ready')).to.deep.include({ message: 'copying the template', lastTransitionTime: first?.lastTransitionTime });
    expect(live.status).to.deep.include({ state: 'Creating', pool: 'pool1', path: '/pool1/d2' });
    // A fresh copy carries no memo: it is planned from what it shows.
    expect(statusCommittedOver(live)).to.equal(false);
    expect(await commitStatus(volumes, live, operator, { ...creating, conditions: [{ type: 'Ready', status: 'False', reason: 'Creating', message: 'copying the template' }] })).to.equal(false);
  });
});
