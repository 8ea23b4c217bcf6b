import { expect } from 'chai';
import { randomInt } from 'node:crypto';
import { objectName } from '../../cloudstack-api/commands/names.ts';
import { isNotFound } from '../../lib/kube-client.ts';
import type { CloudStackReply } from '../support/cloudstack-client.ts';
import { uniqueName } from '../support/cluster.ts';
import { type InfraCloud, type Obj, startInfraCloud, waitUntil } from './cloudstack-infra-harness.ts';

/**
 * The zone bring-up of PROTOCOL.md §9, driven over HTTP by the client written from the
 * specification, in Marvin's order, against the real apiserver, webhooks and controllers;
 * then the objects seen through Kubernetes: ids are uids, names round-trip both ways. Then
 * maintenance as async jobs, and the teardown through the API.
 */

type Row = Record<string, unknown>;

function ok(reply: CloudStackReply, what: string): Row {
  if (reply.status !== 200) throw new Error(`${what}: HTTP ${reply.status} ${reply.text}`);
  return reply.body;
}

function only(reply: CloudStackReply, key: string, what: string): Row {
  const body = ok(reply, what);
  const rows = body[key] as Row[] | undefined;
  if (body['count'] !== 1 || rows?.length !== 1) throw new Error(`${what}: expected one ${key}, got ${reply.text}`);
  return rows[0]!;
}

describe('cloudstack-api: zone bring-up over HTTP (real control plane)', function () {
  this.timeout(300_000);
  let cloud: InfraCloud;
  const s = uniqueName('bu').slice(3);
  const mgmt = `172.${randomInt(16, 31)}.${randomInt(0, 255)}`;
  const pub = `198.51.${randomInt(0, 255)}`;
  const ids: Record<string, string> = {};
  const names = { zone: `Zone ${s} (test)`, pn: `Physical ${s}`, pod: `pod-${s}`, cluster: `Cluster ${s}`, node: `node-${s}`, pool: `primary ${s}`, store: `secondary ${s}` };
  let agent: { stop(): void } | undefined;
  let previousExpungeDelay: string | undefined;

  const call = (command: string, params: Record<string, string> = {}) => cloud.admin.request(command, params);
  async function job(reply: CloudStackReply, what: string): Promise<Row> {
    return jobDone(ok(reply, what), what);
  }
  async function jobDone(body: Row, what: string): Promise<Row> {
    expect(body['jobid'], `${what} jobid`).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    const result = await cloud.admin.waitForJob(body['jobid'] as string, { intervalMs: 250, timeoutMs: 60_000 });
    if (result['jobstatus'] !== 1) throw new Error(`${what}: job failed: ${JSON.stringify(result)}`);
    expect(result['jobresultcode']).to.equal(0);
    return result;
  }

  before(async function () {
    this.timeout(600_000);
    cloud = await startInfraCloud('csinfra');
  });

  after(async function () {
    this.timeout(120_000);
    agent?.stop();
    // Put the shared setting back: its earlier value, or unset when it had none.
    if (previousExpungeDelay !== undefined && cloud) await call('updateConfiguration', previousExpungeDelay === '' ? { name: 'expunge.delay' } : { name: 'expunge.delay', value: previousExpungeDelay });
    await cloud?.stop();
  });

  it('1. updateConfiguration sets a global setting, listed by listConfigurations', async () => {
    const before = await cloud.resource('Configuration').get({ name: 'global' }).catch(() => undefined);
    previousExpungeDelay = (before?.spec?.['settings'] as Record<string, string> | undefined)?.['expunge.delay'] ?? '';
    const updated = ok(await call('updateConfiguration', { name: 'expunge.delay', value: '3600' }), 'updateConfiguration')['configuration'] as Row;
    expect(updated).to.deep.include({ name: 'expunge.delay', value: '3600' });
    const global = await cloud.resource('Configuration').get({ name: 'global' });
    expect((global.spec?.['settings'] as Record<string, string>)['expunge.delay']).to.equal('3600');
    const row = await waitUntil('listConfigurations to show 3600 with its default', async () => {
      const reply = ok(await call('listConfigurations', { name: 'expunge.delay' }), 'listConfigurations');
      const found = (reply['configuration'] as Row[] | undefined)?.[0];
      return found?.['value'] === '3600' && found['defaultvalue'] === '86400' ? found : undefined;
    });
    expect(row).to.deep.include({ category: 'Advanced', scope: 'global' });
    const all = ok(await call('listConfigurations', {}), 'listConfigurations');
    expect(all['count']).to.be.greaterThan(20);
  });

  it('2. createZone makes a Zone whose uid is the id and whose name is kept as free text', async () => {
    const zone = ok(
      await call('createZone', { name: names.zone, dns1: '8.8.8.8', internaldns1: '10.0.0.2', networktype: 'Advanced', guestcidraddress: '10.1.1.0/24', domain: 'cloud.example.com' }),
      'createZone',
    )['zone'] as Row;
    expect(zone).to.deep.include({ name: names.zone, dns1: '8.8.8.8', internaldns1: '10.0.0.2', networktype: 'Advanced', allocationstate: 'Disabled', guestcidraddress: '10.1.1.0/24', domain: 'cloud.example.com', securitygroupsenabled: false });
    ids['zone'] = zone['id'] as string;
    const object = await cloud.resource('Zone').get({ name: objectName(names.zone) });
    expect(object.metadata.uid).to.equal(ids['zone']);
    expect(object.spec?.['displayName']).to.equal(names.zone);
    expect(object.metadata.name).to.match(/^zone-.*-[0-9a-f]{8}$/);
  });

  it('3. createPhysicalNetwork, addTrafficType ×4, enable the VirtualRouter provider, enable the network', async () => {
    const created = ok(await call('createPhysicalNetwork', { name: names.pn, zoneid: ids['zone']!, isolationmethods: 'VLAN' }), 'createPhysicalNetwork');
    expect(Object.keys(created).sort()).to.deep.equal(['id', 'jobid']);
    ids['pn'] = created['id'] as string;
    const result = await jobDone(created, 'createPhysicalNetwork');
    expect((result['jobresult'] as Row)['physicalnetwork']).to.deep.include({ id: ids['pn'], name: names.pn, zoneid: ids['zone'], state: 'Disabled', isolationmethods: 'VLAN' });
    expect(result['jobinstancetype']).to.equal('PhysicalNetwork');
    expect(result['jobinstanceid']).to.equal(ids['pn']);

    const labels: Record<string, string> = { Guest: 'cloudbr1', Management: 'cloudbr0', Public: 'cloudbr0', Storage: 'cloudbr0' };
    for (const [traffictype, label] of Object.entries(labels)) {
      const reply = await call('addTrafficType', { physicalnetworkid: ids['pn'], traffictype, kvmnetworklabel: label });
      const done = await job(reply, `addTrafficType ${traffictype}`);
      expect((done['jobresult'] as Row)['traffictype']).to.deep.include({ id: reply.body['id'], traffictype, kvmnetworklabel: label, physicalnetworkid: ids['pn'] });
    }
    const types = ok(await call('listTrafficTypes', { physicalnetworkid: ids['pn'] }), 'listTrafficTypes');
    expect(types['count']).to.equal(4);

    const providers = ok(await call('listNetworkServiceProviders', { physicalnetworkid: ids['pn'] }), 'listNetworkServiceProviders')['networkserviceprovider'] as Row[];
    const router = providers.find((p) => p['name'] === 'VirtualRouter');
    expect(router?.['state']).to.equal('Disabled');
    const enabled = await job(await call('updateNetworkServiceProvider', { id: router?.['id'] as string, state: 'Enabled' }), 'updateNetworkServiceProvider');
    expect((enabled['jobresult'] as Row)['networkserviceprovider']).to.deep.include({ id: router?.['id'], name: 'VirtualRouter', state: 'Enabled' });

    const updated = await job(await call('updatePhysicalNetwork', { id: ids['pn'], state: 'Enabled', vlan: '2000-2099' }), 'updatePhysicalNetwork');
    expect((updated['jobresult'] as Row)['physicalnetwork']).to.deep.include({ id: ids['pn'], state: 'Enabled', vlan: '2000-2099' });
    const object = await cloud.resource('PhysicalNetwork').get({ name: objectName(names.pn) });
    expect(object.metadata.uid).to.equal(ids['pn']);
    expect(object.spec?.['trafficTypes']).to.deep.equal(Object.entries(labels).map(([type, kvmLabel]) => ({ type, kvmLabel })));
    expect(object.spec?.['vlanRanges']).to.deep.equal([{ start: 2000, end: 2099 }]);
  });

  it('4. createPod', async () => {
    const pod = ok(
      await call('createPod', { name: names.pod, zoneid: ids['zone']!, gateway: `${mgmt}.1`, netmask: '255.255.255.0', startip: `${mgmt}.10`, endip: `${mgmt}.50` }),
      'createPod',
    )['pod'] as Row;
    expect(pod).to.deep.include({ name: names.pod, zoneid: ids['zone'], zonename: names.zone, gateway: `${mgmt}.1`, startip: [`${mgmt}.10`], endip: [`${mgmt}.50`], allocationstate: 'Enabled' });
    ids['pod'] = pod['id'] as string;
    // A name that is already a DNS label is the object's name, unchanged.
    const object = await cloud.resource('Pod').get({ name: names.pod });
    expect(object.metadata.uid).to.equal(ids['pod']);
  });

  it('5. createVlanIpRange (public addresses)', async () => {
    const vlan = ok(
      await call('createVlanIpRange', { zoneid: ids['zone']!, physicalnetworkid: ids['pn']!, vlan: '50', gateway: `${pub}.1`, netmask: '255.255.255.0', startip: `${pub}.10`, endip: `${pub}.20`, forvirtualnetwork: 'true' }),
      'createVlanIpRange',
    )['vlan'] as Row;
    expect(vlan).to.deep.include({ zoneid: ids['zone'], physicalnetworkid: ids['pn'], vlan: 'vlan://50', startip: `${pub}.10`, endip: `${pub}.20`, cidr: `${pub}.0/24`, forvirtualnetwork: true });
    ids['vlan'] = vlan['id'] as string;
    const listed = only(await call('listVlanIpRanges', { zoneid: ids['zone']! }), 'vlaniprange', 'listVlanIpRanges');
    expect(listed['id']).to.equal(ids['vlan']);
  });

  it('6. addCluster answers list-shaped', async () => {
    const cluster = only(
      await call('addCluster', { clustername: names.cluster, clustertype: 'CloudManaged', hypervisor: 'KVM', podid: ids['pod']!, zoneid: ids['zone']! }),
      'cluster',
      'addCluster',
    );
    expect(cluster).to.deep.include({ name: names.cluster, podid: ids['pod'], podname: names.pod, zoneid: ids['zone'], hypervisortype: 'KVM', clustertype: 'CloudManaged', cpuovercommitratio: '1.0', allocationstate: 'Enabled' });
    ids['cluster'] = cluster['id'] as string;
  });

  it('7. addHost makes the Host its agent adopts; listHosts shows it Up once the agent heartbeats', async () => {
    const host = only(
      await call('addHost', { url: `http://${names.node}`, hypervisor: 'KVM', podid: ids['pod']!, zoneid: ids['zone']!, clusterid: ids['cluster']!, username: 'root', password: 'unused', hosttags: 'ssd,fast' }),
      'host',
      'addHost',
    );
    expect(host).to.deep.include({ name: names.node, state: 'Connecting', type: 'Routing', clusterid: ids['cluster'], podid: ids['pod'], zoneid: ids['zone'], hypervisor: 'KVM', hosttags: 'ssd,fast' });
    ids['host'] = host['id'] as string;
    const object = await cloud.resource('Host').get({ name: names.node });
    expect(object.metadata.uid).to.equal(ids['host']);
    expect(object.spec?.['nodeName']).to.equal(names.node);
    agent = await cloud.playAgent(names.node, names.node, ['cloudbr0', 'cloudbr1']);
    const up = await waitUntil('listHosts to show the host Up', async () => {
      const row = only(await call('listHosts', { id: ids['host']! }), 'host', 'listHosts');
      return row['state'] === 'Up' ? row : undefined;
    });
    expect(up).to.deep.include({ cpunumber: 8, cpuspeed: 2000, memorytotal: 16 * 2 ** 30, resourcestate: 'Enabled', ipaddress: '10.255.0.10' });
    expect(up['lastpinged']).to.match(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+0000$/);
  });

  it('8. createStoragePool (NFS, cluster-wide)', async () => {
    const pool = ok(
      await call('createStoragePool', { name: names.pool, url: `nfs://10.0.0.5/export/${s}`, zoneid: ids['zone']!, podid: ids['pod']!, clusterid: ids['cluster']!, scope: 'cluster', tags: 'gold' }),
      'createStoragePool',
    )['storagepool'] as Row;
    expect(pool).to.deep.include({ name: names.pool, type: 'NetworkFilesystem', scope: 'CLUSTER', ipaddress: '10.0.0.5', path: `/export/${s}`, clusterid: ids['cluster'], zoneid: ids['zone'], tags: 'gold' });
    ids['pool'] = pool['id'] as string;
  });

  it('9. addImageStore (NFS)', async () => {
    const store = ok(await call('addImageStore', { provider: 'NFS', name: names.store, url: `nfs://10.0.0.5/secondary/${s}`, zoneid: ids['zone']! }), 'addImageStore')['imagestore'] as Row;
    expect(store).to.deep.include({ name: names.store, providername: 'NFS', protocol: 'nfs', scope: 'ZONE', zoneid: ids['zone'], zonename: names.zone, url: `nfs://10.0.0.5/secondary/${s}` });
    ids['store'] = store['id'] as string;
  });

  it('10. updateZone allocationstate=Enabled', async () => {
    const zone = ok(await call('updateZone', { id: ids['zone']!, allocationstate: 'Enabled' }), 'updateZone')['zone'] as Row;
    expect(zone).to.deep.include({ id: ids['zone'], allocationstate: 'Enabled' });
    const listed = only(await call('listZones', { id: ids['zone']! }), 'zone', 'listZones');
    expect(listed['allocationstate']).to.equal('Enabled');
  });

  it('11. the update commands of pod, cluster, host, storage pool and public range answer their object in the catalogue\'s shapes (the client judges each reply)', async () => {
    // The values they already hold: the later steps see the same objects.
    const pod = ok(await call('updatePod', { id: ids['pod']!, name: names.pod, allocationstate: 'Enabled' }), 'updatePod')['pod'] as Row;
    expect(pod).to.deep.include({ id: ids['pod'], name: names.pod, allocationstate: 'Enabled' });
    const cluster = ok(await call('updateCluster', { id: ids['cluster']!, allocationstate: 'Enabled' }), 'updateCluster')['cluster'] as Row;
    expect(cluster).to.deep.include({ id: ids['cluster'], name: names.cluster, allocationstate: 'Enabled' });
    const host = ok(await call('updateHost', { id: ids['host']!, hosttags: 'ssd,fast' }), 'updateHost')['host'] as Row;
    expect(host).to.deep.include({ id: ids['host'], name: names.node, hosttags: 'ssd,fast' });
    const pool = ok(await call('updateStoragePool', { id: ids['pool']!, tags: 'gold' }), 'updateStoragePool')['storagepool'] as Row;
    expect(pool).to.deep.include({ id: ids['pool'], name: names.pool, tags: 'gold' });
    const vlan = ok(await call('updateVlanIpRange', { id: ids['vlan']!, startip: `${pub}.10`, endip: `${pub}.20` }), 'updateVlanIpRange')['vlan'] as Row;
    expect(vlan).to.deep.include({ id: ids['vlan'], startip: `${pub}.10`, endip: `${pub}.20` });
  });

  it('shows every object through Kubernetes with the id as its uid', async () => {
    const byUid = async (kind: string, id: string) => (await cloud.resource(kind).list()).items.find((o) => o.metadata.uid === id);
    const expected: [string, string, (o: Obj) => unknown, unknown][] = [
      ['Zone', 'zone', (o) => o.spec?.['allocationState'], 'Enabled'],
      ['PhysicalNetwork', 'pn', (o) => o.spec?.['state'], 'Enabled'],
      ['Pod', 'pod', (o) => o.spec?.['startIp'], `${mgmt}.10`],
      ['IPRange', 'vlan', (o) => o.spec?.['purpose'], 'Public'],
      ['Cluster', 'cluster', (o) => o.spec?.['displayName'], names.cluster],
      ['Host', 'host', (o) => (o.spec?.['clusterRef'] as { name: string }).name, objectName(names.cluster)],
      ['PrimaryStorage', 'pool', (o) => o.spec?.['server'], '10.0.0.5'],
      ['SecondaryStorage', 'store', (o) => o.spec?.['url'], `nfs://10.0.0.5/secondary/${s}`],
    ];
    for (const [kind, key, read, value] of expected) {
      const object = await byUid(kind, ids[key]!);
      expect(object, `${kind} with uid ${ids[key]}`).to.not.equal(undefined);
      expect(read(object!), kind).to.deep.equal(value);
    }
  });

  it('round-trips names from kubectl: an object written there is listed by its name, renamed there, renamed here', async () => {
    const name = `kz-${s}`;
    const zone = await cloud.resource('Zone').create({ apiVersion: 'infra.kumulus.io/v1alpha1', kind: 'Zone', metadata: { name }, spec: { dns1: '1.1.1.1', internalDns1: '10.0.0.3' } });
    try {
      const listed = await waitUntil('the kubectl zone in listZones', async () => {
        const reply = ok(await call('listZones', { name }), 'listZones');
        return reply['count'] === 1 ? (reply['zone'] as Row[])[0] : undefined;
      });
      expect(listed).to.deep.include({ id: zone.metadata.uid, name, allocationstate: 'Disabled', networktype: 'Advanced' });
      await cloud.resource('Zone').patch({ name }, { spec: { displayName: 'Renamed by kubectl' } });
      await waitUntil('the new name in listZones', async () => (ok(await call('listZones', { name: 'Renamed by kubectl' }), 'listZones')['count'] === 1 ? true : undefined));
      ok(await call('updateZone', { id: zone.metadata.uid ?? '', name: 'Renamed by the API' }), 'updateZone');
      expect((await cloud.resource('Zone').get({ name })).spec?.['displayName']).to.equal('Renamed by the API');
    } finally {
      await cloud.resource('Zone').delete({ name }).catch(() => undefined);
    }
  });

  it('filters lists by zone, pod, cluster, keyword, state and type, and refuses an unknown id', async () => {
    expect(only(await call('listClusters', { zoneid: ids['zone']! }), 'cluster', 'listClusters')['id']).to.equal(ids['cluster']);
    expect(only(await call('listHosts', { podid: ids['pod']!, type: 'Routing', state: 'Up' }), 'host', 'listHosts')['id']).to.equal(ids['host']);
    expect(ok(await call('listHosts', { clusterid: ids['cluster']!, type: 'SecondaryStorage' }), 'listHosts')).to.deep.equal({});
    expect(only(await call('listPods', { zoneid: ids['zone']!, keyword: s }), 'pod', 'listPods')['id']).to.equal(ids['pod']);
    expect(only(await call('listStoragePools', { clusterid: ids['cluster']! }), 'storagepool', 'listStoragePools')['id']).to.equal(ids['pool']);
    expect(only(await call('listImageStores', { zoneid: ids['zone']! }), 'imagestore', 'listImageStores')['id']).to.equal(ids['store']);
    expect(only(await call('listPhysicalNetworks', { zoneid: ids['zone']! }), 'physicalnetwork', 'listPhysicalNetworks')['id']).to.equal(ids['pn']);
    expect(ok(await call('listZones', { keyword: `no such zone ${s}` }), 'listZones')).to.deep.equal({});
    // An unknown hypervisor is ignored, as CloudStack does.
    expect(only(await call('listHosts', { id: ids['host']!, hypervisor: 'Hyperv' }), 'host', 'listHosts')['id']).to.equal(ids['host']);
    const missing = await call('listHosts', { zoneid: '00000000-0000-4000-8000-000000000000' });
    expect(missing.status).to.equal(431);
  });

  it('serves listEvents from Kubernetes Events, with CloudStack event types', async () => {
    const events = await waitUntil('a ZONE.CREATE event for the zone', async () => {
      const body = ok(await call('listEvents', { type: 'ZONE.CREATE', listall: 'true' }), 'listEvents');
      const rows = (body['event'] as Row[] | undefined) ?? [];
      return rows.some((e) => e['resourceid'] === ids['zone']) ? rows : undefined;
    });
    const event = events.find((e) => e['resourceid'] === ids['zone'])!;
    expect(event).to.deep.include({ type: 'ZONE.CREATE', level: 'INFO', resourcetype: 'Zone', state: 'Completed' });
    expect(event['created']).to.match(/\+0000$/);
  });

  it('serves listCapacity from the rolled-up capacity of the zone', async () => {
    const rows = await waitUntil('memory capacity in the zone', async () => {
      const body = ok(await call('listCapacity', { zoneid: ids['zone']! }), 'listCapacity');
      const capacity = (body['capacity'] as Row[] | undefined) ?? [];
      return capacity.some((c) => c['type'] === 0 && (c['capacitytotal'] as number) > 0) ? capacity : undefined;
    });
    const memory = rows.find((c) => c['type'] === 0)!;
    expect(memory).to.deep.include({ name: 'MEMORY', capacitytotal: 16 * 2 ** 30, zoneid: ids['zone'], zonename: names.zone });
    expect(memory['percentused']).to.be.a('string');
  });

  it('puts the host into maintenance and back as async jobs, answered by queryAsyncJobResult on any replica', async () => {
    const prepared = await job(await call('prepareHostForMaintenance', { id: ids['host']! }), 'prepareHostForMaintenance');
    const host = (prepared['jobresult'] as Row)['host'] as Row;
    expect(host['id']).to.equal(ids['host']);
    expect(['PrepareForMaintenance', 'Maintenance']).to.include(host['resourcestate']);
    expect(prepared).to.deep.include({ cmd: 'prepareHostForMaintenance', jobinstancetype: 'Host', jobinstanceid: ids['host'], jobresulttype: 'object', account: 'admin' });
    await waitUntil('the host in Maintenance', async () => (only(await call('listHosts', { id: ids['host']! }), 'host', 'listHosts')['resourcestate'] === 'Maintenance' ? true : undefined));
    const jobs = ok(await call('listAsyncJobs', {}), 'listAsyncJobs')['asyncjobs'] as Row[];
    expect(jobs.some((j) => j['jobid'] === prepared['jobid'] && j['jobstatus'] === 1)).to.equal(true);
    // Another replica, with caches of its own (as after a restart), answers the same.
    const replica = await cloud.replica();
    try {
      const again = ok(await replica.admin.request('queryAsyncJobResult', { jobid: prepared['jobid'] as string }), 'queryAsyncJobResult on another replica');
      expect(again).to.deep.include({ jobid: prepared['jobid'], jobstatus: 1, jobresultcode: 0, cmd: 'prepareHostForMaintenance', created: prepared['created'], completed: prepared['completed'] });
      expect(((again['jobresult'] as Row)['host'] as Row)['id']).to.equal(ids['host']);
    } finally {
      await replica.stop();
    }
    const cancelled = await job(await call('cancelHostMaintenance', { id: ids['host']! }), 'cancelHostMaintenance');
    expect(((cancelled['jobresult'] as Row)['host'] as Row)['resourcestate']).to.equal('Enabled');
  });

  it('puts the storage pool into maintenance (legacy envelope) and back', async () => {
    const reply = await call('enableStorageMaintenance', { id: ids['pool']! });
    expect(reply.envelope).to.equal('prepareprimarystorageformaintenanceresponse');
    const done = await job(reply, 'enableStorageMaintenance');
    expect(((done['jobresult'] as Row)['storagepool'] as Row)['id']).to.equal(ids['pool']);
    const back = await call('cancelStorageMaintenance', { id: ids['pool']! });
    expect(back.envelope).to.equal('cancelprimarystoragemaintenanceresponse');
    await job(back, 'cancelStorageMaintenance');
  });

  it('tears the zone down through the API, refusing to delete what still has children', async () => {
    const busy = await call('deleteZone', { id: ids['zone']! });
    expect(busy.status).to.equal(530);
    expect(busy.body['errortext']).to.equal('The zone cannot be deleted because there are servers in this zone');

    ok(await call('deleteImageStore', { id: ids['store']! }), 'deleteImageStore');
    await job(await call('enableStorageMaintenance', { id: ids['pool']! }), 'enableStorageMaintenance');
    ok(await call('deleteStoragePool', { id: ids['pool']! }), 'deleteStoragePool');
    const notInMaintenance = await call('deleteHost', { id: ids['host']! });
    expect(notInMaintenance.status).to.equal(530);
    await job(await call('prepareHostForMaintenance', { id: ids['host']! }), 'prepareHostForMaintenance');
    await waitUntil('the host in Maintenance', async () => (only(await call('listHosts', { id: ids['host']! }), 'host', 'listHosts')['resourcestate'] === 'Maintenance' ? true : undefined));
    expect(ok(await call('deleteHost', { id: ids['host']! }), 'deleteHost')).to.deep.equal({ success: true });
    agent?.stop();
    await waitUntil('the host gone', async () => (ok(await call('listHosts', { clusterid: ids['cluster']! }), 'listHosts')['count'] === undefined ? true : undefined));
    await waitUntil('the pool gone', async () => (ok(await call('listStoragePools', { zoneid: ids['zone']! }), 'listStoragePools')['count'] === undefined ? true : undefined));
    ok(await call('deleteCluster', { id: ids['cluster']! }), 'deleteCluster');
    ok(await call('deleteVlanIpRange', { id: ids['vlan']! }), 'deleteVlanIpRange');
    await waitUntil('the cluster and range gone', async () =>
      ok(await call('listClusters', { zoneid: ids['zone']! }), 'listClusters')['count'] === undefined && ok(await call('listVlanIpRanges', { zoneid: ids['zone']! }), 'listVlanIpRanges')['count'] === undefined ? true : undefined,
    );
    ok(await call('deletePod', { id: ids['pod']! }), 'deletePod');
    const trafficTypes = ok(await call('listTrafficTypes', { physicalnetworkid: ids['pn']! }), 'listTrafficTypes')['traffictype'] as Row[];
    await job(await call('deleteTrafficType', { id: trafficTypes[0]?.['id'] as string }), 'deleteTrafficType');
    expect(ok(await call('listTrafficTypes', { physicalnetworkid: ids['pn']! }), 'listTrafficTypes')['count']).to.equal(3);
    const deleted = await job(await call('deletePhysicalNetwork', { id: ids['pn']! }), 'deletePhysicalNetwork');
    expect(deleted['jobresult']).to.deep.equal({ success: true });
    await waitUntil('the pod and images gone', async () => (ok(await call('listPods', { zoneid: ids['zone']! }), 'listPods')['count'] === undefined ? true : undefined));
    await waitUntil('the zone deletable', async () => ((await call('deleteZone', { id: ids['zone']! })).status === 200 ? true : undefined));
    await waitUntil('the zone gone from Kubernetes', async () =>
      cloud
        .resource('Zone')
        .get({ name: objectName(names.zone) })
        .then(
          () => undefined,
          (err: unknown) => (isNotFound(err) ? true : undefined),
        ),
    );
  });
});
