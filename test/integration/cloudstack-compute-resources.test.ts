import { expect } from 'chai';
import { PUBLIC_NAMESPACE } from '../../lib/identity.ts';
import type { CloudStackClient } from '../support/cloudstack-client.ts';
import { uniqueName } from '../support/cluster.ts';
import { type InfraCloud, startInfraCloud, waitUntil } from './cloudstack-infra-harness.ts';

/**
 * What VMs use, through the API over the real control plane: templates (rows per zone from the
 * per-zone download state), guest networks, SSH key pairs, affinity groups and volumes
 * (attach and detach through spec.vmRef), each the object kubectl shows. Where the compute,
 * image and network controllers are not on main yet, the test plays them, writing status
 * through the status subresource; the AsyncJob controller is the real one.
 */

const NOT_FOUND = (label: string, param: string, id: string) =>
  `Unable to execute API command ${label} due to invalid value. Invalid parameter ${param} value=${id} due to incorrect long value format, or entity does not exist or due to incorrect parameter annotation for the field in api cmd class.`;
const UNKNOWN = '0b0e1e2c-0000-4000-8000-0000000000a1';
const PUBLIC_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGxU4aR5f3p1d0Y4pX3Wl6m3b8Kc2mJQ0rT7yH9vN2sB t@example';

describe('cloudstack-api: templates, networks, key pairs, affinity groups and volumes (real control plane)', function () {
  this.timeout(300_000);
  let cloud: InfraCloud;
  let tenant: { client: CloudStackClient; namespace: string; account: string };
  let other: { client: CloudStackClient; namespace: string; account: string };
  const s = uniqueName('res').slice(4);
  const ids: Record<string, string> = {};

  /** Plays a controller: `kind`/`name` Ready at its current generation, with more status. */
  async function ready(kind: string, namespace: string, name: string, status: Record<string, unknown> = {}): Promise<void> {
    const resource = cloud.resource(kind);
    const obj = await resource.get({ namespace, name });
    const generation = (obj.metadata as { generation?: number }).generation ?? 1;
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    await resource.patchStatus({ namespace, name }, { status: { observedGeneration: generation, conditions: [{ type: 'Ready', status: 'True', reason: 'Ready', message: '', lastTransitionTime: now, observedGeneration: generation }], ...status } });
  }

  const objectsIn = async (kind: string, namespace: string) => (await cloud.resource(kind).list({ namespace })).items;
  const byUid = async (kind: string, namespace: string, uid: string) => (await objectsIn(kind, namespace)).find((o) => o.metadata.uid === uid);

  before(async function () {
    this.timeout(240_000);
    cloud = await startInfraCloud('csres');
    const make = async (kind: string, name: string, spec: Record<string, unknown>, namespace?: string) => cloud.resource(kind).create({ metadata: { name, ...(namespace ? { namespace } : {}) }, spec });
    const zone = await make('Zone', `z-${s}`, { displayName: `Zone ${s}`, networkType: 'Advanced', dns1: '8.8.8.8', internalDns1: '10.0.0.2', guestCidr: '10.2.0.0/16', allocationState: 'Enabled' });
    ids['zone'] = zone.metadata.uid ?? '';
    ids['offering'] = (await make('NetworkOffering', `iso-${s}`, { displayName: `Isolated ${s}`, guestIpType: 'Isolated', services: [{ name: 'Dhcp' }, { name: 'Dns' }] })).metadata.uid ?? '';
    ids['disk'] = (await make('DiskOffering', `d5-${s}`, { displayName: `Disk 5 ${s}`, diskSize: '5Gi' })).metadata.uid ?? '';
    ids['custom'] = (await make('DiskOffering', `dc-${s}`, { displayName: `Custom ${s}`, customized: { minSize: '1Gi', maxSize: '100Gi' } })).metadata.uid ?? '';
    await make('ServiceOffering', `small-${s}`, { cpuNumber: 1, memory: '512Mi' });
    await cloud.kube.resource({ group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false }).create({ metadata: { name: PUBLIC_NAMESPACE } }).catch(() => undefined);
    tenant = await cloud.tenant('rest');
    other = await cloud.tenant('reso');
  });

  after(async () => {
    await cloud?.stop();
  });

  describe('templates', () => {
    it('registers: one row per zone, not ready while the download goes on, the object in kumulus-public', async () => {
      const osTypes = await cloud.admin.request('listOsTypes', { keyword: 'Debian GNU/Linux 12' });
      const debian = (osTypes.body['ostype'] as Record<string, unknown>[])[0];
      expect(debian).to.include({ name: 'Debian GNU/Linux 12 (64-bit)', oscategoryname: 'Debian' });
      const reply = await cloud.admin.request('registerTemplate', { name: `Tiny ${s}`, displaytext: 'A tiny guest', format: 'qcow2', hypervisor: 'KVM', url: 'https://images.example.com/tiny.qcow2', zoneid: ids['zone'] ?? '', ispublic: 'true', ostypeid: debian?.['id'] as string, checksum: 'd41d8cd98f00b204e9800998ecf8427e' });
      expect(reply.status, reply.text).to.equal(200);
      expect(reply.body['count']).to.equal(1);
      const row = (reply.body['template'] as Record<string, unknown>[])[0] ?? {};
      expect(row).to.include({ name: `Tiny ${s}`, displaytext: 'A tiny guest', zoneid: ids['zone'], isready: false, status: 'Not Downloaded', format: 'QCOW2', ispublic: true, ostypename: 'Debian GNU/Linux 12 (64-bit)', ostypeid: debian?.['id'] });
      ids['template'] = row['id'] as string;
      const object = await byUid('Template', PUBLIC_NAMESPACE, ids['template']);
      expect(object?.spec).to.deep.include({ displayName: `Tiny ${s}`, url: 'https://images.example.com/tiny.qcow2', checksum: '{MD5}d41d8cd98f00b204e9800998ecf8427e', zoneRefs: [{ name: `z-${s}` }], isPublic: true, osType: 'Debian GNU/Linux 12 (64-bit)' });
    });

    it('lists per-zone state: executable shows it to a tenant once downloaded, self does not', async () => {
      const name = (await byUid('Template', PUBLIC_NAMESPACE, ids['template'] ?? ''))?.metadata.name ?? '';
      const executable = () => tenant.client.request('listTemplates', { templatefilter: 'executable', id: ids['template'] ?? '' });
      expect((await executable()).body['count']).to.equal(1);
      expect((await tenant.client.request('listTemplates', { templatefilter: 'executable', id: ids['template'] ?? '', isready: 'true' })).body).to.deep.equal({});
      await cloud.resource('Template').patchStatus({ namespace: PUBLIC_NAMESPACE, name }, { status: { state: 'Active', isReady: true, zones: [{ zone: `z-${s}`, downloadState: 'DOWNLOADED', downloadPercent: 100, sizeBytes: 2 ** 30, physicalSizeBytes: 2 ** 28 }] } });
      const row = await waitUntil('the template ready', async () => {
        const found = ((await executable()).body['template'] as Record<string, unknown>[] | undefined)?.[0];
        return found?.['isready'] === true ? found : undefined;
      });
      expect(row).to.include({ status: 'Download Complete', size: 2 ** 30, physicalsize: 2 ** 28 });
      expect((await tenant.client.request('listTemplates', { templatefilter: 'self' })).body).to.deep.equal({});
      expect((await tenant.client.request('listTemplates', { templatefilter: 'community', id: ids['template'] ?? '' })).body['count']).to.equal(1);
      expect((await tenant.client.request('listTemplates', { templatefilter: 'featured', id: ids['template'] ?? '' })).body).to.deep.equal({});
    });

    it('prepares a template on the zone\'s primary storage (spec.preparePools, which the agents fill); admin only, refusing what cannot be prepared', async () => {
      await cloud.resource('PrimaryStorage').create({ metadata: { name: `ps-${s}` }, spec: { zoneRef: { name: `z-${s}` }, scope: 'Zone', protocol: 'SharedMountPoint', path: '/pool' } });
      const templateId = ids['template'] ?? '';
      const name = (await byUid('Template', PUBLIC_NAMESPACE, templateId))?.metadata.name ?? '';
      const refused = await tenant.client.request('prepareTemplate', { templateid: templateId, zoneid: ids['zone'] ?? '' });
      expect([refused.status, refused.body['errortext']]).to.deep.equal([401, "The given command 'prepareTemplate' either does not exist, is not available for user."]);

      const reply = await waitUntil('the pool in the API cache', async () => {
        const r = await cloud.admin.request('prepareTemplate', { templateid: templateId, zoneid: ids['zone'] ?? '' });
        return r.status === 200 ? r : undefined;
      });
      expect(reply.body['count']).to.equal(1);
      expect((reply.body['template'] as Record<string, unknown>[])[0]).to.include({ id: templateId, zoneid: ids['zone'], isready: true, status: 'Download Complete' });
      expect((await cloud.resource('Template').get({ namespace: PUBLIC_NAMESPACE, name })).spec?.['preparePools']).to.deep.equal([{ name: `ps-${s}` }]);
      const again = await cloud.admin.request('prepareTemplate', { templateid: templateId, zoneid: ids['zone'] ?? '' });
      expect(again.status, again.text).to.equal(200);
      expect((await cloud.resource('Template').get({ namespace: PUBLIC_NAMESPACE, name })).spec?.['preparePools'], 'listed once').to.deep.equal([{ name: `ps-${s}` }]);

      const unknownPool = await cloud.admin.request('prepareTemplate', { templateid: templateId, zoneid: ids['zone'] ?? '', storageid: UNKNOWN });
      expect([unknownPool.status, unknownPool.body['errortext']]).to.deep.equal([431, NOT_FOUND('preparetemplate', 'storageid', UNKNOWN)]);
      const unknownTemplate = await cloud.admin.request('prepareTemplate', { templateid: UNKNOWN, zoneid: ids['zone'] ?? '' });
      expect([unknownTemplate.status, unknownTemplate.body['errortext']]).to.deep.equal([431, NOT_FOUND('preparetemplate', 'templateid', UNKNOWN)]);
      const missing = await cloud.admin.request('prepareTemplate', { templateid: templateId });
      expect([missing.status, missing.body['errortext']]).to.deep.equal([431, 'Unable to execute API command preparetemplate due to missing parameter zoneid']);
      const elsewhere = await cloud.resource('Zone').create({ metadata: { name: `z2-${s}` }, spec: { displayName: `Zone2 ${s}`, networkType: 'Advanced', dns1: '8.8.8.8', internalDns1: '10.0.0.2', guestCidr: '10.4.0.0/16', allocationState: 'Enabled' } });
      const otherZone = await waitUntil('the second zone in the API cache', async () => {
        const r = await cloud.admin.request('prepareTemplate', { templateid: templateId, zoneid: elsewhere.metadata.uid ?? '' });
        return r.status === 431 && !String(r.body['errortext']).startsWith('Unable to execute API command') ? r : undefined;
      });
      expect(otherZone.body['errortext']).to.equal(`The template ${templateId} is not available for use in zone ${elsewhere.metadata.uid ?? ''}: register it there first`);
      await cloud.resource('Zone').delete({ name: `z2-${s}` });
    });

    it('registers a tenant\'s own template in its namespace, invisible to other tenants', async () => {
      const reply = await tenant.client.request('registerTemplate', { name: `Mine ${s}`, displaytext: 'mine', format: 'RAW', hypervisor: 'kvm', url: 'https://images.example.com/mine.raw', zoneids: ids['zone'] ?? '' });
      expect(reply.status, reply.text).to.equal(200);
      const id = (reply.body['template'] as Record<string, unknown>[])[0]?.['id'] as string;
      expect(await byUid('Template', tenant.namespace, id)).to.not.equal(undefined);
      expect((await tenant.client.request('listTemplates', { templatefilter: 'self' })).body['count']).to.equal(1);
      expect((await other.client.request('listTemplates', { templatefilter: 'executable', id })).body).to.deep.equal({});
      const deleted = await other.client.request('deleteTemplate', { id });
      expect(deleted.body['errortext']).to.equal(NOT_FOUND('deletetemplate', 'id', id));
      const mine = await tenant.client.request('deleteTemplate', { id });
      expect((await tenant.client.waitForJob(mine.body['jobid'] as string, { intervalMs: 250, timeoutMs: 60_000 }))['jobstatus']).to.equal(1);
      expect(await byUid('Template', tenant.namespace, id)).to.equal(undefined);
    });

    const refusals: { what: string; params: () => Record<string, string>; code: number; text: string | RegExp }[] = [
      { what: 'an unsupported format', params: () => ({ name: 'x', displaytext: 'x', format: 'VHD', hypervisor: 'KVM', url: 'https://e.example/x.vhd', zoneid: ids['zone'] ?? '' }), code: 431, text: 'Format VHD is not supported by KVM here: use QCOW2, RAW or ISO' },
      { what: 'another hypervisor', params: () => ({ name: 'x', displaytext: 'x', format: 'QCOW2', hypervisor: 'XenServer', url: 'https://e.example/x.qcow2', zoneid: ids['zone'] ?? '' }), code: 431, text: 'Hypervisor XenServer is not supported: Kumulus runs KVM' },
      { what: 'an unknown zone', params: () => ({ name: 'x', displaytext: 'x', format: 'QCOW2', hypervisor: 'KVM', url: 'https://e.example/x.qcow2', zoneid: UNKNOWN }), code: 431, text: NOT_FOUND('registertemplate', 'zoneid', UNKNOWN) },
      { what: 'an unknown OS type', params: () => ({ name: 'x', displaytext: 'x', format: 'QCOW2', hypervisor: 'KVM', url: 'https://e.example/x.qcow2', zoneid: ids['zone'] ?? '', ostypeid: UNKNOWN }), code: 431, text: NOT_FOUND('registertemplate', 'ostypeid', UNKNOWN) },
      { what: 'zoneid with zoneids', params: () => ({ name: 'x', displaytext: 'x', format: 'QCOW2', hypervisor: 'KVM', url: 'https://e.example/x.qcow2', zoneid: ids['zone'] ?? '', zoneids: ids['zone'] ?? '' }), code: 431, text: 'Both zoneid and zoneids cannot be specified at the same time' },
      { what: 'a URL that is not http(s) or file (the CRD rule, through the API)', params: () => ({ name: 'x', displaytext: 'x', format: 'QCOW2', hypervisor: 'KVM', url: 'ftp://e.example/x.qcow2', zoneid: ids['zone'] ?? '' }), code: 431, text: /url must be an http:\/\/, https:\/\/ or file:\/\/ URL/ },
      { what: 'a missing url', params: () => ({ name: 'x', displaytext: 'x', format: 'QCOW2', hypervisor: 'KVM' }), code: 431, text: 'Unable to execute API command registertemplate due to missing parameter url' },
    ];
    for (const c of refusals) {
      it(`refuses ${c.what}`, async () => {
        const reply = await tenant.client.request('registerTemplate', c.params());
        expect(reply.status, reply.text).to.equal(c.code);
        if (c.text instanceof RegExp) expect(reply.body['errortext']).to.match(c.text);
        else expect(reply.body['errortext']).to.equal(c.text);
      });
    }

    it('refuses templatefilter all to a tenant, and an unknown filter', async () => {
      expect((await tenant.client.request('listTemplates', { templatefilter: 'all' })).body['errortext']).to.equal('templatefilter all is for root administrators only');
      expect((await tenant.client.request('listTemplates', { templatefilter: 'mine' })).body['errortext']).to.match(/invalid value mine for parameter templatefilter/);
      expect((await cloud.admin.request('listTemplates', { templatefilter: 'all', id: ids['template'] ?? '' })).body['count']).to.equal(1);
    });

    it('updates a template: names, OS type and details in the object; the format cannot change', async () => {
      const debian = ((await cloud.admin.request('listOsTypes', { keyword: 'Debian GNU/Linux 11' })).body['ostype'] as Record<string, unknown>[])[0];
      const reply = await cloud.admin.request('updateTemplate', { id: ids['template'] ?? '', name: `Tiny2 ${s}`, displaytext: 'still tiny', ostypeid: debian?.['id'] as string, passwordenabled: 'true', 'details[0].kernel': 'vmlinuz' });
      expect(reply.status, reply.text).to.equal(200);
      expect(reply.body['template']).to.include({ id: ids['template'], name: `Tiny2 ${s}`, displaytext: 'still tiny', ostypename: 'Debian GNU/Linux 11 (64-bit)', passwordenabled: true, zoneid: ids['zone'] });
      expect((reply.body['template'] as Record<string, unknown>)['details']).to.deep.equal({ kernel: 'vmlinuz' });
      const object = await byUid('Template', PUBLIC_NAMESPACE, ids['template'] ?? '');
      expect(object?.spec).to.deep.include({ displayName: `Tiny2 ${s}`, displayText: 'still tiny', osType: 'Debian GNU/Linux 11 (64-bit)', passwordEnabled: true });
      const format = await cloud.admin.request('updateTemplate', { id: ids['template'] ?? '', format: 'RAW' });
      expect([format.status, format.body['errortext']]).to.deep.equal([431, `The format of Tiny2 ${s} is QCOW2 and cannot change: register the image again in format RAW`]);
    });

    it('shares a tenant\'s template with every account by ispublic, kept in the tenant\'s namespace, and lists its permissions', async () => {
      const reply = await tenant.client.request('registerTemplate', { name: `Shared ${s}`, displaytext: 'shared', format: 'QCOW2', hypervisor: 'KVM', url: 'https://images.example.com/shared.qcow2', zoneid: ids['zone'] ?? '' });
      const id = (reply.body['template'] as Record<string, unknown>[])[0]?.['id'] as string;
      expect((await other.client.request('listTemplates', { templatefilter: 'executable', id })).body).to.deep.equal({});
      const permissions = await tenant.client.request('listTemplatePermissions', { id });
      const domainid = (reply.body['template'] as Record<string, unknown>[])[0]?.['domainid'];
      expect(domainid).to.match(/^[0-9a-f-]{36}$/);
      expect(permissions.body['templatepermission']).to.deep.equal([{ id, ispublic: false, domainid, account: [], projectids: [] }]);
      expect((await tenant.client.request('updateTemplatePermissions', { id, ispublic: 'true' })).body).to.deep.equal({ success: true });
      expect((await byUid('Template', tenant.namespace, id))?.spec?.['isPublic']).to.equal(true);
      const seen = await waitUntil('the other tenant to see the public template', async () => {
        const row = ((await other.client.request('listTemplates', { templatefilter: 'executable', id })).body['template'] as Record<string, unknown>[] | undefined)?.[0];
        return row;
      });
      expect(seen).to.include({ id, ispublic: true, account: tenant.account });
      // Public lets others use it, not change it.
      expect((await other.client.request('updateTemplate', { id, name: 'mine now' })).status).to.equal(431);
      const accounts = await tenant.client.request('updateTemplatePermissions', { id, accounts: other.account, op: 'add' });
      expect([accounts.status, accounts.body['errortext']]).to.deep.equal([431, `Sharing Shared ${s} with chosen accounts or projects is not supported: make it public (ispublic=true), which lets every account use it, or keep it private`]);
      const featured = await tenant.client.request('updateTemplatePermissions', { id, isfeatured: 'true' });
      expect([featured.status, featured.body['errortext']]).to.deep.equal([531, 'Only admins can update template/iso featured flag']);
    });

    it('registers, lists, updates, shares and deletes ISOs apart from templates', async () => {
      const reply = await tenant.client.request('registerIso', { name: `Rescue ${s}`, displaytext: 'rescue', url: 'https://images.example.com/rescue.iso', zoneid: ids['zone'] ?? '', bootable: 'true' });
      expect(reply.status, reply.text).to.equal(200);
      const row = (reply.body['iso'] as Record<string, unknown>[])[0] ?? {};
      expect(row).to.include({ name: `Rescue ${s}`, format: 'ISO', bootable: true, isready: false, zoneid: ids['zone'], account: tenant.account });
      const id = row['id'] as string;
      expect((await byUid('Template', tenant.namespace, id))?.spec).to.deep.include({ format: 'ISO', url: 'https://images.example.com/rescue.iso', bootable: true });
      expect((await tenant.client.request('listIsos', { isofilter: 'self' })).body['count']).to.equal(1);
      expect((await tenant.client.request('listIsos', { isofilter: 'self', bootable: 'false' })).body).to.deep.equal({});
      expect(((await tenant.client.request('listTemplates', { templatefilter: 'self' })).body['template'] as Record<string, unknown>[] | undefined)?.map((t) => t['id'])).to.not.include(id);
      expect((await tenant.client.request('updateTemplate', { id, name: 'x' })).body['errortext']).to.equal(NOT_FOUND('updatetemplate', 'id', id));
      const updated = await tenant.client.request('updateIso', { id, displaytext: 'rescue disk', bootable: 'false' });
      expect(updated.body['iso']).to.include({ id, displaytext: 'rescue disk', bootable: false });
      expect((await tenant.client.request('listIsoPermissions', { id })).body['isopermission']).to.have.length(1);
      expect((await other.client.request('listIsos', { isofilter: 'executable', id })).body).to.deep.equal({});
      await tenant.client.request('updateIsoPermissions', { id, ispublic: 'true' });
      await waitUntil('the other tenant to see the public ISO', async () => ((await other.client.request('listIsos', { isofilter: 'executable', id })).body['count'] === 1 ? true : undefined));
      expect((await other.client.request('deleteIso', { id })).body['errortext']).to.equal(NOT_FOUND('deleteiso', 'id', id));
      const deleted = await tenant.client.request('deleteIso', { id });
      expect((await tenant.client.waitForJob(deleted.body['jobid'] as string, { intervalMs: 250, timeoutMs: 60_000 }))['jobstatus']).to.equal(1);
      expect(await byUid('Template', tenant.namespace, id)).to.equal(undefined);
    });
  });

  describe('networks', () => {
    it('lists the network services with their providers, and the isolation methods', async () => {
      const dhcp = await cloud.admin.request('listSupportedNetworkServices', { service: 'Dhcp' });
      expect(dhcp.body['networkservice']).to.deep.equal([{ name: 'Dhcp', provider: [{ name: 'VirtualRouter' }, { name: 'VpcVirtualRouter' }], capability: [] }]);
      const configDrive = await cloud.admin.request('listSupportedNetworkServices', { provider: 'ConfigDrive' });
      expect((configDrive.body['networkservice'] as Record<string, unknown>[]).map((row) => row['name'])).to.deep.equal(['UserData']);
      const unknown = await cloud.admin.request('listSupportedNetworkServices', { provider: 'Netscaler' });
      expect([unknown.status, unknown.body['errortext']]).to.deep.equal([431, 'Invalid Network Service Provider=Netscaler']);
      expect((await cloud.admin.request('listNetworkIsolationMethods', {})).body).to.deep.equal({ count: 2, isolationmethod: [{ name: 'VLAN' }, { name: 'VXLAN' }] });
    });

    it('creates a tenant network, the object kubectl sees, listed for its owner only', async () => {
      const reply = await tenant.client.request('createNetwork', { name: `Web ${s}`, displaytext: 'web tier', networkofferingid: ids['offering'] ?? '', zoneid: ids['zone'] ?? '', gateway: '10.2.5.1', netmask: '255.255.255.0' });
      expect(reply.status, reply.text).to.equal(200);
      const network = reply.body['network'] as Record<string, unknown>;
      expect(network).to.include({ name: `Web ${s}`, displaytext: 'web tier', state: 'Allocated', type: 'Isolated', cidr: '10.2.5.0/24', gateway: '10.2.5.1', netmask: '255.255.255.0', zoneid: ids['zone'], networkofferingid: ids['offering'], account: tenant.account, traffictype: 'Guest' });
      expect(network['service']).to.deep.equal([{ name: 'Dhcp', provider: [{ name: 'VirtualRouter' }] }, { name: 'Dns', provider: [{ name: 'VirtualRouter' }] }]);
      ids['network'] = network['id'] as string;
      const object = await byUid('Network', tenant.namespace, ids['network']);
      expect(object?.spec).to.deep.include({ displayName: `Web ${s}`, cidr: '10.2.5.0/24', gateway: '10.2.5.1', networkOfferingRef: { name: `iso-${s}` }, zoneRef: { name: `z-${s}` } });
      expect((await tenant.client.request('listNetworks', {})).body['count']).to.equal(1);
      expect((await tenant.client.request('listNetworks', { type: 'Isolated', zoneid: ids['zone'] ?? '' })).body['count']).to.equal(1);
      expect((await tenant.client.request('listNetworks', { type: 'L2' })).body).to.deep.equal({});
      expect((await other.client.request('listNetworks', {})).body).to.deep.equal({});
    });

    it('refuses a gateway outside its netmask\'s network and an unknown offering, and deletes', async () => {
      const half = await tenant.client.request('createNetwork', { name: 'half', networkofferingid: ids['offering'] ?? '', zoneid: ids['zone'] ?? '', gateway: '10.2.6.1' });
      expect(half.body['errortext']).to.equal('gateway and netmask must be given together');
      const offering = await tenant.client.request('createNetwork', { name: 'x', networkofferingid: UNKNOWN, zoneid: ids['zone'] ?? '' });
      expect(offering.body['errortext']).to.equal(NOT_FOUND('createnetwork', 'networkofferingid', UNKNOWN));
      const theirs = await other.client.request('deleteNetwork', { id: ids['network'] ?? '' });
      expect(theirs.body['errortext']).to.equal(NOT_FOUND('deletenetwork', 'id', ids['network'] ?? ''));
      const made = await tenant.client.request('createNetwork', { name: `Spare ${s}`, networkofferingid: ids['offering'] ?? '', zoneid: ids['zone'] ?? '' });
      const spare = (made.body['network'] as Record<string, unknown>)['id'] as string;
      const deleted = await tenant.client.request('deleteNetwork', { id: spare });
      expect((await tenant.client.waitForJob(deleted.body['jobid'] as string, { intervalMs: 250, timeoutMs: 60_000 }))['jobstatus']).to.equal(1);
      expect(await byUid('Network', tenant.namespace, spare)).to.equal(undefined);
    });

    it('refuses, naming the parameter, an isolated CIDR overlapping another of the account, a Shared network without its range, and a range outside the CIDR', async () => {
      const base = await tenant.client.request('createNetwork', { name: `Base ${s}`, networkofferingid: ids['offering'] ?? '', zoneid: ids['zone'] ?? '', gateway: '10.2.11.1', netmask: '255.255.255.0' });
      const baseId = (base.body['network'] as Record<string, unknown>)['id'] as string;
      const baseName = (await byUid('Network', tenant.namespace, baseId))?.metadata.name ?? '';
      const overlap = await tenant.client.request('createNetwork', { name: 'overlap', networkofferingid: ids['offering'] ?? '', zoneid: ids['zone'] ?? '', gateway: '10.2.11.129', netmask: '255.255.255.128' });
      expect(overlap.body['errortext']).to.equal(`netmask: 10.2.11.128/25 overlaps 10.2.11.0/24 of isolated network ${baseName} in this account; choose a CIDR outside it`);
      await cloud.resource('NetworkOffering').create({ metadata: { name: `shared-${s}` }, spec: { guestIpType: 'Shared', specifyVlan: true, specifyIpRanges: true } });
      const shared = (await cloud.resource('NetworkOffering').get({ name: `shared-${s}` })).metadata.uid ?? '';
      const rangeless = await cloud.admin.request('createNetwork', { name: 'rangeless', networkofferingid: shared, zoneid: ids['zone'] ?? '', vlan: '1200', gateway: '192.168.60.1', netmask: '255.255.255.0' });
      expect(rangeless.body['errortext']).to.match(/^startip: is required for a Shared network \(offering shared-\S+\): give the range of addresses handed to guests \(CloudStack startip and endip\); endip: is required/);
      const outside = await tenant.client.request('createNetwork', { name: 'outside', networkofferingid: ids['offering'] ?? '', zoneid: ids['zone'] ?? '', gateway: '10.2.9.1', netmask: '255.255.255.0', startip: '10.2.10.10', endip: '10.2.9.20' });
      expect(outside.body['errortext']).to.equal('startip: spec.startIp must be inside spec.cidr: fix the address, or set a cidr that contains it');
      for (const name of ['overlap', 'rangeless', 'outside']) expect((await objectsIn('Network', tenant.namespace)).some((n) => n.spec?.['displayName'] === name), `${name} not created`).to.equal(false);
      await cloud.resource('NetworkOffering').delete({ name: `shared-${s}` });
      const deleted = await tenant.client.request('deleteNetwork', { id: baseId });
      expect((await tenant.client.waitForJob(deleted.body['jobid'] as string, { intervalMs: 250, timeoutMs: 60_000 }))['jobstatus']).to.equal(1);
    });

    it('restarts an implemented network by request token, which the Network controller carries out; refuses one not implemented', async () => {
      // A persistent offering on a physical network with a VNI range: the Network controller implements the network at once.
      await cloud.resource('PhysicalNetwork').create({ metadata: { name: `pn-${s}` }, spec: { zoneRef: { name: `z-${s}` }, isolationMethods: ['VXLAN'], vniRanges: [{ start: 7000, end: 7001 }], trafficTypes: [{ type: 'Guest', kvmLabel: 'cloudbr1' }] } });
      await cloud.resource('NetworkOffering').create({ metadata: { name: `pers-${s}` }, spec: { guestIpType: 'Isolated', persistent: true } });
      const persistent = (await cloud.resource('NetworkOffering').get({ name: `pers-${s}` })).metadata.uid ?? '';
      const made = await tenant.client.request('createNetwork', { name: `Kept ${s}`, networkofferingid: persistent, zoneid: ids['zone'] ?? '', gateway: '10.2.7.1', netmask: '255.255.255.0' });
      const id = (made.body['network'] as Record<string, unknown>)['id'] as string;
      const implemented = await waitUntil('the network implemented', async () => {
        const row = ((await tenant.client.request('listNetworks', { id })).body['network'] as Record<string, unknown>[] | undefined)?.[0];
        return row?.['state'] === 'Implemented' ? row : undefined;
      });
      expect(implemented['broadcasturi']).to.match(/^vxlan:\/\/700[01]$/);

      const reply = await tenant.client.request('restartNetwork', { id });
      expect(reply.status, reply.text).to.equal(200);
      const result = await tenant.client.waitForJob(reply.body['jobid'] as string, { intervalMs: 250, timeoutMs: 60_000 });
      expect(result['jobstatus'], JSON.stringify(result)).to.equal(1);
      const object = await byUid('Network', tenant.namespace, id);
      const token = (object?.spec as { restartRequestedAt?: string }).restartRequestedAt;
      expect(token, 'the request token').to.be.a('string');
      expect((object?.status as { lastRestartAt?: string }).lastRestartAt, 'carried out when the job succeeds').to.equal(token);
      expect((await other.client.request('restartNetwork', { id })).body['errortext']).to.equal(NOT_FOUND('restartnetwork', 'id', id));

      // Allocated (no VM has implemented it): nothing to restart yet, as in CloudStack.
      const lazy = await tenant.client.request('createNetwork', { name: `Lazy ${s}`, networkofferingid: ids['offering'] ?? '', zoneid: ids['zone'] ?? '', gateway: '10.2.8.1', netmask: '255.255.255.0' });
      const lazyId = (lazy.body['network'] as Record<string, unknown>)['id'] as string;
      const refused = await tenant.client.request('restartNetwork', { id: lazyId });
      expect(refused.body['errortext']).to.equal('Network is not in the right state to be restarted. Correct states are: Implemented, Setup');
      expect(((await byUid('Network', tenant.namespace, lazyId))?.spec as { restartRequestedAt?: string }).restartRequestedAt, 'no token written').to.equal(undefined);

      // updateNetwork: a new name in a job the Network controller completes (Synced at the generation written); the offering stays.
      const renamed = await tenant.client.request('updateNetwork', { id, name: `Kept2 ${s}`, displaytext: 'kept, renamed' });
      expect(renamed.status, renamed.text).to.equal(200);
      const renameJob = await tenant.client.waitForJob(renamed.body['jobid'] as string, { intervalMs: 250, timeoutMs: 60_000 });
      expect((renameJob['jobresult'] as { network: Record<string, unknown> }).network).to.include({ id, name: `Kept2 ${s}`, displaytext: 'kept, renamed' });
      expect((await byUid('Network', tenant.namespace, id))?.spec).to.deep.include({ displayName: `Kept2 ${s}`, displayText: 'kept, renamed' });
      const offering = await tenant.client.request('updateNetwork', { id, networkofferingid: ids['offering'] ?? '' });
      expect([offering.status, offering.body['errortext']]).to.deep.equal([431, `The network offering of network ${id} cannot change here: create a network with the other offering and move the VMs' NICs to it`]);

      for (const network of [id, lazyId]) {
        const deleted = await tenant.client.request('deleteNetwork', { id: network });
        expect((await tenant.client.waitForJob(deleted.body['jobid'] as string, { intervalMs: 250, timeoutMs: 60_000 }))['jobstatus']).to.equal(1);
      }
      await cloud.resource('NetworkOffering').delete({ name: `pers-${s}` });
      await cloud.resource('PhysicalNetwork').delete({ name: `pn-${s}` });
    });

    it('lists the guest VNIs of a physical network, Free or Allocated to the network the Network controller implemented', async () => {
      const pn = await cloud.resource('PhysicalNetwork').create({ metadata: { name: `gv-${s}` }, spec: { zoneRef: { name: `z-${s}` }, displayName: `Guest VNIs ${s}`, isolationMethods: ['VXLAN'], vniRanges: [{ start: 7100, end: 7102 }], trafficTypes: [{ type: 'Guest', kvmLabel: 'cloudbr1' }] } });
      const pnId = pn.metadata.uid ?? '';
      const list = async (params: Record<string, string>) => cloud.admin.request('listGuestVlans', { physicalnetworkid: pnId, ...params });
      const free = await list({});
      expect(free.status, free.text).to.equal(200);
      expect(free.body['count']).to.equal(3);
      const rows = free.body['guestvlan'] as Record<string, unknown>[];
      expect(rows.map((r) => [r['vlan'], r['allocationstate']])).to.deep.equal([['7100', 'Free'], ['7101', 'Free'], ['7102', 'Free']]);
      expect(rows[0]).to.include({ physicalnetworkid: pnId, physicalnetworkname: `Guest VNIs ${s}`, zoneid: ids['zone'], zonename: `Zone ${s}`, isdedicated: false });
      expect(rows[0]?.['id']).to.be.a('number');
      expect(rows[0]?.['network']).to.deep.equal([]);
      expect((await list({ allocatedonly: 'true' })).body).to.deep.equal({});

      // A persistent network is implemented at once, taking one VNI of this physical network.
      await cloud.resource('NetworkOffering').create({ metadata: { name: `gvo-${s}` }, spec: { guestIpType: 'Isolated', persistent: true } });
      const offering = (await cloud.resource('NetworkOffering').get({ name: `gvo-${s}` })).metadata.uid ?? '';
      const made = await tenant.client.request('createNetwork', { name: `Vni ${s}`, networkofferingid: offering, zoneid: ids['zone'] ?? '', gateway: '10.2.12.1', netmask: '255.255.255.0', physicalnetworkid: pnId });
      expect(made.status, made.text).to.equal(200);
      const networkId = (made.body['network'] as Record<string, unknown>)['id'] as string;
      const taken = await waitUntil('a VNI allocated to the network', async () => {
        const reply = await list({ allocatedonly: 'true' });
        return reply.body['count'] === 1 ? (reply.body['guestvlan'] as Record<string, unknown>[])[0] : undefined;
      });
      const network = await byUid('Network', tenant.namespace, networkId);
      expect(network?.status?.['broadcastUri']).to.equal(`vxlan://${taken?.['vlan'] as string}`);
      expect(taken).to.include({ allocationstate: 'Allocated', account: tenant.account });
      expect(taken?.['taken']).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}$/);
      expect(taken?.['network']).to.deep.equal([{ id: networkId, name: `Vni ${s}` }]);
      expect((await list({})).body['count']).to.equal(3);
      const byId = await list({ id: String(taken?.['id']) });
      expect((byId.body['guestvlan'] as Record<string, unknown>[]).map((r) => r['vlan'])).to.deep.equal([taken?.['vlan']]);
      expect((await list({ vnet: '7999' })).body).to.deep.equal({});

      const refused = await tenant.client.request('listGuestVlans', {});
      expect([refused.status, refused.body['errortext']]).to.deep.equal([401, "The given command 'listGuestVlans' either does not exist, is not available for user."]);
      const unknown = await cloud.admin.request('listGuestVlans', { physicalnetworkid: UNKNOWN });
      expect([unknown.status, unknown.body['errortext']]).to.deep.equal([431, NOT_FOUND('listguestvlans', 'physicalnetworkid', UNKNOWN)]);

      const deleted = await tenant.client.request('deleteNetwork', { id: networkId });
      expect((await tenant.client.waitForJob(deleted.body['jobid'] as string, { intervalMs: 250, timeoutMs: 60_000 }))['jobstatus']).to.equal(1);
      await waitUntil('the VNI released', async () => ((await list({ allocatedonly: 'true' })).body['count'] === undefined ? true : undefined));
      await cloud.resource('NetworkOffering').delete({ name: `gvo-${s}` });
      await cloud.resource('PhysicalNetwork').delete({ name: `gv-${s}` });
    });
  });

  describe('SSH key pairs', () => {
    it('registers, lists with the fingerprint the operator records, refuses a duplicate and deletes', async () => {
      const reply = await tenant.client.request('registerSSHKeyPair', { name: `laptop-${s}`, publickey: PUBLIC_KEY });
      expect(reply.status, reply.text).to.equal(200);
      expect(reply.body['keypair']).to.include({ name: `laptop-${s}`, account: tenant.account });
      const object = (await objectsIn('SSHKeyPair', tenant.namespace)).find((k) => k.spec?.['displayName'] === `laptop-${s}`);
      expect(object?.spec?.['publicKey']).to.equal(PUBLIC_KEY);
      await ready('SSHKeyPair', tenant.namespace, object?.metadata.name ?? '', { state: 'Ready', fingerprint: '6e:2f:0d:3c:aa:bb:cc:dd:ee:ff:00:11:22:33:44:55' });
      const listed = await waitUntil('the fingerprint', async () => {
        const row = ((await tenant.client.request('listSSHKeyPairs', { name: `laptop-${s}` })).body['sshkeypair'] as Record<string, unknown>[] | undefined)?.[0];
        return row?.['fingerprint'] ? row : undefined;
      });
      expect(listed['fingerprint']).to.equal('6e:2f:0d:3c:aa:bb:cc:dd:ee:ff:00:11:22:33:44:55');
      expect((await other.client.request('listSSHKeyPairs', {})).body).to.deep.equal({});
      const twice = await tenant.client.request('registerSSHKeyPair', { name: `laptop-${s}`, publickey: PUBLIC_KEY });
      expect(twice.body['errortext']).to.equal(`A key pair with name 'laptop-${s}' already exists.`);
      const bad = await tenant.client.request('registerSSHKeyPair', { name: `bad-${s}`, publickey: 'not a key at all, just text' });
      expect(bad.status).to.equal(431);
      expect(bad.body['errortext']).to.match(/^publickey: spec.publicKey must be one OpenSSH public key line/);
      expect((await tenant.client.request('deleteSSHKeyPair', { name: `laptop-${s}` })).body).to.deep.equal({ success: true });
      const gone = await tenant.client.request('deleteSSHKeyPair', { name: `laptop-${s}` });
      expect(gone.body['errortext']).to.equal(`A key pair with name 'laptop-${s}' does not exist for account ${tenant.account} in specified domain id`);
    });
  });

  describe('affinity groups', () => {
    it('lists the four types, creates a group in a job, lists and deletes it', async () => {
      const types = (await tenant.client.request('listAffinityGroupTypes')).body;
      expect(types['count']).to.equal(4);
      const bad = await tenant.client.request('createAffinityGroup', { name: 'g', type: 'rack anti-affinity' });
      expect(bad.body['errortext']).to.match(/^Unable to create affinity group, invalid affinity group type: rack anti-affinity/);
      const reply = await tenant.client.request('createAffinityGroup', { name: `spread-${s}`, type: 'host anti-affinity', description: 'web tier' });
      expect(reply.status, reply.text).to.equal(200);
      const object = (await objectsIn('AffinityGroup', tenant.namespace)).find((g) => g.metadata.uid === reply.body['id']);
      expect(object?.spec).to.deep.include({ displayName: `spread-${s}`, type: 'host anti-affinity' });
      await ready('AffinityGroup', tenant.namespace, object?.metadata.name ?? '', { state: 'Ready' });
      const job = await tenant.client.waitForJob(reply.body['jobid'] as string, { intervalMs: 250, timeoutMs: 60_000 });
      expect((job['jobresult'] as { affinitygroup: Record<string, unknown> }).affinitygroup).to.deep.include({ id: reply.body['id'], name: `spread-${s}`, type: 'host anti-affinity', virtualmachineIds: [] });
      expect((await tenant.client.request('listAffinityGroups', { type: 'host anti-affinity' })).body['count']).to.equal(1);
      const again = await tenant.client.request('createAffinityGroup', { name: `spread-${s}`, type: 'host affinity' });
      expect(again.body['errortext']).to.equal(`Unable to create affinity group, a group with name spread-${s} already exists.`);
      const deleted = await tenant.client.request('deleteAffinityGroup', { name: `spread-${s}` });
      expect((await tenant.client.waitForJob(deleted.body['jobid'] as string, { intervalMs: 250, timeoutMs: 60_000 }))['jobstatus']).to.equal(1);
    });
  });

  describe('volumes', () => {
    it('creates a data volume in a job, attaches it to a VM and detaches it through spec.vmRef', async () => {
      await cloud.resource('Template').create({ metadata: { namespace: tenant.namespace, name: `t-${s}` }, spec: { url: 'https://images.example.com/t.qcow2', format: 'QCOW2', zoneRefs: [{ name: `z-${s}` }] } });
      const vm = await cloud.resource('VirtualMachine').create({ metadata: { namespace: tenant.namespace, name: `vm-${s}` }, spec: { zoneRef: { name: `z-${s}` }, serviceOfferingRef: { name: `small-${s}` }, templateRef: { name: `t-${s}` }, state: 'Stopped' } });
      const created = await tenant.client.request('createVolume', { name: `data-${s}`, diskofferingid: ids['disk'] ?? '', zoneid: ids['zone'] ?? '' });
      expect(created.status, created.text).to.equal(200);
      const volume = await waitUntil('the volume', async () => byUid('Volume', tenant.namespace, created.body['id'] as string));
      expect(volume.spec).to.deep.include({ displayName: `data-${s}`, type: 'DATADISK', diskOfferingRef: { name: `d5-${s}` }, zoneRef: { name: `z-${s}` } });
      await ready('Volume', tenant.namespace, volume.metadata.name ?? '', { state: 'Allocated' });
      const made = await tenant.client.waitForJob(created.body['jobid'] as string, { intervalMs: 250, timeoutMs: 60_000 });
      expect((made['jobresult'] as { volume: Record<string, unknown> }).volume).to.include({ id: created.body['id'], name: `data-${s}`, type: 'DATADISK', state: 'Allocated', size: 5 * 2 ** 30, diskofferingid: ids['disk'] });

      const attach = await tenant.client.request('attachVolume', { id: created.body['id'] as string, virtualmachineid: vm.metadata.uid ?? '' });
      expect(attach.status, attach.text).to.equal(200);
      const attached = await byUid('Volume', tenant.namespace, created.body['id'] as string);
      expect(attached?.spec).to.deep.include({ vmRef: { name: `vm-${s}` }, deviceId: 1 });
      await ready('Volume', tenant.namespace, volume.metadata.name ?? '', { state: 'Ready', attachedAt: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z') });
      const attachJob = await tenant.client.waitForJob(attach.body['jobid'] as string, { intervalMs: 250, timeoutMs: 60_000 });
      expect((attachJob['jobresult'] as { volume: Record<string, unknown> }).volume).to.include({ virtualmachineid: vm.metadata.uid, vmname: `vm-${s}`, deviceid: 1, state: 'Ready' });
      expect((await tenant.client.request('listVolumes', { virtualmachineid: vm.metadata.uid ?? '' })).body['count']).to.equal(1);
      const metrics = ((await tenant.client.request('listVolumesMetrics', { virtualmachineid: vm.metadata.uid ?? '' })).body['volume'] as Record<string, unknown>[])[0];
      expect(metrics).to.include({ sizegb: '5.00 GB', size: 5 * 2 ** 30 });

      const twice = await tenant.client.request('attachVolume', { id: created.body['id'] as string, virtualmachineid: vm.metadata.uid ?? '' });
      expect(twice.body['errortext']).to.equal(`Volume ${created.body['id'] as string} is already attached to a VM; detach it first`);
      const inUse = await tenant.client.request('deleteVolume', { id: created.body['id'] as string });
      expect(inUse.body['errortext']).to.equal('Please specify a volume that is not attached to any VM.');
      const shrink = await tenant.client.request('resizeVolume', { id: created.body['id'] as string, size: '1' });
      expect(shrink.body['errortext']).to.match(/^Shrinking volume .* is not supported: a volume only grows$/);

      const detach = await tenant.client.request('detachVolume', { id: created.body['id'] as string });
      expect(detach.status, detach.text).to.equal(200);
      const detached = await byUid('Volume', tenant.namespace, created.body['id'] as string);
      expect(detached?.spec).to.not.have.property('vmRef');
      await ready('Volume', tenant.namespace, volume.metadata.name ?? '', { state: 'Ready' });
      const detachJob = await tenant.client.waitForJob(detach.body['jobid'] as string, { intervalMs: 250, timeoutMs: 60_000 });
      expect((detachJob['jobresult'] as { volume: Record<string, unknown> }).volume).to.not.have.property('virtualmachineid');
      const notAttached = await tenant.client.request('detachVolume', { id: created.body['id'] as string });
      expect(notAttached.body['errortext']).to.equal(`Volume ${created.body['id'] as string} is not attached to a VM`);

      const renamed = await tenant.client.request('updateVolume', { id: created.body['id'] as string, name: `Logs ${s}` });
      expect(renamed.status, renamed.text).to.equal(200);
      expect((await byUid('Volume', tenant.namespace, created.body['id'] as string))?.spec?.['displayName']).to.equal(`Logs ${s}`);
      await ready('Volume', tenant.namespace, volume.metadata.name ?? '', { state: 'Ready' });
      const renameJob = await tenant.client.waitForJob(renamed.body['jobid'] as string, { intervalMs: 250, timeoutMs: 60_000 });
      expect((renameJob['jobresult'] as { volume: Record<string, unknown> }).volume).to.include({ id: created.body['id'], name: `Logs ${s}` });
      const path = await tenant.client.request('updateVolume', { id: created.body['id'] as string, path: '/tmp/x' });
      expect([path.status, path.body['errortext']]).to.deep.equal([431, `path of volume ${created.body['id'] as string} is what the operator and agent report, not a setting: leave it out`]);
      const hidden = await tenant.client.request('updateVolume', { id: created.body['id'] as string, displayvolume: 'false' });
      expect([hidden.status, hidden.body['errortext']]).to.deep.equal([431, 'Every volume is shown to its owner here: leave displayvolume out or true']);

      expect((await other.client.request('listVolumes', { id: created.body['id'] as string })).body).to.deep.equal({});
      expect((await tenant.client.request('deleteVolume', { id: created.body['id'] as string })).body).to.deep.equal({ success: true });
      expect(await byUid('Volume', tenant.namespace, created.body['id'] as string)).to.equal(undefined);
    });

    it('destroys a detached volume to Destroy (spec.destroyed), recovers it, expunges it; refuses attached, Allocated and not destroyed ones', async () => {
      const created = await tenant.client.request('createVolume', { name: `gone-${s}`, diskofferingid: ids['disk'] ?? '', zoneid: ids['zone'] ?? '' });
      const id = created.body['id'] as string;
      const object = await waitUntil('the volume', async () => byUid('Volume', tenant.namespace, id));
      const name = object.metadata.name ?? '';
      await ready('Volume', tenant.namespace, name, { state: 'Allocated' });
      const allocated = await tenant.client.request('destroyVolume', { id });
      expect([allocated.status, allocated.body['errortext']]).to.deep.equal([431, 'The volume in Allocated/Uploaded state can only be expunged not destroyed/recovered']);
      const notDestroyed = await tenant.client.request('recoverVolume', { id });
      expect([notDestroyed.status, notDestroyed.body['errortext']]).to.deep.equal([431, 'Please specify a volume in Destroy state.']);

      // Made on a pool (the operator and agent played): now it can be destroyed.
      await ready('Volume', tenant.namespace, name, { state: 'Ready', pool: `pool-${s}` });
      // As a client would: destroy once the API lists it Ready (its cache may trail the status just written).
      await waitUntil('the API to list the volume Ready', async () => ((await tenant.client.request('listVolumes', { id })).body['volume'] as Record<string, unknown>[] | undefined)?.[0]?.['state'] === 'Ready' || undefined);
      const destroy = await tenant.client.request('destroyVolume', { id });
      expect(destroy.status, destroy.text).to.equal(200);
      expect((await byUid('Volume', tenant.namespace, id))?.spec).to.deep.include({ destroyed: true });
      const listed = ((await tenant.client.request('listVolumes', { id })).body['volume'] as Record<string, unknown>[])[0];
      expect(listed).to.include({ state: 'Destroy', destroyed: true });
      expect((await tenant.client.request('listVolumes', { state: 'Destroy' })).body['count']).to.equal(1);
      await ready('Volume', tenant.namespace, name, { state: 'Destroy' });
      const destroyed = await tenant.client.waitForJob(destroy.body['jobid'] as string, { intervalMs: 250, timeoutMs: 60_000 });
      expect((destroyed['jobresult'] as { volume: Record<string, unknown> }).volume).to.include({ id, state: 'Destroy', destroyed: true });
      const vm = await cloud.resource('VirtualMachine').get({ namespace: tenant.namespace, name: `vm-${s}` });
      const attach = await tenant.client.request('attachVolume', { id, virtualmachineid: vm.metadata.uid ?? '' });
      expect([attach.status, attach.body['errortext']]).to.deep.equal([431, 'Volume state must be in Allocated, Ready or in Uploaded state']);
      expect((await other.client.request('recoverVolume', { id })).body['errortext']).to.equal(NOT_FOUND('recovervolume', 'id', id));

      // allow.user.expunge.recover.volume false: only administrators recover or expunge.
      expect((await cloud.admin.request('updateConfiguration', { name: 'allow.user.expunge.recover.volume', value: 'false' })).status).to.equal(200);
      try {
        const recoverRefused = await waitUntil('recover refused to a user', async () => {
          const reply = await tenant.client.request('recoverVolume', { id });
          return reply.status === 531 ? reply : undefined;
        });
        expect(recoverRefused.body['errortext']).to.equal('Recovering a volume can only be done by an Admin. Or when the allow.user.expunge.recover.volume key is set.');
        const expungeRefused = await tenant.client.request('destroyVolume', { id, expunge: 'true' });
        expect([expungeRefused.status, expungeRefused.body['errortext']]).to.deep.equal([531, 'Expunging a volume can only be done by an Admin. Or when the allow.user.expunge.recover.volume key is set.']);
      } finally {
        await cloud.admin.request('updateConfiguration', { name: 'allow.user.expunge.recover.volume', value: 'true' });
      }

      const recovered = await cloud.admin.request('recoverVolume', { id });
      expect(recovered.status, recovered.text).to.equal(200);
      expect(recovered.body['volume']).to.include({ id, state: 'Ready', destroyed: false });
      expect((await byUid('Volume', tenant.namespace, id))?.spec).to.not.have.property('destroyed');

      const expunge = await waitUntil('the user may expunge again', async () => {
        const reply = await tenant.client.request('destroyVolume', { id, expunge: 'true' });
        return reply.status === 200 ? reply : undefined;
      });
      const expunged = await tenant.client.waitForJob(expunge.body['jobid'] as string, { intervalMs: 250, timeoutMs: 60_000 });
      expect((expunged['jobresult'] as { volume: Record<string, unknown> }).volume).to.include({ id, state: 'Expunged', destroyed: true });
      expect(await byUid('Volume', tenant.namespace, id)).to.equal(undefined);

      const withVm = await tenant.client.request('createVolume', { name: `held-${s}`, diskofferingid: ids['disk'] ?? '', virtualmachineid: vm.metadata.uid ?? '' });
      const heldId = withVm.body['id'] as string;
      const held = await tenant.client.request('destroyVolume', { id: heldId });
      expect([held.status, held.body['errortext']]).to.deep.equal([431, 'Please specify a volume that is not attached to any VM.']);
      const heldExpunge = await tenant.client.request('destroyVolume', { id: heldId, expunge: 'true' });
      expect([heldExpunge.status, heldExpunge.body['errortext']]).to.deep.equal([431, 'Please specify a volume that is not attached to any VM.']);
      const heldObject = await waitUntil('the attached volume', async () => byUid('Volume', tenant.namespace, heldId));
      await cloud.resource('Volume').patch({ namespace: tenant.namespace, name: heldObject.metadata.name ?? '' }, { spec: { vmRef: null, deviceId: null } });
      await cloud.resource('Volume').delete({ namespace: tenant.namespace, name: heldObject.metadata.name ?? '' });
    });

    it('refuses a volume without an offering, an unknown offering and a detach with nothing to name it', async () => {
      expect((await tenant.client.request('createVolume', { zoneid: ids['zone'] ?? '' })).body['errortext']).to.equal('Either disk Offering Id or snapshot Id must be passed whilst creating volume');
      expect((await tenant.client.request('createVolume', { zoneid: ids['zone'] ?? '', diskofferingid: UNKNOWN })).body['errortext']).to.equal(NOT_FOUND('createvolume', 'diskofferingid', UNKNOWN));
      expect((await tenant.client.request('detachVolume', {})).body['errortext']).to.equal('Please provide either a volume id, or a tuple(device id, instance id)');
      expect((await tenant.client.request('attachVolume', { id: UNKNOWN, virtualmachineid: UNKNOWN })).body['errortext']).to.equal(NOT_FOUND('attachvolume', 'id', UNKNOWN));
    });
  });
});
