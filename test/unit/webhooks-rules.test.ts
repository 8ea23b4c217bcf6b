import { expect } from 'chai';
import type { KubeObject } from '../../lib/kube-client.ts';
import { mutate, type AdmissionRequest, type FieldError, type KindAdmission, type Operation } from '../../webhooks/admission.ts';
import { admissionOf, admissions } from '../../webhooks/kinds/index.ts';
import { settingErrors } from '../../webhooks/kinds/ops.ts';
import { subnetRangeErrors } from '../../webhooks/kinds/rules.ts';
import { parseQuantity } from '../../crds/index.ts';
import { memoryLookup } from '../../webhooks/lookup.ts';

const infra = 'infra.kumulus.io/v1alpha1';

function obj(kind: string, name: string, spec: Record<string, unknown>, extra: Partial<KubeObject> & { status?: unknown; apiVersion?: string } = {}): KubeObject & { spec: Record<string, unknown> } {
  const group = ['VirtualMachine', 'Volume', 'Template', 'SSHKeyPair', 'AffinityGroup'].includes(kind)
    ? 'compute.kumulus.io/v1alpha1'
    : ['Network', 'IPAddress', 'VlanAllocation'].includes(kind)
      ? 'network.kumulus.io/v1alpha1'
      : ['Domain', 'Account', 'User'].includes(kind)
        ? 'iam.kumulus.io/v1alpha1'
        : kind === 'Configuration'
          ? 'ops.kumulus.io/v1alpha1'
          : infra;
  return { apiVersion: group, kind, ...extra, metadata: { name, ...extra.metadata }, spec };
}

/** A small built zone: what the rules are checked against. */
function world(): KubeObject[] {
  return [
    obj('Zone', 'z1', { networkType: 'Advanced', dns1: '8.8.8.8', internalDns1: '10.0.0.2', guestCidr: '10.1.0.0/16' }),
    obj('Zone', 'basic', { networkType: 'Basic', dns1: '8.8.8.8', internalDns1: '10.0.0.2', securityGroupsEnabled: true }),
    obj('Zone', 'going', { networkType: 'Advanced', dns1: '8.8.8.8', internalDns1: '10.0.0.2' }, { metadata: { deletionTimestamp: '2026-01-01T00:00:00Z' } }),
    obj('Pod', 'p1', { zoneRef: { name: 'z1' }, gateway: '192.168.1.1', netmask: '255.255.255.0', startIp: '192.168.1.10', endIp: '192.168.1.50' }),
    obj('Cluster', 'c1', { podRef: { name: 'p1' }, hypervisor: 'KVM', maxHosts: 2 }),
    obj('Cluster', 'sim', { podRef: { name: 'p1' }, hypervisor: 'Simulator' }),
    obj('Host', 'h1', { clusterRef: { name: 'c1' }, nodeName: 'n1' }),
    obj('Host', 'h2', { clusterRef: { name: 'c1' }, nodeName: 'n2' }),
    obj('PhysicalNetwork', 'pn1', {
      zoneRef: { name: 'z1' },
      isolationMethods: ['VLAN'],
      vlanRanges: [{ start: 100, end: 199 }],
      trafficTypes: [
        { type: 'Guest', kvmLabel: 'cloudbr1' },
        { type: 'Public', kvmLabel: 'cloudbr1' },
      ],
    }),
    obj('IPRange', 'pub1', { purpose: 'Public', zoneRef: { name: 'z1' }, physicalNetworkRef: { name: 'pn1' }, vlan: 50, gateway: '203.0.113.1', netmask: '255.255.255.0', startIp: '203.0.113.10', endIp: '203.0.113.100' }),
    obj('NetworkOffering', 'iso', { guestIpType: 'Isolated', specifyVlan: false }),
    obj('NetworkOffering', 'l2', { guestIpType: 'L2', specifyVlan: true }),
    obj('ServiceOffering', 'small', { cpuNumber: 1, cpuSpeed: 1000, memory: '1Gi' }),
    obj('ServiceOffering', 'custom', { cpuSpeed: 1000, customized: { minCpuNumber: 1, maxCpuNumber: 4, minMemory: '512Mi', maxMemory: '8Gi' } }),
    obj('ServiceOffering', 'retired', { cpuNumber: 1, cpuSpeed: 1000, memory: '1Gi' }, { status: { state: 'Inactive' } }),
    obj('DiskOffering', 'fixed', { diskSize: '5Gi' }),
    obj('DiskOffering', 'sized', { customized: { minSize: '1Gi', maxSize: '100Gi' } }),
    obj('Domain', 'root', {}),
    obj('Account', 'acme', { domainRef: { name: 'root' }, namespace: 'acme' }),
    obj('User', 'alice', { accountRef: { name: 'acme' }, username: 'alice', firstName: 'A', lastName: 'M', email: 'a@example.com' }),
  ];
}

function request(object: KubeObject, operation: Operation = 'CREATE', oldObject?: KubeObject, groups?: string[]): AdmissionRequest {
  const [group = '', version = ''] = (object.apiVersion ?? '').split('/');
  return {
    uid: 'u',
    kind: { group, version, kind: object.kind ?? '' },
    resource: { group, version, resource: '' },
    operation,
    userInfo: groups ? { username: 'kumulus:user:someone', groups } : {},
    object,
    oldObject,
    namespace: object.metadata.namespace,
    name: object.metadata.name,
  };
}

async function check(object: KubeObject & { spec?: unknown }, objects = world(), operation: Operation = 'CREATE', oldObject?: KubeObject, groups?: string[]): Promise<FieldError[]> {
  const admission = admissionOf(admissions(memoryLookup(objects)), object.kind ?? '') as KindAdmission;
  return admission.validate!(request(object, operation, oldObject, groups));
}

function expectError(errors: FieldError[], field: string, fix: RegExp): void {
  const hit = errors.find((e) => e.field === field);
  expect(hit, `no error on ${field}; got ${JSON.stringify(errors)}`).to.not.equal(undefined);
  expect(hit!.message).to.match(fix);
}

describe('webhook rules: quantities, ranges and settings', () => {
  it('reads Kubernetes quantities', () => {
    expect(parseQuantity('512Mi')).to.equal(512 * 2 ** 20);
    expect(parseQuantity('1Ti')).to.equal(2 ** 40);
    expect(parseQuantity('2G')).to.equal(2e9);
    expect(parseQuantity('1e3')).to.equal(1000);
    expect(parseQuantity(42)).to.equal(42);
    expect(() => parseQuantity('lots', 'spec.memory')).to.throw('spec.memory: "lots" is not a quantity');
  });

  it('names the field, the values and the fix for a bad range', () => {
    expect(subnetRangeErrors({ gateway: '10.0.0.1', netmask: '255.255.255.0', startIp: '10.0.0.20', endIp: '10.0.0.10' })).to.deep.include({
      field: 'spec.startIp',
      message: '10.0.0.20 is after spec.endIp (10.0.0.10); swap them',
    });
    expectError(subnetRangeErrors({ gateway: '10.0.0.1', netmask: '255.255.255.0', startIp: '10.0.1.5', endIp: '10.0.1.9' }), 'spec.startIp', /outside 10\.0\.0\.0\/24.*widen the netmask/);
    expectError(subnetRangeErrors({ gateway: '10.0.0.0', netmask: '255.255.255.0', startIp: '10.0.0.5', endIp: '10.0.0.9' }), 'spec.gateway', /network address of 10\.0\.0\.0\/24; use a host address/);
    expectError(subnetRangeErrors({ gateway: '10.0.0.1', netmask: '255.255.255.0', startIp: '10.0.0.5', endIp: '10.0.0.255' }), 'spec.endIp', /broadcast address/);
    expectError(subnetRangeErrors({ gateway: '10.0.0.7', netmask: '255.255.255.0', startIp: '10.0.0.5', endIp: '10.0.0.9' }), 'spec.gateway', /inside the range 10\.0\.0\.5-10\.0\.0\.9; move the gateway/);
    expect(subnetRangeErrors({ gateway: '10.0.0.1', netmask: '255.255.255.0', startIp: '10.0.0.5' })).to.deep.equal([]);
  });

  it('checks known settings and lets unknown ones through', () => {
    expectError(settingErrors({ 'cpu.overprovisioning.factor': 'two' }), 'spec.settings[cpu.overprovisioning.factor]', /give a number above 0/);
    expectError(settingErrors({ 'vm.allocation.algorithm': 'best' }), 'spec.settings[vm.allocation.algorithm]', /one of random, firstfit/);
    expectError(settingErrors({ 'max.account.user.vms': '-5' }), 'spec.settings[max.account.user.vms]', /-1 for unlimited/);
    expect(settingErrors({ 'cpu.overprovisioning.factor': '2', 'expunge.delay': '60', 'some.future.setting': 'x', 'max.account.cpus': '-1' })).to.deep.equal([]);
  });
});

describe('webhook rules: kinds against a memory lookup', () => {
  it('admits a consistent object', async () => {
    expect(await check(obj('Pod', 'p2', { zoneRef: { name: 'z1' }, gateway: '192.168.2.1', netmask: '255.255.255.0', startIp: '192.168.2.10', endIp: '192.168.2.20' }))).to.deep.equal([]);
  });

  it('runs the ajv schema first and stops there', async () => {
    const errors = await check(obj('Pod', 'p2', { zoneRef: { name: 'nowhere' }, gateway: 'not-an-ip', netmask: '255.255.255.0', startIp: '192.168.2.10' }));
    expect(errors.map((e) => e.field)).to.deep.equal(['spec.gateway']);
    expect(errors[0]!.message).to.match(/format "ipv4".*kubectl explain pods\.spec\.gateway/);
  });

  it('refuses a missing or deleting parent', async () => {
    expectError(await check(obj('Pod', 'p2', { zoneRef: { name: 'nowhere' }, gateway: '192.168.2.1', netmask: '255.255.255.0', startIp: '192.168.2.10' })), 'spec.zoneRef.name', /Zone nowhere does not exist; create it first/);
    expectError(await check(obj('Pod', 'p2', { zoneRef: { name: 'going' }, gateway: '192.168.2.1', netmask: '255.255.255.0', startIp: '192.168.2.10' })), 'spec.zoneRef.name', /being deleted; name another zone/);
  });

  it('does not re-check a parent an update kept, nor a metadata-only update', async () => {
    const pod = obj('Pod', 'p9', { zoneRef: { name: 'going' }, gateway: '192.168.9.1', netmask: '255.255.255.0', startIp: '192.168.9.10', endIp: '192.168.9.20' });
    const relabelled = { ...pod, metadata: { ...pod.metadata, labels: { a: 'b' } } };
    expect(await check(relabelled, world(), 'UPDATE', pod)).to.deep.equal([]);
    const edited = { ...pod, spec: { ...pod.spec, allocationState: 'Disabled' } };
    expect(await check(edited, world(), 'UPDATE', pod)).to.deep.equal([]);
  });

  it('lets an edit through that leaves an old conflict untouched, and refuses one that touches it', async () => {
    const legacy = obj('Pod', 'legacy', { zoneRef: { name: 'z1' }, gateway: '192.168.1.1', netmask: '255.255.255.0', startIp: '192.168.1.40', endIp: '192.168.1.60' });
    const objects = [...world(), legacy];
    expect(await check({ ...legacy, spec: { ...legacy.spec, allocationState: 'Disabled' } }, objects, 'UPDATE', legacy)).to.deep.equal([]);
    expectError(await check({ ...legacy, spec: { ...legacy.spec, endIp: '192.168.1.70' } }, objects, 'UPDATE', legacy), 'spec.startIp', /overlaps pod p1's reserved system range/);
    expect(settingErrors({ 'expunge.delay': 'soon', 'ping.interval': '60' }, { 'expunge.delay': 'soon' })).to.deep.equal([]);
    expect(settingErrors({ 'expunge.delay': 'soon', 'ping.interval': 'x' }, { 'expunge.delay': 'soon' }).map((e) => e.field)).to.deep.equal(['spec.settings[ping.interval]']);
  });

  it('keeps pod subnets and reserved ranges apart', async () => {
    expectError(await check(obj('Pod', 'p2', { zoneRef: { name: 'z1' }, gateway: '192.168.1.1', netmask: '255.255.255.0', startIp: '192.168.1.100', endIp: '192.168.1.120' })), 'spec.netmask', /overlaps pod p1's subnet 192\.168\.1\.0\/24/);
    expectError(await check(obj('IPRange', 'pub2', { purpose: 'Public', zoneRef: { name: 'z1' }, gateway: '203.0.113.1', netmask: '255.255.255.0', startIp: '203.0.113.90', endIp: '203.0.113.120' })), 'spec.startIp', /overlaps Public IP range pub1/);
  });

  it('holds a cluster to maxHosts and one hypervisor', async () => {
    expectError(await check(obj('Host', 'h3', { clusterRef: { name: 'c1' }, nodeName: 'n3' })), 'spec.clusterRef.name', /already has 2 hosts.*raise the cluster's maxHosts/);
    const reported = obj('Host', 'h4', { clusterRef: { name: 'sim' }, nodeName: 'n4' }, { status: { hypervisorVersion: 'libvirt 9.0.0, QEMU 7.2.0', arch: 'aarch64' } });
    const errors = await check(reported);
    expectError(errors, 'spec.clusterRef.name', /runs Simulator but this host runs KVM; .*add the host to a KVM cluster/);
    expect(errors.map((e) => e.message).join()).to.match(/sim is x86_64 but this host is aarch64/);
    expectError(await check(obj('Host', 'h5', { clusterRef: { name: 'sim' }, nodeName: 'n1' })), 'spec.nodeName', /node n1 already has Host h1/);
    const c1 = world().find((o) => o.metadata.name === 'c1')! as KubeObject & { spec: Record<string, unknown> };
    expectError(await check({ ...c1, spec: { ...c1.spec, maxHosts: 1 } }, world(), 'UPDATE', c1), 'spec.maxHosts', /below the 2 hosts/);
  });

  it('fixes a zone network type for its lifetime', async () => {
    const z1 = world()[0]! as KubeObject & { spec: Record<string, unknown> };
    expectError(await check({ ...z1, spec: { ...z1.spec, networkType: 'Basic', securityGroupsEnabled: true, guestCidr: undefined } }, world(), 'UPDATE', z1), 'spec.networkType', /fixed for the zone's lifetime/);
  });

  it('checks a VM against its offering, networks and zone', async () => {
    const vm = (spec: Record<string, unknown>) => obj('VirtualMachine', 'vm1', { zoneRef: { name: 'z1' }, templateRef: { name: 't' }, ...spec }, { metadata: { namespace: 'acme' } });
    const objects = [
      ...world(),
      obj('Template', 't', { url: 'https://x/y.qcow2', format: 'QCOW2', zoneRefs: [{ name: 'z1' }] }, { metadata: { namespace: 'acme' } }),
      obj('Network', 'web', { zoneRef: { name: 'z1' }, networkOfferingRef: { name: 'iso' }, cidr: '10.1.1.0/24', gateway: '10.1.1.1' }, { metadata: { namespace: 'acme' } }),
    ];
    expect(await check(vm({ serviceOfferingRef: { name: 'small' }, networks: [{ name: 'web', ipAddress: '10.1.1.10' }] }), objects)).to.deep.equal([]);
    expectError(await check(vm({ serviceOfferingRef: { name: 'retired' } }), objects), 'spec.serviceOfferingRef.name', /Inactive.*choose an Active/);
    expectError(await check(vm({ serviceOfferingRef: { name: 'custom' }, cpuNumber: 9, memory: '1Gi' }), objects), 'spec.cpuNumber', /outside service offering custom's range 1-4/);
    expectError(await check(vm({ serviceOfferingRef: { name: 'small' }, memory: '2Gi' }), objects), 'spec.memory', /fixed size; remove spec\.memory/);
    expectError(await check(vm({ serviceOfferingRef: { name: 'small' }, networks: [{ name: 'web', ipAddress: '10.1.2.10' }] }), objects), 'spec.networks[0].ipAddress', /not a guest address of network web/);
    expectError(await check(vm({ serviceOfferingRef: { name: 'small' }, dataDisks: [{ name: 'd', diskOfferingRef: { name: 'sized' } }] }), objects), 'spec.dataDisks[0].size', /required.*1Gi to 100Gi/);
  });

  it('scopes offerings and dedicated zones to a domain and its subdomains', async () => {
    const objects = [
      ...world(),
      obj('Domain', 'customers', { parentRef: { name: 'root' } }),
      obj('Domain', 'other', { parentRef: { name: 'root' } }),
      obj('Account', 'beta', { domainRef: { name: 'customers' }, namespace: 'beta' }),
      obj('ServiceOffering', 'for-root', { cpuNumber: 1, memory: '1Gi', domainRefs: [{ name: 'root' }] }),
      obj('ServiceOffering', 'for-other', { cpuNumber: 1, memory: '1Gi', domainRefs: [{ name: 'other' }] }),
      obj('Template', 'iso', { url: 'https://x/y.iso', format: 'ISO', crossZones: true }, { metadata: { namespace: 'beta' } }),
      obj('Zone', 'dedicated', { networkType: 'Advanced', dns1: '8.8.8.8', internalDns1: '10.0.0.2', dedication: { domainRef: { name: 'other' } } }),
    ];
    const vm = (offering: string, zone = 'z1') =>
      obj('VirtualMachine', 'v', { zoneRef: { name: zone }, serviceOfferingRef: { name: offering }, isoRef: { name: 'iso' }, rootDiskOfferingRef: { name: 'fixed' } }, { metadata: { namespace: 'beta' } });
    expect(await check(vm('for-root'), objects)).to.deep.equal([]);
    expectError(await check(vm('for-other'), objects), 'spec.serviceOfferingRef.name', /reserved for domain other, and account beta is in domain customers/);
    expectError(await check(vm('small', 'dedicated'), objects), 'spec.zoneRef.name', /zone dedicated is reserved for domain other/);
  });

  it('keeps usernames unique per domain and namespaces per account', async () => {
    expectError(await check(obj('User', 'alice2', { accountRef: { name: 'acme' }, username: 'alice', firstName: 'A', lastName: 'B', email: 'b@example.com' })), 'spec.username', /already taken in domain root/);
    expectError(await check(obj('Account', 'acme2', { domainRef: { name: 'root' }, namespace: 'acme' })), 'spec.namespace', /already belongs to account acme/);
    expectError(await check(obj('Account', 'ops', { domainRef: { name: 'root' }, namespace: 'kube-public' })), 'spec.namespace', /belongs to the platform/);
  });
});

describe('webhook rules: a domain administrator stays in its subtree', () => {
  const tree = [
    ...world(),
    obj('Domain', 'customers', { parentRef: { name: 'root' } }),
    obj('Domain', 'acme-d', { parentRef: { name: 'customers' } }),
    obj('Domain', 'other', { parentRef: { name: 'root' } }),
    obj('Account', 'cust-admin', { domainRef: { name: 'customers' }, namespace: 'cust-admin', accountType: 'DomainAdmin' }),
    obj('Account', 'boss', { domainRef: { name: 'other' }, namespace: 'boss', accountType: 'Admin' }),
    obj('Account', 'elsewhere', { domainRef: { name: 'other' }, namespace: 'elsewhere' }),
  ];
  const domainAdmin = ['kumulus:account:cust-admin', 'kumulus:domain:root/customers', 'system:authenticated'];
  const account = (name: string, domain: string) => obj('Account', name, { domainRef: { name: domain }, namespace: name });

  it('creates accounts, users and domains in its domain and below, and nowhere else', async () => {
    expect(await check(account('in-own', 'customers'), tree, 'CREATE', undefined, domainAdmin)).to.deep.equal([]);
    expect(await check(account('in-sub', 'acme-d'), tree, 'CREATE', undefined, domainAdmin)).to.deep.equal([]);
    expectError(await check(account('in-other', 'other'), tree, 'CREATE', undefined, domainAdmin), 'spec.domainRef.name', /domain other is outside your domain root\/customers: you administer root\/customers and its subdomains only/);
    expectError(await check(account('at-root', 'root'), tree, 'CREATE', undefined, domainAdmin), 'spec.domainRef.name', /domain root is outside your domain root\/customers/);
    expectError(await check(obj('Domain', 'sibling', {}), tree, 'CREATE', undefined, domainAdmin), 'spec.parentRef.name', /domain root is outside your domain/);
    expect(await check(obj('Domain', 'child', { parentRef: { name: 'customers' } }), tree, 'CREATE', undefined, domainAdmin)).to.deep.equal([]);
    const user = (name: string, accountName: string) => obj('User', name, { accountRef: { name: accountName }, username: name, firstName: 'A', lastName: 'B', email: 'a@example.com' });
    expectError(await check(user('mallory', 'elsewhere'), tree, 'CREATE', undefined, domainAdmin), 'spec.accountRef.name', /domain other is outside your domain root\/customers/);
    expect(await check(user('carol', 'cust-admin'), tree, 'CREATE', undefined, domainAdmin)).to.deep.equal([]);
    // Admin would make it a root administrator: neither a new account nor a promotion.
    const admin = (name: string, domain: string) => obj('Account', name, { domainRef: { name: domain }, namespace: name, accountType: 'Admin' });
    expectError(await check(admin('escalate', 'customers'), tree, 'CREATE', undefined, domainAdmin), 'spec.accountType', /only a root administrator may grant; you administer root\/customers: use DomainAdmin or User/);
    const self = tree.find((o) => o.metadata.name === 'cust-admin')!;
    expectError(await check(admin('cust-admin', 'customers'), tree, 'UPDATE', self, domainAdmin), 'spec.accountType', /only a root administrator may grant/);
    expect(await check(obj('Account', 'helper', { domainRef: { name: 'acme-d' }, namespace: 'helper', accountType: 'DomainAdmin' }), tree, 'CREATE', undefined, domainAdmin)).to.deep.equal([]);
    expect(await check(admin('by-root', 'customers'), tree, 'CREATE', undefined, ['kumulus:account:boss', 'kumulus:domain:root/other'])).to.deep.equal([]);
    // Moving an account out of the subtree is creating it elsewhere.
    expectError(await check(account('moved', 'other'), tree, 'UPDATE', account('moved', 'customers'), domainAdmin), 'spec.domainRef.name', /outside your domain/);
  });

  it('leaves the root administrator (an Admin account, whatever its domain) and platform callers unlimited', async () => {
    expect(await check(account('by-admin', 'acme-d'), tree, 'CREATE', undefined, ['kumulus:account:boss', 'kumulus:domain:root/other'])).to.deep.equal([]);
    expect(await check(account('by-kubectl', 'other'), tree, 'CREATE', undefined, ['system:masters', 'system:authenticated'])).to.deep.equal([]);
    expect(await check(account('by-controller', 'other'), tree)).to.deep.equal([]);
  });
});

describe('webhook defaults', () => {
  async function defaulted(object: KubeObject, operation: Operation = 'CREATE', oldObject?: KubeObject, objects: KubeObject[] = []): Promise<KubeObject & { spec: Record<string, unknown> }> {
    const response = await mutate(request(object, operation, oldObject), new Map(admissions(memoryLookup(objects)).map((a) => [`${a.group}/${a.kind}`, a])));
    const patch = response.patch ? (JSON.parse(Buffer.from(response.patch, 'base64').toString()) as { op: string; path: string; value: unknown }[]) : [];
    const copy = structuredClone(object) as KubeObject & { spec: Record<string, unknown> };
    for (const op of patch) {
      const keys = op.path.split('/').slice(1);
      let target = copy as unknown as Record<string, unknown>;
      for (const key of keys.slice(0, -1)) target = target[key] as Record<string, unknown>;
      target[keys.at(-1)!] = op.value;
    }
    return copy;
  }

  it('derives what the CRD defaults cannot', async () => {
    const zone = await defaulted(obj('Zone', 'z9', { networkType: 'Advanced', dns1: '8.8.8.8', internalDns1: '10.0.0.2' }));
    expect(zone.spec).to.include({ guestCidr: '10.1.1.0/24', displayName: 'z9' });
    const basic = await defaulted(obj('Zone', 'b9', { networkType: 'Basic', dns1: '8.8.8.8', internalDns1: '10.0.0.2', securityGroupsEnabled: false }));
    expect(basic.spec).to.include({ securityGroupsEnabled: true });
    expect(basic.spec).to.not.have.property('guestCidr');
    expect((await defaulted(obj('Pod', 'p9', { zoneRef: { name: 'z1' }, gateway: '10.0.0.1', netmask: '255.255.255.0', startIp: '10.0.0.5' }))).spec).to.include({ endIp: '10.0.0.5' });
    expect((await defaulted(obj('ServiceOffering', 'so', { displayName: 'Tiny', cpuNumber: 1, memory: '1Gi' }))).spec).to.include({ displayText: 'Tiny' });
    expect((await defaulted(obj('NetworkOffering', 'sh', { guestIpType: 'Shared', specifyIpRanges: false }))).spec).to.include({ specifyIpRanges: true });
    const vm = await defaulted(obj('VirtualMachine', 'web-1', { networks: [{ name: 'a', default: false }, { name: 'b', default: false }] }, { metadata: { namespace: 'x' } }));
    expect(vm.spec).to.include({ hostName: 'web-1', displayName: 'web-1' });
    expect((vm.spec.networks as { default: boolean }[]).map((n) => n.default)).to.deep.equal([true, false]);
    expect((await defaulted(obj('Network', 'n', { cidr: '10.5.0.0/24' }, { metadata: { namespace: 'x' } }))).spec).to.include({ gateway: '10.5.0.1' });
  });

  it('gives an isolated network without a CIDR the first /24 of its zone\'s guest CIDR that the account\'s others leave free', async () => {
    const isolated = (name: string, spec: Record<string, unknown>, namespace = 'acme') => obj('Network', name, { zoneRef: { name: 'z1' }, networkOfferingRef: { name: 'iso' }, ...spec }, { metadata: { namespace } });
    const fresh = isolated('n', {});
    expect((await defaulted(fresh, 'CREATE', undefined, world())).spec).to.include({ cidr: '10.1.0.0/24', gateway: '10.1.0.1' });
    const taken = [...world(), isolated('a', { cidr: '10.1.0.0/23' }), isolated('b', { cidr: '10.1.3.0/24' }), isolated('other-account', { cidr: '10.1.2.0/24' }, 'globex')];
    expect((await defaulted(fresh, 'CREATE', undefined, taken)).spec, 'another account\'s networks do not count').to.include({ cidr: '10.1.2.0/24' });
    expect((await defaulted(obj('Network', 'l2', { zoneRef: { name: 'z1' }, networkOfferingRef: { name: 'l2' }, vlan: 100 }, { metadata: { namespace: 'acme' } }), 'CREATE', undefined, world())).spec).to.not.have.property('cidr');
  });

  it('keeps derived defaults on update, but never adds them to an object stored without them', async () => {
    const bare = obj('ServiceOffering', 'so', { cpuNumber: 1, memory: '1Gi' });
    expect(await defaulted(bare, 'UPDATE', bare)).to.deep.equal(bare);
    const stored = obj('Zone', 'z9', { networkType: 'Advanced', dns1: '8.8.8.8', internalDns1: '10.0.0.2', guestCidr: '10.1.1.0/24', displayName: 'z9' });
    const reapplied = obj('Zone', 'z9', { networkType: 'Advanced', dns1: '8.8.4.4', internalDns1: '10.0.0.2' });
    expect((await defaulted(reapplied, 'UPDATE', stored)).spec).to.include({ guestCidr: '10.1.1.0/24', displayName: 'z9', dns1: '8.8.4.4' });
  });
});
