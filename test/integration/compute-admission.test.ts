import { expect } from 'chai';
import { kindByName } from '../../crds/index.ts';
import { rootVolumeName } from '../../lib/compute.ts';
import { createKubeClient, isNotFound, type KubeClient, type KubeObject, type ResourceClient, resourceTypeOf } from '../../lib/kube-client.ts';
import { runWebhooks, type RunningWebhooks } from '../../webhooks/main.ts';
import { ensureKumulusCrds, sharedKubeConfig, uniqueName } from '../support/cluster.ts';
import { until } from '../support/until.ts';

/**
 * Admission of the compute kinds through the real apiserver, which calls the webhook over TLS:
 * each refusal of issue #11 item 4 names the field and the fix, and leaves nothing stored or
 * changed. The rules are lib/compute.ts's, which the CloudStack API shares.
 */

type Obj = KubeObject & { spec?: Record<string, unknown>; status?: Record<string, unknown> };

describe('compute admission (real apiserver calling the webhook)', function () {
  this.timeout(120_000);
  const s = uniqueName('ca').slice(3);
  const ns = `cadm-${s}`;
  const n = (base: string) => `${base}-${s}`;
  const zone = n('z');
  let client: KubeClient;
  let webhooks: RunningWebhooks | undefined;
  let webhookName = '';
  const res = (kind: string): ResourceClient<Obj> => client.resource<Obj>(resourceTypeOf(kindByName(kind)!));
  const make = (kind: string, name: string, spec: Record<string, unknown>): Obj => ({
    apiVersion: kindByName(kind)!.apiVersion,
    kind,
    metadata: { name, ...(kindByName(kind)!.scope === 'Namespaced' ? { namespace: ns } : {}) },
    spec,
  });
  const vm = (name: string, patch: Record<string, unknown> = {}) =>
    make('VirtualMachine', name, { zoneRef: { name: zone }, serviceOfferingRef: { name: n('small') }, templateRef: { name: 'ok' }, state: 'Stopped', ...patch });
  const get = (kind: string, name: string) =>
    res(kind)
      .get({ name, namespace: kindByName(kind)!.scope === 'Namespaced' ? ns : undefined })
      .catch((err: unknown) => (isNotFound(err) ? undefined : Promise.reject(err as Error)));

  /** The refusal's message, checked to come from our webhook (or the apiserver's schema) and to name `field` and the fix. */
  const refused = async (write: Promise<unknown>, field: string, fix: RegExp, by: 'webhook' | 'apiserver' = 'webhook'): Promise<string> => {
    const error = await write.then(
      () => undefined,
      (e: unknown) => e as Error & { code?: number },
    );
    expect(error, `admitted; expected a refusal naming ${field}`).to.not.equal(undefined);
    const message = error!.message;
    expect(message).to.include(field);
    expect(message).to.match(fix);
    const byWebhook = message.includes(`admission webhook "validate.${webhookName}.kumulus.io" denied the request`);
    expect(byWebhook, `refused by ${by}: ${message}`).to.equal(by === 'webhook');
    return message;
  };

  before(async function () {
    this.timeout(240_000);
    const kc = await sharedKubeConfig();
    await ensureKumulusCrds();
    client = createKubeClient(kc);
    webhookName = `cadm-${s}`;
    webhooks = await runWebhooks({
      kubeConfig: kc,
      handleSignals: false,
      env: {},
      args: ['--webhook-bind-address', '127.0.0.1:0', '--webhook-name', webhookName, '--webhook-namespace', `cadm-tls-${s}`, '--log-level', 'warn'],
    });
    await client.resource({ group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false }).create({ metadata: { name: ns } });
    for (const o of [
      make('Zone', zone, { networkType: 'Advanced', dns1: '8.8.8.8', internalDns1: '192.168.100.2' }),
      make('Zone', n('z2'), { networkType: 'Advanced', dns1: '8.8.8.8', internalDns1: '192.168.100.2' }),
      make('ServiceOffering', n('small'), { cpuNumber: 1, memory: '512Mi' }),
      make('ServiceOffering', n('large'), { cpuNumber: 2, memory: '2Gi' }),
      make('ServiceOffering', n('custom'), { customized: { minCpuNumber: 1, maxCpuNumber: 8, minMemory: '512Mi', maxMemory: '16Gi' } }),
      make('DiskOffering', n('disk'), { diskSize: '2Gi' }),
      make('Template', 'ok', { url: 'file:///var/tmp/ok.qcow2', format: 'QCOW2', zoneRefs: [{ name: zone }] }),
      make('Template', 'broken', { url: 'https://images.example.com/broken.qcow2', format: 'QCOW2', zoneRefs: [{ name: zone }] }),
      make('Template', 'elsewhere', { url: 'https://images.example.com/e.qcow2', format: 'QCOW2', zoneRefs: [{ name: n('z2') }] }),
    ]) {
      await res(o.kind!).create(o);
    }
    // What the template controller reports: broken's download failed in the zone.
    await res('Template').patchStatus(
      { name: 'broken', namespace: ns },
      { status: { state: 'Active', zones: [{ zone, downloadState: 'DOWNLOAD_ERROR', downloadPercent: 0, message: 'checksum mismatch: got {SHA-256}00ff…' }] } },
    );
  });

  after(async function () {
    this.timeout(60_000);
    await webhooks?.stop({ unregister: true });
    for (const kind of ['VirtualMachine', 'Volume']) {
      for (const o of (await res(kind).list({ namespace: ns }).catch(() => ({ items: [] as Obj[] }))).items) {
        await res(kind).patch({ name: o.metadata.name ?? '', namespace: ns }, { metadata: { finalizers: null } }).catch(() => undefined);
      }
    }
    await client.resource({ group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false }).delete({ name: ns }).catch(() => undefined);
    await client.resource({ group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false }).delete({ name: `cadm-tls-${s}` }).catch(() => undefined);
    for (const [kind, name] of [['ServiceOffering', n('small')], ['ServiceOffering', n('large')], ['ServiceOffering', n('custom')], ['DiskOffering', n('disk')], ['Zone', zone], ['Zone', n('z2')]] as const) {
      await res(kind).delete({ name }).catch(() => undefined);
    }
  });

  it('refuses VMs of an unknown offering or template, a failed or foreign template, a custom offering without sizes; stores none of them', async () => {
    await refused(res('VirtualMachine').create(vm('no-offering', { serviceOfferingRef: { name: n('nope') } })), 'spec.serviceOfferingRef.name', /ServiceOffering .* does not exist; create it first/);
    await refused(res('VirtualMachine').create(vm('no-template', { templateRef: { name: 'nope' } })), 'spec.templateRef.name', /Template nope .* does not exist/);
    // The webhook's cache may see the template's status a moment after it was written.
    await until('the failed download to be refused', 15_000, () =>
      res('VirtualMachine')
        .create(vm('broken-template', { templateRef: { name: 'broken' } }))
        .then(
          async () => {
            await res('VirtualMachine').patch({ name: 'broken-template', namespace: ns }, { metadata: { finalizers: null } });
            await res('VirtualMachine').delete({ name: 'broken-template', namespace: ns });
            return undefined;
          },
          (e: unknown) => ((e as Error).message.includes('failed to download') ? true : Promise.reject(e as Error)),
        ),
    );
    await refused(res('VirtualMachine').create(vm('broken-template', { templateRef: { name: 'broken' } })), 'spec.templateRef.name', /failed to download to zone .*checksum mismatch.*fix its spec.url or spec.checksum/);
    await refused(res('VirtualMachine').create(vm('foreign-template', { templateRef: { name: 'elsewhere' } })), 'spec.templateRef.name', /not registered in zone .*add the zone to its spec.zoneRefs/);
    await refused(res('VirtualMachine').create(vm('custom-nosize', { serviceOfferingRef: { name: n('custom') } })), 'spec.cpuNumber', /is required: service offering .* is customized; give 1 to 8 cores/);
    for (const name of ['no-offering', 'no-template', 'broken-template', 'foreign-template', 'custom-nosize']) expect(await get('VirtualMachine', name), `${name} was stored`).to.equal(undefined);
    // A template still downloading is admitted: the VM waits for it.
    expect((await res('VirtualMachine').create(vm('template-pending'))).metadata.uid).to.be.a('string');
  });

  it('refuses a new offering for a running VM, and allows it with a stop in the same change', async () => {
    const created = await res('VirtualMachine').create(vm('runs', { state: 'Running' }));
    await res('VirtualMachine').patchStatus({ name: 'runs', namespace: ns }, { status: { state: 'Running' } });
    const running = (await get('VirtualMachine', 'runs'))!;
    await refused(
      res('VirtualMachine').update({ ...running, spec: { ...running.spec, serviceOfferingRef: { name: n('large') } } }),
      'spec.serviceOfferingRef.name',
      /is Running: its offering changes only while it is stopped; set spec.state Stopped/,
    );
    expect((await get('VirtualMachine', 'runs'))?.spec?.serviceOfferingRef).to.deep.equal({ name: n('small') });
    const scaled = await res('VirtualMachine').update({ ...running, spec: { ...running.spec, serviceOfferingRef: { name: n('large') }, state: 'Stopped' } });
    expect(scaled.spec?.serviceOfferingRef).to.deep.equal({ name: n('large') });
    expect(created.metadata.uid).to.equal(scaled.metadata.uid);
  });

  it('refuses a restore onto a failed, foreign or unready template, of a destroyed or ISO VM, and a template change without one; lets its replaced root go', async () => {
    await res('Template').create(make('Template', 'ready', { url: 'file:///var/tmp/ready.qcow2', format: 'QCOW2', zoneRefs: [{ name: zone }] }));
    await res('Template').patchStatus({ name: 'ready', namespace: ns }, { status: { state: 'Active', isReady: true, zones: [{ zone, downloadState: 'DOWNLOADED', downloadPercent: 100 }] } });
    const created = await res('VirtualMachine').create(vm('restored', { templateRef: { name: 'ready' } }));
    const at = (second: number) => `2026-12-07T10:00:0${second}Z`;
    const patch = (name: string, spec: Record<string, unknown>) => res('VirtualMachine').patch({ name, namespace: ns }, { spec });
    await refused(patch('restored', { templateRef: { name: 'ok' } }), 'spec.templateRef', /changes only with a restore: set spec.restoreRequestedAt/, 'apiserver');
    await refused(patch('restored', { restoreRequestedAt: at(1), templateRef: { name: 'broken' } }), 'spec.templateRef.name', /failed to download to zone/);
    await refused(patch('restored', { restoreRequestedAt: at(1), templateRef: { name: 'elsewhere' } }), 'spec.templateRef.name', /not registered in zone/);
    await refused(patch('restored', { restoreRequestedAt: at(1), templateRef: { name: 'ok' } }), 'spec.templateRef.name', /not downloaded to zone .*; a restore needs a template that is Ready in the zone/);
    await refused(patch('template-pending', { restoreRequestedAt: at(1) }), 'spec.templateRef.name', /a restore needs a template that is Ready/);
    await refused(patch('restored', { restoreRequestedAt: at(1), state: 'Destroyed' }), 'spec.restoreRequestedAt', /Destroyed: recover it .* before restoring it/);
    await refused(
      res('VirtualMachine').create(vm('iso-restored', { templateRef: undefined, isoRef: { name: 'ok' }, rootDiskOfferingRef: { name: n('disk') }, restoreRequestedAt: at(1) })),
      'spec.restoreRequestedAt',
      /needs spec.templateRef: an ISO-booted VM is restored onto a template/,
      'apiserver',
    );
    expect((await get('VirtualMachine', 'restored'))?.spec?.restoreRequestedAt, 'nothing refused was stored').to.equal(undefined);
    // The webhook's cache may see the template's status a moment after it was written.
    await until('a restore onto the ready template', 15_000, () => patch('restored', { restoreRequestedAt: at(1) }).then(() => true, (e: unknown) => ((e as Error).message.includes('restore needs') ? undefined : Promise.reject(e as Error))));

    // The root the restore replaced may be deleted (the operator does); the VM's current one may not.
    const ownerRef = [{ apiVersion: created.apiVersion!, kind: 'VirtualMachine', name: 'restored', uid: created.metadata.uid!, controller: true }];
    // As the operator makes them, both device 0: the new root is made while the replaced one still exists.
    const root = (name: string) => ({ ...make('Volume', name, { type: 'ROOT', zoneRef: { name: zone }, templateRef: { name: 'ready', namespace: ns }, vmRef: { name: 'restored' }, deviceId: 0 }), metadata: { name, namespace: ns, ownerReferences: ownerRef } });
    const current = rootVolumeName({ metadata: { name: 'restored', uid: created.metadata.uid }, spec: { restoreRequestedAt: at(1) } });
    await res('Volume').create(root('restored-root'));
    await res('Volume').create(root(current));
    await refused(res('Volume').delete({ name: current, namespace: ns }), 'spec.vmRef', /is the ROOT disk of VM restored; delete the VM instead/);
    await res('Volume').delete({ name: 'restored-root', namespace: ns });
    await until('the replaced root to be gone', 15_000, async () => ((await get('Volume', 'restored-root')) ? undefined : true));
  });

  it('refuses shrinking a volume, detaching a root volume and deleting an attached one; lets a detached one go', async () => {
    const owner = (await get('VirtualMachine', 'template-pending'))!;
    const ownerRef = [{ apiVersion: owner.apiVersion!, kind: 'VirtualMachine', name: owner.metadata.name!, uid: owner.metadata.uid!, controller: true }];
    await res('Volume').create({ ...make('Volume', 'template-pending-root', { type: 'ROOT', zoneRef: { name: zone }, templateRef: { name: 'ok', namespace: ns }, vmRef: { name: 'template-pending' }, deviceId: 0, size: '2Gi' }), metadata: { name: 'template-pending-root', namespace: ns, ownerReferences: ownerRef } });
    await res('Volume').create(make('Volume', 'data', { type: 'DATADISK', zoneRef: { name: zone }, diskOfferingRef: { name: n('disk') }, vmRef: { name: 'template-pending' }, deviceId: 1 }));

    // Below the offering's 2Gi (admission knows the offering), and below its own earlier size (CEL compares the two).
    await refused(res('Volume').patch({ name: 'data', namespace: ns }, { spec: { size: '1Gi' } }), 'spec.size', /1Gi would shrink the volume \(it has 2147483648 bytes\); volumes only grow/);
    await res('Volume').patch({ name: 'data', namespace: ns }, { spec: { size: '3Gi' } });
    await refused(res('Volume').patch({ name: 'data', namespace: ns }, { spec: { size: '2Gi' } }), 'spec.size', /cannot shrink/, 'apiserver');
    await refused(res('Volume').patch({ name: 'template-pending-root', namespace: ns }, { spec: { vmRef: null, deviceId: null } }), 'spec.vmRef', /is the ROOT disk of VM template-pending and cannot be detached/);
    await refused(res('Volume').delete({ name: 'data', namespace: ns }), 'spec.vmRef', /attached to VM template-pending; detach it first \(remove spec.vmRef\), then delete it/);
    await refused(res('Volume').delete({ name: 'template-pending-root', namespace: ns }), 'spec.vmRef', /is the ROOT disk of VM template-pending; delete the VM instead/);
    expect((await get('Volume', 'data'))?.metadata.deletionTimestamp, 'the refused delete left the volume alone').to.equal(undefined);
    expect((await get('Volume', 'template-pending-root'))?.spec?.vmRef).to.deep.equal({ name: 'template-pending' });

    // Detached, a data volume may be deleted.
    await res('Volume').patch({ name: 'data', namespace: ns }, { spec: { vmRef: null, deviceId: null } });
    await res('Volume').delete({ name: 'data', namespace: ns });
    await until('the detached volume to be gone', 15_000, async () => ((await get('Volume', 'data')) ? undefined : true));
  });

  it('refuses an SSH key that is not one OpenSSH line, and admits a key pair without one (generated by the operator)', async () => {
    await refused(res('SSHKeyPair').create(make('SSHKeyPair', 'bad', { publicKey: '-----BEGIN RSA PRIVATE KEY-----' })), 'spec.publicKey', /must be one OpenSSH public key line/, 'apiserver');
    const generated = await res('SSHKeyPair').create(make('SSHKeyPair', 'made', {}));
    expect(generated.spec?.publicKey).to.equal(undefined);
    // Once set, the key stays: to rotate, register another pair.
    await res('SSHKeyPair').patch({ name: 'made', namespace: ns }, { spec: { publicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGxU4aR5f3p1d0Y4pX3Wl6m3b8Kc2mJQ0rT7yH9vN2sB a@b' } });
    await refused(res('SSHKeyPair').patch({ name: 'made', namespace: ns }, { spec: { publicKey: null } }), 'spec.publicKey', /immutable once set/, 'apiserver');
  });
});
