import { expect } from 'chai';
import { resourceTypeOf } from '../../lib/kube-client.ts';
import { ipAddressName, LABEL_CONSUMER_UID, LABEL_NETWORK_UID } from '../../lib/guest-identity.ts';
import { PUBLIC_NAMESPACE } from '../../lib/identity.ts';
import { VirtualMachine } from '../../crds/index.ts';
import type { CloudStackClient } from '../support/cloudstack-client.ts';
import { uniqueName } from '../support/cluster.ts';
import { type InfraCloud, type Obj, settleVm, startInfraCloud, waitUntil } from './cloudstack-infra-harness.ts';

/**
 * The VM commands over the real control plane, as a tenant: deploy, the whole lifecycle, the
 * other door (kubectl sees the same object) and the error cases clients rely on. Until the
 * compute controllers are on main this test plays them, writing VM status through the status
 * subresource as the operator and agent would (lib/agent-contract.ts); the AsyncJob
 * controller is the real one, following the VM's Ready condition.
 */

type Vm = Obj & { metadata: { generation?: number }; spec: Record<string, unknown> };

const NOT_FOUND = (label: string, param: string, id: string) =>
  `Unable to execute API command ${label} due to invalid value. Invalid parameter ${param} value=${id} due to incorrect long value format, or entity does not exist or due to incorrect parameter annotation for the field in api cmd class.`;

describe('cloudstack-api: virtual machines (real control plane)', function () {
  this.timeout(300_000);
  let cloud: InfraCloud;
  let tenant: { client: CloudStackClient; namespace: string; account: string };
  let other: { client: CloudStackClient; namespace: string; account: string };
  const s = uniqueName('vm').slice(3);
  const ids: Record<string, string> = {};

  const vms = () => cloud.kube.resource<Vm>(resourceTypeOf(VirtualMachine));
  const vmNamed = async (name: string) => (await vms().list({ namespace: tenant.namespace })).items.find((v) => v.metadata.name === name);

  /** Plays the operator and the agent: the VM reaches `state`, Ready at its current generation. */
  async function settle(vm: Vm, state: string, extra: Record<string, unknown> = {}): Promise<void> {
    await settleVm(cloud.kube, vm, state, {
      placement: { zone: `z-${s}`, pod: `p-${s}`, cluster: `c-${s}`, host: `h-${s}` },
      nics: [{ network: `net-${s}`, deviceId: 0, isDefault: true, ipAddress: '10.1.1.10', netmask: '255.255.255.0', gateway: '10.1.1.1', macAddress: '02:00:00:00:00:10', broadcastUri: 'vxlan://5001', isolationUri: 'vxlan://5001' }],
      ...extra,
    });
  }

  /** Waits for the VM to carry a generation after `after`, then settles it in `state`. */
  async function settleAfter(name: string, after: number, state: string, extra?: Record<string, unknown>): Promise<Vm> {
    const vm = await waitUntil(`VM ${name} past generation ${after}`, async () => {
      const found = await vmNamed(name);
      return found && (found.metadata.generation ?? 0) > after ? found : undefined;
    });
    await settle(vm, state, extra);
    return vm;
  }

  async function job(client: CloudStackClient, jobid: string): Promise<Record<string, unknown>> {
    return client.waitForJob(jobid, { intervalMs: 250, timeoutMs: 60_000 });
  }

  before(async function () {
    this.timeout(240_000);
    cloud = await startInfraCloud('csvm');
    const make = async (kind: string, name: string, spec: Record<string, unknown>, namespace?: string) => cloud.resource(kind).create({ metadata: { name, ...(namespace ? { namespace } : {}) }, spec });
    await make('Zone', `z-${s}`, { displayName: `Zone ${s}`, networkType: 'Advanced', dns1: '8.8.8.8', internalDns1: '10.0.0.2', guestCidr: '10.1.0.0/16', allocationState: 'Enabled' });
    await make('Zone', `zoff-${s}`, { networkType: 'Advanced', dns1: '8.8.8.8', internalDns1: '10.0.0.2', allocationState: 'Disabled' });
    await make('ServiceOffering', `small-${s}`, { displayName: `Small ${s}`, cpuNumber: 1, cpuSpeed: 1000, memory: '512Mi' });
    await make('ServiceOffering', `medium-${s}`, { displayName: `Medium ${s}`, cpuNumber: 2, cpuSpeed: 1000, memory: '1Gi' });
    await make('NetworkOffering', `iso-${s}`, { guestIpType: 'Isolated' });
    await cloud.kube.resource({ group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false }).create({ metadata: { name: PUBLIC_NAMESPACE } }).catch(() => undefined);
    const template = await make('Template', `tiny-${s}`, { displayName: `Tiny ${s}`, url: 'file:///var/lib/kumulus/tiny.qcow2', format: 'QCOW2', zoneRefs: [{ name: `z-${s}` }], isPublic: true, osType: 'Other Linux (64-bit)' }, PUBLIC_NAMESPACE);
    await cloud.resource('Template').patchStatus({ namespace: PUBLIC_NAMESPACE, name: template.metadata.name ?? '' }, { status: { state: 'Active', isReady: true, zones: [{ zone: `z-${s}`, downloadState: 'DOWNLOADED', downloadPercent: 100, sizeBytes: 1 << 30 }] } });
    tenant = await cloud.tenant('vmt');
    other = await cloud.tenant('vmo');
    const network = await make('Network', `net-${s}`, { displayName: `Web ${s}`, networkOfferingRef: { name: `iso-${s}` }, zoneRef: { name: `z-${s}` }, cidr: '10.1.1.0/24' }, tenant.namespace);
    const key = await make('SSHKeyPair', `key-${s}`, { displayName: `key-${s}`, publicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGxU4aR5f3p1d0Y4pX3Wl6m3b8Kc2mJQ0rT7yH9vN2sB t@example' }, tenant.namespace);
    ids['network'] = network.metadata.uid ?? '';
    ids['key'] = key.metadata.uid ?? '';
    ids['template'] = template.metadata.uid ?? '';
    const uid = async (kind: string, name: string) => (await cloud.resource(kind).get({ name })).metadata.uid ?? '';
    ids['zone'] = await uid('Zone', `z-${s}`);
    ids['zoneOff'] = await uid('Zone', `zoff-${s}`);
    ids['small'] = await uid('ServiceOffering', `small-${s}`);
    ids['medium'] = await uid('ServiceOffering', `medium-${s}`);
    // The API's caches see what was just made.
    await waitUntil('the template in the API', async () => ((await tenant.client.request('listVirtualMachines')).status === 200 ? true : undefined));
  });

  after(async () => {
    await cloud?.stop();
  });

  const deployParams = () => ({ zoneid: ids['zone'] ?? '', serviceofferingid: ids['small'] ?? '', templateid: ids['template'] ?? '', networkids: ids['network'] ?? '', name: `web-${s}`, displayname: `Web server ${s}`, keypair: `key-${s}`, userdata: Buffer.from('#cloud-config\n').toString('base64') });

  it('deploys: the VM object exists when the request returns, its uid is the id, and the start runs in the job', async () => {
    const reply = await tenant.client.request('deployVirtualMachine', deployParams());
    expect(reply.status, reply.text).to.equal(200);
    const id = reply.body['id'] as string;
    const vm = await vmNamed(`web-${s}`);
    expect(vm?.metadata.uid).to.equal(id);
    expect(vm?.spec).to.deep.include({ state: 'Running', hostName: `web-${s}`, displayName: `Web server ${s}`, sshKeyPairRef: { name: `key-${s}` } });
    expect(vm?.spec['networks']).to.deep.equal([{ name: `net-${s}`, default: true }]);
    ids['vm'] = id;
    // Pending until the VM is Running at the generation the deploy wrote.
    const pending = await tenant.client.request('queryAsyncJobResult', { jobid: reply.body['jobid'] as string });
    expect(pending.body['jobstatus']).to.equal(0);
    await settle(vm as Vm, 'Running');
    const done = await job(tenant.client, reply.body['jobid'] as string);
    expect(done['jobstatus'], JSON.stringify(done)).to.equal(1);
    const result = (done['jobresult'] as { virtualmachine: Record<string, unknown> }).virtualmachine;
    expect(result).to.include({ id, name: `web-${s}`, displayname: `Web server ${s}`, state: 'Running', account: tenant.account, zoneid: ids['zone'], serviceofferingid: ids['small'], templateid: ids['template'], cpunumber: 1, memory: 512, keypairs: `key-${s}`, ipaddress: '10.1.1.10' });
    expect(result['nic']).to.have.length(1);
    expect((result['nic'] as Record<string, unknown>[])[0]).to.include({ networkid: ids['network'], ipaddress: '10.1.1.10', isdefault: true, deviceid: '0', macaddress: '02:00:00:00:00:10' });
  });

  it('lists it for its owner with every filter, and not for another tenant', async () => {
    const list = (params: Record<string, string>, client = tenant.client) => client.request('listVirtualMachines', params);
    const mine = await list({});
    expect((mine.body['virtualmachine'] as Record<string, unknown>[]).map((v) => v['id'])).to.deep.equal([ids['vm']]);
    const matching: Record<string, string>[] = [{ id: ids['vm'] ?? '' }, { name: 'web' }, { keyword: 'Web server' }, { state: 'Running' }, { state: 'Present' }, { zoneid: ids['zone'] ?? '' }, { networkid: ids['network'] ?? '' }, { templateid: ids['template'] ?? '' }, { serviceofferingid: ids['small'] ?? '' }, { keypair: `key-${s}` }];
    for (const params of matching) {
      expect((await list(params)).body['count'], JSON.stringify(params)).to.equal(1);
    }
    const unmatched: Record<string, string>[] = [{ state: 'Stopped' }, { name: 'nomatch' }, { serviceofferingid: ids['medium'] ?? '' }];
    for (const params of unmatched) {
      expect((await list(params)).body, JSON.stringify(params)).to.deep.equal({});
    }
    expect((await list({}, other.client)).body).to.deep.equal({});
    const theirs = await list({ id: ids['vm'] ?? '' }, other.client);
    expect(theirs.body).to.deep.equal({});
    const metrics = ((await list({})).body['virtualmachine'] as Record<string, unknown>[])[0] ?? {};
    const withTotals = ((await tenant.client.request('listVirtualMachinesMetrics', {})).body['virtualmachine'] as Record<string, unknown>[])[0];
    expect(withTotals).to.deep.equal({ ...metrics, cputotal: '1.00 Ghz', memorytotal: '512.00 MB' });
    // The admin sees it with listall.
    expect(((await cloud.admin.request('listVirtualMachines', { listall: 'true', id: ids['vm'] ?? '' })).body['count'])).to.equal(1);
  });

  it('refuses another tenant\'s VM with the not-found text, as for an unknown id', async () => {
    const theirs = await other.client.request('stopVirtualMachine', { id: ids['vm'] ?? '' });
    expect(theirs.status).to.equal(431);
    expect(theirs.body['errortext']).to.equal(NOT_FOUND('stopvirtualmachine', 'id', ids['vm'] ?? ''));
    const unknown = '6f1c8e7a-0000-4000-8000-000000000000';
    const missing = await tenant.client.request('startVirtualMachine', { id: unknown });
    expect(missing.status).to.equal(431);
    expect(missing.body['errortext']).to.equal(NOT_FOUND('startvirtualmachine', 'id', unknown));
  });

  it('stops, starts and reboots through spec, each job following the VM', async () => {
    const name = `web-${s}`;
    let generation = (await vmNamed(name))?.metadata.generation ?? 0;
    const stop = await tenant.client.request('stopVirtualMachine', { id: ids['vm'] ?? '' });
    expect((await vmNamed(name))?.spec['state']).to.equal('Stopped');
    await settleAfter(name, generation, 'Stopped');
    const stopped = (await job(tenant.client, stop.body['jobid'] as string))['jobresult'] as { virtualmachine: Record<string, unknown> };
    expect(stopped.virtualmachine['state']).to.equal('Stopped');
    expect(stopped.virtualmachine).to.not.have.property('hostid');

    const refused = await tenant.client.request('rebootVirtualMachine', { id: ids['vm'] ?? '' });
    expect(refused.status).to.equal(431);

    generation = (await vmNamed(name))?.metadata.generation ?? 0;
    const start = await tenant.client.request('startVirtualMachine', { id: ids['vm'] ?? '' });
    await settleAfter(name, generation, 'Running');
    expect(((await job(tenant.client, start.body['jobid'] as string))['jobresult'] as { virtualmachine: Record<string, unknown> }).virtualmachine['state']).to.equal('Running');

    generation = (await vmNamed(name))?.metadata.generation ?? 0;
    const reboot = await tenant.client.request('rebootVirtualMachine', { id: ids['vm'] ?? '' });
    const asked = (await vmNamed(name))?.spec['rebootRequestedAt'] as string;
    expect(asked).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    await settleAfter(name, generation, 'Running', { lastRebootAt: asked });
    expect((await job(tenant.client, reboot.body['jobid'] as string))['jobstatus']).to.equal(1);
  });

  it('changes the service offering only while Stopped', async () => {
    const name = `web-${s}`;
    const running = await tenant.client.request('changeServiceForVirtualMachine', { id: ids['vm'] ?? '', serviceofferingid: ids['medium'] ?? '' });
    expect(running.status).to.equal(431);
    expect(running.body['errortext']).to.match(/only while it is Stopped/);
    const generation = (await vmNamed(name))?.metadata.generation ?? 0;
    const stop = await tenant.client.request('stopVirtualMachine', { id: ids['vm'] ?? '' });
    await settleAfter(name, generation, 'Stopped');
    // As a client does: the stop job done and the VM listed Stopped, before the change (the API reads the VM from its cache, which follows the status just written).
    expect((await job(tenant.client, stop.body['jobid'] as string))['jobstatus']).to.equal(1);
    await waitUntil('the API lists the VM Stopped', async () => {
      const listed = await tenant.client.request('listVirtualMachines', { id: ids['vm'] ?? '' });
      return (listed.body['virtualmachine'] as { state?: string }[] | undefined)?.[0]?.state === 'Stopped' ? true : undefined;
    });
    const changed = await tenant.client.request('changeServiceForVirtualMachine', { id: ids['vm'] ?? '', serviceofferingid: ids['medium'] ?? '' });
    expect(changed.status, changed.text).to.equal(200);
    expect(changed.body['virtualmachine']).to.include({ serviceofferingid: ids['medium'], cpunumber: 2, memory: 1024 });
    expect((await vmNamed(name))?.spec['serviceOfferingRef']).to.deep.equal({ name: `medium-${s}` });
  });

  it('updates names and details, kept in the object for kubectl too', async () => {
    const updated = await tenant.client.request('updateVirtualMachine', { id: ids['vm'] ?? '', displayname: 'Renamed', 'details[0].owner': 'ops', 'details[1].tier': 'web' });
    expect(updated.status, updated.text).to.equal(200);
    expect(updated.body['virtualmachine']).to.deep.include({ displayname: 'Renamed', details: { owner: 'ops', tier: 'web' } });
    expect((await vmNamed(`web-${s}`))?.spec['displayName']).to.equal('Renamed');
  });

  it('destroys (hidden from the user, kept), refuses user recover and expunge, and the admin recovers and expunges', async () => {
    const name = `web-${s}`;
    let generation = (await vmNamed(name))?.metadata.generation ?? 0;
    const destroy = await tenant.client.request('destroyVirtualMachine', { id: ids['vm'] ?? '' });
    expect((await vmNamed(name))?.spec['state']).to.equal('Destroyed');
    await settleAfter(name, generation, 'Destroyed');
    expect((await job(tenant.client, destroy.body['jobid'] as string))['jobstatus']).to.equal(1);
    expect((await tenant.client.request('listVirtualMachines', {})).body).to.deep.equal({});
    expect((await cloud.admin.request('listVirtualMachines', { listall: 'true', state: 'Destroyed', id: ids['vm'] ?? '' })).body['count']).to.equal(1);

    const userRecover = await tenant.client.request('recoverVirtualMachine', { id: ids['vm'] ?? '' });
    expect(userRecover.status).to.equal(531);
    const userExpunge = await tenant.client.request('destroyVirtualMachine', { id: ids['vm'] ?? '', expunge: 'true' });
    expect(userExpunge.status).to.equal(531);
    expect(userExpunge.body['errortext']).to.equal('Parameter expunge can be passed by Admin only. Or when the allow.user.expunge.recover.vm key is set.');

    generation = (await vmNamed(name))?.metadata.generation ?? 0;
    const recovered = await cloud.admin.request('recoverVirtualMachine', { id: ids['vm'] ?? '' });
    expect(recovered.status, recovered.text).to.equal(200);
    expect(recovered.body['virtualmachine']).to.include({ id: ids['vm'], state: 'Stopped' });
    expect((await vmNamed(name))?.spec['state']).to.equal('Stopped');
    await settleAfter(name, generation, 'Stopped');

    const notDestroyed = await cloud.admin.request('expungeVirtualMachine', { id: ids['vm'] ?? '' });
    expect(notDestroyed.status).to.equal(431);
    const gone = await cloud.admin.request('destroyVirtualMachine', { id: ids['vm'] ?? '', expunge: 'true' });
    expect(gone.status, gone.text).to.equal(200);
    const done = await job(cloud.admin, gone.body['jobid'] as string);
    expect(done['jobstatus']).to.equal(1);
    expect(done['jobresult']).to.deep.equal({ virtualmachine: {} });
    expect(await vmNamed(name)).to.equal(undefined);
  });

  it('shows a VM applied with kubectl with every field', async () => {
    const name = `kubectl-${s}`;
    await vms().create({
      apiVersion: VirtualMachine.apiVersion,
      kind: 'VirtualMachine',
      metadata: { namespace: tenant.namespace, name },
      spec: { zoneRef: { name: `z-${s}` }, serviceOfferingRef: { name: `small-${s}` }, templateRef: { namespace: PUBLIC_NAMESPACE, name: `tiny-${s}` }, networks: [{ name: `net-${s}` }], state: 'Stopped' },
    });
    const vm = await waitUntil('the kubectl VM', () => vmNamed(name));
    await settle(vm, 'Stopped');
    const listed = await waitUntil('the VM in the API', async () => {
      const reply = await tenant.client.request('listVirtualMachines', { id: vm.metadata.uid ?? '' });
      const row = (reply.body['virtualmachine'] as Record<string, unknown>[] | undefined)?.[0];
      return row?.['state'] === 'Stopped' ? row : undefined;
    });
    expect(listed).to.include({ id: vm.metadata.uid, name, displayname: name, state: 'Stopped', zonename: `Zone ${s}`, serviceofferingname: `Small ${s}`, templatename: `Tiny ${s}`, hypervisor: 'KVM', rootdevicetype: 'ROOT' });
    expect(listed).to.not.have.property('hostid');
    expect(listed['securitygroup']).to.deep.equal([]);
    expect(listed['details']).to.deep.equal({});
  });

  it('refuses to delete a network a VM is on, naming the VM, and keeps the network', async () => {
    const reply = await tenant.client.request('deleteNetwork', { id: ids['network'] ?? '' });
    expect(reply.status, reply.text).to.equal(536);
    expect(reply.body['errortext']).to.equal(`Network ${ids['network']} is in use by 1 VM(s) (kubectl-${s}); expunge them or remove their NICs first`);
    expect((await cloud.resource('Network').get({ namespace: tenant.namespace, name: `net-${s}` })).metadata.deletionTimestamp).to.equal(undefined);
  });

  it('fails the deploy job with 533 when the planner finds no host', async () => {
    const { keypair: _unused, ...params } = deployParams();
    const reply = await tenant.client.request('deployVirtualMachine', { ...params, name: `big-${s}` });
    expect(reply.status, reply.text).to.equal(200);
    const vm = await waitUntil('the big VM', () => vmNamed(`big-${s}`));
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    const generation = vm.metadata.generation ?? 1;
    await vms().patchStatus(
      { namespace: tenant.namespace, name: `big-${s}` },
      {
        status: {
          state: 'Starting',
          observedGeneration: generation,
          conditions: [
            { type: 'Ready', status: 'False', reason: 'Unschedulable', message: 'no host has 1 free core', lastTransitionTime: now, observedGeneration: generation },
            { type: 'Scheduled', status: 'False', reason: 'Unschedulable', message: 'no host has 1 free core', lastTransitionTime: now, observedGeneration: generation },
          ],
        },
      },
    );
    const done = await job(tenant.client, reply.body['jobid'] as string);
    expect(done).to.include({ jobstatus: 2, jobresultcode: 533 });
    expect(done['jobresult']).to.deep.equal({ errorcode: 533, errortext: `Unable to create a deployment for VirtualMachine big-${s}: no host has 1 free core` });
  });

  describe('deploy refusals, each with its code and text', () => {
    const cases: { what: string; params: () => Record<string, string>; code: number; text: string | RegExp | (() => string) }[] = [
      { what: 'an unknown template', params: () => ({ ...deployParams(), templateid: '0b0e1e2c-0000-4000-8000-00000000000a' }), code: 431, text: NOT_FOUND('deployvirtualmachine', 'templateid', '0b0e1e2c-0000-4000-8000-00000000000a') },
      { what: 'an unknown zone', params: () => ({ ...deployParams(), zoneid: '0b0e1e2c-0000-4000-8000-00000000000b' }), code: 431, text: NOT_FOUND('deployvirtualmachine', 'zoneid', '0b0e1e2c-0000-4000-8000-00000000000b') },
      { what: 'an unknown service offering', params: () => ({ ...deployParams(), serviceofferingid: '0b0e1e2c-0000-4000-8000-00000000000c' }), code: 431, text: NOT_FOUND('deployvirtualmachine', 'serviceofferingid', '0b0e1e2c-0000-4000-8000-00000000000c') },
      { what: 'an unknown network', params: () => ({ ...deployParams(), networkids: '0b0e1e2c-0000-4000-8000-00000000000d' }), code: 431, text: NOT_FOUND('deployvirtualmachine', 'networkids', '0b0e1e2c-0000-4000-8000-00000000000d') },
      { what: 'a malformed template id', params: () => ({ ...deployParams(), templateid: 'tiny' }), code: 431, text: NOT_FOUND('deployvirtualmachine', 'templateid', 'tiny') },
      { what: 'a missing zone', params: () => ({ serviceofferingid: ids['small'] ?? '', templateid: ids['template'] ?? '' }), code: 431, text: 'Unable to execute API command deployvirtualmachine due to missing parameter zoneid' },
      { what: 'a disabled zone', params: () => ({ ...deployParams(), zoneid: ids['zoneOff'] ?? '' }), code: 531, text: () => `Cannot perform this operation, Zone is currently disabled: ${ids['zoneOff']}` },
      { what: 'a name that is no hostname', params: () => ({ ...deployParams(), name: '9lives' }), code: 431, text: /^Invalid name. Vm name can contain ASCII letters/ },
      { what: 'an unknown key pair', params: () => ({ ...deployParams(), keypair: 'nokey' }), code: 431, text: "A key pair with name 'nokey' was not found." },
      { what: 'affinity ids and names together', params: () => ({ ...deployParams(), affinitygroupids: '0b0e1e2c-0000-4000-8000-00000000000e', affinitygroupnames: 'g' }), code: 431, text: 'affinityGroupIds parameter is mutually exclusive with affinityGroupNames parameter' },
      { what: 'networkids with iptonetworklist', params: () => ({ ...deployParams(), 'iptonetworklist[0].networkid': ids['network'] ?? '' }), code: 431, text: /mutually exclusive/ },
      { what: 'user data that is not base64', params: () => ({ ...deployParams(), userdata: 'not base64!' }), code: 431, text: /not base64 encoded/ },
      { what: 'a host from a user', params: () => ({ ...deployParams(), hostid: '0b0e1e2c-0000-4000-8000-00000000000f' }), code: 531, text: 'hostid may be given by root administrators only' },
      { what: 'a non-numeric custom detail', params: () => ({ ...deployParams(), 'details[0].cpuNumber': 'two' }), code: 431, text: 'details[cpuNumber] must be a whole number, not two' },
      { what: 'a bad boot type', params: () => ({ ...deployParams(), boottype: 'Floppy' }), code: 431, text: /invalid value Floppy for parameter boottype/ },
      { what: 'an address outside the network', params: () => ({ ...deployParams(), ipaddress: '10.1.2.5' }), code: 431, text: () => `ipaddress: 10.1.2.5 is not a guest address of network net-${s} (10.1.1.0/24); use one in 10.1.1.1-10.1.1.254` },
      { what: 'the network\'s gateway as the address', params: () => ({ ...deployParams(), ipaddress: '10.1.1.1' }), code: 431, text: /^ipaddress: 10\.1\.1\.1 is network net-\S+'s gateway; use another address/ },
    ];
    it('refuses an address another VM\'s NIC holds, naming ipaddress', async () => {
      // The record IPAM keeps for the kubectl VM's NIC (the test plays the VM controller).
      const holder = await waitUntil('the kubectl VM', () => vmNamed(`kubectl-${s}`));
      await cloud.resource('IPAddress').create({
        metadata: { name: ipAddressName(ids['network'] ?? '', '10.1.1.10'), labels: { [LABEL_NETWORK_UID]: ids['network'] ?? '', [LABEL_CONSUMER_UID]: holder.metadata.uid ?? '' } },
        spec: { address: '10.1.1.10', purpose: 'Guest', networkRef: { namespace: tenant.namespace, name: `net-${s}` }, consumerRef: { kind: 'VirtualMachine', namespace: tenant.namespace, name: `kubectl-${s}`, uid: holder.metadata.uid, nic: `net-${s}` } },
      });
      const reply = await tenant.client.request('deployVirtualMachine', { ...deployParams(), name: `twin-${s}`, ipaddress: '10.1.1.10' });
      expect(reply.status, reply.text).to.equal(431);
      expect(reply.body['errortext']).to.match(new RegExp(`^ipaddress: 10\\.1\\.1\\.10 is already allocated on network net-${s} by VM kubectl-${s}; choose another address`));
      expect(await vmNamed(`twin-${s}`)).to.equal(undefined);
    });

    for (const c of cases) {
      it(`refuses ${c.what}`, async () => {
        const reply = await tenant.client.request('deployVirtualMachine', c.params());
        expect(reply.status, reply.text).to.equal(c.code);
        if (c.text instanceof RegExp) expect(reply.body['errortext']).to.match(c.text);
        else expect(reply.body['errortext']).to.equal(typeof c.text === 'function' ? c.text() : c.text);
      });
    }
  });
});
