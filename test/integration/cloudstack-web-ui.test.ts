import { expect } from 'chai';
import { randomInt } from 'node:crypto';
import { createCloudStackClient, type CloudStackClient, type CloudStackReply } from '../support/cloudstack-client.ts';
import { uniqueName } from '../support/cluster.ts';
import { ADMIN_NAMESPACE } from '../../lib/bootstrap-admin.ts';
import { PUBLIC_NAMESPACE } from '../../lib/identity.ts';
import { type InfraCloud, settleVm, startInfraCloud, waitUntil } from './cloudstack-infra-harness.ts';

/**
 * The official CloudStack web UI as a client, replayed call for call from its sources
 * (apache/cloudstack ui/): the login page's look-ups before anyone logs in
 * (views/auth/Login.vue, the GUI theme loader, ForgotPassword.vue), the login itself, the
 * feature discovery after it (store/modules/user.js GetInfo: listZones, listApis, listNetworks,
 * listUsers, listNetworkServiceProviders, listCapabilities, listLdapConfigurations), the admin
 * dashboard (views/dashboard/CapacityDashboard.vue), and the Infrastructure, Zones, Clusters,
 * Hosts, Primary Storage and Instances pages, which exist only when their list (or *Metrics)
 * command is in listApis (config/section/infra/*.js, compute.js). The UI sends every call as
 * a GET with response=json and the session key, and logs out on any 401
 * (utils/request.js), so each of these must answer without one.
 */

type Row = Record<string, unknown>;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function ok(reply: CloudStackReply, what: string): Row {
  if (reply.status !== 200) throw new Error(`${what}: HTTP ${reply.status} ${reply.text}`);
  return reply.body;
}

describe('cloudstack-api: the official web UI as a client (its calls replayed)', function () {
  this.timeout(300_000);
  let cloud: InfraCloud;
  let ui: CloudStackClient;
  const s = uniqueName('ui').slice(3);
  const mgmt = `172.${randomInt(16, 31)}.${randomInt(0, 255)}`;
  const ids: Record<string, string> = {};
  const node = `uinode-${s}`;
  let agent: { stop(): void } | undefined;
  let userid = '';

  before(async function () {
    this.timeout(600_000);
    cloud = await startInfraCloud('csui');
    ui = createCloudStackClient({ endpoint: cloud.endpoint });
    // A zone with a pod, a cluster, an Up host and a pool, so the pages have rows to show.
    const call = (command: string, params: Record<string, string>) => cloud.admin.request(command, params);
    ids['zone'] = (ok(await call('createZone', { name: `UI zone ${s}`, dns1: '8.8.8.8', internaldns1: '10.0.0.2', networktype: 'Advanced' }), 'createZone')['zone'] as Row)['id'] as string;
    ids['pod'] = (ok(await call('createPod', { name: `pod-${s}`, zoneid: ids['zone'], gateway: `${mgmt}.1`, netmask: '255.255.255.0', startip: `${mgmt}.10`, endip: `${mgmt}.20` }), 'createPod')['pod'] as Row)['id'] as string;
    ids['cluster'] = ((ok(await call('addCluster', { clustername: `UI cluster ${s}`, clustertype: 'CloudManaged', hypervisor: 'KVM', podid: ids['pod'], zoneid: ids['zone'] }), 'addCluster')['cluster'] as Row[])[0]!)['id'] as string;
    ids['host'] = ((ok(await call('addHost', { url: `http://${node}`, hypervisor: 'KVM', podid: ids['pod'], zoneid: ids['zone'], clusterid: ids['cluster'], username: 'root', password: 'x' }), 'addHost')['host'] as Row[])[0]!)['id'] as string;
    agent = await cloud.playAgent(node, node, ['cloudbr0']);
    ids['pool'] = (ok(await call('createStoragePool', { name: `UI pool ${s}`, url: `nfs://10.0.0.5/ui/${s}`, zoneid: ids['zone'], podid: ids['pod'], clusterid: ids['cluster'] }), 'createStoragePool')['storagepool'] as Row)['id'] as string;
    // What the deploy wizard offers: an offering, a public template ready in the zone, and a network of the admin's.
    const zoneName = (await cloud.resource('Zone').list()).items.find((z) => z.metadata.uid === ids['zone'])?.metadata.name ?? '';
    const make = async (kind: string, name: string, spec: Record<string, unknown>, namespace?: string) => cloud.resource(kind).create({ metadata: { name, ...(namespace ? { namespace } : {}) }, spec });
    ids['offering'] = (await make('ServiceOffering', `ui-small-${s}`, { displayName: `UI small ${s}`, cpuNumber: 1, cpuSpeed: 500, memory: '512Mi' })).metadata.uid ?? '';
    await make('NetworkOffering', `ui-iso-${s}`, { guestIpType: 'Isolated' });
    await cloud.kube.resource({ group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false }).create({ metadata: { name: PUBLIC_NAMESPACE } }).catch(() => undefined);
    const template = await make('Template', `ui-tiny-${s}`, { displayName: `UI tiny ${s}`, url: 'file:///var/lib/kumulus/tiny.qcow2', format: 'QCOW2', zoneRefs: [{ name: zoneName }], isPublic: true, osType: 'Other Linux (64-bit)' }, PUBLIC_NAMESPACE);
    await cloud.resource('Template').patchStatus({ namespace: PUBLIC_NAMESPACE, name: template.metadata.name ?? '' }, { status: { state: 'Active', isReady: true, zones: [{ zone: zoneName, downloadState: 'DOWNLOADED', downloadPercent: 100, sizeBytes: 1 << 30 }] } });
    ids['template'] = template.metadata.uid ?? '';
    ids['network'] = (await make('Network', `ui-net-${s}`, { displayName: `UI network ${s}`, networkOfferingRef: { name: `ui-iso-${s}` }, zoneRef: { name: zoneName }, cidr: '10.1.9.0/24' }, ADMIN_NAMESPACE)).metadata.uid ?? '';
    await waitUntil('the host Up with its memory rolled up into the zone', async () => {
      const host = (ok(await call('listHosts', { id: ids['host']! }), 'listHosts')['host'] as Row[])[0];
      const capacity = ((ok(await call('listZones', { id: ids['zone']!, showcapacities: 'true' }), 'listZones')['zone'] as Row[])[0]?.['capacity'] as Row[] | undefined) ?? [];
      return host?.['state'] === 'Up' && capacity.some((c) => c['type'] === 0 && (c['capacitytotal'] as number) > 0) ? true : undefined;
    });
  });

  after(async function () {
    this.timeout(120_000);
    agent?.stop();
    if (cloud) {
      const call = (command: string, params: Record<string, string>) => cloud.admin.request(command, params);
      await cloud.admin.waitForJob((await call('enableStorageMaintenance', { id: ids['pool']! })).body['jobid'] as string, { intervalMs: 250, timeoutMs: 30_000 }).catch(() => undefined);
      await call('deleteStoragePool', { id: ids['pool']!, forced: 'true' }).catch(() => undefined);
      await cloud.resource('Host').delete({ name: node }).catch(() => undefined);
      await cloud.stop();
    }
  });

  it('answers the login page before anyone logs in, with no 401 (listGuiThemes, listIdps, listOauthProvider, forgotPassword)', async () => {
    for (const [command, params] of [
      ['listGuiThemes', { listonlydefaulttheme: 'true' }],
      ['listIdps', {}],
      ['listOauthProvider', {}],
    ] as const) {
      const reply = await ui.request(command, params, { unsigned: true });
      expect([reply.status, reply.envelope, reply.body], command).to.deep.equal([200, `${command.toLowerCase()}response`, {}]);
      // A stale session cookie from an earlier login changes nothing.
      const stale = await ui.request(command, params, { unsigned: true, cookies: { JSESSIONID: 'gone', sessionkey: 'gone' } });
      expect(stale.status, `${command} with a stale session`).to.equal(200);
    }
    const reset = await ui.request('forgotPassword', { username: 'admin', domain: '/' }, { unsigned: true, method: 'POST' });
    expect([reset.status, reset.body]).to.deep.equal([200, { success: true }]);
    const unknownUser = await ui.request('forgotPassword', { username: `nobody-${s}`, domain: '/' }, { unsigned: true, method: 'POST' });
    expect([unknownUser.status, unknownUser.body], 'the same answer for a user that does not exist').to.deep.equal([200, { success: true }]);
    const noUser = await ui.request('forgotPassword', {}, { unsigned: true, method: 'POST' });
    expect([noUser.status, noUser.body['errortext']]).to.deep.equal([431, 'Unable to execute API command forgotpassword due to missing parameter username']);
    // Everything else still needs a session or a signature.
    expect((await ui.request('listZones', {}, { unsigned: true })).status).to.equal(401);
  });

  it('logs in with every field CloudStack sends: UTC and 0.0 for a user without a time zone', async () => {
    const reply = await ui.login(cloud.credentials.username, cloud.credentials.password, '/');
    expect(reply.status).to.equal(200);
    expect(reply.envelope).to.equal('loginresponse');
    const body = reply.body;
    expect(body).to.deep.include({ username: 'admin', account: 'admin', type: '1', registered: 'false', is2faenabled: 'false', is2faverified: 'true', timezone: 'UTC', timezoneoffset: '0.0' });
    for (const field of ['userid', 'domainid', 'managementserverid']) expect(body[field], field).to.match(UUID);
    userid = body['userid'] as string;
    expect(body['timeout']).to.be.a('number');
    expect(body['sessionkey']).to.be.a('string').and.not.equal('');
    expect(Object.keys(body).sort()).to.deep.equal(
      ['account', 'domainid', 'firstname', 'is2faenabled', 'is2faverified', 'issuerfor2fa', 'lastname', 'managementserverid', 'registered', 'sessionkey', 'timeout', 'timezone', 'timezoneoffset', 'type', 'userid', 'username'],
    );
  });

  it('answers the feature discovery after login (GetInfo), listLdapConfigurations under its legacy envelope', async () => {
    const user = (ok(await ui.request('listUsers', { id: userid }), 'listUsers')['user'] as Row[])[0]!;
    expect(user).to.deep.include({ username: 'admin', rolename: 'Root Admin' });
    expect(ok(await ui.request('listZones'), 'listZones')['count']).to.be.a('number');
    // The admin has a network; none waits for a restart, none is in a VPC, and it can be deployed on.
    expect(ok(await ui.request('listNetworks', { restartrequired: 'true', forvpc: 'false' }), 'listNetworks')).to.not.have.property('count');
    expect(ok(await ui.request('listNetworks', { forvpc: 'true' }), 'listNetworks')).to.not.have.property('count');
    expect(ok(await ui.request('listNetworks', { canusefordeploy: 'false' }), 'listNetworks')).to.not.have.property('count');
    const deployable = ok(await ui.request('listNetworks', { restartrequired: 'false', forvpc: 'false', canusefordeploy: 'true' }), 'listNetworks')['network'] as Row[];
    expect(deployable.map((n) => n['id'])).to.deep.equal([ids['network']]);
    expect(ok(await ui.request('listNetworkServiceProviders', { name: 'SecurityGroupProvider', state: 'Enabled' }), 'listNetworkServiceProviders')).to.deep.equal({});
    const capability = ok(await ui.request('listCapabilities'), 'listCapabilities')['capability'] as Row;
    expect(capability['defaultuipagesize']).to.equal(20);
    const ldap = await ui.request('listLdapConfigurations');
    expect([ldap.status, ldap.envelope, ldap.body]).to.deep.equal([200, 'ldapconfigurationresponse', {}]);
    // cloudianIsEnabled is a plugin Kumulus lacks: an unknown command (432), which the UI ignores; never a 401.
    const cloudian = await ui.request('cloudianIsEnabled');
    expect([cloudian.status, cloudian.body['errortext']]).to.deep.equal([432, 'Unknown API command: cloudianIsEnabled']);
  });

  it('offers in listApis the list commands the UI builds its menus from, each with params and response', async () => {
    const apis = ok(await ui.request('listApis'), 'listApis')['api'] as Row[];
    const names = new Set(apis.map((a) => a['name'] as string));
    for (const page of ['listResourceIcon', 'listInfrastructure', 'listZonesMetrics', 'listClustersMetrics', 'listHostsMetrics', 'listStoragePoolsMetrics', 'listVirtualMachinesMetrics', 'listVolumesMetrics', 'listPods', 'listImageStores', 'listSystemVms', 'listRouters', 'listAlerts', 'listEvents', 'listCapacity', 'listIdps', 'listGuiThemes', 'listOauthProvider', 'forgotPassword', 'listLdapConfigurations']) {
      expect(names.has(page), page).to.equal(true);
    }
    const metrics = apis.find((a) => a['name'] === 'listZonesMetrics')!;
    expect((metrics['params'] as Row[]).map((p) => p['name'])).to.include.members(['id', 'name', 'page', 'pagesize', 'showcapacities']);
    expect((metrics['response'] as Row[]).map((p) => p['name'])).to.include.members(['cputotal', 'memoryused', 'clusters']);
  });

  it('answers the admin dashboard (CapacityDashboard.vue) for the zone', async () => {
    const zone = (ok(await ui.request('listZones', { showicon: 'true' }), 'listZones')['zone'] as Row[]).find((z) => z['id'] === ids['zone'])!;
    expect(zone).to.not.equal(undefined);
    const capacity = ok(await ui.request('listCapacity', { zoneid: ids['zone']!, fetchlatest: 'false' }), 'listCapacity')['capacity'] as Row[];
    expect(capacity.find((c) => c['name'] === 'MEMORY')?.['capacitytotal']).to.equal(16 * 2 ** 30);
    expect(ok(await ui.request('listPods', { zoneid: ids['zone']! }), 'listPods')['count']).to.equal(1);
    expect(ok(await ui.request('listClusters', { zoneid: ids['zone']! }), 'listClusters')['count']).to.equal(1);
    expect(ok(await ui.request('listHosts', { zoneid: ids['zone']!, listall: 'true', details: 'min', type: 'routing', page: '1', pagesize: '1' }), 'listHosts')['count']).to.equal(1);
    expect(ok(await ui.request('listHosts', { zoneid: ids['zone']!, listall: 'true', details: 'min', type: 'routing', state: 'alert', page: '1', pagesize: '1' }), 'listHosts')).to.deep.equal({});
    expect(ok(await ui.request('listStoragePools', { zoneid: ids['zone']! }), 'listStoragePools')['count']).to.equal(1);
    expect(ok(await ui.request('listSystemVms', { zoneid: ids['zone']! }), 'listSystemVms')).to.deep.equal({});
    expect(ok(await ui.request('listRouters', { zoneid: ids['zone']!, listall: 'true' }), 'listRouters')).to.deep.equal({});
    expect(ok(await ui.request('listVirtualMachines', { zoneid: ids['zone']!, listall: 'true', projectid: '-1', details: 'min', page: '1', pagesize: '1' }), 'listVirtualMachines')).to.deep.equal({});
    expect(ok(await ui.request('listAlerts', { page: '1', pagesize: '8', listall: 'true' }), 'listAlerts')).to.deep.equal({});
    expect(ok(await ui.request('listEvents', { page: '1', pagesize: '8', listall: 'true' }), 'listEvents')['count']).to.be.a('number');
    const missing = await ui.request('listSystemVms', { zoneid: '00000000-0000-4000-8000-000000000009' });
    expect(missing.status).to.equal(431);
  });

  it('answers the Infrastructure summary (listInfrastructure) with counts of what exists', async () => {
    const infra = ok(await ui.request('listInfrastructure'), 'listInfrastructure')['infrastructure'] as Row;
    const count = async (command: string) => ((ok(await ui.request(command), command)['count'] as number | undefined) ?? 0);
    expect(infra).to.deep.include({
      zones: await count('listZones'),
      pods: await count('listPods'),
      clusters: await count('listClusters'),
      hosts: await count('listHosts'),
      storagepools: await count('listStoragePools'),
      imagestores: await count('listImageStores'),
      systemvms: 0,
      routers: 0,
      managementservers: 1,
    });
    expect(infra['cpusockets']).to.be.at.least(1);
  });

  it('answers the Zones, Clusters, Hosts and Primary Storage pages (*Metrics) in CloudStack\'s formats', async () => {
    const zone = (ok(await ui.request('listZonesMetrics', { id: ids['zone']! }), 'listZonesMetrics')['zone'] as Row[])[0]!;
    expect(zone).to.deep.include({ id: ids['zone'], name: `UI zone ${s}`, clusters: '1 / 1', state: zone['allocationstate'] });
    expect(zone['memorytotal']).to.equal('16.00 GB');
    expect(zone['cputotal']).to.match(/^\d+\.\d\d Ghz$/);
    expect(zone['memoryallocated']).to.match(/^\d+\.\d\d%$/);
    expect(zone['memorythreshold']).to.equal(false);
    expect(zone, 'no capacity list unless asked').to.not.have.property('capacity');
    expect((ok(await ui.request('listZonesMetrics', { id: ids['zone']!, showcapacities: 'true' }), 'listZonesMetrics')['zone'] as Row[])[0]).to.have.property('capacity');

    const cluster = (ok(await ui.request('listClustersMetrics', { zoneid: ids['zone']! }), 'listClustersMetrics')['cluster'] as Row[])[0]!;
    expect(cluster).to.deep.include({ id: ids['cluster'], hosts: '1 / 1', memorytotal: '16.00 GB' });

    const host = (ok(await ui.request('listHostsMetrics', { zoneid: ids['zone']!, page: '1', pagesize: '20' }), 'listHostsMetrics')['host'] as Row[])[0]!;
    expect(host).to.deep.include({ id: ids['host'], state: 'Up', cputotalghz: '16.00 Ghz', memorytotalgb: '16.00 GB', cpuallocatedghz: '0.00 Ghz', memoryallocatedgb: '0.00 GB', instances: '0 / 0', powerstate: 'Disabled', cputhreshold: false });

    const pool = (ok(await ui.request('listStoragePoolsMetrics', { clusterid: ids['cluster']! }), 'listStoragePoolsMetrics')['storagepool'] as Row[])[0]!;
    expect(pool['id']).to.equal(ids['pool']);
    for (const field of ['disksizetotalgb', 'disksizeusedgb', 'disksizeallocatedgb', 'disksizeunallocatedgb']) expect(pool[field], field).to.match(/^\d+\.\d\d GB$/);

    // The same filters as the base lists: an unknown id is the not-found error, a page past the end has the count only.
    const unknown = await ui.request('listHostsMetrics', { zoneid: '00000000-0000-4000-8000-000000000008' });
    expect(unknown.status).to.equal(431);
    expect(unknown.body['errortext']).to.match(/due to incorrect long value format, or entity does not exist/);
    expect(ok(await ui.request('listZonesMetrics', { id: ids['zone']!, page: '2', pagesize: '1' }), 'listZonesMetrics')).to.deep.equal({ count: 1 });
  });

  it('answers the dedication look-ups of the zone, pod, cluster and host pages (DedicateData.vue), which show any error they get', async () => {
    // Each detail page asks its list for its own id; a zone no one dedicated, and the rest, are not dedicated.
    for (const [command, param, id] of [
      ['listDedicatedZones', 'zoneid', ids['zone']!],
      ['listDedicatedPods', 'podid', ids['pod']!],
      ['listDedicatedClusters', 'clusterid', ids['cluster']!],
      ['listDedicatedHosts', 'hostid', ids['host']!],
    ] as const) {
      const reply = await ui.request(command, { [param]: id });
      expect([reply.status, reply.envelope, reply.body], command).to.deep.equal([200, `${command.toLowerCase()}response`, {}]);
    }
    // A zone dedicated to a domain is listed with the domain, under its own id.
    const domainId = (ok(await ui.request('listUsers', { id: userid }), 'listUsers')['user'] as Row[])[0]!['domainid'] as string;
    const dedicated = (ok(await cloud.admin.request('createZone', { name: `UI dedicated ${s}`, dns1: '8.8.8.8', internaldns1: '10.0.0.2', networktype: 'Advanced', domainid: domainId }), 'createZone')['zone'] as Row)['id'] as string;
    try {
      const rows = await waitUntil('the dedicated zone in listDedicatedZones', async () => (ok(await ui.request('listDedicatedZones', { zoneid: dedicated }), 'listDedicatedZones')['dedicatedzone'] as Row[] | undefined));
      expect(rows).to.have.length(1);
      expect(rows[0]).to.deep.include({ zoneid: dedicated, zonename: `UI dedicated ${s}`, domainid: domainId });
      expect(rows[0]!['id']).to.match(UUID).and.not.equal(dedicated);
      expect(rows[0]).to.not.have.property('accountid');
      expect((ok(await ui.request('listDedicatedZones', { domainid: domainId }), 'listDedicatedZones')['dedicatedzone'] as Row[]).map((r) => r['zoneid'])).to.include(dedicated);
    } finally {
      await cloud.admin.request('deleteZone', { id: dedicated });
    }
    const unknown = await ui.request('listDedicatedHosts', { hostid: '00000000-0000-4000-8000-000000000006' });
    expect([unknown.status, unknown.body['errortext']]).to.deep.equal([431, 'Unable to execute API command listdedicatedhosts due to invalid value. Invalid parameter hostid value=00000000-0000-4000-8000-000000000006 due to incorrect long value format, or entity does not exist or due to incorrect parameter annotation for the field in api cmd class.']);
  });

  it('answers the resource icon look-ups of the detail cards and the deploy wizard (InfoCard.vue): none kept, the type checked', async () => {
    // What the wizard and the zone, template, domain and VM pages asked, seen against npm start.
    const domainId = (ok(await ui.request('listUsers', { id: userid }), 'listUsers')['user'] as Row[])[0]!['domainid'] as string;
    for (const [type, id] of [['zone', ids['zone']!], ['template', ids['template']!], ['domain', domainId], ['guestoscategory', ids['zone']!], ['UserVm', ids['zone']!]] as const) {
      const reply = await ui.request('listResourceIcon', { resourceids: id, resourcetype: type });
      expect([reply.status, reply.envelope, reply.body], type).to.deep.equal([200, 'listresourceiconresponse', {}]);
    }
    const badType = await ui.request('listResourceIcon', { resourceids: ids['zone']!, resourcetype: 'Planet' });
    expect([badType.status, badType.body['errortext']]).to.deep.equal([431, 'Invalid resource type Planet']);
    const noIds = await ui.request('listResourceIcon', { resourcetype: 'zone' });
    expect([noIds.status, noIds.body['errortext']]).to.deep.equal([431, 'Unable to execute API command listresourceicon due to missing parameter resourceids']);
    expect((ok(await ui.request('listApis', { name: 'listResourceIcon' }), 'listApis')['api'] as Row[]).map((a) => a['name'])).to.deep.equal(['listResourceIcon']);
  });

  it('reads parameter names in any case, as CloudStack unpacks them: the deploy wizard pages with pageSize', async () => {
    // DeployVM.vue: listServiceOfferings, listTemplates, listNetworks... with page=1&pageSize=10.
    for (const [command, params, object] of [
      ['listServiceOfferings', { zoneid: ids['zone']!, issystem: 'false', page: '1', pageSize: '10' }, 'serviceoffering'],
      ['listNetworks', { zoneId: ids['zone']!, canUseForDeploy: 'true', page: '1', pageSize: '10' }, 'network'],
      ['listTemplates', { templatefilter: 'executable', zoneid: ids['zone']!, page: '1', pageSize: '10' }, 'template'],
    ] as const) {
      const body = ok(await ui.request(command, params), command);
      expect(body['count'], command).to.be.at.least(1);
      expect((body[object] as Row[]).length, command).to.be.at.least(1);
    }
    // The name, not its case, is what counts: a page of one row is one row.
    const one = ok(await ui.request('listZones', { Page: '1', PAGESIZE: '1' }), 'listZones');
    expect((one['zone'] as Row[]).length).to.equal(1);
    const unknownZone = await ui.request('listPods', { ZoneId: '00000000-0000-4000-8000-000000000007' });
    expect([unknownZone.status, unknownZone.body['errortext']]).to.deep.equal([431, 'Unable to execute API command listpods due to invalid value. Invalid parameter zoneid value=00000000-0000-4000-8000-000000000007 due to incorrect long value format, or entity does not exist or due to incorrect parameter annotation for the field in api cmd class.']);
  });

  it('answers the Instances page and the deploy wizard\'s look-ups', async () => {
    // The control plane is shared with the other API tests, whose VMs the admin sees: the page lists the same VMs as listVirtualMachines.
    const page = { listall: 'true', page: '1', pagesize: '20' };
    const vmIds = (body: Record<string, unknown>) => ((body['virtualmachine'] as Row[] | undefined) ?? []).map((v) => v['id']);
    const metrics = ok(await ui.request('listVirtualMachinesMetrics', page), 'listVirtualMachinesMetrics');
    expect(vmIds(metrics)).to.deep.equal(vmIds(ok(await ui.request('listVirtualMachines', page), 'listVirtualMachines')));
    for (const [command, params] of [
      ['listZones', { showicon: 'true' }],
      ['listServiceOfferings', { zoneid: ids['zone']! }],
      ['listDiskOfferings', { zoneid: ids['zone']! }],
      ['listTemplates', { templatefilter: 'executable', zoneid: ids['zone']! }],
      ['listNetworks', { zoneid: ids['zone']!, canusefordeploy: 'true' }],
      ['listSSHKeyPairs', {}],
      ['listAffinityGroups', {}],
      ['listHypervisors', { zoneid: ids['zone']! }],
    ] as const) {
      expect((await ui.request(command, params)).status, command).to.equal(200);
    }
  });

  it('deploys a VM as the deploy wizard sends it (BIOS with LEGACY, empty affinity groups and key pairs, the owner)', async () => {
    const domainId = (ok(await ui.request('listUsers', { id: userid }), 'listUsers')['user'] as Row[])[0]!['domainid'] as string;
    // DeployVM.vue's call for the defaults of the wizard, as captured from the UI through the proxy.
    const wizard = { zoneid: ids['zone']!, boottype: 'BIOS', bootmode: 'LEGACY', dynamicscalingenabled: 'false', iothreadsenabled: 'false', templateid: ids['template']!, startvm: 'true', serviceofferingid: ids['offering']!, affinitygroupids: '', 'iptonetworklist[0].networkid': ids['network']!, keypairs: '', name: `ui-vm-${s}`, displayname: `ui-vm-${s}`, account: 'admin', domainid: domainId };
    const reply = await ui.request('deployVirtualMachine', wizard, { method: 'POST' });
    expect(reply.status, reply.text).to.equal(200);
    expect(reply.body['id']).to.match(UUID);
    const vm = await waitUntil('the VM object', async () => (await cloud.resource('VirtualMachine').list({ namespace: ADMIN_NAMESPACE })).items.find((v) => v.metadata.uid === reply.body['id']));
    expect(vm.spec?.['bootType'], 'LEGACY is the only mode BIOS has').to.equal('BIOS');
    expect(vm.spec).to.not.have.property('bootMode');
    await settleVm(cloud.kube, vm, 'Running');
    const done = await ui.waitForJob(reply.body['jobid'] as string, { intervalMs: 250, timeoutMs: 60_000 });
    expect(done['jobstatus'], JSON.stringify(done)).to.equal(1);
    expect((done['jobresult'] as { virtualmachine: Row }).virtualmachine).to.deep.include({ id: reply.body['id'], state: 'Running', boottype: 'Bios', bootmode: 'legacy' });
    // A secure boot needs UEFI: refused with the field and the fix.
    const secure = await ui.request('deployVirtualMachine', { ...wizard, bootmode: 'SECURE', name: `ui-secure-${s}` }, { method: 'POST' });
    expect([secure.status, secure.body['errortext']]).to.deep.equal([431, 'bootmode: spec.bootMode needs spec.bootType UEFI: set bootType UEFI or remove bootMode']);
  });

  it('logs out, after which the session is gone but the login page still answers', async () => {
    expect((await ui.logout()).status).to.equal(200);
    expect((await ui.request('listZones')).status).to.equal(401);
    expect((await ui.request('listIdps', {}, { unsigned: true })).status).to.equal(200);
  });
});
