import { expect } from 'chai';
import type { CloudStackClient } from '../support/cloudstack-client.ts';
import { uniqueName } from '../support/cluster.ts';
import { type InfraCloud, type Obj, settleVm, startInfraCloud, waitUntil } from './cloudstack-infra-harness.ts';

/**
 * restoreVirtualMachine over the real control plane (apiserver, admission webhooks, the API):
 * a restore is spec.restoreRequestedAt (with spec.templateRef when templateid names another
 * template), one field for kubectl and the API; the job completes once the operator reports
 * the generation written, with the VM as its result under CloudStack's legacy envelope
 * restorevmresponse. CloudStack's refusals with their codes and texts. The test plays the
 * operator (settleVm) and the download agent; the operator and agent side (the new root disk,
 * the old one deleted, the domain started on it) is test/e2e/compute-restore.test.ts.
 */

const NOT_FOUND = (label: string, param: string, id: string) =>
  `Unable to execute API command ${label} due to invalid value. Invalid parameter ${param} value=${id} due to incorrect long value format, or entity does not exist or due to incorrect parameter annotation for the field in api cmd class.`;
const UNKNOWN = '0b0e1e2c-0000-4000-8000-0000000000c3';

describe('cloudstack-api: restoreVirtualMachine (real control plane)', function () {
  this.timeout(300_000);
  let cloud: InfraCloud;
  let tenant: { client: CloudStackClient; namespace: string; account: string };
  let other: { client: CloudStackClient; namespace: string; account: string };
  const s = uniqueName('rst').slice(4);
  const ids: Record<string, string> = {};
  let vm: Obj;

  const vms = () => cloud.resource('VirtualMachine');
  const current = () => vms().get({ namespace: tenant.namespace, name: `vm-${s}` });
  /** What the download agent reports once the zone's copy is there. */
  const downloaded = (namespace: string, name: string) =>
    cloud.resource('Template').patchStatus(
      { namespace, name },
      { status: { state: 'Active', isReady: true, zones: [{ zone: `z-${s}`, downloadState: 'DOWNLOADED', downloadPercent: 100, sizeBytes: 2 ** 20, physicalSizeBytes: 2 ** 20 }] } },
    );
  const request = async (client: CloudStackClient, params: Record<string, string>) => {
    const reply = await client.request('restoreVirtualMachine', params);
    return [reply.status, reply.body['errortext']];
  };
  /** The VM's row once the API cache shows `ready` of it. */
  const row = (what: string, ready: (row: Record<string, unknown>) => boolean) =>
    waitUntil(what, async () => {
      const found = ((await tenant.client.request('listVirtualMachines', { id: vm.metadata.uid ?? '' })).body['virtualmachine'] as Record<string, unknown>[] | undefined)?.[0];
      return found && ready(found) ? found : undefined;
    });

  before(async function () {
    this.timeout(240_000);
    cloud = await startInfraCloud('csrestore');
    const make = async (kind: string, name: string, spec: Record<string, unknown>, namespace?: string) => cloud.resource(kind).create({ metadata: { name, ...(namespace ? { namespace } : {}) }, spec });
    await make('Zone', `z-${s}`, { displayName: `Zone ${s}`, networkType: 'Advanced', dns1: '8.8.8.8', internalDns1: '10.0.0.2', guestCidr: '10.2.0.0/16', allocationState: 'Enabled' });
    await make('ServiceOffering', `small-${s}`, { cpuNumber: 1, memory: '512Mi' });
    ids['disk'] = (await make('DiskOffering', `d8-${s}`, { displayName: `Disk 8 ${s}`, diskSize: '8Gi' })).metadata.uid ?? '';
    tenant = await cloud.tenant('rstt');
    other = await cloud.tenant('rsto');
    const template = async (name: string, namespace: string, format = 'QCOW2', ready = true) => {
      const made = await make('Template', name, { url: `https://images.example.com/${name}.${format.toLowerCase()}`, format, zoneRefs: [{ name: `z-${s}` }] }, namespace);
      if (ready) await downloaded(namespace, name);
      return made.metadata.uid ?? '';
    };
    ids['first'] = await template(`first-${s}`, tenant.namespace);
    ids['second'] = await template(`second-${s}`, tenant.namespace);
    ids['pending'] = await template(`pending-${s}`, tenant.namespace, 'QCOW2', false);
    ids['iso'] = await template(`iso-${s}`, tenant.namespace, 'ISO');
    ids['foreign'] = await template(`foreign-${s}`, other.namespace);
    vm = await make('VirtualMachine', `vm-${s}`, { zoneRef: { name: `z-${s}` }, serviceOfferingRef: { name: `small-${s}` }, templateRef: { name: `first-${s}` }, state: 'Stopped' }, tenant.namespace);
    await settleVm(cloud.kube, vm, 'Stopped');
    await row('the VM in the API cache', () => true);
  });

  after(async () => {
    await cloud?.stop();
  });

  it('offers restoreVirtualMachine in listApis, as an async command', async () => {
    const apis = (await tenant.client.request('listApis', { name: 'restoreVirtualMachine' })).body['api'] as { name: string; isasync: boolean }[];
    expect(apis.map((a) => [a.name, a.isasync])).to.deep.equal([['restoreVirtualMachine', true]]);
  });

  it('refuses what CloudStack refuses, with its code and text, and writes nothing', async () => {
    const id = vm.metadata.uid ?? '';
    expect(await request(tenant.client, {})).to.deep.equal([431, 'Unable to execute API command restorevm due to missing parameter virtualmachineid']);
    expect(await request(tenant.client, { virtualmachineid: UNKNOWN })).to.deep.equal([431, NOT_FOUND('restorevm', 'virtualmachineid', UNKNOWN)]);
    expect(await request(other.client, { virtualmachineid: id }), 'another account cannot touch the VM').to.deep.equal([431, NOT_FOUND('restorevm', 'virtualmachineid', id)]);
    expect(await request(tenant.client, { virtualmachineid: id, templateid: UNKNOWN })).to.deep.equal([431, NOT_FOUND('restorevm', 'templateid', UNKNOWN)]);
    expect(await request(tenant.client, { virtualmachineid: id, templateid: ids['foreign'] ?? '' }), 'another account\'s private template').to.deep.equal([431, NOT_FOUND('restorevm', 'templateid', ids['foreign'] ?? '')]);
    expect(await request(tenant.client, { virtualmachineid: id, templateid: ids['iso'] ?? '' })).to.deep.equal([431, `templateid ${ids['iso'] ?? ''}: template iso-${s} is an ISO; restore the VM from a QCOW2 or RAW template`]);
    const [code, text] = await request(tenant.client, { virtualmachineid: id, templateid: ids['pending'] ?? '' });
    expect(code).to.equal(431);
    expect(text).to.match(new RegExp(`^templateid: .*not downloaded to zone z-${s}.*; a restore needs a template that is Ready in the VM's zone$`));
    expect(await request(tenant.client, { virtualmachineid: id, 'details[0].cpuNumber': '2' })).to.deep.equal([431, 'details[cpuNumber] is not supported by restoreVirtualMachine: only details[rootdisksize] is']);
    expect(await request(tenant.client, { virtualmachineid: id, rootdisksize: '0' })).to.deep.equal([431, 'rootdisksize must be a whole number of GB from 1, not 0']);
    expect(await request(tenant.client, { virtualmachineid: id, diskofferingid: UNKNOWN })).to.deep.equal([431, NOT_FOUND('restorevm', 'diskofferingid', UNKNOWN)]);
    await settleVm(cloud.kube, await current(), 'Starting');
    try {
      await row('the VM Starting in the API cache', (r) => r['state'] === 'Starting');
      expect(await request(tenant.client, { virtualmachineid: id })).to.deep.equal([431, `Vm ${id} currently in Starting state, restore vm can only execute when VM in Running or Stopped`]);
    } finally {
      await settleVm(cloud.kube, await current(), 'Stopped');
    }
    await row('the VM Stopped again in the API cache', (r) => r['state'] === 'Stopped');
    expect((await current()).spec?.['restoreRequestedAt'], 'nothing written by a refusal').to.equal(undefined);
  });

  it('restores a stopped VM from its own template: spec.restoreRequestedAt, and the job answers once the operator has done it', async () => {
    const id = vm.metadata.uid ?? '';
    const reply = await tenant.client.request('restoreVirtualMachine', { virtualmachineid: id, expunge: 'true' });
    expect(reply.status, reply.text).to.equal(200);
    expect(reply.envelope, 'CloudStack\'s legacy envelope').to.equal('restorevmresponse');
    const written = await current();
    expect(written.spec?.['restoreRequestedAt']).to.be.a('string');
    expect(written.spec?.['templateRef'], 'the template stays').to.deep.equal({ name: `first-${s}` });
    const jobid = reply.body['jobid'] as string;
    expect((await tenant.client.request('queryAsyncJobResult', { jobid })).body['jobstatus'], 'pending until the operator reports it').to.equal(0);
    await settleVm(cloud.kube, written, 'Stopped', { lastRestoreAt: written.spec?.['restoreRequestedAt'] });
    const job = await tenant.client.waitForJob(jobid, { intervalMs: 250, timeoutMs: 60_000 });
    expect(job['jobstatus'], JSON.stringify(job)).to.equal(1);
    const result = (job['jobresult'] as { virtualmachine: Record<string, unknown> }).virtualmachine;
    expect(result).to.include({ id, state: 'Stopped', templateid: ids['first'], templatename: `first-${s}` });
  });

  it('restores onto another template, root size and root offering: they become the VM\'s, and a second restore in the same second is a new request', async () => {
    const id = vm.metadata.uid ?? '';
    const before = (await current()).spec?.['restoreRequestedAt'];
    const reply = await tenant.client.request('restoreVirtualMachine', { virtualmachineid: id, templateid: ids['second'] ?? '', diskofferingid: ids['disk'] ?? '', 'details[0].rootdisksize': '12' });
    expect(reply.status, reply.text).to.equal(200);
    const written = await current();
    expect(written.spec).to.deep.include({ templateRef: { namespace: tenant.namespace, name: `second-${s}` }, rootDiskOfferingRef: { name: `d8-${s}` }, rootDiskSize: '12Gi' });
    expect(written.spec?.['restoreRequestedAt']).to.not.equal(before);
    const again = await tenant.client.request('restoreVirtualMachine', { virtualmachineid: id });
    expect(again.status, again.text).to.equal(200);
    const latest = await current();
    expect(latest.spec?.['restoreRequestedAt'], 'each call is its own request').to.not.equal(written.spec?.['restoreRequestedAt']);
    await settleVm(cloud.kube, latest, 'Stopped', { lastRestoreAt: latest.spec?.['restoreRequestedAt'] });
    for (const jobid of [reply.body['jobid'] as string, again.body['jobid'] as string]) {
      const job = await tenant.client.waitForJob(jobid, { intervalMs: 250, timeoutMs: 60_000 });
      expect(job['jobstatus'], JSON.stringify(job)).to.equal(1);
      expect((job['jobresult'] as { virtualmachine: Record<string, unknown> }).virtualmachine).to.include({ id, templateid: ids['second'] });
    }
  });

  it('takes the same field through kubectl: the apiserver refuses a template change without a restore, and the API shows what kubectl restored', async () => {
    const refusal = await vms()
      .patch({ namespace: tenant.namespace, name: `vm-${s}` }, { spec: { templateRef: { name: `first-${s}` } } }, 'merge')
      .then(
        () => undefined,
        (err: unknown) => (err as Error).message,
      );
    expect(refusal).to.match(/spec\.templateRef changes only with a restore: set spec\.restoreRequestedAt/);
    const pending = await vms()
      .patch({ namespace: tenant.namespace, name: `vm-${s}` }, { spec: { templateRef: { name: `pending-${s}` }, restoreRequestedAt: '2030-01-01T00:00:00Z' } }, 'merge')
      .then(
        () => undefined,
        (err: unknown) => (err as Error).message,
      );
    expect(pending).to.match(/spec\.templateRef\.name: .*not downloaded to zone .*; a restore needs a template that is Ready in the zone/);
    await vms().patch({ namespace: tenant.namespace, name: `vm-${s}` }, { spec: { templateRef: { name: `first-${s}` }, restoreRequestedAt: '2030-01-01T00:00:01Z' } }, 'merge');
    await settleVm(cloud.kube, await current(), 'Stopped', { lastRestoreAt: '2030-01-01T00:00:01Z' });
    const shown = await row('the API to show the template kubectl restored from', (r) => r['templateid'] === ids['first']);
    expect(shown).to.include({ id: vm.metadata.uid, state: 'Stopped' });
  });

  it('restores a VM installed from an ISO onto a template only when templateid names one: spec.isoRef goes, spec.templateRef comes', async () => {
    const installed = await vms().create({
      metadata: { namespace: tenant.namespace, name: `inst-${s}` },
      spec: { zoneRef: { name: `z-${s}` }, serviceOfferingRef: { name: `small-${s}` }, isoRef: { name: `iso-${s}` }, rootDiskOfferingRef: { name: `d8-${s}` }, state: 'Stopped' },
    });
    await settleVm(cloud.kube, installed, 'Stopped');
    const id = installed.metadata.uid ?? '';
    await waitUntil('the ISO-installed VM in the API cache', async () => ((await tenant.client.request('listVirtualMachines', { id })).body['virtualmachine'] as Record<string, unknown>[] | undefined)?.[0]);
    expect(await request(tenant.client, { virtualmachineid: id })).to.deep.equal([431, `VM ${id} was booted from an ISO and has no template: pass templateid to restore it onto a template`]);
    const reply = await tenant.client.request('restoreVirtualMachine', { virtualmachineid: id, templateid: ids['second'] ?? '' });
    expect(reply.status, reply.text).to.equal(200);
    const written = await vms().get({ namespace: tenant.namespace, name: `inst-${s}` });
    expect(written.spec?.['templateRef']).to.deep.equal({ namespace: tenant.namespace, name: `second-${s}` });
    expect(written.spec).to.not.have.property('isoRef');
    await settleVm(cloud.kube, written, 'Stopped', { lastRestoreAt: written.spec?.['restoreRequestedAt'] });
    const job = await tenant.client.waitForJob(reply.body['jobid'] as string, { intervalMs: 250, timeoutMs: 60_000 });
    expect((job['jobresult'] as { virtualmachine: Record<string, unknown> }).virtualmachine).to.include({ id, templateid: ids['second'] });
  });

  it('refuses a VM that is destroyed, and the webhook refuses its restore through kubectl, naming the field', async () => {
    const id = vm.metadata.uid ?? '';
    await vms().patch({ namespace: tenant.namespace, name: `vm-${s}` }, { spec: { state: 'Destroyed' } }, 'merge');
    await settleVm(cloud.kube, await current(), 'Destroyed');
    // A user does not list a destroyed VM (allow.user.view.destroyed.vm): the administrator does.
    await waitUntil('the VM Destroyed in the API cache', async () => (((await cloud.admin.request('listVirtualMachines', { id, listall: 'true' })).body['virtualmachine'] as Record<string, unknown>[] | undefined)?.[0]?.['state'] === 'Destroyed' ? true : undefined));
    expect(await request(tenant.client, { virtualmachineid: id })).to.deep.equal([431, `Vm ${id} currently in Destroyed state, restore vm can only execute when VM in Running or Stopped`]);
    const refusal = await vms()
      .patch({ namespace: tenant.namespace, name: `vm-${s}` }, { spec: { restoreRequestedAt: '2030-01-01T00:00:02Z' } }, 'merge')
      .then(
        () => undefined,
        (err: unknown) => (err as Error).message,
      );
    expect(refusal).to.match(/spec\.restoreRequestedAt: the VM is Destroyed: recover it/);
  });
});
