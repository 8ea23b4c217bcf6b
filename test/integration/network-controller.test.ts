import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import type { InfraContext } from '../../controllers/infra-context.ts';
import { registerInfrastructureControllers } from '../../controllers/infrastructure.ts';
import { ensureNics, releaseNics } from '../../controllers/nics.ts';
import { Configuration, VlanAllocation, type NetworkObject } from '../../crds/index.ts';
import { LABEL_NETWORK_UID, vlanAllocationName } from '../../lib/guest-identity.ts';
import { createKubeClient, isNotFound, resourceTypeOf, type KubeClient, type KubeObject } from '../../lib/kube-client.ts';
import { log } from '../../lib/log.ts';
import { createManager, type Manager } from '../../lib/manager.ts';
import { ensureKumulusCrds, sharedKubeConfig, uniqueName } from '../support/cluster.ts';
import { guestNetworkWorld, type GuestNetworkWorld } from '../support/guest-network-world.ts';
import { until } from '../support/until.ts';

/**
 * The Network controller against the real control plane: CloudStack's states, VNI and VLAN
 * claims through VlanAllocation objects, the idle timer, persistence, deletion held by VMs,
 * restart tokens, and the repair of allocations whose network is gone. The test plays the
 * planner (status.placement) and the VM controller (ensureNics, releaseNics).
 */

const GC_WAIT_SECONDS = 4;
const GRACE_MS = 3000;
const FIELD_MANAGER = 'network-controller-test';

type Condition = { type: string; status: string; reason: string; message: string; lastTransitionTime?: string };
const condition = (n: NetworkObject | undefined, type: string) => (n?.status?.conditions as Condition[] | undefined)?.find((c) => c.type === type);

describe('Network controller (real control plane)', function () {
  this.timeout(120_000);
  let client: KubeClient;
  let manager: Manager;
  let ctx: InfraContext;
  let world: GuestNetworkWorld;
  const signal = new AbortController().signal;
  const configurations = () => client.resource<KubeObject & { spec?: unknown }>(resourceTypeOf(Configuration));
  let globalExisted = false;

  before(async function () {
    this.timeout(240_000);
    const kc = await sharedKubeConfig();
    await ensureKumulusCrds();
    client = createKubeClient(kc);
    world = await guestNetworkWorld(client, uniqueName('netc').slice(5), { vniCount: 4 });
    globalExisted = await configurations()
      .get({ name: 'global' })
      .then(
        () => true,
        (err: unknown) => (isNotFound(err) ? false : Promise.reject(err as Error)),
      );
    // Only this test's key: other writers of the global settings keep theirs.
    await configurations().apply({ apiVersion: Configuration.apiVersion, kind: 'Configuration', metadata: { name: 'global' }, spec: { settings: { 'network.gc.wait': String(GC_WAIT_SECONDS) } } }, { fieldManager: FIELD_MANAGER, force: true });
    manager = createManager({ kubeConfig: kc, eventSource: 'kumulus.io/operator', httpBindAddress: '127.0.0.1:0', logger: log.child({ test: 'network-controller' }) });
    ctx = registerInfrastructureControllers(manager, { orphanGraceMs: GRACE_MS });
    await manager.start();
    await until('the gc setting in the cache', 20_000, () => Promise.resolve(ctx.settings().number('network.gc.wait') === GC_WAIT_SECONDS ? true : undefined));
  });

  after(async function () {
    this.timeout(60_000);
    await manager?.stop();
    await world?.cleanup();
    // Left as found: without this test's key, or absent as before.
    if (globalExisted) {
      await configurations().apply({ apiVersion: Configuration.apiVersion, kind: 'Configuration', metadata: { name: 'global' }, spec: { settings: {} } }, { fieldManager: FIELD_MANAGER, force: true });
    } else await configurations().delete({ name: 'global' }).catch(() => undefined);
  });

  const get = (name: string) => world.networks.get({ namespace: world.namespace, name });
  const waitNetwork = (name: string, what: string, check: (n: NetworkObject) => boolean, timeoutMs = 30_000) =>
    until(`network ${name} ${what}`, timeoutMs, async () => {
      const n = await get(name).catch(() => undefined);
      return n && check(n) ? n : undefined;
    });
  const cachedVm = (name: string) => until(`VM ${name} in the cache`, 10_000, () => Promise.resolve(ctx.informers.vms.get({ namespace: world.namespace, name })));

  it('takes an isolated network from Allocated to Implemented on a VNI when a VM is placed, shuts it down after network.gc.wait idle, and implements it again', async () => {
    await world.network('web', { cidr: '10.1.1.0/24', gateway: '10.1.1.1' });
    const allocated = await waitNetwork('web', 'Allocated', (n) => n.status?.state === 'Allocated' && condition(n, 'Ready')?.status === 'True');
    expect(allocated.status).to.include({ cidr: '10.1.1.0/24', gateway: '10.1.1.1', netmask: '255.255.255.0', addressesTotal: 252, physicalNetwork: world.physicalNetwork });
    expect(allocated.status?.broadcastUri).to.equal(undefined);
    expect(await world.allocationsOf(allocated.metadata.uid ?? '')).to.deep.equal([]);

    await world.vm('a', [{ name: 'web' }]);
    expect((await waitNetwork('web', 'to stay Allocated for an unplaced VM', (n) => condition(n, 'InUse')?.status === 'False')).status?.state).to.equal('Allocated');
    await world.place('a');
    const implemented = await waitNetwork('web', 'Implemented', (n) => n.status?.state === 'Implemented');
    const vni = Number(/^vxlan:\/\/(\d+)$/.exec(implemented.status?.broadcastUri ?? '')?.[1]);
    expect(vni).to.be.within(world.vniBase, world.vniBase + 3);
    expect(implemented.status).to.include({ broadcastDomainType: 'Vxlan' });
    const [allocation, ...more] = await world.allocationsOf(implemented.metadata.uid ?? '');
    expect(more).to.deep.equal([]);
    expect(allocation?.metadata.name).to.equal(vlanAllocationName(world.physicalNetwork, 'VXLAN', vni));
    expect(allocation?.spec.networkRef).to.deep.equal({ namespace: world.namespace, name: 'web', uid: implemented.metadata.uid });
    expect((await until('the NIC to show the VNI', 10_000, async () => {
      const outcome = await ensureNics(ctx, await cachedVm('a'), signal);
      return outcome.result === 'ready' && outcome.nics[0]?.broadcastUri ? outcome.nics[0] : undefined;
    })).broadcastUri).to.equal(`vxlan://${vni}`);
    expect((await waitNetwork('web', 'to count the address', (n) => n.status?.addressesAllocated === 1)).status?.addressesAllocated).to.equal(1);

    await world.vms.patch({ namespace: world.namespace, name: 'a' }, { spec: { state: 'Stopped' } });
    const idle = await waitNetwork('web', 'idle', (n) => condition(n, 'InUse')?.status === 'False');
    expect(idle.status?.state, 'still implemented while the idle timer runs').to.equal('Implemented');
    const idleSince = Date.parse(condition(idle, 'InUse')?.lastTransitionTime ?? '');
    const shutdown = await waitNetwork('web', 'Shutdown', (n) => n.status?.state === 'Shutdown', 30_000);
    expect(Date.now() - idleSince, 'not before network.gc.wait').to.be.at.least(GC_WAIT_SECONDS * 1000);
    expect(shutdown.status?.broadcastUri).to.equal(undefined);
    expect(await world.allocationsOf(shutdown.metadata.uid ?? ''), 'the VNI is released').to.deep.equal([]);
    expect(shutdown.status?.addressesAllocated, 'the stopped VM keeps its address').to.equal(1);

    await world.vms.patch({ namespace: world.namespace, name: 'a' }, { spec: { state: 'Running' } });
    const again = await waitNetwork('web', 'Implemented again', (n) => n.status?.state === 'Implemented');
    expect(again.status?.broadcastUri).to.match(/^vxlan:\/\/\d+$/);
    expect(await world.allocationsOf(again.metadata.uid ?? '')).to.have.length(1);
  });

  it('implements a persistent network at creation and keeps it while idle', async () => {
    await world.network('always', { networkOfferingRef: { name: world.offerings.persistent }, cidr: '10.1.2.0/24' });
    const n = await waitNetwork('always', 'Implemented', (x) => x.status?.state === 'Implemented');
    expect(condition(n, 'InUse')?.status).to.equal('False');
    await new Promise((r) => setTimeout(r, GC_WAIT_SECONDS * 1000 + 1500));
    const later = await get('always');
    expect(later.status?.state).to.equal('Implemented');
    expect(later.status?.broadcastUri).to.equal(n.status?.broadcastUri);
  });

  it('sets up a network with a given VLAN from creation, and refuses the same VLAN to another network, naming the holder', async () => {
    const vlan = 1000 + (world.vniBase % 3000);
    await world.network('shared', { networkOfferingRef: { name: world.offerings.shared }, vlan, cidr: '192.168.50.0/24', gateway: '192.168.50.1', startIp: '192.168.50.100', endIp: '192.168.50.199' });
    const setup = await waitNetwork('shared', 'Setup', (n) => n.status?.state === 'Setup');
    expect(setup.status).to.include({ broadcastUri: `vlan://${vlan}`, broadcastDomainType: 'Vlan', addressesTotal: 100 });
    await world.network('shared2', { networkOfferingRef: { name: world.offerings.shared }, vlan, cidr: '192.168.51.0/24', gateway: '192.168.51.1', startIp: '192.168.51.100', endIp: '192.168.51.199' });
    const refused = await waitNetwork('shared2', 'to report the clash', (n) => condition(n, 'Ready')?.status === 'False');
    expect(condition(refused, 'Ready')).to.include({ reason: 'VlanInUse', message: `VLAN ${vlan} of physical network ${world.physicalNetwork} is already used by network ${world.namespace}/shared: create the network with another spec.vlan` });
    expect(refused.status?.state).to.equal('Allocated');
    // A VM on the shared network gets an address of its range.
    await world.vm('s', [{ name: 'shared' }]);
    const outcome = await ensureNics(ctx, await cachedVm('s'), signal);
    expect(outcome.result === 'ready' && outcome.nics[0]).to.include({ ipAddress: '192.168.50.100', broadcastUri: `vlan://${vlan}` });
  });

  it('gives an L2 network a VNI and no addressing, and its NICs a MAC only', async () => {
    await world.network('bare', { networkOfferingRef: { name: world.offerings.l2 } });
    await world.vm('l', [{ name: 'bare' }]);
    await world.place('l');
    const n = await waitNetwork('bare', 'Implemented', (x) => x.status?.state === 'Implemented');
    expect(n.status?.cidr).to.equal(undefined);
    const outcome = await ensureNics(ctx, await cachedVm('l'), signal);
    expect(outcome.result).to.equal('ready');
    const nic = outcome.result === 'ready' ? outcome.nics[0] : undefined;
    expect(nic?.ipAddress).to.equal(undefined);
    expect(nic?.macAddress).to.match(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
  });

  it('holds an implementation when the VNI range is exhausted, saying so, and implements once one is free', async () => {
    const small = await guestNetworkWorld(client, uniqueName('netx').slice(5), { vniCount: 1 });
    try {
      const waitIn = (name: string, what: string, check: (n: NetworkObject) => boolean) =>
        until(`network ${name} ${what}`, 30_000, async () => {
          const n = await small.networks.get({ namespace: small.namespace, name }).catch(() => undefined);
          return n && check(n) ? n : undefined;
        });
      await small.network('first', { networkOfferingRef: { name: small.offerings.persistent }, cidr: '10.1.1.0/24' });
      await waitIn('first', 'Implemented', (n) => n.status?.state === 'Implemented');
      await small.network('late', { cidr: '10.1.2.0/24' });
      await small.vm('x', [{ name: 'late' }]);
      await small.place('x');
      const waiting = await waitIn('late', 'to report the exhaustion', (n) => condition(n, 'Ready')?.reason === 'InsufficientVlanCapacity');
      expect(waiting.status?.state).to.equal('Implementing');
      expect(condition(waiting, 'Ready')?.message).to.equal(`no free VNI on physical network ${small.physicalNetwork} (ranges ${small.vniBase}-${small.vniBase}): widen its spec.vniRanges, or delete idle networks`);
      await small.networks.delete({ namespace: small.namespace, name: 'first' });
      const done = await waitIn('late', 'Implemented once first is deleted', (n) => n.status?.state === 'Implemented');
      expect(done.status?.broadcastUri).to.equal(`vxlan://${small.vniBase}`);
    } finally {
      await small.cleanup();
    }
  });

  it('blocks deletion while VMs name the network, naming them; then releases its VNI and addresses and lets it go', async () => {
    await world.network('doomed', { cidr: '10.1.5.0/24' });
    await world.vm('d1', [{ name: 'doomed' }]);
    await world.vm('d2', [{ name: 'doomed' }], { state: 'Stopped' });
    await world.place('d1');
    const implemented = await waitNetwork('doomed', 'Implemented', (n) => n.status?.state === 'Implemented');
    for (const vm of ['d1', 'd2']) expect((await ensureNics(ctx, await cachedVm(vm), signal)).result).to.equal('ready');
    await world.networks.delete({ namespace: world.namespace, name: 'doomed' });
    const blocked = await waitNetwork('doomed', 'blocked', (n) => condition(n, 'DeletionBlocked')?.status === 'True');
    expect(condition(blocked, 'DeletionBlocked')?.message).to.equal(`deletion waits for 2 VM(s) on the network to be expunged or detached: VirtualMachine ${world.namespace}/d1, VirtualMachine ${world.namespace}/d2`);
    expect(condition(blocked, 'Ready')?.status).to.equal('False');
    for (const vm of ['d1', 'd2']) {
      await releaseNics(ctx, await cachedVm(vm), signal);
      await world.vms.delete({ namespace: world.namespace, name: vm });
    }
    await until('the network to go', 30_000, () =>
      get('doomed').then(
        () => undefined,
        (err: unknown) => (isNotFound(err) ? true : Promise.reject(err as Error)),
      ),
    );
    expect(await world.allocationsOf(implemented.metadata.uid ?? '')).to.deep.equal([]);
    expect((await world.ipAddresses.list({ labelSelector: `${LABEL_NETWORK_UID}=${implemented.metadata.uid ?? ''}` })).items).to.deep.equal([]);
  });

  it('marks a restart done by echoing its token', async () => {
    const token = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    await world.networks.patch({ namespace: world.namespace, name: 'web' }, { spec: { restartRequestedAt: token } });
    expect((await waitNetwork('web', 'restarted', (n) => n.status?.lastRestartAt === token)).status?.state).to.equal('Implemented');
  });

  it('releases a VlanAllocation whose network is gone after the grace period, and a stray one of a live network at once', async () => {
    const allocations = client.resource<KubeObject & { spec: Record<string, unknown> }>(resourceTypeOf(VlanAllocation));
    const orphan = vlanAllocationName(world.physicalNetwork, 'VLAN', 4000);
    const created = await allocations.create({ metadata: { name: orphan, labels: { [LABEL_NETWORK_UID]: randomUUID() } }, spec: { physicalNetworkRef: { name: world.physicalNetwork }, isolation: 'VLAN', id: 4000, networkRef: { namespace: world.namespace, name: 'never', uid: randomUUID() } } });
    const web = await get('web');
    const stray = vlanAllocationName(world.physicalNetwork, 'VLAN', 4001);
    await allocations.create({ metadata: { name: stray, labels: { [LABEL_NETWORK_UID]: web.metadata.uid ?? '' } }, spec: { physicalNetworkRef: { name: world.physicalNetwork }, isolation: 'VLAN', id: 4001, networkRef: { namespace: world.namespace, name: 'web', uid: web.metadata.uid } } });
    const gone = (name: string) => allocations.get({ name }).then(() => undefined, (err: unknown) => (isNotFound(err) ? true : Promise.reject(err as Error)));
    await until('the stray allocation of web to be released', 15_000, () => gone(stray));
    await until('the orphan to be released', GRACE_MS + 15_000, () => gone(orphan));
    expect(Date.now() - Date.parse(created.metadata.creationTimestamp ?? ''), 'the orphan waited for the grace period after its creation').to.be.at.least(GRACE_MS);
    expect((await get('web')).status?.broadcastUri, 'web keeps its own VNI').to.match(/^vxlan:\/\//);
  });
});
