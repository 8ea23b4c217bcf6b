import { expect } from 'chai';
import { computeCommands } from '../../cloudstack-api/commands/compute.ts';
import { vmRow } from '../../cloudstack-api/commands/compute-views.ts';
import { createInfra } from '../../cloudstack-api/commands/context.ts';
import type { Command, CommandContext } from '../../cloudstack-api/commands/define.ts';
import { AccountType, type Caller } from '../../cloudstack-api/protocol/auth.ts';
import { serializeResponse } from '../../cloudstack-api/protocol/envelope.ts';
import { defaultProtocolSettings } from '../../cloudstack-api/protocol/settings.ts';
import { Account, Domain, Host, Network, NetworkOffering, ServiceOffering, Template, VirtualMachine, type VirtualMachineObject, Zone } from '../../crds/index.ts';

const VM_TYPE = resourceTypeOf(VirtualMachine);
import { type KubeObject, resourceTypeOf } from '../../lib/kube-client.ts';
import { log } from '../../lib/log.ts';
import { createMemoryInformers } from '../support/memory-informers.ts';

/**
 * listVirtualMachines keeps what it can between requests: the plain list's filtered rows
 * (until the VMs change), each VM's built row (until the VM or a cache the row reads changes),
 * its conformed form and its JSON bytes. Each request here goes through all of them, as a
 * client's would, and must show exactly the objects as they are now: a filter the kept rows
 * were not filtered by, and every change that alters a row (owner and domain names, network,
 * template and offering names, tags, state), are seen by the next request.
 */

const world = createMemoryInformers();
const NS = 'acct-rows';
let n = 0;
const uid = () => `0a0b0c0d-0000-4000-9000-${String(++n).padStart(12, '0')}`;
const CREATED = '2026-12-01T10:00:00Z';
const ready = (state: string) => ({ state, observedGeneration: 1, conditions: [{ type: 'Ready', status: 'True', reason: state, message: '', lastTransitionTime: CREATED, observedGeneration: 1 }] });
type Put = { metadata?: Record<string, unknown>; spec: Record<string, unknown>; status?: Record<string, unknown> };
type Obj = KubeObject & Put;
function put(kind: Parameters<typeof world.put>[0], name: string, obj: Put, namespace?: string): Obj {
  return world.put(kind, { metadata: { name, uid: uid(), creationTimestamp: CREATED, generation: 1, ...(namespace ? { namespace } : {}), ...obj.metadata }, spec: obj.spec, ...(obj.status ? { status: obj.status } : {}) });
}
/** The same object, changed (same uid, as an update through the apiserver). */
function update<T extends KubeObject>(kind: Parameters<typeof world.put>[0], obj: T, change: (copy: T) => void): T {
  const copy = structuredClone(obj);
  delete (copy.metadata as { resourceVersion?: string }).resourceVersion;
  change(copy);
  return world.put(kind, copy);
}

let domain = put(Domain, 'root', { spec: { displayName: 'ROOT' }, status: { ...ready('Ready'), path: 'ROOT' } });
let account = put(Account, 'rows', { spec: { domainRef: { name: 'root' }, namespace: NS, displayName: 'rows', accountType: 'Admin' }, status: ready('Enabled') });
put(Zone, 'z1', { spec: { displayName: 'Zone 1', networkType: 'Advanced', allocationState: 'Enabled' }, status: ready('Enabled') });
let offering = put(ServiceOffering, 'small', { spec: { displayName: 'Small', cpuNumber: 1, cpuSpeed: 1000, memory: '512Mi' }, status: ready('Active') });
put(NetworkOffering, 'iso', { spec: { guestIpType: 'Isolated', displayName: 'Isolated' }, status: ready('Enabled') });
let template = put(Template, 'tiny', { spec: { displayName: 'Tiny', url: 'file:///tiny.qcow2', format: 'QCOW2', zoneRefs: [{ name: 'z1' }], isPublic: true }, status: { ...ready('Active'), isReady: true } }, 'kumulus-public');
let network = put(Network, 'net', { spec: { displayName: 'Web', networkOfferingRef: { name: 'iso' }, zoneRef: { name: 'z1' }, cidr: '10.1.1.0/24' }, status: { ...ready('Implemented'), gateway: '10.1.1.1', netmask: '255.255.255.0' } }, NS);
const vmSpec = (name: string) => ({ zoneRef: { name: 'z1' }, serviceOfferingRef: { name: 'small' }, templateRef: { namespace: 'kumulus-public', name: 'tiny' }, hostName: name, networks: [{ name: 'net', default: true }], state: 'Running' });
const hosts = [put(Host, 'h1', { spec: { clusterRef: { name: 'c1' }, nodeName: 'node-1' }, status: ready('Up') }), put(Host, 'h2', { spec: { clusterRef: { name: 'c1' }, nodeName: 'node-2' }, status: ready('Up') })];
// web-1 runs on h1, web-2 on h2, web-3 on none.
const placed = (host: string | undefined) => ({ ...ready('Running'), ...(host ? { placement: { zone: 'z1', pod: 'p1', cluster: 'c1', host } } : {}) });
const vms = ['web-1', 'web-2', 'web-3'].map((name, i) => put(VirtualMachine, name, { spec: vmSpec(name), status: placed(['h1', 'h2'][i]) }, NS));

const deps = { clientFor: () => { throw new Error('these tests make no writes'); }, mayList: () => Promise.resolve(true), informers: world };
const commands = new Map(computeCommands(deps).commands.map((c) => [c.name, c]));
const admin: Caller = { userId: uid(), username: 'admin', accountId: account.metadata.uid ?? '', accountName: 'rows', accountType: AccountType.admin, domainId: domain.metadata.uid ?? '', domainPath: 'ROOT' };

type Row = Record<string, unknown> & { nic?: Record<string, unknown>[]; tags?: Record<string, unknown>[] };

/** The rows of listVirtualMachines as a client parses them. */
async function list(params: Record<string, string> = {}, caller: Caller = admin): Promise<Row[]> {
  const command = commands.get('listVirtualMachines') as Command;
  const ctx: CommandContext = { caller, command: command.name, log, now: new Date(), settings: defaultProtocolSettings, table: commands, isAllowed: () => true };
  const body = await command.execute(new Map(Object.entries({ listall: 'true', page: '1', pagesize: '500', ...params })), ctx);
  const reply = JSON.parse(serializeResponse(command.envelope, body, 'json', defaultProtocolSettings.cloudstackVersion)) as Record<string, { virtualmachine?: Row[] }>;
  return reply[command.envelope]?.virtualmachine ?? [];
}
const names = (rows: Row[]) => rows.map((r) => r['name']);

describe('cloudstack-api listVirtualMachines: kept rows are the objects as they are now', () => {
  it('a list filtered by ids is not served the plain list\'s kept rows, nor keeps its own in their place', async () => {
    expect(names(await list())).to.deep.equal(['web-1', 'web-2', 'web-3']);
    expect(names(await list({ ids: vms[1]!.metadata.uid ?? '' }))).to.deep.equal(['web-2']);
    expect(names(await list({ ids: `${vms[0]!.metadata.uid},${vms[2]!.metadata.uid}` }))).to.deep.equal(['web-1', 'web-3']);
    expect(names(await list())).to.deep.equal(['web-1', 'web-2', 'web-3']);
  });

  it('other filters and details= are not served the kept rows either', async () => {
    expect(names(await list())).to.have.length(3);
    expect(names(await list({ name: 'web-3' }))).to.deep.equal(['web-3']);
    expect(names(await list({ keyword: 'web-1' }))).to.deep.equal(['web-1']);
    expect((await list({ details: 'min' }))[0]).to.not.have.property('templatename');
    expect((await list())[0]).to.have.property('templatename', 'Tiny');
  });

  it('shows a new VM and a changed state at once', async () => {
    expect(names(await list())).to.have.length(3);
    vms.push(put(VirtualMachine, 'web-4', { spec: vmSpec('web-4'), status: ready('Running') }, NS));
    expect(names(await list())).to.deep.equal(['web-1', 'web-2', 'web-3', 'web-4']);
    vms[3] = update(VirtualMachine, vms[3]!, (vm) => ((vm.status as { state: string }).state = 'Stopped'));
    expect((await list()).map((r) => r['state'])).to.deep.equal(['Running', 'Running', 'Running', 'Stopped']);
    expect(names(await list({ state: 'Running' }))).to.deep.equal(['web-1', 'web-2', 'web-3']);
  });

  it('a user does not see a VM once it is Destroyed, and its kept list says so', async () => {
    const user: Caller = { ...admin, accountType: AccountType.user };
    expect(names(await list({}, user))).to.include('web-4');
    vms[3] = update(VirtualMachine, vms[3]!, (vm) => ((vm.status as { state: string }).state = 'Destroyed'));
    expect(names(await list({}, user))).to.deep.equal(['web-1', 'web-2', 'web-3']);
    expect(names(await list())).to.deep.equal(['web-1', 'web-2', 'web-3', 'web-4']);
  });

  it('rebuilds the rows when a name they show changes: account, domain, template, offering, network; and a VM\'s tags', async () => {
    const before = (await list())[0]!;
    expect([before['account'], before['domain'], before['templatename'], before['serviceofferingname'], before.nic?.[0]?.['networkname'], before.tags]).to.deep.equal(['rows', 'ROOT', 'Tiny', 'Small', 'Web', []]);
    account = update(Account, account, (a) => (a.spec['displayName'] = 'rows-renamed'));
    expect((await list())[0]!['account']).to.equal('rows-renamed');
    domain = update(Domain, domain, (d) => (d.spec['displayName'] = 'ROOT-renamed'));
    expect((await list())[0]!['domain']).to.equal('ROOT-renamed');
    template = update(Template, template, (t) => (t.spec['displayName'] = 'Tiny 2'));
    expect((await list())[0]!['templatename']).to.equal('Tiny 2');
    offering = update(ServiceOffering, offering, (o) => (o.spec['displayName'] = 'Small 2'));
    expect((await list())[0]!['serviceofferingname']).to.equal('Small 2');
    network = update(Network, network, (o) => (o.spec['displayName'] = 'Web 2'));
    expect((await list())[0]!.nic?.[0]?.['networkname']).to.equal('Web 2');
    vms[0] = update(VirtualMachine, vms[0]!, (vm) => (vm.metadata.annotations = { 'tags.cloudstack.kumulus.io/env': 'prod' }));
    const tagged = (await list())[0]!;
    expect(tagged.tags?.map((t) => [t['key'], t['value'], t['account']])).to.deep.equal([['env', 'prod', 'rows-renamed']]);
    expect(names(await list({ 'tags[0].key': 'env', 'tags[0].value': 'prod' }))).to.deep.equal(['web-1']);
  });

  it('rebuilds the rows of the VMs on a host when the host changes, and only theirs', async () => {
    const infra = createInfra(deps);
    const current = () => vms.slice(0, 3).map((vm) => world.informer(VM_TYPE).get({ name: vm.metadata.name ?? '', namespace: NS }) as VirtualMachineObject);
    const before = current().map((vm) => vmRow(infra, vm));
    expect(before.map((r) => r['hostname'])).to.deep.equal(['node-1', 'node-2', undefined]);
    hosts[1] = update(Host, hosts[1]!, (h) => (h.status = { ...ready('Up'), usage: { cpuLoadAverage: 0.5 } }));
    const after = current().map((vm) => vmRow(infra, vm));
    expect(after.map((row, i) => row === before[i])).to.deep.equal([true, false, true]);
    hosts[0] = update(Host, hosts[0]!, (h) => (h.spec['nodeName'] = 'node-1b'));
    expect(current().map((vm) => vmRow(infra, vm)['hostname'])).to.deep.equal(['node-1b', 'node-2', undefined]);
    expect((await list())[0]!['hostname']).to.equal('node-1b');
  });
});
