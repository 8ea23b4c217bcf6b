import { expect } from 'chai';
import { Domain, type DomainObject, type KindInfo, Network, SSHKeyPair, Template, VirtualMachine, Volume } from '../../crds/index.ts';
import { callerIdentity, domainChain, domainGroupPath, PUBLIC_NAMESPACE } from '../../lib/identity.ts';
import { type KubeClient, resourceTypeOf } from '../../lib/kube-client.ts';
import type { CloudStackClient } from '../support/cloudstack-client.ts';
import { uniqueName } from '../support/cluster.ts';
import { statusOf } from '../support/objects.ts';
import { type InfraCloud, type Obj, startInfraCloud, type Tenant, waitUntil } from './cloudstack-infra-harness.ts';

/**
 * The tenancy isolation matrix for the compute objects (issue 13, Tests): VMs, volumes,
 * networks, templates and SSH key pairs, each made through the API by its owner, then
 * looked at and touched by every kind of caller through both doors:
 * - through the API as each user: a User account sees and changes only its own objects;
 *   another account's object is answered like an unknown id; a domain admin sees the objects
 *   of its domain and its subdomains, not others'; the root admin sees all; a public template
 *   is listed for (and usable by) every account, but only its owner may change it;
 * - through Kubernetes as the same users impersonated (the apiserver's RBAC decides): the
 *   same lines, by namespace.
 * Tenant A's domain is a subdomain of the domain admin's domain; B is in a domain of its own.
 */

const NOT_FOUND = (label: string, param: string, id: string) =>
  `Unable to execute API command ${label} due to invalid value. Invalid parameter ${param} value=${id} due to incorrect long value format, or entity does not exist or due to incorrect parameter annotation for the field in api cmd class.`;

type Kind = 'vm' | 'volume' | 'network' | 'template' | 'key';
const KINDS: readonly Kind[] = ['vm', 'volume', 'network', 'template', 'key'];
const KIND_INFO: Readonly<Record<Kind, KindInfo>> = { vm: VirtualMachine, volume: Volume, network: Network, template: Template, key: SSHKeyPair };

/**
 * The list command of each kind, its parameters for "everything the caller may see", and its
 * list key. Templates: `all` is for root admins only; the others ask for what they may deploy
 * (`executable`: their own and the public ones).
 */
const LIST: Readonly<Record<Kind, [string, Record<string, string>, string]>> = {
  vm: ['listVirtualMachines', { listall: 'true' }, 'virtualmachine'],
  volume: ['listVolumes', { listall: 'true' }, 'volume'],
  network: ['listNetworks', { listall: 'true' }, 'network'],
  template: ['listTemplates', { listall: 'true', templatefilter: 'executable' }, 'template'],
  key: ['listSSHKeyPairs', { listall: 'true' }, 'sshkeypair'],
};

/** A distinct ed25519 public key per tenant: the last character of the 32-byte key varies. */
const publicKey = (n: number) => `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGxU4aR5f3p1d0Y4pX3Wl6m3b8Kc2mJQ0rT7yH9vN2s${'ABCDEFGH'[n] ?? 'Z'} t${n}@example`;

interface Owned {
  tenant: Tenant;
  /** API id (= uid) and object name of each kind. */
  ids: Record<Kind, string>;
  names: Record<Kind, string>;
  /** A second template, public. */
  publicTemplate: string;
}

describe('tenancy: the isolation matrix for VMs, volumes, networks, templates and keys (both doors)', function () {
  this.timeout(300_000);
  let cloud: InfraCloud;
  const s = uniqueName('mx').slice(3);
  const ids: Record<string, string> = {};
  let da: Owned;
  let a: Owned;
  let b: Owned;

  /** Each tenant makes one of each through the API, as itself. */
  async function populate(tenant: Tenant, n: number): Promise<Owned> {
    const call = async (command: string, params: Record<string, string>) => {
      const reply = await tenant.client.request(command, params);
      expect(reply.status, `${command} as ${tenant.account}: ${reply.text}`).to.equal(200);
      return reply.body;
    };
    const network = (await call('createNetwork', { name: `net-${n}`, displaytext: `net ${n}`, networkofferingid: ids['offering'] ?? '', zoneid: ids['zone'] ?? '', gateway: `10.9.${n}.1`, netmask: '255.255.255.0' }))['network'] as { id: string };
    await call('registerSSHKeyPair', { name: `key-${n}`, publickey: publicKey(n) });
    const key = ((await call('listSSHKeyPairs', { name: `key-${n}` }))['sshkeypair'] as { id: string }[])[0] ?? { id: '' };
    const template = ((await call('registerTemplate', { name: `tpl-${n}`, displaytext: `private ${n}`, url: `https://images.example.com/${n}.qcow2`, format: 'QCOW2', hypervisor: 'KVM', zoneid: ids['zone'] ?? '' }))['template'] as { id: string }[])[0] ?? { id: '' };
    const shared = ((await call('registerTemplate', { name: `pub-${n}`, displaytext: `public ${n}`, url: `https://images.example.com/p${n}.qcow2`, format: 'QCOW2', hypervisor: 'KVM', zoneid: ids['zone'] ?? '', ispublic: 'true' }))['template'] as { id: string }[])[0] ?? { id: '' };
    const volume = await call('createVolume', { name: `vol-${n}`, zoneid: ids['zone'] ?? '', diskofferingid: ids['disk'] ?? '' });
    const vm = await call('deployVirtualMachine', { zoneid: ids['zone'] ?? '', serviceofferingid: ids['small'] ?? '', templateid: ids['template'] ?? '', networkids: network.id, name: `vm-${n}`, startvm: 'false' });
    const owned: Owned = {
      tenant,
      ids: { vm: String(vm['id']), volume: String(volume['id']), network: network.id, template: template.id, key: key.id },
      names: { vm: '', volume: '', network: '', template: '', key: '' },
      publicTemplate: shared.id,
    };
    for (const kind of KINDS) {
      const found = (await cloud.kube.resource<Obj>(resourceTypeOf(KIND_INFO[kind])).list({ namespace: tenant.namespace })).items.find((o) => o.metadata.uid === owned.ids[kind]);
      owned.names[kind] = found?.metadata.name ?? expect.fail(`${kind} ${owned.ids[kind]} of ${tenant.account} is not in ${tenant.namespace}`);
    }
    return owned;
  }

  /** The ids of `kind` that `client` lists, among those this test made. */
  async function listed(client: CloudStackClient, kind: Kind, templatefilter?: string): Promise<string[]> {
    const [command, params, key] = LIST[kind];
    const reply = await client.request(command, { ...params, ...(templatefilter ? { templatefilter } : {}) });
    expect(reply.status, `${command}: ${reply.text}`).to.equal(200);
    const mine = new Set([da, a, b].flatMap((o) => [...Object.values(o.ids), o.publicTemplate]));
    return [...new Set(((reply.body[key] as { id: string }[] | undefined) ?? []).map((row) => row.id).filter((id) => mine.has(id)))].sort();
  }

  const idsOf = (kind: Kind, ...owners: Owned[]) => owners.flatMap((o) => (kind === 'template' ? [o.ids.template, o.publicTemplate] : [o.ids[kind]])).sort();

  before(async function () {
    this.timeout(240_000);
    cloud = await startInfraCloud('mx');
    const make = async (kind: string, name: string, spec: Record<string, unknown>, namespace?: string) => (await cloud.resource(kind).create({ metadata: { name, ...(namespace ? { namespace } : {}) }, spec })).metadata.uid ?? '';
    ids['zone'] = await make('Zone', `z-${s}`, { displayName: `Zone ${s}`, networkType: 'Advanced', dns1: '8.8.8.8', internalDns1: '10.0.0.2', guestCidr: '10.9.0.0/16', allocationState: 'Enabled' });
    ids['small'] = await make('ServiceOffering', `small-${s}`, { displayName: `Small ${s}`, cpuNumber: 1, cpuSpeed: 1000, memory: '512Mi' });
    ids['disk'] = await make('DiskOffering', `d5-${s}`, { displayName: `Disk 5 ${s}`, diskSize: '5Gi' });
    ids['offering'] = await make('NetworkOffering', `iso-${s}`, { guestIpType: 'Isolated' });
    await cloud.kube.resource({ group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false }).create({ metadata: { name: PUBLIC_NAMESPACE } }).catch(() => undefined);
    ids['template'] = await make('Template', `tiny-${s}`, { displayName: `Tiny ${s}`, url: 'file:///var/lib/kumulus/tiny.qcow2', format: 'QCOW2', zoneRefs: [{ name: `z-${s}` }], isPublic: true }, PUBLIC_NAMESPACE);
    await cloud.resource('Template').patchStatus({ namespace: PUBLIC_NAMESPACE, name: `tiny-${s}` }, { status: { state: 'Active', isReady: true, zones: [{ zone: `z-${s}`, downloadState: 'DOWNLOADED', downloadPercent: 100, sizeBytes: 1 << 30 }] } });
    const daTenant = await cloud.tenant('mxda', { accountType: 'DomainAdmin' });
    const aTenant = await cloud.tenant('mxa', { parent: daTenant.domain });
    const bTenant = await cloud.tenant('mxb');
    await waitUntil('the API to see the zone and offerings', async () => ((await aTenant.client.request('listZones', { id: ids['zone'] ?? '' })).body['count'] === 1 ? true : undefined));
    da = await populate(daTenant, 1);
    a = await populate(aTenant, 2);
    b = await populate(bTenant, 3);
  });

  after(async () => {
    await cloud?.stop();
  });

  describe('through the API, as each user', () => {
    it('a User account lists only its own objects of every kind, plus the public templates', async () => {
      for (const kind of KINDS) {
        const others = kind === 'template' ? [da.publicTemplate, b.publicTemplate] : [];
        expect(await listed(a.tenant.client, kind), `A's ${kind}s`).to.deep.equal([...idsOf(kind, a), ...others].sort());
        expect(await listed(b.tenant.client, kind), `B's ${kind}s`).to.deep.equal([...idsOf(kind, b), ...(kind === 'template' ? [da.publicTemplate, a.publicTemplate] : [])].sort());
      }
    });

    it('a domain admin lists the objects of its domain and its subdomain (templates: those it may deploy), not another domain\'s', async () => {
      for (const kind of KINDS) {
        // Templates it may deploy: its own and the public ones (a subdomain's private template is not offered to it).
        const expected = kind === 'template' ? [...idsOf(kind, da), a.publicTemplate, b.publicTemplate].sort() : idsOf(kind, da, a);
        expect(await listed(da.tenant.client, kind), `the domain admin's ${kind}s`).to.deep.equal(expected);
      }
    });

    it('the root admin lists everyone\'s objects', async () => {
      for (const kind of KINDS) expect(await listed(cloud.admin, kind, 'all'), `the root admin's ${kind}s`).to.deep.equal(idsOf(kind, da, a, b));
    });

    it('another account\'s object is answered as an unknown id: A can neither read nor change B\'s', async () => {
      const cases: [string, Record<string, string>, string][] = [
        ['listVirtualMachines', { id: b.ids.vm }, ''],
        ['startVirtualMachine', { id: b.ids.vm }, 'id'],
        ['updateVirtualMachine', { id: b.ids.vm, displayname: 'pwned' }, 'id'],
        ['destroyVirtualMachine', { id: b.ids.vm }, 'id'],
        ['deleteVolume', { id: b.ids.volume }, 'id'],
        ['attachVolume', { id: b.ids.volume, virtualmachineid: a.ids.vm }, 'id'],
        ['attachVolume', { id: a.ids.volume, virtualmachineid: b.ids.vm }, 'virtualmachineid'],
        ['deleteNetwork', { id: b.ids.network }, 'id'],
        ['updateNetwork', { id: b.ids.network, displaytext: 'pwned' }, 'id'],
        ['deleteTemplate', { id: b.ids.template }, 'id'],
        ['updateTemplate', { id: b.ids.template, displaytext: 'pwned' }, 'id'],
        ['deployVirtualMachine', { zoneid: ids['zone'] ?? '', serviceofferingid: ids['small'] ?? '', templateid: b.ids.template, networkids: a.ids.network, startvm: 'false' }, 'templateid'],
        ['deployVirtualMachine', { zoneid: ids['zone'] ?? '', serviceofferingid: ids['small'] ?? '', templateid: ids['template'] ?? '', networkids: b.ids.network, startvm: 'false' }, 'networkids'],
      ];
      for (const [command, params, param] of cases) {
        const reply = await a.tenant.client.request(command, params);
        if (param === '') {
          expect(reply.status, `${command}: ${reply.text}`).to.equal(200);
          expect(reply.body, command).to.deep.equal({});
          continue;
        }
        expect(reply.status, `${command} ${JSON.stringify(params)}: ${reply.text}`).to.equal(431);
        expect(reply.body['errortext'], command).to.equal(NOT_FOUND(command.toLowerCase(), param, params[param] ?? ''));
      }
      // B's key by name is simply not in A's account.
      const key = await a.tenant.client.request('deleteSSHKeyPair', { name: 'key-3' });
      expect(key.status, key.text).to.equal(431);
      // Everything of B's is still there, unchanged.
      for (const kind of KINDS) expect(await listed(b.tenant.client, kind), `B's ${kind}s after A tried`).to.include.members(idsOf(kind, b));
      const vm = ((await b.tenant.client.request('listVirtualMachines', { id: b.ids.vm })).body['virtualmachine'] as { displayname: string }[])[0];
      expect(vm?.displayname).to.equal('vm-3');
    });

    it('a public template is usable by every account, but changed only by its owner', async () => {
      const deploy = await a.tenant.client.request('deployVirtualMachine', { zoneid: ids['zone'] ?? '', serviceofferingid: ids['small'] ?? '', templateid: b.publicTemplate, networkids: a.ids.network, name: 'on-b-public', startvm: 'false' });
      expect(deploy.status, deploy.text).to.equal(200);
      const update = await a.tenant.client.request('updateTemplate', { id: b.publicTemplate, displaytext: 'pwned' });
      expect(update.status, update.text).to.equal(431);
      const del = await a.tenant.client.request('deleteTemplate', { id: b.publicTemplate });
      expect(del.status, del.text).to.equal(431);
      const still = ((await b.tenant.client.request('listTemplates', { templatefilter: 'self', id: b.publicTemplate })).body['template'] as { displaytext: string }[] | undefined)?.[0];
      expect(still?.displaytext).to.equal('public 3');
    });

    it('a domain admin changes an object in its subdomain, and not one outside its domain', async () => {
      const inSub = await da.tenant.client.request('updateVirtualMachine', { id: a.ids.vm, displayname: 'renamed by the domain admin' });
      expect(inSub.status, inSub.text).to.equal(200);
      const outside = await da.tenant.client.request('updateVirtualMachine', { id: b.ids.vm, displayname: 'pwned' });
      expect(outside.status, outside.text).to.equal(431);
      expect(outside.body['errortext']).to.equal(NOT_FOUND('updatevirtualmachine', 'id', b.ids.vm));
    });
  });

  describe('through Kubernetes, as the same users impersonated', () => {
    /** The identity the API gives the owner's user (cloudstack-api/tenancy/directory.ts). */
    const as = async (owner: Owned): Promise<KubeClient> => {
      const domains = new Map((await cloud.kube.resource<DomainObject>(resourceTypeOf(Domain)).list()).items.map((d) => [d.metadata.name ?? '', d]));
      const chain = domainChain(domains.get(owner.tenant.domain) ?? expect.fail(`no Domain ${owner.tenant.domain}`), (name) => domains.get(name)) ?? [];
      return cloud.kube.as(callerIdentity(owner.tenant.account, owner.tenant.account, domainGroupPath(chain)));
    };
    const on = (client: KubeClient, kind: Kind) => client.resource<Obj>(resourceTypeOf(KIND_INFO[kind]));

    it('a User account reads and writes its own namespace, and gets 403 for every kind in another\'s', async () => {
      const ka = await as(a);
      for (const kind of KINDS) {
        expect(await statusOf(() => on(ka, kind).list({ namespace: a.tenant.namespace })), `A lists its ${kind}s`).to.equal(200);
        expect(await statusOf(() => on(ka, kind).get({ namespace: a.tenant.namespace, name: a.names[kind] })), `A reads its ${kind}`).to.equal(200);
        expect(await statusOf(() => on(ka, kind).list({ namespace: b.tenant.namespace })), `A lists B's ${kind}s`).to.equal(403);
        expect(await statusOf(() => on(ka, kind).get({ namespace: b.tenant.namespace, name: b.names[kind] })), `A reads B's ${kind}`).to.equal(403);
        expect(await statusOf(() => on(ka, kind).patch({ namespace: b.tenant.namespace, name: b.names[kind] }, { metadata: { labels: { pwned: 'yes' } } }, 'merge')), `A patches B's ${kind}`).to.equal(403);
        expect(await statusOf(() => on(ka, kind).delete({ namespace: b.tenant.namespace, name: b.names[kind] })), `A deletes B's ${kind}`).to.equal(403);
        expect(await statusOf(() => on(ka, kind).list()), `A lists ${kind}s in all namespaces`).to.equal(403);
      }
      // The same user changes its own object.
      expect(await statusOf(() => on(ka, 'key').patch({ namespace: a.tenant.namespace, name: a.names.key }, { metadata: { labels: { mine: 'yes' } } }, 'merge'))).to.equal(200);
      for (const kind of KINDS) expect((await on(cloud.kube, kind).get({ namespace: b.tenant.namespace, name: b.names[kind] })).metadata.labels?.['pwned'], `B's ${kind} untouched`).to.equal(undefined);
    });

    it('a domain admin reaches its domain\'s and its subdomain\'s namespaces, not another domain\'s', async () => {
      const kda = await as(da);
      await waitUntil('the domain admin\'s binding in the subdomain', async () => ((await statusOf(() => on(kda, 'vm').list({ namespace: a.tenant.namespace }))) === 200 ? true : undefined));
      for (const kind of KINDS) {
        expect(await statusOf(() => on(kda, kind).get({ namespace: da.tenant.namespace, name: da.names[kind] })), `its own ${kind}`).to.equal(200);
        expect(await statusOf(() => on(kda, kind).get({ namespace: a.tenant.namespace, name: a.names[kind] })), `the subdomain's ${kind}`).to.equal(200);
        expect(await statusOf(() => on(kda, kind).get({ namespace: b.tenant.namespace, name: b.names[kind] })), `another domain's ${kind}`).to.equal(403);
        expect(await statusOf(() => on(kda, kind).list({ namespace: b.tenant.namespace })), `another domain's ${kind}s`).to.equal(403);
      }
    });

    it('the root admin reaches every namespace', async () => {
      const root = cloud.kube.as(callerIdentity('admin', 'admin', 'ROOT'));
      for (const owner of [da, a, b]) for (const kind of KINDS) expect(await statusOf(() => on(root, kind).get({ namespace: owner.tenant.namespace, name: owner.names[kind] })), `${owner.tenant.account}'s ${kind}`).to.equal(200);
    });

    it('every account reads the platform\'s public templates, and none writes them', async () => {
      for (const owner of [a, b]) {
        const client = await as(owner);
        expect(await statusOf(() => on(client, 'template').get({ namespace: PUBLIC_NAMESPACE, name: `tiny-${s}` })), `${owner.tenant.account} reads kumulus-public`).to.equal(200);
        expect(await statusOf(() => on(client, 'template').patch({ namespace: PUBLIC_NAMESPACE, name: `tiny-${s}` }, { metadata: { labels: { pwned: 'yes' } } }, 'merge')), `${owner.tenant.account} patches kumulus-public`).to.equal(403);
      }
    });
  });
});
