import { expect } from 'chai';
import { Account, Domain, VirtualMachine } from '../../crds/index.ts';
import { callerIdentity, PUBLIC_NAMESPACE } from '../../lib/identity.ts';
import { ApiError, type KubeClient, resourceTypeOf } from '../../lib/kube-client.ts';
import type { CloudStackClient } from '../support/cloudstack-client.ts';
import { uniqueName } from '../support/cluster.ts';
import { type InfraCloud, startInfraCloud, waitUntil } from './cloudstack-infra-harness.ts';

/**
 * Resource limits per account and domain over the real control plane: the limits live in
 * spec.resourceLimits of the Account and Domain, the admission webhook (called by the
 * apiserver) enforces them, so a tenant over its limit is refused at both doors: the API as
 * the user (535 with CloudStack's text) and kubectl as the impersonated user (403 naming the
 * limit, the account and how to raise it). listResourceLimits, updateResourceLimit and
 * updateResourceCount answer in CloudStack's shapes.
 */

const exceeded = (type: string, account: string, domainId: string) => `Maximum number of resources of type '${type}' for account name=${account} in domain id=${domainId} has been exceeded.`;

describe('cloudstack-api: resource limits per account and domain, at both doors (real control plane)', function () {
  this.timeout(300_000);
  let cloud: InfraCloud;
  let tenant: { client: CloudStackClient; namespace: string; account: string };
  let kubectl: KubeClient;
  const s = uniqueName('lim').slice(4);
  const ids: Record<string, string> = {};

  const vmSpec = (offering = `small-${s}`) => ({ zoneRef: { name: `z-${s}` }, serviceOfferingRef: { name: offering }, templateRef: { namespace: PUBLIC_NAMESPACE, name: `tiny-${s}` }, state: 'Stopped' });
  const vmObject = (namespace: string, name: string, offering?: string) => ({ apiVersion: VirtualMachine.apiVersion, kind: 'VirtualMachine', metadata: { namespace, name }, spec: vmSpec(offering) });
  const refusal = async (attempt: Promise<unknown>): Promise<ApiError> => {
    const error = await attempt.then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error, 'the request was admitted').to.be.instanceOf(ApiError);
    return error as ApiError;
  };
  const deploy = (name: string, offering = 'small') => tenant.client.request('deployVirtualMachine', { zoneid: ids['zone'] ?? '', serviceofferingid: ids[offering] ?? '', templateid: ids['template'] ?? '', name, startvm: 'false' });
  const rows = (body: Record<string, unknown>, key: string) => (body[key] as Record<string, unknown>[] | undefined) ?? [];

  before(async function () {
    this.timeout(240_000);
    cloud = await startInfraCloud('cslim');
    const make = async (kind: string, name: string, spec: Record<string, unknown>, namespace?: string) => cloud.resource(kind).create({ metadata: { name, ...(namespace ? { namespace } : {}) }, spec });
    ids['zone'] = (await make('Zone', `z-${s}`, { networkType: 'Advanced', dns1: '8.8.8.8', internalDns1: '10.0.0.2', guestCidr: '10.1.0.0/16', allocationState: 'Enabled' })).metadata.uid ?? '';
    ids['small'] = (await make('ServiceOffering', `small-${s}`, { cpuNumber: 1, cpuSpeed: 1000, memory: '512Mi' })).metadata.uid ?? '';
    ids['large'] = (await make('ServiceOffering', `large-${s}`, { cpuNumber: 4, cpuSpeed: 1000, memory: '1Gi' })).metadata.uid ?? '';
    ids['custom'] = (await make('DiskOffering', `dc-${s}`, { customized: { minSize: '1Gi', maxSize: '100Gi' } })).metadata.uid ?? '';
    await cloud.kube.resource({ group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false }).create({ metadata: { name: PUBLIC_NAMESPACE } }).catch(() => undefined);
    const template = await make('Template', `tiny-${s}`, { url: 'file:///var/lib/kumulus/tiny.qcow2', format: 'QCOW2', zoneRefs: [{ name: `z-${s}` }], isPublic: true }, PUBLIC_NAMESPACE);
    ids['template'] = template.metadata.uid ?? '';
    await cloud.resource('Template').patchStatus({ namespace: PUBLIC_NAMESPACE, name: template.metadata.name ?? '' }, { status: { state: 'Active', isReady: true, zones: [{ zone: `z-${s}`, downloadState: 'DOWNLOADED', downloadPercent: 100, sizeBytes: 1 << 30 }] } });
    tenant = await cloud.tenant('limt');
    ids['domain'] = (await cloud.resource('Domain').get({ name: tenant.account })).metadata.uid ?? '';
    // kubectl as the tenant's user: the identity the API impersonates for it.
    kubectl = cloud.kube.as(callerIdentity(tenant.account, tenant.account, `root/${tenant.account}`));
  });

  after(async () => {
    await cloud?.stop();
  });

  it('lists the account\'s twelve limits, its defaults from the global max.account.* settings', async () => {
    const reply = await tenant.client.request('listResourceLimits');
    expect(reply.status, reply.text).to.equal(200);
    expect(reply.body['count']).to.equal(12);
    const limits = rows(reply.body, 'resourcelimit');
    expect(limits.map((r) => `${r['resourcetype'] as string}:${r['resourcetypename'] as string}:${r['max'] as number}`)).to.deep.equal([
      '0:user_vm:20', '1:public_ip:20', '2:volume:20', '3:snapshot:20', '4:template:20', '5:project:10', '6:network:20', '7:vpc:20', '8:cpu:40', '9:memory:40960', '10:primary_storage:200', '11:secondary_storage:400',
    ]);
    expect(limits[0]).to.deep.equal({ account: tenant.account, domainid: ids['domain'], domain: tenant.account, domainpath: `ROOT/${tenant.account}`, max: 20, resourcetype: '0', resourcetypename: 'user_vm' });
    const one = await tenant.client.request('listResourceLimits', { resourcetypename: 'cpu' });
    expect(rows(one.body, 'resourcelimit').map((r) => r['max'])).to.deep.equal([40]);
  });

  it('updates an account\'s limit into spec.resourceLimits of the Account, which kubectl shows', async () => {
    const reply = await cloud.admin.request('updateResourceLimit', { resourcetype: '0', max: '1', account: tenant.account, domainid: ids['domain'] ?? '' });
    expect(reply.status, reply.text).to.equal(200);
    expect(reply.body['resourcelimit']).to.deep.equal({ account: tenant.account, domainid: ids['domain'], domain: tenant.account, domainpath: `ROOT/${tenant.account}`, max: 1, resourcetype: '0', resourcetypename: 'user_vm' });
    expect((await cloud.resource('Account').get({ name: tenant.account })).spec?.['resourceLimits']).to.deep.equal({ userVm: 1 });
  });

  it('refuses a tenant over its limit at both doors: the API with 535 and CloudStack\'s text, kubectl with 403 naming the limit and how to raise it', async () => {
    const first = await deploy(`one-${s}`);
    expect(first.status, first.text).to.equal(200);
    const second = await deploy(`two-${s}`);
    expect([second.status, second.body['errorcode'], second.body['cserrorcode'], second.body['errortext']]).to.deep.equal([535, 535, 4370, exceeded('user_vm', tenant.account, ids['domain'] ?? '')]);
    const error = await refusal(kubectl.resource(resourceTypeOf(VirtualMachine)).create(vmObject(tenant.namespace, `kubectl-${s}`)));
    expect(error.code).to.equal(403);
    expect(error.message).to.contain(exceeded('user_vm', tenant.account, ids['domain'] ?? '')).and.contain('The limit is 1, 1 in use').and.contain(`updateResourceLimit resourcetype=0 account=${tenant.account} domainid=${ids['domain']}`).and.contain(`spec.resourceLimits.userVm of Account ${tenant.account}`);
    const vms = await cloud.resource('VirtualMachine').list({ namespace: tenant.namespace });
    expect(vms.items.map((v) => v.metadata.name)).to.deep.equal([`one-${s}`]);
    // The limit is what refused: raised, the same request is admitted at once.
    expect((await cloud.admin.request('updateResourceLimit', { resourcetype: '0', max: '3', account: tenant.account, domainid: ids['domain'] ?? '' })).status).to.equal(200);
    await kubectl.resource(resourceTypeOf(VirtualMachine)).create(vmObject(tenant.namespace, `kubectl-${s}`));
  });

  it('counts what the account and its domain use: updateResourceCount', async () => {
    const reply = await cloud.admin.request('updateResourceCount', { domainid: ids['domain'] ?? '', account: tenant.account });
    expect(reply.status, reply.text).to.equal(200);
    const counts: Record<string, unknown> = Object.fromEntries(rows(reply.body, 'resourcecount').map((r) => [String(r['resourcetypename']), r['resourcecount']]));
    expect(counts).to.include({ user_vm: 2, cpu: 2, memory: 1024, volume: 2, network: 0, template: 0 });
    expect(rows(reply.body, 'resourcecount')[0]).to.deep.equal({ account: tenant.account, domainid: ids['domain'], domain: tenant.account, domainpath: `ROOT/${tenant.account}`, resourcecount: 2, resourcetype: '0', resourcetypename: 'user_vm' });
    const domain = await cloud.admin.request('updateResourceCount', { domainid: ids['domain'] ?? '', resourcetype: '8' });
    expect(rows(domain.body, 'resourcecount')).to.deep.equal([{ domainid: ids['domain'], domain: tenant.account, domainpath: `ROOT/${tenant.account}`, resourcecount: 2, resourcetype: '8', resourcetypename: 'cpu' }]);
  });

  it('shows each limit, what is used and what is left on the listAccounts and listDomains rows, as CloudStack does', async () => {
    const pick = (row: Record<string, unknown> | undefined, types: string[]) => Object.fromEntries(types.flatMap((t) => [`${t}limit`, `${t}total`, `${t}available`].map((f) => [f, row?.[f]])));
    const types = ['vm', 'cpu', 'memory', 'volume', 'network', 'template', 'primarystorage'];
    // The tenant's own row: user_vm raised to 3 above, the rest the global defaults; two Stopped VMs of 1 core and 512 MiB.
    const own = rows((await tenant.client.request('listAccounts')).body, 'account');
    expect(own.map((a) => a['name'])).to.deep.equal([tenant.account]);
    expect(pick(own[0], types)).to.deep.equal({
      vmlimit: '3', vmtotal: 2, vmavailable: '1',
      cpulimit: '40', cputotal: 2, cpuavailable: '38',
      memorylimit: '40960', memorytotal: 1024, memoryavailable: '39936',
      volumelimit: '20', volumetotal: 2, volumeavailable: '18',
      networklimit: '20', networktotal: 0, networkavailable: '20',
      templatelimit: '20', templatetotal: 0, templateavailable: '20',
      primarystoragelimit: '200', primarystoragetotal: 0, primarystorageavailable: '200',
    });
    const states = (await cloud.resource('VirtualMachine').list({ namespace: tenant.namespace })).items.map((vm) => (vm as { status?: { state?: string } }).status?.state);
    expect([own[0]?.['vmrunning'], own[0]?.['vmstopped']]).to.deep.equal([states.filter((st) => st === 'Running').length, states.filter((st) => st === 'Stopped').length]);
    // A root administrator's account has no limits.
    const admin = rows((await cloud.admin.request('listAccounts', { name: 'admin' })).body, 'account');
    expect([admin[0]?.['vmlimit'], admin[0]?.['vmavailable'], admin[0]?.['primarystoragelimit']]).to.deep.equal(['Unlimited', 'Unlimited', 'Unlimited']);
    // The tenant's domain sets no limit of its own and ROOT has none: unlimited, counting its account's VMs.
    const domain = rows((await cloud.admin.request('listDomains', { id: ids['domain'] ?? '' })).body, 'domain');
    expect(pick(domain[0], ['vm', 'cpu'])).to.deep.equal({ vmlimit: 'Unlimited', vmtotal: 2, vmavailable: 'Unlimited', cpulimit: 'Unlimited', cputotal: 2, cpuavailable: 'Unlimited' });
    // A domain limit shows at once, with what is left under it.
    expect((await cloud.admin.request('updateResourceLimit', { resourcetype: '0', max: '5', domainid: ids['domain'] ?? '' })).status).to.equal(200);
    const limited = rows((await cloud.admin.request('listDomains', { id: ids['domain'] ?? '' })).body, 'domain');
    expect(pick(limited[0], ['vm'])).to.deep.equal({ vmlimit: '5', vmtotal: 2, vmavailable: '3' });
  });

  it('holds accounts to their domain\'s limit, inherited by subdomains: a scale-up and a new VM past it are refused', async () => {
    expect((await cloud.admin.request('updateResourceLimit', { resourcetype: '8', max: '3', domainid: ids['domain'] ?? '' })).status).to.equal(200);
    expect((await cloud.resource('Domain').get({ name: tenant.account })).spec?.['resourceLimits']).to.deep.equal({ userVm: 5, cpu: 3 });
    // The account's own cpu limit is still the default; its domain's caps it.
    expect(rows((await tenant.client.request('listResourceLimits', { resourcetype: '8' })).body, 'resourcelimit')[0]?.['max']).to.equal(40);
    const scale = await refusal(kubectl.resource(resourceTypeOf(VirtualMachine)).patch({ namespace: tenant.namespace, name: `one-${s}` }, { spec: { serviceOfferingRef: { name: `large-${s}` } } }, 'merge'));
    expect(scale.code).to.equal(403);
    expect(scale.message).to.contain(`Maximum number of resources of type 'cpu' for domain id=${ids['domain']} has been exceeded.`).and.contain(`spec.resourceLimits.cpu of Domain ${tenant.account}`);

    // A subdomain inherits the limit, and its accounts count toward it.
    const child = `${tenant.account}-sub`;
    await cloud.resource('Domain').create({ metadata: { name: child }, spec: { parentRef: { name: tenant.account } } });
    const childUid = (await cloud.resource('Domain').get({ name: child })).metadata.uid ?? '';
    const inherited = await cloud.admin.request('listResourceLimits', { domainid: childUid, resourcetype: '8' });
    expect(rows(inherited.body, 'resourcelimit')).to.deep.equal([{ domainid: childUid, domain: child, domainpath: `ROOT/${tenant.account}/${child}`, max: 3, resourcetype: '8', resourcetypename: 'cpu' }]);
    const namespace = `cs-${child}`;
    await cloud.resource('Account').create({ metadata: { name: child }, spec: { domainRef: { name: child }, accountType: 'User', namespace } });
    await waitUntil(`namespace ${namespace}`, () =>
      cloud.kube
        .resource({ group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false })
        .get({ name: namespace })
        .then(
          () => true,
          () => undefined,
        ),
    );
    const vms = cloud.kube.resource(resourceTypeOf(VirtualMachine));
    await vms.create(vmObject(namespace, `c1-${s}`));
    const over = await refusal(vms.create(vmObject(namespace, `c2-${s}`)));
    expect(over.code).to.equal(403);
    expect(over.message).to.contain(`Maximum number of resources of type 'cpu' for domain id=${ids['domain']} has been exceeded.`).and.contain('The limit is 3, 3 in use, this asks for 1 more');
    // Above the domain's limit the child may not go; at or below it may.
    const tooHigh = await cloud.admin.request('updateResourceLimit', { resourcetype: '8', max: '4', domainid: childUid });
    expect([tooHigh.status, tooHigh.body['errortext']]).to.deep.equal([431, `Domain ${child}(id: ${ids['domain']}) has maximum allowed resource limit 3 for cpu, please specify a value less that or equal to 3`]);
    await cloud.resource('Account').delete({ name: child });
  });

  const badInput: { what: string; client: () => CloudStackClient; command: string; params: () => Record<string, string>; code: number; text: string | RegExp }[] = [
    { what: 'a resource type out of range', client: () => cloud.admin, command: 'updateResourceLimit', params: () => ({ resourcetype: '12', max: '1', domainid: ids['domain'] ?? '' }), code: 431, text: 'Please specify a valid resource type: resourcetype 12 is none of 0 to 11' },
    { what: 'a resource type that is not a number', client: () => cloud.admin, command: 'updateResourceLimit', params: () => ({ resourcetype: 'cpu', domainid: ids['domain'] ?? '' }), code: 431, text: 'Unable to execute API command updateresourcelimit due to invalid value cpu for parameter resourcetype' },
    { what: 'a missing resource type', client: () => cloud.admin, command: 'updateResourceLimit', params: () => ({ max: '1', domainid: ids['domain'] ?? '' }), code: 431, text: 'Unable to execute API command updateresourcelimit due to missing parameter resourcetype' },
    { what: 'a limit below -1', client: () => cloud.admin, command: 'updateResourceLimit', params: () => ({ resourcetype: '0', max: '-2', domainid: ids['domain'] ?? '' }), code: 431, text: "Please specify either '-1' for an infinite limit, or a limit that is at least '0'." },
    { what: 'neither account nor domain', client: () => cloud.admin, command: 'updateResourceLimit', params: () => ({ resourcetype: '0', max: '1' }), code: 431, text: 'AccountId or domainId have to be specified in order to update resource limit' },
    { what: 'a limit on a root administrator', client: () => cloud.admin, command: 'updateResourceLimit', params: () => ({ resourcetype: '0', max: '1', account: 'admin' }), code: 431, text: 'Only -1 limit is supported for Root Admin accounts' },
    { what: 'an unknown resource type name', client: () => tenant.client, command: 'listResourceLimits', params: () => ({ resourcetypename: 'gpu' }), code: 431, text: /^Please specify a valid resource type name: resourcetypename gpu is none of user_vm, public_ip/ },
    { what: 'updateResourceCount without domainid', client: () => cloud.admin, command: 'updateResourceCount', params: () => ({ account: 'admin' }), code: 431, text: 'Unable to execute API command updateresourcecount due to missing parameter domainid' },
    { what: 'a tenant raising its own limit', client: () => tenant.client, command: 'updateResourceLimit', params: () => ({ resourcetype: '0', max: '100', account: tenant.account, domainid: ids['domain'] ?? '' }), code: 401, text: /updateResourceLimit/ },
  ];
  for (const c of badInput) {
    it(`refuses ${c.what}, naming the parameter`, async () => {
      const reply = await c.client().request(c.command, c.params());
      expect(reply.status, reply.text).to.equal(c.code);
      if (c.text instanceof RegExp) expect(reply.body['errortext']).to.match(c.text);
      else expect(reply.body['errortext']).to.equal(c.text);
    });
  }

  it('refuses a limit on ROOT at the API (531) and in the Domain (CEL), and a bad limit in the Account naming the field', async () => {
    const root = await cloud.resource('Domain').get({ name: 'root' });
    const reply = await cloud.admin.request('updateResourceLimit', { resourcetype: '0', max: '5', domainid: root.metadata.uid ?? '' });
    expect([reply.status, reply.body['errortext']]).to.deep.equal([531, `Cannot update resource limit for ROOT domain ${root.metadata.uid}, permission denied`]);
    const cel = await refusal(cloud.kube.resource(resourceTypeOf(Domain)).patch({ name: 'root' }, { spec: { resourceLimits: { userVm: 5 } } }, 'merge'));
    expect(cel.message).to.contain('spec.resourceLimits cannot be set on the root domain; set them on its accounts or child domains');
    const bad = await refusal(cloud.kube.resource(resourceTypeOf(Account)).patch({ name: tenant.account }, { spec: { resourceLimits: { userVm: -2 } } }, 'merge'));
    expect(bad.code).to.equal(422);
    expect(bad.message).to.match(/spec\.resourceLimits\.userVm/);
    // The tenant's own user may read its Account but not raise its limits through kubectl either.
    const own = await refusal(kubectl.resource(resourceTypeOf(Account)).patch({ name: tenant.account }, { spec: { resourceLimits: { userVm: 100 } } }, 'merge'));
    expect(own.code).to.equal(403);
  });

  it('refuses a volume resize past the account\'s primary storage limit (GiB) through the API, and admits one within it', async () => {
    const created = await tenant.client.request('createVolume', { name: `data-${s}`, diskofferingid: ids['custom'] ?? '', size: '2', zoneid: ids['zone'] ?? '' });
    expect(created.status, created.text).to.equal(200);
    const id = created.body['id'] as string;
    expect((await cloud.admin.request('updateResourceLimit', { resourcetype: '10', max: '3', account: tenant.account, domainid: ids['domain'] ?? '' })).status).to.equal(200);
    const over = await tenant.client.request('resizeVolume', { id, size: '4' });
    expect([over.status, over.body['cserrorcode'], over.body['errortext']]).to.deep.equal([535, 4370, exceeded('primary_storage', tenant.account, ids['domain'] ?? '')]);
    const within = await tenant.client.request('resizeVolume', { id, size: '3' });
    expect(within.status, within.text).to.equal(200);
    const counted = await cloud.admin.request('updateResourceCount', { domainid: ids['domain'] ?? '', account: tenant.account, resourcetype: '10' });
    expect(rows(counted.body, 'resourcecount')[0]?.['resourcecount']).to.equal(3 * 2 ** 30);
  });

  it('refuses through the API what a lowered limit no longer allows, keeping what exists', async () => {
    expect((await cloud.admin.request('updateResourceLimit', { resourcetype: '0', max: '0', account: tenant.account, domainid: ids['domain'] ?? '' })).status).to.equal(200);
    const reply = await deploy(`three-${s}`);
    expect([reply.status, reply.body['errortext']]).to.deep.equal([535, exceeded('user_vm', tenant.account, ids['domain'] ?? '')]);
    const listed = await tenant.client.request('listVirtualMachines');
    expect(listed.body['count']).to.equal(2);
    const kept = await cloud.resource('VirtualMachine').get({ namespace: tenant.namespace, name: `one-${s}` });
    expect(kept.metadata.name).to.equal(`one-${s}`);
  });
});
