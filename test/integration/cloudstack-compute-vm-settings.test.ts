import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PUBLIC_NAMESPACE } from '../../lib/identity.ts';
import type { CloudStackClient } from '../support/cloudstack-client.ts';
import { uniqueName } from '../support/cluster.ts';
import { type InfraCloud, type Obj, settleVm, startInfraCloud, waitUntil } from './cloudstack-infra-harness.ts';

/**
 * What a VM is given after deploy, through the API over the real control plane: generated key
 * pairs, registered user data, SSH key and user data resets, affinity groups, instance groups,
 * NICs added, removed and made default, and listVirtualMachines' details= subsets. Each change
 * is the VM object's spec, which kubectl shows; the test plays the operator and agent (writing
 * VM status as they would) and the AsyncJob controller is the real one.
 */

const run = promisify(execFile);
type Vm = Obj & { metadata: { generation?: number }; spec: Record<string, unknown> };
type Row = Record<string, unknown>;

const NOT_FOUND = (label: string, param: string, id: string) =>
  `Unable to execute API command ${label} due to invalid value. Invalid parameter ${param} value=${id} due to incorrect long value format, or entity does not exist or due to incorrect parameter annotation for the field in api cmd class.`;
const CLOUD_CONFIG = Buffer.from('#cloud-config\nruncmd: [echo {{ role }}]\n').toString('base64');

describe('cloudstack-api: what a VM is given after deploy (real control plane)', function () {
  this.timeout(300_000);
  let cloud: InfraCloud;
  let tenant: { client: CloudStackClient; namespace: string; account: string };
  let other: { client: CloudStackClient; namespace: string; account: string };
  const s = uniqueName('vms').slice(4);
  const ids: Record<string, string> = {};

  const vms = () => cloud.resource('VirtualMachine');
  const vmNamed = async (name: string) => (await vms().get({ namespace: tenant.namespace, name })) as Vm;
  const rowOf = async (id: string, params: Record<string, string> = {}) => ((await tenant.client.request('listVirtualMachines', { id, ...params })).body['virtualmachine'] as Row[] | undefined)?.[0];

  /** Plays the operator and agent: `state` at the VM's current generation, with NICs as spec.networks asks. */
  async function settle(name: string, state: string): Promise<void> {
    const vm = await vmNamed(name);
    const networks = (vm.spec['networks'] as { name: string; default?: boolean }[] | undefined) ?? [];
    await settleVm(cloud.kube, vm, state, {
      placement: { zone: `z-${s}`, pod: `p-${s}`, cluster: `c-${s}`, host: `h-${s}` },
      nics: networks.map((n, i) => ({ network: n.name, deviceId: i, isDefault: n.default ?? false, ipAddress: `10.4.${i + 1}.10`, netmask: '255.255.255.0', gateway: `10.4.${i + 1}.1`, macAddress: `02:00:00:00:0${i}:10` })),
    });
  }

  /** Submits `command`, plays the VM into `state` once its spec moved past the generation before, and returns the finished job. */
  async function jobOn(name: string, state: string, command: string, params: Record<string, string>, client = tenant.client): Promise<Row> {
    const before = (await vmNamed(name)).metadata.generation ?? 0;
    const reply = await client.request(command, params);
    expect(reply.status, reply.text).to.equal(200);
    await waitUntil(`VM ${name} past generation ${before}`, async () => (((await vmNamed(name)).metadata.generation ?? 0) > before ? true : undefined));
    await settle(name, state);
    return client.waitForJob(reply.body['jobid'] as string, { intervalMs: 250, timeoutMs: 60_000 });
  }

  before(async function () {
    this.timeout(240_000);
    cloud = await startInfraCloud('csvmset');
    const make = async (kind: string, name: string, spec: Record<string, unknown>, namespace?: string) => cloud.resource(kind).create({ metadata: { name, ...(namespace ? { namespace } : {}) }, spec });
    ids['zone'] = (await make('Zone', `z-${s}`, { displayName: `Zone ${s}`, networkType: 'Advanced', dns1: '8.8.8.8', internalDns1: '10.0.0.2', guestCidr: '10.4.0.0/16', allocationState: 'Enabled' })).metadata.uid ?? '';
    ids['small'] = (await make('ServiceOffering', `small-${s}`, { displayName: `Small ${s}`, cpuNumber: 1, cpuSpeed: 1000, memory: '512Mi' })).metadata.uid ?? '';
    await make('NetworkOffering', `iso-${s}`, { guestIpType: 'Isolated' });
    await cloud.kube.resource({ group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false }).create({ metadata: { name: PUBLIC_NAMESPACE } }).catch(() => undefined);
    const template = await make('Template', `tiny-${s}`, { displayName: `Tiny ${s}`, url: 'file:///var/lib/kumulus/tiny.qcow2', format: 'QCOW2', zoneRefs: [{ name: `z-${s}` }], isPublic: true }, PUBLIC_NAMESPACE);
    await cloud.resource('Template').patchStatus({ namespace: PUBLIC_NAMESPACE, name: template.metadata.name ?? '' }, { status: { state: 'Active', isReady: true, zones: [{ zone: `z-${s}`, downloadState: 'DOWNLOADED', downloadPercent: 100, sizeBytes: 1 << 30 }] } });
    ids['template'] = template.metadata.uid ?? '';
    tenant = await cloud.tenant('vmst');
    other = await cloud.tenant('vmso');
    for (const [i, net] of ['a', 'b', 'c'].entries()) {
      ids[`net-${net}`] = (await make('Network', `net${net}-${s}`, { displayName: `Net ${net} ${s}`, networkOfferingRef: { name: `iso-${s}` }, zoneRef: { name: `z-${s}` }, cidr: `10.4.${i + 1}.0/24` }, tenant.namespace)).metadata.uid ?? '';
    }
    ids['othernet'] = (await make('Network', `theirs-${s}`, { networkOfferingRef: { name: `iso-${s}` }, zoneRef: { name: `z-${s}` } }, other.namespace)).metadata.uid ?? '';
    ids['group'] = (await make('AffinityGroup', `spread-${s}`, { displayName: `spread-${s}`, type: 'host anti-affinity' }, tenant.namespace)).metadata.uid ?? '';
    await waitUntil('the API caches', async () => ((await tenant.client.request('listNetworks', { id: ids['net-b'] ?? '' })).body['count'] === 1 ? true : undefined));
  });

  after(async () => {
    await cloud?.stop();
  });

  it('creates an SSH key pair in the API process: the private key once, the public key in the SSHKeyPair', async () => {
    const reply = await tenant.client.request('createSSHKeyPair', { name: `gen-${s}` });
    expect(reply.status, reply.text).to.equal(200);
    const pair = reply.body['keypair'] as Row;
    expect(pair).to.include({ name: `gen-${s}`, account: tenant.account });
    expect(pair['privatekey']).to.match(/^-----BEGIN RSA PRIVATE KEY-----\n/);
    expect(pair['fingerprint']).to.match(/^([0-9a-f]{2}:){15}[0-9a-f]{2}$/);
    const object = (await cloud.resource('SSHKeyPair').list({ namespace: tenant.namespace })).items.find((k) => k.spec?.['displayName'] === `gen-${s}`);
    // The stored public key is the private key's: ssh-keygen derives it from what the caller received.
    const dir = await mkdtemp(join(tmpdir(), 'kumulus-key-'));
    try {
      await writeFile(join(dir, 'id'), pair['privatekey'] as string, { mode: 0o600 });
      const { stdout } = await run('ssh-keygen', ['-y', '-f', join(dir, 'id')]);
      expect(stdout.trim().split(' ')[1]).to.equal((object?.spec?.['publicKey'] as string).split(' ')[1]);
      const { stdout: md5 } = await run('ssh-keygen', ['-l', '-E', 'md5', '-f', join(dir, 'id')]);
      expect(md5).to.include(`MD5:${pair['fingerprint'] as string}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    // Listed without the private key; the name is taken.
    const listed = ((await tenant.client.request('listSSHKeyPairs', { name: `gen-${s}` })).body['sshkeypair'] as Row[])[0];
    expect(listed).to.not.have.property('privatekey');
    expect(listed?.['fingerprint']).to.equal(pair['fingerprint']);
    expect((await tenant.client.request('createSSHKeyPair', { name: `gen-${s}` })).body['errortext']).to.equal(`A key pair with name 'gen-${s}' already exists.`);
  });

  it('registers user data, deploys with it (a copy in spec.userData) and refuses to delete it while linked', async () => {
    const registered = await tenant.client.request('registerUserData', { name: `web-init-${s}`, userdata: CLOUD_CONFIG, params: 'role' });
    expect(registered.status, registered.text).to.equal(200);
    const userData = registered.body['userdata'] as Row;
    expect(userData).to.include({ name: `web-init-${s}`, userdata: CLOUD_CONFIG, params: 'role', account: tenant.account });
    ids['userdata'] = userData['id'] as string;
    expect((await tenant.client.request('listUserData', { name: `web-init-${s}` })).body['count']).to.equal(1);
    expect((await other.client.request('listUserData', {})).body).to.deep.equal({});

    const deploy = await tenant.client.request('deployVirtualMachine', {
      zoneid: ids['zone'] ?? '',
      serviceofferingid: ids['small'] ?? '',
      templateid: ids['template'] ?? '',
      networkids: ids['net-a'] ?? '',
      name: `app-${s}`,
      userdataid: ids['userdata'] ?? '',
      'userdatadetails[0].role': 'web',
      group: `Web tier ${s}`,
      startvm: 'false',
    });
    expect(deploy.status, deploy.text).to.equal(200);
    ids['vm'] = deploy.body['id'] as string;
    const vm = await vmNamed(`app-${s}`);
    expect(vm.spec['userData']).to.equal(CLOUD_CONFIG);
    expect(vm.spec['group']).to.equal(`Web tier ${s}`);
    await settle(`app-${s}`, 'Stopped');
    const done = await tenant.client.waitForJob(deploy.body['jobid'] as string, { intervalMs: 250, timeoutMs: 60_000 });
    expect((done['jobresult'] as { virtualmachine: Row }).virtualmachine).to.include({ userdataid: ids['userdata'], userdataname: `web-init-${s}`, userdatadetails: '{role=web}', group: `Web tier ${s}` });
    const data = await tenant.client.request('getVirtualMachineUserData', { virtualmachineid: ids['vm'] ?? '' });
    expect(data.body['virtualmachineuserdata']).to.deep.equal({ virtualmachineid: ids['vm'], userdata: CLOUD_CONFIG });
    expect((await tenant.client.request('listVirtualMachines', { userdataid: ids['userdata'] ?? '' })).body['count']).to.equal(1);

    const linked = await tenant.client.request('deleteUserData', { id: ids['userdata'] ?? '' });
    expect(linked.status).to.equal(536);
    expect(linked.body['errortext']).to.equal(`Userdata web-init-${s} is linked to 1 VM(s) (app-${s}); reset their user data first`);
  });

  it('resets user data and the SSH key of a Stopped VM only', async () => {
    const plain = Buffer.from('#!/bin/sh\necho hi\n').toString('base64');
    const reset = await tenant.client.request('resetUserDataForVirtualMachine', { id: ids['vm'] ?? '', userdata: plain });
    expect(reset.status, reset.text).to.equal(200);
    expect(reset.body['virtualmachine']).to.include({ userdata: plain }).and.not.have.property('userdataid');
    expect((await vmNamed(`app-${s}`)).spec['userData']).to.equal(plain);
    expect((await tenant.client.request('deleteUserData', { id: ids['userdata'] ?? '' })).body).to.deep.equal({ success: true });

    const job = await jobOn(`app-${s}`, 'Stopped', 'resetSSHKeyForVirtualMachine', { id: ids['vm'] ?? '', keypair: `gen-${s}` });
    expect(job['jobstatus'], JSON.stringify(job)).to.equal(1);
    expect((job['jobresult'] as { virtualmachine: Row }).virtualmachine['keypairs']).to.equal(`gen-${s}`);
    expect((await vmNamed(`app-${s}`)).spec['sshKeyPairRef']).to.deep.equal({ name: `gen-${s}` });

    await jobOn(`app-${s}`, 'Running', 'startVirtualMachine', { id: ids['vm'] ?? '' });
    const running = await tenant.client.request('resetSSHKeyForVirtualMachine', { id: ids['vm'] ?? '', keypair: `gen-${s}` });
    expect(running.status).to.equal(431);
    expect(running.body['errortext']).to.match(/^Vm VM instance \{"instanceName":"i-[0-9a-f]{8}","type":"User","uuid":"[0-9a-f-]{36}"\} should be stopped to do SSH Key reset$/);
    const runningData = await tenant.client.request('resetUserDataForVirtualMachine', { id: ids['vm'] ?? '', userdata: plain });
    expect(runningData.body['errortext']).to.match(/should be stopped to do UserData reset$/);
    await jobOn(`app-${s}`, 'Stopped', 'stopVirtualMachine', { id: ids['vm'] ?? '' });
  });

  it('changes the affinity groups of a Stopped VM (legacy envelope), and clears them', async () => {
    const reply = await tenant.client.request('updateVMAffinityGroup', { id: ids['vm'] ?? '', affinitygroupids: ids['group'] ?? '' });
    expect(reply.envelope).to.equal('updatevirtualmachineresponse');
    await settle(`app-${s}`, 'Stopped');
    const job = await tenant.client.waitForJob(reply.body['jobid'] as string, { intervalMs: 250, timeoutMs: 60_000 });
    expect(((job['jobresult'] as { virtualmachine: Row }).virtualmachine['affinitygroup'] as Row[]).map((g) => g['id'])).to.deep.equal([ids['group']]);
    expect((await vmNamed(`app-${s}`)).spec['affinityGroupRefs']).to.deep.equal([{ name: `spread-${s}` }]);
    await jobOn(`app-${s}`, 'Stopped', 'updateVMAffinityGroup', { id: ids['vm'] ?? '', affinitygroupids: '' });
    expect((await vmNamed(`app-${s}`)).spec).to.not.have.property('affinityGroupRefs');
  });

  it('keeps instance groups: created by deploy, listed, shown on the VM, renamed and deleted with their members', async () => {
    const listed = (await tenant.client.request('listInstanceGroups', {})).body['instancegroup'] as Row[];
    expect(listed.map((g) => g['name'])).to.deep.equal([`Web tier ${s}`]);
    const groupId = listed[0]?.['id'] as string;
    expect(await rowOf(ids['vm'] ?? '')).to.include({ group: `Web tier ${s}`, groupid: groupId });
    expect((await tenant.client.request('listVirtualMachines', { groupid: groupId })).body['count']).to.equal(1);
    const created = await tenant.client.request('createInstanceGroup', { name: `Spare ${s}` });
    expect(created.body['instancegroup']).to.include({ name: `Spare ${s}`, account: tenant.account });
    expect((await tenant.client.request('createInstanceGroup', { name: `Spare ${s}` })).body['errortext']).to.equal(`Unable to create vm group, a group with name Spare ${s} already exists for account ${tenant.account}`);
    expect((await other.client.request('listInstanceGroups', {})).body).to.deep.equal({});

    const renamed = await tenant.client.request('updateInstanceGroup', { id: groupId, name: `Front ${s}` });
    expect(renamed.body['instancegroup']).to.include({ id: groupId, name: `Front ${s}` });
    expect((await vmNamed(`app-${s}`)).spec['group']).to.equal(`Front ${s}`);
    expect(await rowOf(ids['vm'] ?? '')).to.include({ group: `Front ${s}`, groupid: groupId });

    expect((await tenant.client.request('deleteInstanceGroup', { id: groupId })).body).to.deep.equal({ success: true });
    expect((await vmNamed(`app-${s}`)).spec).to.not.have.property('group');
    expect(await rowOf(ids['vm'] ?? '')).to.not.have.property('groupid');
    const theirs = await other.client.request('deleteInstanceGroup', { id: created.body['instancegroup'] ? ((created.body['instancegroup'] as Row)['id'] as string) : '' });
    expect(theirs.body['errortext']).to.equal(NOT_FOUND('deleteinstancegroup', 'id', (created.body['instancegroup'] as Row)['id'] as string));
  });

  it('adds a NIC, refuses to remove the default one, moves the default and removes the other', async () => {
    const added = await jobOn(`app-${s}`, 'Stopped', 'addNicToVirtualMachine', { virtualmachineid: ids['vm'] ?? '', networkid: ids['net-b'] ?? '', ipaddress: '10.4.2.20' });
    expect(added['jobstatus'], JSON.stringify(added)).to.equal(1);
    const nics = (added['jobresult'] as { virtualmachine: Row }).virtualmachine['nic'] as Row[];
    expect(nics.map((n) => [n['networkid'], n['isdefault'], n['deviceid']])).to.deep.equal([
      [ids['net-a'], true, '0'],
      [ids['net-b'], false, '1'],
    ]);
    expect((await vmNamed(`app-${s}`)).spec['networks']).to.deep.equal([
      { name: `neta-${s}`, default: true },
      { name: `netb-${s}`, ipAddress: '10.4.2.20', default: false },
    ]);
    const twice = await tenant.client.request('addNicToVirtualMachine', { virtualmachineid: ids['vm'] ?? '', networkid: ids['net-b'] ?? '' });
    expect(twice.status).to.equal(530);
    const theirs = await tenant.client.request('addNicToVirtualMachine', { virtualmachineid: ids['vm'] ?? '', networkid: ids['othernet'] ?? '' });
    expect(theirs.body['errortext']).to.equal(NOT_FOUND('addnictovirtualmachine', 'networkid', ids['othernet'] ?? ''));

    const nicReply = await tenant.client.request('listNics', { virtualmachineid: ids['vm'] ?? '' });
    expect(nicReply.status, nicReply.text).to.equal(200);
    const listed = nicReply.body['nic'] as Row[];
    expect(listed, nicReply.text).to.have.length(2);
    const [first, second] = listed;
    const removeDefault = await tenant.client.request('removeNicFromVirtualMachine', { virtualmachineid: ids['vm'] ?? '', nicid: first?.['id'] as string });
    expect(removeDefault.status).to.equal(431);
    expect(removeDefault.body['errortext']).to.match(/^Unable to remove nic from VM instance .* in Network \{"name":"Net a .*","uuid":".*"\}, nic is default\.$/);

    const moved = await jobOn(`app-${s}`, 'Stopped', 'updateDefaultNicForVirtualMachine', { virtualmachineid: ids['vm'] ?? '', nicid: second?.['id'] as string });
    expect(((moved['jobresult'] as { virtualmachine: Row }).virtualmachine['nic'] as Row[]).map((n) => n['isdefault'])).to.deep.equal([false, true]);
    // A CloudRuntimeException in CloudStack: 530, its text for the root admin only.
    const already = await tenant.client.request('updateDefaultNicForVirtualMachine', { virtualmachineid: ids['vm'] ?? '', nicid: second?.['id'] as string });
    expect([already.status, already.body['errortext']]).to.deep.equal([530, 'Internal error executing command, please contact your system administrator']);
    const alreadyAdmin = await cloud.admin.request('updateDefaultNicForVirtualMachine', { virtualmachineid: ids['vm'] ?? '', nicid: second?.['id'] as string });
    expect([alreadyAdmin.status, alreadyAdmin.body['errortext']]).to.deep.equal([530, 'refusing to set default nic because chosen nic is already the default']);

    const removed = await jobOn(`app-${s}`, 'Stopped', 'removeNicFromVirtualMachine', { virtualmachineid: ids['vm'] ?? '', nicid: first?.['id'] as string });
    expect(((removed['jobresult'] as { virtualmachine: Row }).virtualmachine['nic'] as Row[]).map((n) => n['networkid'])).to.deep.equal([ids['net-b']]);
    const unknown = await tenant.client.request('removeNicFromVirtualMachine', { virtualmachineid: ids['vm'] ?? '', nicid: first?.['id'] as string });
    expect(unknown.body['errortext']).to.equal(NOT_FOUND('removenicfromvirtualmachine', 'nicid', first?.['id'] as string));
  });

  it('answers listVirtualMachines details= with only the groups of fields asked for', async () => {
    const all = await rowOf(ids['vm'] ?? '');
    expect(all).to.include.keys('nic', 'templateid', 'serviceofferingid', 'affinitygroup', 'cpunumber');
    const min = await rowOf(ids['vm'] ?? '', { details: 'min' });
    expect(min).to.include({ id: ids['vm'], name: `app-${s}`, state: 'Stopped', zoneid: ids['zone'] });
    expect(min).to.not.have.any.keys('nic', 'templateid', 'serviceofferingid', 'affinitygroup', 'cpunumber', 'group');
    const some = await rowOf(ids['vm'] ?? '', { details: 'tmpl,nics' });
    expect(some).to.include({ templateid: ids['template'] });
    expect(some).to.include.keys('nic');
    expect(some).to.not.have.any.keys('serviceofferingid', 'affinitygroup', 'cpunumber');
    const bad = await tenant.client.request('listVirtualMachines', { details: 'everything' });
    expect(bad.status).to.equal(431);
    expect(bad.body['errortext']).to.equal('The details parameter contains a non permitted value. The allowed values are [all, group, nics, stats, secgrp, tmpl, servoff, diskoff, backoff, iso, volume, min, affgrp]');
  });

  const refusals: { what: string; command: string; params: () => Record<string, string>; code: number; text: string | RegExp | (() => string) }[] = [
    { what: 'a reset without a key pair', command: 'resetSSHKeyForVirtualMachine', params: () => ({ id: ids['vm'] ?? '' }), code: 431, text: "'keypair' or 'keyparis' must be specified" },
    { what: 'a reset with an unknown key pair', command: 'resetSSHKeyForVirtualMachine', params: () => ({ id: ids['vm'] ?? '', keypair: 'nokey' }), code: 431, text: 'Not all specified keyparis exist' },
    { what: 'user data and a user data id together', command: 'resetUserDataForVirtualMachine', params: () => ({ id: ids['vm'] ?? '', userdata: CLOUD_CONFIG, userdataid: ids['vm'] ?? '' }), code: 431, text: 'Both userdata and userdata ID inputs are not allowed, please provide only one' },
    { what: 'an unknown user data id', command: 'resetUserDataForVirtualMachine', params: () => ({ id: ids['vm'] ?? '', userdataid: ids['vm'] ?? '' }), code: 431, text: () => NOT_FOUND('resetuserdataforvirtualmachine', 'userdataid', ids['vm'] ?? '') },
    { what: 'user data that is not base64', command: 'registerUserData', params: () => ({ name: 'bad', userdata: 'not base64!' }), code: 431, text: 'User data is not base64 encoded: encode it (base64) before sending it' },
    { what: 'a parameter that is no variable name', command: 'registerUserData', params: () => ({ name: 'bad', userdata: CLOUD_CONFIG, params: 'my role' }), code: 431, text: "Userdata parameter my role is not a variable name: use letters, digits, '_', '.' and '-'" },
    { what: 'an unknown affinity group name', command: 'updateVMAffinityGroup', params: () => ({ id: ids['vm'] ?? '', affinitygroupnames: 'nogroup' }), code: 431, text: 'Unable to find affinity group by name nogroup' },
    { what: 'an address that is no IPv4 address', command: 'addNicToVirtualMachine', params: () => ({ virtualmachineid: ids['vm'] ?? '', networkid: ids['net-c'] ?? '', ipaddress: '10.4.1' }), code: 431, text: 'Invalid format for IP address parameter: 10.4.1' },
    { what: 'another tenant\'s VM for getVirtualMachineUserData', command: 'getVirtualMachineUserData', params: () => ({ virtualmachineid: ids['vm'] ?? '' }), code: 431, text: () => NOT_FOUND('getvirtualmachineuserdata', 'virtualmachineid', ids['vm'] ?? '') },
  ];
  for (const c of refusals) {
    it(`refuses ${c.what}`, async () => {
      const client = c.command === 'getVirtualMachineUserData' ? other.client : tenant.client;
      const reply = await client.request(c.command, c.params());
      expect(reply.status, reply.text).to.equal(c.code);
      const text = typeof c.text === 'function' ? c.text() : c.text;
      if (text instanceof RegExp) expect(reply.body['errortext']).to.match(text);
      else expect(reply.body['errortext']).to.equal(text);
    });
  }
});
