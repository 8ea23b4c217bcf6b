import { expect } from 'chai';
import { randomInt } from 'node:crypto';
import type { CloudStackClient, CloudStackReply } from '../support/cloudstack-client.ts';
import { uniqueName } from '../support/cluster.ts';
import { type InfraCloud, startInfraCloud, waitUntil } from './cloudstack-infra-harness.ts';

/**
 * Errors of the infrastructure commands, each with its exact HTTP status, errorcode,
 * cserrorcode and text, against the real apiserver: CloudStack's own texts where it has one
 * (missing parameter, unknown id, bad value), the words of the CRD rules and admission
 * webhooks where Kubernetes refuses a write (the same as kubectl shows, with the CloudStack
 * parameter named), conflicting states, and refusals by role and by RBAC for a tenant.
 */

type Row = Record<string, unknown>;
const MISSING_ID = '00000000-0000-4000-8000-0000000000ff';

function ok(reply: CloudStackReply, what: string): Row {
  if (reply.status !== 200) throw new Error(`${what}: HTTP ${reply.status} ${reply.text}`);
  return reply.body;
}

const notFound = (label: string, param: string, value: string) =>
  `Unable to execute API command ${label} due to invalid value. Invalid parameter ${param} value=${value} due to incorrect long value format, or entity does not exist or due to incorrect parameter annotation for the field in api cmd class.`;

interface Case {
  readonly what: string;
  readonly command: string;
  readonly params: () => Record<string, string>;
  readonly as?: 'tenant';
  readonly code: number;
  /** Absent on the role gate (401), which CloudStack answers without one. */
  readonly cs?: number;
  readonly text: () => string | RegExp;
}

describe('cloudstack-api: infrastructure errors (real control plane)', function () {
  this.timeout(300_000);
  let cloud: InfraCloud;
  let tenant: { client: CloudStackClient; namespace: string; account: string };
  const s = uniqueName('er').slice(3);
  const mgmt = `172.${randomInt(16, 31)}.${randomInt(0, 255)}`;
  const pub = `203.0.${randomInt(0, 255)}`;
  const ids: Record<string, string> = {};
  const names = { zone: `Err Zone ${s}`, zone2: `Err Zone2 ${s}`, pod: `pod-e-${s}`, cluster: `cluster-e-${s}`, node: `node-e-${s}`, pool: `pool-e-${s}`, offering: `so-e-${s}` };
  const id = (key: string) => ids[key] ?? MISSING_ID;

  before(async function () {
    this.timeout(600_000);
    cloud = await startInfraCloud('cserr');
    const call = (command: string, params: Record<string, string>) => cloud.admin.request(command, params);
    // The global settings exist (and their names are known) once the controller has resolved them.
    ok(await call('updateConfiguration', { name: 'expunge.interval', value: '86400' }), 'updateConfiguration');
    await waitUntil('the settings resolved', async () => ((ok(await call('listConfigurations', {}), 'listConfigurations')['count'] as number | undefined ?? 0) > 20 ? true : undefined));
    const jobDone = async (reply: CloudStackReply, what: string) => {
      const done = await cloud.admin.waitForJob(ok(reply, what)['jobid'] as string, { intervalMs: 250, timeoutMs: 60_000 });
      if (done['jobstatus'] !== 1) throw new Error(`${what}: ${JSON.stringify(done)}`);
      return done;
    };
    ids['zone'] = (ok(await call('createZone', { name: names.zone, dns1: '8.8.8.8', internaldns1: '10.0.0.2', networktype: 'Advanced' }), 'createZone')['zone'] as Row)['id'] as string;
    ids['zone2'] = (ok(await call('createZone', { name: names.zone2, dns1: '8.8.8.8', internaldns1: '10.0.0.2', networktype: 'Advanced' }), 'createZone')['zone'] as Row)['id'] as string;
    const pn = ok(await call('createPhysicalNetwork', { name: `pn-e-${s}`, zoneid: id('zone'), vlan: '2000-2099' }), 'createPhysicalNetwork');
    ids['pn'] = pn['id'] as string;
    await jobDone({ status: 200, body: pn } as CloudStackReply, 'createPhysicalNetwork');
    await jobDone(await call('addTrafficType', { physicalnetworkid: id('pn'), traffictype: 'Guest', kvmnetworklabel: 'cloudbr1' }), 'addTrafficType');
    await jobDone(await call('addTrafficType', { physicalnetworkid: id('pn'), traffictype: 'Public', kvmnetworklabel: 'cloudbr0' }), 'addTrafficType');
    ids['pod'] = (ok(await call('createPod', { name: names.pod, zoneid: id('zone'), gateway: `${mgmt}.1`, netmask: '255.255.255.0', startip: `${mgmt}.10`, endip: `${mgmt}.20` }), 'createPod')['pod'] as Row)['id'] as string;
    ids['cluster'] = ((ok(await call('addCluster', { clustername: names.cluster, clustertype: 'CloudManaged', hypervisor: 'KVM', podid: id('pod'), zoneid: id('zone') }), 'addCluster')['cluster'] as Row[])[0]!)['id'] as string;
    ids['host'] = ((ok(await call('addHost', { url: `http://${names.node}`, hypervisor: 'KVM', podid: id('pod'), zoneid: id('zone'), clusterid: id('cluster') }), 'addHost')['host'] as Row[])[0]!)['id'] as string;
    ids['pool'] = (ok(await call('createStoragePool', { name: names.pool, url: `nfs://10.0.0.9/e/${s}`, zoneid: id('zone'), clusterid: id('cluster') }), 'createStoragePool')['storagepool'] as Row)['id'] as string;
    ids['offering'] = (ok(await call('createServiceOffering', { name: names.offering, displaytext: 'small', cpunumber: '1', memory: '512' }), 'createServiceOffering')['serviceoffering'] as Row)['id'] as string;
    await jobDone(await call('prepareHostForMaintenance', { id: id('host') }), 'prepareHostForMaintenance');
    await waitUntil('the host in Maintenance', async () => {
      const row = (ok(await call('listHosts', { id: id('host') }), 'listHosts')['host'] as Row[])[0];
      return row?.['resourcestate'] === 'Maintenance' ? true : undefined;
    });
    ids['job'] = ((ok(await call('listAsyncJobs', {}), 'listAsyncJobs')['asyncjobs'] as Row[] | undefined)?.[0]?.['jobid'] as string | undefined) ?? MISSING_ID;
    tenant = await cloud.tenant('erten');
  });

  after(async function () {
    this.timeout(120_000);
    if (!cloud) return;
    const call = (command: string, params: Record<string, string>) => cloud.admin.request(command, params);
    await call('deleteStoragePool', { id: id('pool'), forced: 'true' });
    await call('deleteHost', { id: id('host'), forced: 'true' });
    await call('deleteServiceOffering', { id: id('offering') });
    await waitUntil('the host and pool gone', async () => (ok(await call('listHosts', { clusterid: id('cluster') }), 'listHosts')['count'] === undefined && ok(await call('listStoragePools', { zoneid: id('zone') }), 'listStoragePools')['count'] === undefined ? true : undefined)).catch(() => undefined);
    await call('deleteCluster', { id: id('cluster') });
    await waitUntil('the cluster gone', async () => (ok(await call('listClusters', { zoneid: id('zone') }), 'listClusters')['count'] === undefined ? true : undefined)).catch(() => undefined);
    await call('deletePod', { id: id('pod') });
    await call('deletePhysicalNetwork', { id: id('pn') });
    await waitUntil('the zone empty', async () => ((await call('deleteZone', { id: id('zone') })).status === 200 ? true : undefined)).catch(() => undefined);
    await call('deleteZone', { id: id('zone2') });
    await cloud.stop();
  });

  const cases: Case[] = [
    // Parameters (ParamProcessWorker's texts).
    { what: 'createZone without name', command: 'createZone', params: () => ({ dns1: '8.8.8.8', internaldns1: '10.0.0.2', networktype: 'Advanced' }), code: 431, cs: 9999, text: () => 'Unable to execute API command createzone due to missing parameter name' },
    { what: 'createZone without dns1', command: 'createZone', params: () => ({ name: `z-${s}`, internaldns1: '10.0.0.2', networktype: 'Advanced' }), code: 431, cs: 9999, text: () => 'Unable to execute API command createzone due to missing parameter dns1' },
    { what: 'createZone with an unknown network type', command: 'createZone', params: () => ({ name: `z-${s}`, dns1: '8.8.8.8', internaldns1: '10.0.0.2', networktype: 'Hybrid' }), code: 431, cs: 9999, text: () => 'Unable to execute API command createzone due to invalid value Hybrid for parameter networktype; use one of: Basic, Advanced' },
    { what: 'updateZone with an unknown allocation state', command: 'updateZone', params: () => ({ id: id('zone'), allocationstate: 'Paused' }), code: 431, cs: 9999, text: () => 'Unable to execute API command updatezone due to invalid value Paused for parameter allocationstate; use one of: Enabled, Disabled' },
    { what: 'listZones with a malformed id', command: 'listZones', params: () => ({ id: 'zone-1' }), code: 431, cs: 9999, text: () => notFound('listzones', 'id', 'zone-1') },
    { what: 'createPod without gateway', command: 'createPod', params: () => ({ name: `p-${s}`, zoneid: id('zone'), netmask: '255.255.255.0', startip: '10.9.9.9' }), code: 431, cs: 9999, text: () => 'Unable to execute API command createpod due to missing parameter gateway' },
    { what: 'addCluster with an unknown cluster type', command: 'addCluster', params: () => ({ clustername: 'c', clustertype: 'Managed', hypervisor: 'KVM', podid: id('pod'), zoneid: id('zone') }), code: 431, cs: 9999, text: () => 'Unable to execute API command addcluster due to invalid value Managed for parameter clustertype; use one of: CloudManaged, ExternalManaged' },
    { what: 'addTrafficType with an unknown traffic type', command: 'addTrafficType', params: () => ({ physicalnetworkid: id('pn'), traffictype: 'Backup' }), code: 431, cs: 9999, text: () => 'Unable to execute API command addtraffictype due to invalid value Backup for parameter traffictype; use one of: Guest, Management, Public, Storage' },
    { what: 'listEvents with an impossible date', command: 'listEvents', params: () => ({ startdate: '2026-13-45' }), code: 431, cs: 9999, text: () => 'Unable to parse date 2026-13-45 for command listevents, please pass dates in the format mentioned in the api documentation' },
    { what: 'createVlanIpRange without zoneid', command: 'createVlanIpRange', params: () => ({ gateway: `${pub}.1`, netmask: '255.255.255.0', startip: `${pub}.5` }), code: 431, cs: 9999, text: () => 'Unable to execute API command createvlaniprange due to missing parameter zoneid' },
    { what: 'addImageStore without url', command: 'addImageStore', params: () => ({ provider: 'NFS', zoneid: id('zone') }), code: 431, cs: 9999, text: () => 'Unable to execute API command addimagestore due to missing parameter url' },

    // Unknown ids.
    { what: 'updateZone with an unknown id', command: 'updateZone', params: () => ({ id: MISSING_ID, name: 'x' }), code: 431, cs: 9999, text: () => notFound('updatezone', 'id', MISSING_ID) },
    { what: 'deletePod with an unknown id', command: 'deletePod', params: () => ({ id: MISSING_ID }), code: 431, cs: 9999, text: () => notFound('deletepod', 'id', MISSING_ID) },
    { what: 'createPod in an unknown zone', command: 'createPod', params: () => ({ name: 'p', zoneid: MISSING_ID, gateway: '10.9.9.1', netmask: '255.255.255.0', startip: '10.9.9.9' }), code: 431, cs: 9999, text: () => notFound('createpod', 'zoneid', MISSING_ID) },
    { what: 'addHost in an unknown pod', command: 'addHost', params: () => ({ url: 'http://x', hypervisor: 'KVM', podid: MISSING_ID, zoneid: id('zone') }), code: 431, cs: 9999, text: () => notFound('addhost', 'podid', MISSING_ID) },
    { what: 'listCapacity of an unknown cluster', command: 'listCapacity', params: () => ({ clusterid: MISSING_ID }), code: 431, cs: 9999, text: () => notFound('listcapacity', 'clusterid', MISSING_ID) },
    { what: 'updateNetworkServiceProvider with an unknown id', command: 'updateNetworkServiceProvider', params: () => ({ id: MISSING_ID, state: 'Enabled' }), code: 431, cs: 9999, text: () => notFound('updatenetworkserviceprovider', 'id', MISSING_ID) },
    { what: 'queryAsyncJobResult of an unknown job', command: 'queryAsyncJobResult', params: () => ({ jobid: MISSING_ID }), code: 431, cs: 9999, text: () => notFound('queryasyncjobresult', 'jobid', MISSING_ID) },
    { what: 'enableStorageMaintenance of an unknown pool (legacy label)', command: 'enableStorageMaintenance', params: () => ({ id: MISSING_ID }), code: 431, cs: 9999, text: () => notFound('prepareprimarystorageformaintenance', 'id', MISSING_ID) },

    // CloudStack's service-layer refusals.
    { what: 'createZone with a name already taken', command: 'createZone', params: () => ({ name: names.zone, dns1: '8.8.8.8', internaldns1: '10.0.0.2', networktype: 'Advanced' }), code: 431, cs: 4350, text: () => 'A zone with that name already exists. Please specify a unique zone name.' },
    { what: 'createPod with a name taken in the zone', command: 'createPod', params: () => ({ name: names.pod, zoneid: id('zone'), gateway: '10.9.9.1', netmask: '255.255.255.0', startip: '10.9.9.9' }), code: 431, cs: 4350, text: () => `A pod with name: ${names.pod} already exists in zone ${id('zone')}. Please specify a different pod name.` },
    { what: 'addCluster with an unknown hypervisor', command: 'addCluster', params: () => ({ clustername: 'c', clustertype: 'CloudManaged', hypervisor: 'Hyperv', podid: id('pod'), zoneid: id('zone') }), code: 431, cs: 4350, text: () => 'Unable to resolve Hyperv to a supported hypervisor type; use one of: KVM, KubeVirt, Simulator' },
    { what: 'addCluster with a pod of another zone', command: 'addCluster', params: () => ({ clustername: 'c', clustertype: 'CloudManaged', hypervisor: 'KVM', podid: id('pod'), zoneid: id('zone2') }), code: 431, cs: 4350, text: () => `Pod ${id('pod')} doesn't belong to the zone ${id('zone2')}` },
    { what: 'addHost without a cluster', command: 'addHost', params: () => ({ url: 'http://node-x', hypervisor: 'KVM', podid: id('pod'), zoneid: id('zone') }), code: 431, cs: 4350, text: () => 'Please specify cluster id or cluster name for the host' },
    { what: 'addHost with another hypervisor than its cluster', command: 'addHost', params: () => ({ url: 'http://node-x', hypervisor: 'Simulator', podid: id('pod'), zoneid: id('zone'), clusterid: id('cluster') }), code: 431, cs: 4350, text: () => `Hypervisor Simulator does not match cluster ${names.cluster}'s hypervisor KVM` },
    { what: 'prepareHostForMaintenance of a host in maintenance', command: 'prepareHostForMaintenance', params: () => ({ id: id('host') }), code: 431, cs: 4350, text: () => `Host ${id('host')} is already in Maintenance; cancel maintenance first` },
    { what: 'cancelStorageMaintenance of a pool not in maintenance', command: 'cancelStorageMaintenance', params: () => ({ id: id('pool') }), code: 431, cs: 4350, text: () => new RegExp(`^Primary storage with id ${id('pool')} is not ready to complete cancel maintenance: it is \\w+, not in maintenance$`) },
    { what: 'deleteCluster with hosts', command: 'deleteCluster', params: () => ({ id: id('cluster') }), code: 530, cs: 4250, text: () => `Cluster: ${id('cluster')} cannot be deleted. Cluster still has hosts` },
    { what: 'deletePod with a host in it', command: 'deletePod', params: () => ({ id: id('pod') }), code: 530, cs: 4250, text: () => 'The pod cannot be deleted because there are servers in this pod' },
    { what: 'createStoragePool with an unsupported URL', command: 'createStoragePool', params: () => ({ name: 'p', url: 'ftp://10.0.0.9/x', zoneid: id('zone'), clusterid: id('cluster') }), code: 431, cs: 4350, text: () => 'Invalid parameter url value=ftp://10.0.0.9/x: give nfs://server/export, SharedMountPoint:///path or rbd://monitor/pool (local pools are added by the agent of their host)' },
    { what: 'addImageStore with an unsupported provider', command: 'addImageStore', params: () => ({ provider: 'S3', url: 'nfs://10.0.0.9/i', zoneid: id('zone') }), code: 431, cs: 4350, text: () => 'Invalid image store provider S3: Kumulus supports NFS and Local' },
    { what: 'createPhysicalNetwork with an unknown isolation method', command: 'createPhysicalNetwork', params: () => ({ name: 'x', zoneid: id('zone'), isolationmethods: 'GRE' }), code: 431, cs: 4350, text: () => 'Invalid isolation method GRE: Kumulus isolates guest networks by VLAN or VXLAN' },
    { what: 'createPhysicalNetwork with a malformed VLAN range', command: 'createPhysicalNetwork', params: () => ({ name: 'x', zoneid: id('zone'), vlan: '100-abc' }), code: 431, cs: 4350, text: () => 'Invalid parameter vlan value=100-abc: give a range such as 100-199, or several separated by commas' },
    { what: 'addTrafficType of a type already there', command: 'addTrafficType', params: () => ({ physicalnetworkid: id('pn'), traffictype: 'Guest' }), code: 431, cs: 4350, text: () => 'This physical network already supports the traffic type: Guest' },
    { what: 'updateConfiguration of an unknown setting', command: 'updateConfiguration', params: () => ({ name: 'no.such.setting', value: '1' }), code: 431, cs: 4350, text: () => "Config parameter with name no.such.setting doesn't exist" },
    { what: 'createNetworkOffering with an unknown service', command: 'createNetworkOffering', params: () => ({ name: 'n', displaytext: 'n', guestiptype: 'Isolated', traffictype: 'Guest', supportedservices: 'Dhcp,Teleport' }), code: 431, cs: 4350, text: () => 'Invalid service Teleport; supported services: Dhcp, Dns, UserData, SourceNat, StaticNat, PortForwarding, Lb, Firewall, SecurityGroup, Vpn, NetworkACL, Gateway, Connectivity' },

    // Refused by the apiserver: the CRD's rules and the webhooks, in their words, parameter-named.
    { what: 'createZone with a guest CIDR that has host bits (CEL)', command: 'createZone', params: () => ({ name: `cidr ${s}`, dns1: '8.8.8.8', internaldns1: '10.0.0.2', networktype: 'Advanced', guestcidraddress: '10.1.1.5/24' }), code: 431, cs: 4350, text: () => 'guestcidraddress: spec.guestCidr must be a network address with no host bits set, such as 10.1.0.0/16' },
    { what: 'createPod with a start address outside its subnet (CEL)', command: 'createPod', params: () => ({ name: `p2-${s}`, zoneid: id('zone2'), gateway: '10.250.1.1', netmask: '255.255.255.0', startip: '10.250.2.10' }), code: 431, cs: 4350, text: () => /^startip: spec\.startIp must be inside the subnet of spec\.gateway and spec\.netmask: fix the address or widen the netmask/ },
    { what: "createPod overlapping another pod's reserved range (webhook)", command: 'createPod', params: () => ({ name: `p3-${s}`, zoneid: id('zone2'), gateway: `${mgmt}.1`, netmask: '255.255.255.0', startip: `${mgmt}.15`, endip: `${mgmt}.30` }), code: 431, cs: 4350, text: () => new RegExp(`^startip: the range ${mgmt.replace(/\./g, '\\.')}\\.15-${mgmt.replace(/\./g, '\\.')}\\.30 \\(spec\\.startIp\\.\\.spec\\.endIp\\) overlaps pod ${names.pod}'s reserved system range`) },
    { what: 'createVlanIpRange with a VLAN in the guest range (webhook)', command: 'createVlanIpRange', params: () => ({ zoneid: id('zone'), physicalnetworkid: id('pn'), vlan: '2050', gateway: `${pub}.1`, netmask: '255.255.255.0', startip: `${pub}.10`, endip: `${pub}.20` }), code: 431, cs: 4350, text: () => /^vlan: VLAN 2050 is in physical network .*'s guest VLAN range 2000-2099, which guest networks draw from; pick a VLAN outside the guest ranges$/ },
    { what: 'createVlanIpRange with the gateway inside the range (CEL)', command: 'createVlanIpRange', params: () => ({ zoneid: id('zone'), vlan: '60', gateway: `${pub}.15`, netmask: '255.255.255.0', startip: `${pub}.10`, endip: `${pub}.20` }), code: 431, cs: 4350, text: () => /^gateway: spec\.gateway must not be inside spec\.startIp\.\.spec\.endIp/ },
    { what: 'createStoragePool on an export already added (webhook)', command: 'createStoragePool', params: () => ({ name: `dup ${s}`, url: `nfs://10.0.0.9/e/${s}`, zoneid: id('zone'), clusterid: id('cluster') }), code: 431, cs: 4350, text: () => new RegExp(`^url: NFS 10\\.0\\.0\\.9:/e/${s} is already primary storage ${names.pool}; a pool is added once: use that pool or give another export$`) },
    { what: 'addImageStore with an NFS URL without export (CEL)', command: 'addImageStore', params: () => ({ provider: 'NFS', url: 'nfs://10.0.0.9', zoneid: id('zone') }), code: 431, cs: 4350, text: () => 'url: spec.url must look like nfs://server/export for provider NFS' },
    { what: 'createServiceOffering without CPU and memory (CEL)', command: 'createServiceOffering', params: () => ({ name: 'x', displaytext: 'x' }), code: 431, cs: 4350, text: () => 'cpunumber: spec.cpuNumber and spec.memory are required unless spec.customized is set' },
    { what: 'updateServiceOffering setting state Inactive (the controller owns it)', command: 'updateServiceOffering', params: () => ({ id: id('offering'), state: 'Inactive' }), code: 431, cs: 4350, text: () => 'The state of a service offering is Active and follows its life: it turns Inactive when deleteServiceOffering is called while it is in use; it cannot be set to Inactive' },
    { what: 'updateConfiguration with a value of the wrong type (webhook)', command: 'updateConfiguration', params: () => ({ name: 'cpu.overprovisioning.factor', value: 'two' }), code: 431, cs: 4350, text: () => 'value: "two" is not valid for cpu.overprovisioning.factor; give a number above 0' },

    // Roles and RBAC, for a tenant (a User account, impersonated).
    { what: 'a tenant calling createZone (role)', as: 'tenant', command: 'createZone', params: () => ({ name: 'x', dns1: '8.8.8.8', internaldns1: '10.0.0.2', networktype: 'Advanced' }), code: 401, cs: 9999, text: () => "The given command 'createZone' either does not exist, is not available for user." },
    { what: 'a tenant calling listHosts (role)', as: 'tenant', command: 'listHosts', params: () => ({}), code: 401, cs: 9999, text: () => "The given command 'listHosts' either does not exist, is not available for user." },
    { what: "a tenant querying the admin's job (RBAC)", as: 'tenant', command: 'queryAsyncJobResult', params: () => ({ jobid: id('job') }), code: 531, cs: 4365, text: () => `Account ${tenant.account} does not have permission to list asyncjobs in namespace cs-admin` },
    { what: "a tenant listing the ROOT domain's events (RBAC)", as: 'tenant', command: 'listEvents', params: () => ({ domainid: ids['root'] ?? MISSING_ID }), code: 531, cs: 4365, text: () => `Account ${tenant.account} does not have permission to list resources of domain ${ids['root'] ?? MISSING_ID}` },
  ];

  it('has at least 30 cases', () => {
    expect(cases.length).to.be.at.least(30);
  });

  for (const c of cases) {
    it(`${c.what}: ${c.code}`, async () => {
      if (c.what.includes('ROOT domain')) ids['root'] = (await cloud.resource('Domain').get({ name: 'root' })).metadata.uid ?? MISSING_ID;
      const client = c.as === 'tenant' ? tenant.client : cloud.admin;
      const reply = await client.request(c.command, c.params());
      const expected = c.text();
      expect(reply.status, reply.text).to.equal(c.code);
      expect(reply.headers.get('x-description')).to.be.a('string');
      expect(reply.body['errorcode']).to.equal(c.code);
      expect(reply.body['cserrorcode']).to.equal(c.cs);
      if (typeof expected === 'string') expect(reply.body['errortext']).to.equal(expected);
      else expect(reply.body['errortext']).to.match(expected);
    });
  }

  it('shows a tenant the Enabled zones only, as CloudStack does (RBAC allows the read)', async () => {
    ok(await cloud.admin.request('updateZone', { id: id('zone2'), allocationstate: 'Enabled' }), 'updateZone');
    const rows = await waitUntil('the enabled zone in the tenant\'s listZones', async () => {
      const found = (ok(await tenant.client.request('listZones', {}), 'listZones')['zone'] as Row[] | undefined) ?? [];
      return found.some((z) => z['id'] === id('zone2')) ? found : undefined;
    });
    expect(rows.map((z) => z['id'])).to.not.include(id('zone'));
    expect(ok(await tenant.client.request('listZones', { id: id('zone') }), 'listZones')).to.deep.equal({});
    expect(ok(await cloud.admin.request('listZones', { id: id('zone') }), 'listZones')['count']).to.equal(1);
  });
});
