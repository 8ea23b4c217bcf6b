import { expect } from 'chai';
import type { AccountObject, DomainObject } from '../../crds/index.ts';
import type { KubeObject } from '../../lib/kube-client.ts';
import {
  LIMIT_EXCEEDED,
  RESOURCE_TYPES,
  accountLimit,
  domainChain,
  domainLimit,
  exceededMessage,
  exceededTextOf,
  exceededTypes,
  objectUsage,
  sumUsage,
  type ResourceType,
} from '../../lib/resource-limits.ts';
import { DEFAULT_SETTINGS, resolveSettings } from '../../lib/settings.ts';
import { deny, type AdmissionRequest } from '../../webhooks/admission.ts';
import { admissionOf, admissions } from '../../webhooks/kinds/index.ts';
import { memoryLookup } from '../../webhooks/lookup.ts';

const type = (name: string): ResourceType => RESOURCE_TYPES.find((t) => t.name === name)!;
const domain = (name: string, parent?: string, limits?: Record<string, number>) =>
  ({ apiVersion: 'iam.kumulus.io/v1alpha1', kind: 'Domain', metadata: { name, uid: `uid-${name}` }, spec: { ...(parent ? { parentRef: { name: parent } } : {}), ...(limits ? { resourceLimits: limits } : {}) } }) as DomainObject;
const account = (name: string, domainName: string, limits?: Record<string, number>, accountType = 'User') =>
  ({ apiVersion: 'iam.kumulus.io/v1alpha1', kind: 'Account', metadata: { name, uid: `uid-${name}` }, spec: { domainRef: { name: domainName }, namespace: `ns-${name}`, accountType, ...(limits ? { resourceLimits: limits } : {}) } }) as AccountObject;
const vm = (name: string, namespace: string, extra: Record<string, unknown> = {}) =>
  ({ apiVersion: 'compute.kumulus.io/v1alpha1', kind: 'VirtualMachine', metadata: { name, namespace }, spec: { zoneRef: { name: 'z1' }, serviceOfferingRef: { name: 'small' }, ...extra } }) as KubeObject & { spec: Record<string, unknown> };
const small = { apiVersion: 'infra.kumulus.io/v1alpha1', kind: 'ServiceOffering', metadata: { name: 'small' }, spec: { cpuNumber: 2, cpuSpeed: 1000, memory: '1Gi' } };
const offerings = { service: (name: string) => (name === 'small' ? small.spec : undefined), disk: () => ({ diskSize: '5Gi' }) };

describe('resource limits (lib/resource-limits.ts)', () => {
  it('numbers the twelve types as CloudStack does', () => {
    expect(RESOURCE_TYPES.map((t) => `${t.code}:${t.name}`)).to.deep.equal([
      '0:user_vm', '1:public_ip', '2:volume', '3:snapshot', '4:template', '5:project', '6:network', '7:vpc', '8:cpu', '9:memory', '10:primary_storage', '11:secondary_storage',
    ]);
  });

  it('takes an account\'s own limit, else the global max.account.* setting; root administrators are unlimited', () => {
    expect(accountLimit(account('a', 'd'), type('user_vm'), DEFAULT_SETTINGS)).to.equal(20);
    expect(accountLimit(account('a', 'd'), type('user_vm'), resolveSettings({ 'max.account.user.vms': '7' }).settings)).to.equal(7);
    expect(accountLimit(account('a', 'd', { userVm: 3 }), type('user_vm'), DEFAULT_SETTINGS)).to.equal(3);
    expect(accountLimit(account('a', 'd', { userVm: 3 }, 'Admin'), type('user_vm'), DEFAULT_SETTINGS)).to.equal(-1);
  });

  it('inherits a domain\'s limit from its nearest ancestor; ROOT is unlimited', () => {
    const domains = new Map([domain('root'), domain('customers', 'root', { userVm: 10 }), domain('acme', 'customers'), domain('own', 'customers', { userVm: 4 })].map((d) => [d.metadata.name ?? '', d]));
    expect(domainChain('acme', domains).map((d) => d.metadata.name)).to.deep.equal(['acme', 'customers', 'root']);
    expect(domainLimit(domainChain('acme', domains), 'userVm')).to.equal(10);
    expect(domainLimit(domainChain('own', domains), 'userVm')).to.equal(4);
    expect(domainLimit(domainChain('acme', domains), 'cpu')).to.equal(-1);
    expect(domainLimit(domainChain('root', domains), 'userVm')).to.equal(-1);
  });

  it('counts a VM with its cores, memory in MiB and disks; a destroyed VM counts nothing', () => {
    expect(objectUsage('VirtualMachine', vm('a', 'n', { dataDisks: [{ name: 'd', diskOfferingRef: { name: 'five' } }] }), offerings)).to.deep.equal({ userVm: 1, cpu: 2, memory: 1024, volume: 2, primaryStorage: 5 * 2 ** 30 });
    expect(objectUsage('VirtualMachine', vm('a', 'n', { state: 'Destroyed' }), offerings)).to.deep.equal({});
  });

  it('counts a volume of its own with its asked size; one a VM made, or a destroyed one, counts nothing', () => {
    const volume = (spec: Record<string, unknown>, owners: { kind: string }[] = []) =>
      ({ metadata: { name: 'v', namespace: 'n', ownerReferences: owners.map((o) => ({ ...o, apiVersion: 'x', name: 'x', uid: 'x' })) }, spec: { zoneRef: { name: 'z1' }, diskOfferingRef: { name: 'five' }, ...spec } }) as unknown as KubeObject;
    expect(objectUsage('Volume', volume({ size: '8Gi' }), offerings)).to.deep.equal({ volume: 1, primaryStorage: 8 * 2 ** 30 });
    expect(objectUsage('Volume', volume({}), offerings)).to.deep.equal({ volume: 1, primaryStorage: 5 * 2 ** 30 });
    expect(objectUsage('Volume', volume({}, [{ kind: 'VirtualMachine' }]), offerings)).to.deep.equal({});
    expect(objectUsage('Volume', volume({ destroyed: true }), offerings)).to.deep.equal({});
  });

  it('refuses only what a request raises past the limit, so a limit lowered below usage keeps what exists', () => {
    const limit = (t: ResourceType) => (t.name === 'user_vm' ? 2 : t.name === 'primary_storage' ? 10 : -1);
    expect(exceededTypes(limit, { userVm: 1 }, { userVm: 2 })).to.deep.equal([]);
    expect(exceededTypes(limit, { userVm: 2 }, { userVm: 3 }).map((e) => [e.type.name, e.limit, e.used, e.asked])).to.deep.equal([['user_vm', 2, 2, 1]]);
    expect(exceededTypes(limit, { userVm: 5, cpu: 1 }, { userVm: 5, cpu: 2 })).to.deep.equal([]);
    expect(exceededTypes(limit, { primaryStorage: 9 * 2 ** 30 }, { primaryStorage: 11 * 2 ** 30 }).map((e) => e.type.name)).to.deep.equal(['primary_storage']);
    expect(sumUsage([{ userVm: 1 }, { userVm: 2, cpu: 3 }])).to.deep.equal({ userVm: 3, cpu: 3 });
  });

  it('says CloudStack\'s text first, then the figures and both ways to raise the limit', () => {
    const message = exceededMessage({ type: type('user_vm'), account: 'acme', domainUid: 'uid-d', domainName: 'd', limit: 2, used: 2, asked: 1 });
    expect(exceededTextOf(message)).to.equal("Maximum number of resources of type 'user_vm' for account name=acme in domain id=uid-d has been exceeded.");
    expect(message).to.contain('updateResourceLimit resourcetype=0 account=acme domainid=uid-d').and.contain('spec.resourceLimits.userVm of Account acme');
    const ofDomain = exceededMessage({ type: type('cpu'), domainUid: 'uid-d', domainName: 'd', limit: 4, used: 4, asked: 2 });
    expect(exceededTextOf(ofDomain)).to.equal("Maximum number of resources of type 'cpu' for domain id=uid-d has been exceeded.");
    expect(ofDomain).to.contain('spec.resourceLimits.cpu of Domain d');
  });

  it('is refused 403 Forbidden when only limits are passed, 422 with any other problem', () => {
    expect(deny('u', [{ field: 'spec', message: 'x', reason: LIMIT_EXCEEDED }]).status).to.include({ code: 403, reason: 'Forbidden' });
    expect(deny('u', [{ field: 'spec', message: 'x', reason: LIMIT_EXCEEDED }, { field: 'spec.size', message: 'y' }]).status).to.include({ code: 422, reason: 'Invalid' });
  });
});

describe('resource limits at admission (webhooks/kinds/limits.ts, over a memory lookup)', () => {
  const zone = { apiVersion: 'infra.kumulus.io/v1alpha1', kind: 'Zone', metadata: { name: 'z1' }, spec: { networkType: 'Advanced', dns1: '8.8.8.8', internalDns1: '10.0.0.2' } };
  const validate = async (objects: KubeObject[], object: KubeObject, oldObject?: KubeObject) => {
    const admission = admissionOf(admissions(memoryLookup(objects)), 'VirtualMachine')!;
    const request = { uid: 'u', kind: { group: 'compute.kumulus.io', version: 'v1alpha1', kind: 'VirtualMachine' }, resource: { group: 'compute.kumulus.io', version: 'v1alpha1', resource: 'virtualmachines' }, operation: oldObject ? 'UPDATE' : 'CREATE', userInfo: {}, object, oldObject } as AdmissionRequest;
    return (await admission.validate!(request)).map((e) => `${e.reason ?? ''} ${e.message}`);
  };
  const tree = [domain('root'), domain('customers', 'root', { userVm: 3 }), domain('acme', 'customers'), zone, small];

  it('admits up to the account\'s limit and refuses the next, naming the limit and the account', async () => {
    const objects = [...tree, account('acme', 'acme', { userVm: 2 }), vm('one', 'ns-acme')];
    expect(await validate(objects, vm('two', 'ns-acme'))).to.deep.equal([]);
    const refused = await validate([...objects, vm('two', 'ns-acme')], vm('three', 'ns-acme'));
    expect(refused).to.have.length(1);
    expect(refused[0]).to.match(/^ResourceLimitExceeded Maximum number of resources of type 'user_vm' for account name=acme in domain id=uid-acme has been exceeded\. The limit is 2, 2 in use/);
  });

  it('refuses past an ancestor domain\'s limit, summed over its accounts', async () => {
    const objects = [...tree, account('acme', 'acme'), account('beta', 'customers'), vm('a1', 'ns-acme'), vm('b1', 'ns-beta'), vm('b2', 'ns-beta')];
    const refused = await validate(objects, vm('a2', 'ns-acme'));
    expect(refused).to.deep.equal([`${LIMIT_EXCEEDED} ${exceededMessage({ type: type('user_vm'), domainUid: 'uid-customers', domainName: 'customers', limit: 3, used: 3, asked: 1 })}`]);
    // Without the domain's limit the same VM is admitted.
    const unlimited = objects.map((o) => (o.metadata.name === 'customers' ? domain('customers', 'root') : o));
    expect(await validate(unlimited, vm('a2', 'ns-acme'))).to.deep.equal([]);
  });

  it('checks a scale-up by what it adds, and lets a VM over a lowered limit be scaled down', async () => {
    const objects = [...tree, account('acme', 'acme', { cpu: 3 }), vm('one', 'ns-acme', { serviceOfferingRef: { name: 'small' } })];
    const big = { ...small, metadata: { name: 'big' }, spec: { cpuNumber: 4, cpuSpeed: 1000, memory: '1Gi' } };
    const refused = await validate([...objects, big], vm('one', 'ns-acme', { serviceOfferingRef: { name: 'big' } }), vm('one', 'ns-acme'));
    expect(refused[0]).to.match(/type 'cpu' for account name=acme/);
    const tiny = { ...small, metadata: { name: 'tiny' }, spec: { cpuNumber: 1, cpuSpeed: 1000, memory: '1Gi' } };
    const over = [...tree, account('acme', 'acme', { cpu: 1 }), vm('one', 'ns-acme'), tiny];
    expect(await validate(over, vm('one', 'ns-acme', { serviceOfferingRef: { name: 'tiny' } }), vm('one', 'ns-acme'))).to.deep.equal([]);
  });

  it('places no limit on a root administrator\'s account or a namespace no account owns', async () => {
    const objects = [...tree, account('boss', 'acme', { userVm: 0 }, 'Admin'), account('acme', 'acme', { userVm: 0 })];
    expect(await validate(objects, vm('x', 'ns-boss'))).to.deep.equal([]);
    expect(await validate(objects, vm('x', 'elsewhere'))).to.deep.equal([]);
    expect(await validate(objects, vm('x', 'ns-acme'))).to.have.length(1);
  });
});

describe('who may change resource limits (webhooks/kinds/iam.ts)', () => {
  const tree = [domain('root'), domain('customers', 'root'), domain('acme', 'customers')];
  const iamRequest = (kind: 'Account' | 'Domain', object: KubeObject, oldObject: KubeObject, groups: string[]) =>
    ({ uid: 'u', kind: { group: 'iam.kumulus.io', version: 'v1alpha1', kind }, resource: { group: 'iam.kumulus.io', version: 'v1alpha1', resource: `${kind.toLowerCase()}s` }, operation: 'UPDATE', userInfo: { username: 'kumulus:user:x', groups }, object, oldObject }) as AdmissionRequest;
  const check = async (kind: 'Account' | 'Domain', objects: KubeObject[], object: KubeObject, oldObject: KubeObject, groups: string[]) =>
    (await admissionOf(admissions(memoryLookup(objects)), kind)!.validate!(iamRequest(kind, object, oldObject, groups))).map((e) => `${e.field}: ${e.message}`);
  const boss = account('boss', 'customers', undefined, 'DomainAdmin');
  const asBoss = ['kumulus:account:boss', 'kumulus:domain:root/customers'];

  it('refuses a domain administrator raising its own account\'s limits or its own domain\'s, and lets it set those below', async () => {
    const objects = [...tree, boss, account('acme', 'acme')];
    expect(await check('Account', objects, account('boss', 'customers', { userVm: 99 }, 'DomainAdmin'), boss, asBoss)).to.deep.equal([
      'spec.resourceLimits: account boss is your own: its resource limits are set by an administrator of its domain or above',
    ]);
    expect(await check('Account', objects, account('acme', 'acme', { userVm: 99 }), account('acme', 'acme'), asBoss)).to.deep.equal([]);
    expect(await check('Domain', objects, domain('customers', 'root', { cpu: 99 }), domain('customers', 'root'), asBoss)).to.deep.equal([
      'spec.resourceLimits: domain customers is the one you administer: its resource limits are set by an administrator of its parent domain',
    ]);
    expect(await check('Domain', objects, domain('acme', 'customers', { cpu: 9 }), domain('acme', 'customers'), asBoss)).to.deep.equal([]);
  });
});
