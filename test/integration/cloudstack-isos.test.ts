import { expect } from 'chai';
import type { CloudStackClient } from '../support/cloudstack-client.ts';
import { uniqueName } from '../support/cluster.ts';
import { type InfraCloud, type Obj, settleVm, startInfraCloud, waitUntil } from './cloudstack-infra-harness.ts';

/**
 * attachIso and detachIso over the real control plane (apiserver, admission webhooks, the API):
 * the ISO in a VM's drive is spec.attachedIsoRef, written by either door and shown by the other
 * (isoid, isoname, isodisplaytext); CloudStack's refusals with their codes and texts; admission
 * naming the field. The test plays the operator (settleVm) and the download agent (the ISO's
 * per-zone status); the agent side (media in the domain) is test/e2e/agent-iso.test.ts.
 */

const NOT_FOUND = (label: string, param: string, id: string) =>
  `Unable to execute API command ${label} due to invalid value. Invalid parameter ${param} value=${id} due to incorrect long value format, or entity does not exist or due to incorrect parameter annotation for the field in api cmd class.`;
const UNKNOWN = '0b0e1e2c-0000-4000-8000-0000000000b2';

describe('cloudstack-api: attachIso and detachIso (real control plane)', function () {
  this.timeout(300_000);
  let cloud: InfraCloud;
  let tenant: { client: CloudStackClient; namespace: string; account: string };
  let other: { client: CloudStackClient; namespace: string; account: string };
  const s = uniqueName('iso').slice(4);
  const ids: Record<string, string> = {};
  let vm: Obj;

  const vms = () => cloud.resource('VirtualMachine');
  const current = (name = `vm-${s}`) => vms().get({ namespace: tenant.namespace, name });
  const templateName = async (id: string) => (await cloud.resource('Template').list({ namespace: tenant.namespace })).items.find((t) => t.metadata.uid === id)?.metadata.name ?? '';
  /** What the download agent reports once the zone's copy is there. */
  const downloaded = async (id: string) =>
    cloud.resource('Template').patchStatus(
      { namespace: tenant.namespace, name: await templateName(id) },
      { status: { state: 'Active', isReady: true, zones: [{ zone: `z-${s}`, downloadState: 'DOWNLOADED', downloadPercent: 100, sizeBytes: 2 ** 20, physicalSizeBytes: 2 ** 20 }] } },
    );
  /** The job's VM once the operator (played here) reports the generation just written. */
  const settledJob = async (client: CloudStackClient, jobid: string, state = 'Stopped'): Promise<Record<string, unknown>> => {
    await settleVm(cloud.kube, await current(), state);
    const job = await client.waitForJob(jobid, { intervalMs: 250, timeoutMs: 60_000 });
    expect(job['jobstatus'], JSON.stringify(job)).to.equal(1);
    return (job['jobresult'] as { virtualmachine: Record<string, unknown> }).virtualmachine;
  };
  const request = async (client: CloudStackClient, command: string, params: Record<string, string>) => {
    const reply = await client.request(command, params);
    return [reply.status, reply.body['errortext']];
  };

  before(async function () {
    this.timeout(240_000);
    cloud = await startInfraCloud('csiso');
    const make = async (kind: string, name: string, spec: Record<string, unknown>, namespace?: string) => cloud.resource(kind).create({ metadata: { name, ...(namespace ? { namespace } : {}) }, spec });
    ids['zone'] = (await make('Zone', `z-${s}`, { displayName: `Zone ${s}`, networkType: 'Advanced', dns1: '8.8.8.8', internalDns1: '10.0.0.2', guestCidr: '10.2.0.0/16', allocationState: 'Enabled' })).metadata.uid ?? '';
    await make('ServiceOffering', `small-${s}`, { cpuNumber: 1, memory: '512Mi' });
    await make('DiskOffering', `d5-${s}`, { displayName: `Disk 5 ${s}`, diskSize: '5Gi' });
    tenant = await cloud.tenant('isot');
    other = await cloud.tenant('isoo');
    await make('Template', `t-${s}`, { url: 'https://images.example.com/t.qcow2', format: 'QCOW2', zoneRefs: [{ name: `z-${s}` }] }, tenant.namespace);
    vm = await make('VirtualMachine', `vm-${s}`, { zoneRef: { name: `z-${s}` }, serviceOfferingRef: { name: `small-${s}` }, templateRef: { name: `t-${s}` }, state: 'Stopped' }, tenant.namespace);
    await settleVm(cloud.kube, vm, 'Stopped');
    const register = async (client: CloudStackClient, name: string) => {
      const reply = await client.request('registerIso', { name, displaytext: `${name} disc`, url: `https://images.example.com/${name}.iso`, zoneid: ids['zone'] ?? '' });
      expect(reply.status, reply.text).to.equal(200);
      return (reply.body['iso'] as Record<string, unknown>[])[0]?.['id'] as string;
    };
    ids['iso'] = await register(tenant.client, `tools-${s}`);
    ids['pending'] = await register(tenant.client, `pending-${s}`);
    ids['foreign'] = await register(other.client, `foreign-${s}`);
    await downloaded(ids['iso']);
  });

  after(async () => {
    await cloud?.stop();
  });

  it('offers attachIso and detachIso in listApis, as async commands', async () => {
    const apis = (await tenant.client.request('listApis', {})).body['api'] as { name: string; isasync: boolean }[];
    const offered = apis.filter((a) => ['attachIso', 'detachIso', 'registerIso', 'listIsos', 'updateIso', 'deleteIso', 'listIsoPermissions', 'updateIsoPermissions'].includes(a.name));
    expect(offered.map((a) => a.name).sort()).to.deep.equal(['attachIso', 'deleteIso', 'detachIso', 'listIsoPermissions', 'listIsos', 'registerIso', 'updateIso', 'updateIsoPermissions']);
    expect(offered.filter((a) => a.isasync).map((a) => a.name).sort()).to.deep.equal(['attachIso', 'deleteIso', 'detachIso']);
  });

  it('refuses what CloudStack refuses, with its code and text', async () => {
    const id = vm.metadata.uid ?? '';
    await waitUntil('the VM and the ISO ready in the API cache', async () => ((await tenant.client.request('listIsos', { isofilter: 'self', id: ids['iso'] ?? '', isready: 'true' })).body['count'] === 1 ? true : undefined));
    expect(await request(tenant.client, 'attachIso', { id: ids['iso'] ?? '', virtualmachineid: UNKNOWN })).to.deep.equal([431, NOT_FOUND('attachiso', 'virtualmachineid', UNKNOWN)]);
    expect(await request(tenant.client, 'attachIso', { id: UNKNOWN, virtualmachineid: id })).to.deep.equal([431, NOT_FOUND('attachiso', 'id', UNKNOWN)]);
    // Another account's private ISO is not found; a template is not an ISO.
    expect(await request(tenant.client, 'attachIso', { id: ids['foreign'] ?? '', virtualmachineid: id })).to.deep.equal([431, NOT_FOUND('attachiso', 'id', ids['foreign'] ?? '')]);
    const template = (await cloud.resource('Template').get({ namespace: tenant.namespace, name: `t-${s}` })).metadata.uid ?? '';
    expect(await request(tenant.client, 'attachIso', { id: template, virtualmachineid: id })).to.deep.equal([431, NOT_FOUND('attachiso', 'id', template)]);
    // Another account cannot touch the VM.
    expect(await request(other.client, 'attachIso', { id: ids['foreign'] ?? '', virtualmachineid: id })).to.deep.equal([431, NOT_FOUND('attachiso', 'virtualmachineid', id)]);
    const [code, text] = await request(tenant.client, 'attachIso', { id: ids['pending'] ?? '', virtualmachineid: id });
    expect(code).to.equal(431);
    expect(text).to.match(new RegExp(`^ISO ${ids['pending'] ?? ''} is not ready in zone z-${s}: .*not downloaded to zone z-${s} yet; attach it once listIsos shows it ready$`));
    expect(await request(tenant.client, 'detachIso', { virtualmachineid: id })).to.deep.equal([431, 'The specified instance has no ISO attached to it.']);
    expect(await request(tenant.client, 'detachIso', {})).to.deep.equal([431, 'Unable to execute API command detachiso due to missing parameter virtualmachineid']);
    expect((await current()).spec?.['attachedIsoRef'], 'nothing written by a refusal').to.equal(undefined);
  });

  it('attaches an ISO to a stopped VM: spec.attachedIsoRef, and the VM shows isoid, isoname and isodisplaytext', async () => {
    const id = vm.metadata.uid ?? '';
    const reply = await tenant.client.request('attachIso', { id: ids['iso'] ?? '', virtualmachineid: id });
    expect(reply.status, reply.text).to.equal(200);
    expect((await current()).spec?.['attachedIsoRef']).to.deep.equal({ namespace: tenant.namespace, name: await templateName(ids['iso'] ?? '') });
    const result = await settledJob(tenant.client, reply.body['jobid'] as string);
    expect(result).to.include({ id, isoid: ids['iso'], isoname: `tools-${s}`, isodisplaytext: `tools-${s} disc`, templatename: `t-${s}` });
    const listed = await waitUntil('the VM listed by its ISO', async () => ((await tenant.client.request('listVirtualMachines', { isoid: ids['iso'] ?? '' })).body['virtualmachine'] as Record<string, unknown>[] | undefined)?.[0]);
    expect(listed).to.include({ id, isoid: ids['iso'] });
    // The ISO in the drive is not the image the VM was deployed from.
    expect((await tenant.client.request('listVirtualMachines', { templateid: ids['iso'] ?? '' })).body).to.deep.equal({});
  });

  it('refuses a second ISO, and deleting the ISO in a drive', async () => {
    const id = vm.metadata.uid ?? '';
    expect(await request(tenant.client, 'attachIso', { id: ids['iso'] ?? '', virtualmachineid: id })).to.deep.equal([431, `An ISO is already attached to the instance ${id}: detach it first (detachIso)`]);
    expect(await request(tenant.client, 'deleteIso', { id: ids['iso'] ?? '' })).to.deep.equal([431, 'Unable to delete ISO, as it\'s used by other instances']);
  });

  it('refuses both on a VM that is neither Stopped nor Running', async () => {
    await settleVm(cloud.kube, await current(), 'Starting');
    try {
      await waitUntil('the VM Starting in the API cache', async () => (((await tenant.client.request('listVirtualMachines', { id: vm.metadata.uid ?? '' })).body['virtualmachine'] as Record<string, unknown>[])[0]?.['state'] === 'Starting' ? true : undefined));
      expect(await request(tenant.client, 'detachIso', { virtualmachineid: vm.metadata.uid ?? '' })).to.deep.equal([431, 'Please specify an instance that is either Stopped or Running.']);
    } finally {
      await settleVm(cloud.kube, await current(), 'Stopped');
    }
    await waitUntil('the VM Stopped again in the API cache', async () => (((await tenant.client.request('listVirtualMachines', { id: vm.metadata.uid ?? '' })).body['virtualmachine'] as Record<string, unknown>[])[0]?.['state'] === 'Stopped' ? true : undefined));
  });

  it('detaches it: the spec field goes and the VM shows no ISO', async () => {
    const id = vm.metadata.uid ?? '';
    const reply = await tenant.client.request('detachIso', { virtualmachineid: id });
    expect(reply.status, reply.text).to.equal(200);
    expect((await current()).spec).to.not.have.property('attachedIsoRef');
    const result = await settledJob(tenant.client, reply.body['jobid'] as string);
    expect(result).to.include({ id });
    expect(result).to.not.have.any.keys('isoid', 'isoname', 'isodisplaytext');
  });

  it('takes the same field through kubectl: admission names it when it is no ISO, and the API shows what kubectl wrote', async () => {
    const refusal = await vms()
      .patch({ namespace: tenant.namespace, name: `vm-${s}` }, { spec: { attachedIsoRef: { name: `t-${s}` } } }, 'merge')
      .then(
        () => undefined,
        (err: unknown) => (err as Error).message,
      );
    expect(refusal).to.match(/spec\.attachedIsoRef\.name: template cs-[^/]+\/t-[^ ]+ is QCOW2, not an ISO; name an ISO here/);
    const name = await templateName(ids['iso'] ?? '');
    await vms().patch({ namespace: tenant.namespace, name: `vm-${s}` }, { spec: { attachedIsoRef: { name } } }, 'merge');
    const row = await waitUntil('the API to show the ISO kubectl put in the drive', async () => {
      const found = ((await tenant.client.request('listVirtualMachines', { id: vm.metadata.uid ?? '' })).body['virtualmachine'] as Record<string, unknown>[])[0];
      return found?.['isoid'] === ids['iso'] ? found : undefined;
    });
    expect(row).to.include({ isoname: `tools-${s}` });
    await vms().patch({ namespace: tenant.namespace, name: `vm-${s}` }, { spec: { attachedIsoRef: null } }, 'merge');
  });

  it('boots a VM deployed from an ISO with it in the drive, and a detach keeps it out', async () => {
    const name = await templateName(ids['iso'] ?? '');
    const booted = await vms().create({
      metadata: { namespace: tenant.namespace, name: `inst-${s}` },
      spec: { zoneRef: { name: `z-${s}` }, serviceOfferingRef: { name: `small-${s}` }, isoRef: { name }, rootDiskOfferingRef: { name: `d5-${s}` }, state: 'Stopped' },
    });
    expect(booted.spec?.['attachedIsoRef'], 'defaulted from spec.isoRef on create').to.deep.equal({ name });
    await settleVm(cloud.kube, booted, 'Stopped');
    const row = await waitUntil('the ISO-deployed VM in the API cache', async () => ((await tenant.client.request('listVirtualMachines', { id: booted.metadata.uid ?? '' })).body['virtualmachine'] as Record<string, unknown>[] | undefined)?.[0]);
    // Deployed from the ISO (templateid, as CloudStack's vm_template_id) and with it in the drive (isoid).
    expect(row).to.include({ templateid: ids['iso'], isoid: ids['iso'] });
    const reply = await tenant.client.request('detachIso', { virtualmachineid: booted.metadata.uid ?? '' });
    expect(reply.status, reply.text).to.equal(200);
    await settleVm(cloud.kube, await current(`inst-${s}`), 'Stopped');
    const job = await tenant.client.waitForJob(reply.body['jobid'] as string, { intervalMs: 250, timeoutMs: 60_000 });
    const result = (job['jobresult'] as { virtualmachine: Record<string, unknown> }).virtualmachine;
    expect(result).to.include({ templateid: ids['iso'] });
    expect(result).to.not.have.property('isoid');
    // A later update does not put the ISO back (the default is for CREATE only).
    await vms().patch({ namespace: tenant.namespace, name: `inst-${s}` }, { spec: { displayName: `installed ${s}` } }, 'merge');
    expect((await current(`inst-${s}`)).spec).to.not.have.property('attachedIsoRef');
  });
});
