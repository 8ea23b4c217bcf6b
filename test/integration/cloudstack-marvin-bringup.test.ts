import { expect } from 'chai';
import { randomInt } from 'node:crypto';
import { objectName } from '../../cloudstack-api/commands/names.ts';
import type { CloudStackReply } from '../support/cloudstack-client.ts';
import { uniqueName } from '../support/cluster.ts';
import { type InfraCloud, startInfraCloud, waitUntil } from './cloudstack-infra-harness.ts';

/**
 * CloudStack's own zone bring-up, Marvin's deployDataCenter (tools/marvin/marvin/deployDataCenter.py),
 * replayed call for call over HTTP for an advanced KVM zone: createZone, createPhysicalNetwork
 * with its traffic types, configureProviders (listNetworkServiceProviders state=Disabled,
 * listVirtualRouterElements nspid=, configureVirtualRouterElement, updateNetworkServiceProvider),
 * updatePhysicalNetwork, createPod, addCluster, addHost, listHosts, createStoragePool (cluster
 * scope, Marvin sends no scope), createVlanIpRange, addImageStore, updateZone; the look-ups
 * that bring-up tools and the UI make beside it; then DeleteDataCenters' teardown in reverse.
 */

type Row = Record<string, unknown>;
const NOT_FOUND = /due to incorrect long value format, or entity does not exist/;

function ok(reply: CloudStackReply, what: string): Row {
  if (reply.status !== 200) throw new Error(`${what}: HTTP ${reply.status} ${reply.text}`);
  return reply.body;
}

function rows(reply: CloudStackReply, key: string, what: string): Row[] {
  return (ok(reply, what)[key] as Row[] | undefined) ?? [];
}

describe('cloudstack-api: Marvin deployDataCenter bring-up and teardown (real control plane)', function () {
  this.timeout(300_000);
  let cloud: InfraCloud;
  const s = uniqueName('mv').slice(3);
  const mgmt = `172.${randomInt(16, 31)}.${randomInt(0, 255)}`;
  const pub = `203.0.${randomInt(0, 255)}`;
  const ids: Record<string, string> = {};
  const trafficIds: string[] = [];
  const node = `mnode-${s}`;
  let agent: { stop(): void } | undefined;

  const call = (command: string, params: Record<string, string> = {}) => cloud.admin.request(command, params);
  async function job(reply: CloudStackReply, what: string): Promise<Row> {
    const body = ok(reply, what);
    const result = await cloud.admin.waitForJob(body['jobid'] as string, { intervalMs: 250, timeoutMs: 60_000 });
    if (result['jobstatus'] !== 1) throw new Error(`${what}: job failed: ${JSON.stringify(result)}`);
    return result;
  }

  before(async function () {
    this.timeout(600_000);
    cloud = await startInfraCloud('csmarvin');
  });

  after(async function () {
    this.timeout(120_000);
    agent?.stop();
    await cloud?.stop();
  });

  it('createZone, createPhysicalNetwork and addTrafficType for each traffic type', async () => {
    const zone = ok(await call('createZone', { name: `Marvin ${s}`, dns1: '8.8.8.8', internaldns1: '10.0.0.2', networktype: 'Advanced', guestcidraddress: '10.1.1.0/24', securitygroupenabled: 'false', localstorageenabled: 'false' }), 'createZone')['zone'] as Row;
    ids['zone'] = zone['id'] as string;
    const pn = await call('createPhysicalNetwork', { zoneid: ids['zone'], name: `Sandbox-pnet ${s}`, isolationmethods: 'VLAN' });
    ids['pn'] = pn.body['id'] as string;
    await job(pn, 'createPhysicalNetwork');
    for (const [traffictype, kvmnetworklabel] of [['Guest', 'cloudbr1'], ['Management', 'cloudbr0'], ['Public', 'cloudbr0']]) {
      const reply = await call('addTrafficType', { physicalnetworkid: ids['pn'], traffictype: traffictype!, kvmnetworklabel: kvmnetworklabel! });
      trafficIds.push(reply.body['id'] as string);
      await job(reply, `addTrafficType ${traffictype}`);
    }
  });

  it('configureProviders: the VirtualRouter and VpcVirtualRouter elements are found by nspid, configured, and their providers enabled', async () => {
    for (const name of ['VirtualRouter', 'VpcVirtualRouter']) {
      const providers = rows(await call('listNetworkServiceProviders', { physicalnetworkid: ids['pn']!, state: 'Disabled', name }), 'networkserviceprovider', 'listNetworkServiceProviders');
      expect(providers, name).to.have.length(1);
      const nspid = providers[0]!['id'] as string;
      const elements = rows(await call('listVirtualRouterElements', { nspid }), 'virtualrouterelement', 'listVirtualRouterElements');
      expect(elements).to.have.length(1);
      expect(elements[0]).to.deep.include({ nspid, account: 'system', domain: 'ROOT' });
      const vrid = elements[0]!['id'] as string;

      // Off first, to show that the flag is kept: the list and the PhysicalNetwork both say so.
      const off = await job(await call('configureVirtualRouterElement', { id: vrid, enabled: 'false' }), 'configureVirtualRouterElement');
      expect((off['jobresult'] as Row)['virtualrouterelement']).to.deep.include({ id: vrid, nspid, enabled: false });
      expect(rows(await call('listVirtualRouterElements', { id: vrid, enabled: 'false' }), 'virtualrouterelement', 'listVirtualRouterElements')).to.have.length(1);
      const object = await cloud.resource('PhysicalNetwork').get({ name: objectName(`Sandbox-pnet ${s}`) });
      expect((object.spec?.['serviceProviders'] as { name: string; elementEnabled?: boolean }[]).find((p) => p.name === name)?.elementEnabled).to.equal(false);

      const on = await job(await call('configureVirtualRouterElement', { id: vrid, enabled: 'true' }), 'configureVirtualRouterElement');
      expect((on['jobresult'] as Row)['virtualrouterelement']).to.deep.include({ id: vrid, enabled: true });
      const enabled = await job(await call('updateNetworkServiceProvider', { id: nspid, state: 'Enabled' }), 'updateNetworkServiceProvider');
      expect((enabled['jobresult'] as Row)['networkserviceprovider']).to.deep.include({ id: nspid, name, state: 'Enabled' });
    }
    const unknown = await call('listVirtualRouterElements', { nspid: '00000000-0000-4000-8000-000000000001' });
    expect(unknown.status).to.equal(431);
    expect(unknown.body['errortext']).to.match(NOT_FOUND);
    const badId = await call('configureVirtualRouterElement', { id: '00000000-0000-4000-8000-000000000001', enabled: 'true' });
    expect(badId.status).to.equal(431);
    expect(badId.body['errortext']).to.equal(
      'Unable to execute API command configurevirtualrouterelement due to invalid value. Invalid parameter id value=00000000-0000-4000-8000-000000000001 due to incorrect long value format, or entity does not exist or due to incorrect parameter annotation for the field in api cmd class.',
    );
  });

  it('addNetworkServiceProvider and deleteNetworkServiceProvider (Marvin adds the providers a network lacks)', async () => {
    const present = rows(await call('listNetworkServiceProviders', { physicalnetworkid: ids['pn']!, name: 'InternalLbVm' }), 'networkserviceprovider', 'listNetworkServiceProviders');
    expect(present).to.have.length(1);
    await job(await call('deleteNetworkServiceProvider', { id: present[0]!['id'] as string }), 'deleteNetworkServiceProvider');
    expect(ok(await call('listNetworkServiceProviders', { physicalnetworkid: ids['pn']!, name: 'InternalLbVm' }), 'listNetworkServiceProviders')).to.deep.equal({});

    const added = await call('addNetworkServiceProvider', { name: 'InternalLbVm', physicalnetworkid: ids['pn']! });
    expect(Object.keys(added.body).sort()).to.deep.equal(['id', 'jobid']);
    const done = await job(added, 'addNetworkServiceProvider');
    expect((done['jobresult'] as Row)['networkserviceprovider']).to.deep.include({ id: added.body['id'], name: 'InternalLbVm', state: 'Disabled', physicalnetworkid: ids['pn'] });

    const twice = await call('addNetworkServiceProvider', { name: 'VirtualRouter', physicalnetworkid: ids['pn']! });
    expect(twice.status).to.equal(530);
    expect(twice.body['errortext']).to.equal(`The 'VirtualRouter' provider already exists on physical network : ${ids['pn']}`);
    const foreign = await call('addNetworkServiceProvider', { name: 'Netscaler', physicalnetworkid: ids['pn']! });
    expect(foreign.status).to.equal(431);
    expect(foreign.body['errortext']).to.equal('Invalid Network Service Provider=Netscaler');
    const noNetwork = await call('addNetworkServiceProvider', { name: 'InternalLbVm', physicalnetworkid: '00000000-0000-4000-8000-000000000002' });
    expect(noNetwork.status).to.equal(431);
    expect(noNetwork.body['errortext']).to.match(NOT_FOUND);
    const gone = await call('deleteNetworkServiceProvider', { id: '00000000-0000-4000-8000-000000000003' });
    expect(gone.status).to.equal(431);
  });

  it('updatePhysicalNetwork, createPod, addCluster, addHost until Up, createStoragePool without scope, createVlanIpRange, addImageStore, updateZone', async () => {
    await job(await call('updatePhysicalNetwork', { id: ids['pn']!, state: 'Enabled', vlan: '3100-3199' }), 'updatePhysicalNetwork');
    const pod = ok(await call('createPod', { name: `pod-${s}`, zoneid: ids['zone']!, gateway: `${mgmt}.1`, netmask: '255.255.255.0', startip: `${mgmt}.10`, endip: `${mgmt}.20` }), 'createPod')['pod'] as Row;
    ids['pod'] = pod['id'] as string;
    const cluster = rows(await call('addCluster', { clustername: `C0 ${s}`, clustertype: 'CloudManaged', hypervisor: 'KVM', podid: ids['pod'], zoneid: ids['zone']! }), 'cluster', 'addCluster')[0]!;
    ids['cluster'] = cluster['id'] as string;
    const host = rows(await call('addHost', { clusterid: ids['cluster'], hosttags: `ssd-${s}`, hypervisor: 'KVM', password: 'password', podid: ids['pod'], url: `http://${node}`, username: 'root', zoneid: ids['zone']! }), 'host', 'addHost')[0]!;
    ids['host'] = host['id'] as string;
    agent = await cloud.playAgent(node, node, ['cloudbr0', 'cloudbr1']);
    await waitUntil('the host Up', async () => (rows(await call('listHosts', { clusterid: ids['cluster']!, zoneid: ids['zone']! }), 'host', 'listHosts')[0]?.['state'] === 'Up' ? true : undefined));
    const pool = ok(await call('createStoragePool', { name: `PS0 ${s}`, tags: `gold-${s}`, url: `nfs://10.0.0.5/marvin/${s}`, podid: ids['pod'], clusterid: ids['cluster'], zoneid: ids['zone']! }), 'createStoragePool')['storagepool'] as Row;
    expect(pool).to.deep.include({ scope: 'CLUSTER', clusterid: ids['cluster'] });
    ids['pool'] = pool['id'] as string;
    const vlan = ok(await call('createVlanIpRange', { zoneid: ids['zone']!, vlan: '100', gateway: `${pub}.1`, netmask: '255.255.255.0', startip: `${pub}.10`, endip: `${pub}.20`, forvirtualnetwork: 'true' }), 'createVlanIpRange')['vlan'] as Row;
    ids['vlan'] = vlan['id'] as string;
    const store = ok(await call('addImageStore', { url: `nfs://10.0.0.5/marvin-secondary/${s}`, provider: 'NFS', zoneid: ids['zone']! }), 'addImageStore')['imagestore'] as Row;
    ids['store'] = store['id'] as string;
    expect((ok(await call('updateZone', { id: ids['zone']!, allocationstate: 'Enabled' }), 'updateZone')['zone'] as Row)['allocationstate']).to.equal('Enabled');
  });

  it('answers the look-ups beside the bring-up: storage providers, planners, hypervisor capabilities, host and storage tags, traffic type implementors', async () => {
    expect(rows(await call('listStorageProviders', { type: 'primary' }), 'dataStoreProvider', 'listStorageProviders')).to.deep.equal([{ name: 'DefaultPrimary', type: 'primary' }]);
    expect(rows(await call('listStorageProviders', { type: 'image' }), 'dataStoreProvider', 'listStorageProviders')).to.deep.equal([{ name: 'NFS', type: 'image' }]);
    const badType = await call('listStorageProviders', { type: 'tape' });
    expect([badType.status, badType.body['errortext']]).to.deep.equal([431, 'Invalid parameter: tape']);
    const missingType = await call('listStorageProviders', {});
    expect([missingType.status, missingType.body['errortext']]).to.deep.equal([431, 'Unable to execute API command liststorageproviders due to missing parameter type']);

    expect(rows(await call('listDeploymentPlanners'), 'deploymentplanner', 'listDeploymentPlanners').map((r) => r['name'])).to.deep.equal(['FirstFitPlanner', 'UserDispersingPlanner', 'UserConcentratedPodPlanner']);

    const kvm = rows(await call('listHypervisorCapabilities', { hypervisor: 'KVM' }), 'hypervisorCapabilities', 'listHypervisorCapabilities');
    expect(kvm).to.have.length(1);
    expect(kvm[0]).to.deep.include({ hypervisor: 'KVM', hypervisorversion: 'default', maxguestslimit: 50, maxdatavolumeslimit: 24, securitygroupenabled: false });
    expect(rows(await call('listHypervisorCapabilities', { id: kvm[0]!['id'] as string }), 'hypervisorCapabilities', 'listHypervisorCapabilities')).to.have.length(1);
    expect(ok(await call('listHypervisorCapabilities', { hypervisor: 'XenServer' }), 'listHypervisorCapabilities')).to.deep.equal({});
    expect((await call('listHypervisorCapabilities', { id: '00000000-0000-4000-8000-000000000004' })).status).to.equal(431);

    const hostTags = rows(await call('listHostTags', { keyword: s }), 'hosttag', 'listHostTags');
    expect(hostTags.map((t) => t['name'])).to.deep.equal([`ssd-${s}`]);
    expect(hostTags[0]).to.have.property('isimplicit', false);
    expect(rows(await call('listStorageTags', { keyword: s }), 'storagetag', 'listStorageTags').map((t) => t['name'])).to.deep.equal([`gold-${s}`]);

    const implementors = rows(await call('listTrafficTypeImplementors'), 'traffictypeimplementorresponse', 'listTrafficTypeImplementors');
    expect(implementors.map((r) => r['traffictype'])).to.deep.equal(['Guest', 'Public', 'Management', 'Storage']);
    expect(rows(await call('listTrafficTypeImplementors', { traffictype: 'guest' }), 'traffictypeimplementorresponse', 'listTrafficTypeImplementors')).to.have.length(1);
    const badTraffic = await call('listTrafficTypeImplementors', { traffictype: 'Control-plane' });
    expect([badTraffic.status, badTraffic.body['errortext']]).to.deep.equal([431, 'Unable to find traffic type Control-plane']);
  });

  it('getUser finds the user behind an API key; listDomainChildren walks the domain tree; tenants may call neither', async () => {
    const admin = ok(await call('getUser', { userapikey: cloud.credentials.apiKey }), 'getUser')['user'] as Row;
    expect(admin).to.deep.include({ username: 'admin', account: 'admin', apikey: cloud.credentials.apiKey, accounttype: 1 });
    const unknown = await call('getUser', { userapikey: 'no-such-key' });
    expect([unknown.status, unknown.body['errortext'], unknown.body['cserrorcode']]).to.deep.equal([431, 'User with specified API key does not exist', 4350]);

    const tenant = await cloud.tenant('mvt');
    const root = rows(await call('listDomains', { name: 'ROOT' }), 'domain', 'listDomains')[0]!;
    const children = rows(await call('listDomainChildren', { id: root['id'] as string }), 'domain', 'listDomainChildren');
    const child = children.find((d) => d['name'] === tenant.account);
    expect(child).to.deep.include({ parentdomainid: root['id'], parentdomainname: 'ROOT', level: 1, haschild: false, path: `ROOT/${tenant.account}` });
    const grandchild = ok(await call('createDomain', { name: `below ${s}`, parentdomainid: child!['id'] as string }), 'createDomain')['domain'] as Row;
    const direct = rows(await call('listDomainChildren', { id: root['id'] as string, keyword: tenant.account }), 'domain', 'listDomainChildren');
    expect(direct.map((d) => d['id'])).to.deep.equal([child!['id']]);
    const recursive = rows(await call('listDomainChildren', { id: root['id'] as string, isrecursive: 'true', keyword: s }), 'domain', 'listDomainChildren');
    expect(recursive.map((d) => d['id'])).to.include(grandchild['id']);
    expect((await call('listDomainChildren', { id: '00000000-0000-4000-8000-000000000005' })).status).to.equal(431);

    for (const command of ['listDomainChildren', 'listHostTags']) {
      const refused = await tenant.client.request(command, {});
      expect([refused.status, refused.body['errortext']], command).to.deep.equal([401, `The given command '${command}' either does not exist, is not available for user.`]);
    }
    const ownKey = await tenant.client.request('getUser', { userapikey: cloud.credentials.apiKey });
    expect([ownKey.status, ownKey.body['errortext']]).to.deep.equal([431, 'User with specified API key does not exist']);
    await job(await call('deleteDomain', { id: grandchild['id'] as string }), 'deleteDomain');
  });

  it('DeleteDataCenters: tears the zone down in reverse order, hosts and pools through maintenance', async () => {
    ok(await call('deleteImageStore', { id: ids['store']! }), 'deleteImageStore');
    ok(await call('deleteVlanIpRange', { id: ids['vlan']! }), 'deleteVlanIpRange');
    await job(await call('enableStorageMaintenance', { id: ids['pool']! }), 'enableStorageMaintenance');
    ok(await call('deleteStoragePool', { id: ids['pool']!, forced: 'true' }), 'deleteStoragePool');
    await job(await call('prepareHostForMaintenance', { id: ids['host']! }), 'prepareHostForMaintenance');
    await waitUntil('the host in Maintenance', async () => (rows(await call('listHosts', { id: ids['host']! }), 'host', 'listHosts')[0]?.['resourcestate'] === 'Maintenance' ? true : undefined));
    ok(await call('deleteHost', { id: ids['host']!, forced: 'true', forcedestroylocalstorage: 'true' }), 'deleteHost');
    agent?.stop();
    agent = undefined;
    await waitUntil('host and pool gone', async () =>
      ok(await call('listHosts', { clusterid: ids['cluster']! }), 'listHosts')['count'] === undefined && ok(await call('listStoragePools', { zoneid: ids['zone']! }), 'listStoragePools')['count'] === undefined ? true : undefined,
    );
    ok(await call('deleteCluster', { id: ids['cluster']! }), 'deleteCluster');
    await waitUntil('the cluster gone', async () => (ok(await call('listClusters', { zoneid: ids['zone']! }), 'listClusters')['count'] === undefined ? true : undefined));
    ok(await call('deletePod', { id: ids['pod']! }), 'deletePod');
    for (const id of trafficIds.reverse()) await job(await call('deleteTrafficType', { id }), 'deleteTrafficType');
    await job(await call('deletePhysicalNetwork', { id: ids['pn']! }), 'deletePhysicalNetwork');
    await waitUntil('the pod and physical network gone', async () =>
      ok(await call('listPods', { zoneid: ids['zone']! }), 'listPods')['count'] === undefined && ok(await call('listPhysicalNetworks', { zoneid: ids['zone']! }), 'listPhysicalNetworks')['count'] === undefined ? true : undefined,
    );
    expect(ok(await call('deleteZone', { id: ids['zone']! }), 'deleteZone')).to.deep.equal({ success: true });
    await waitUntil('the zone gone', async () => (ok(await call('listZones', { keyword: s }), 'listZones')['count'] === undefined ? true : undefined));
  });
});
