import { expect } from 'chai';
import { setTimeout as sleep } from 'node:timers/promises';
import type { InfraContext } from '../../controllers/infra-context.ts';
import { registerInfrastructureControllers } from '../../controllers/infrastructure.ts';
import { ensureNics, releaseNics, type NicsOutcome } from '../../controllers/nics.ts';
import type { NetworkObject, VirtualMachineObject } from '../../crds/index.ts';
import { ipAddressName, nicMac } from '../../lib/guest-identity.ts';
import { createKubeClient, isNotFound, type KubeClient } from '../../lib/kube-client.ts';
import { log } from '../../lib/log.ts';
import { createManager, type Manager } from '../../lib/manager.ts';
import { ensureKumulusCrds, sharedKubeConfig, uniqueName } from '../support/cluster.ts';
import { guestNetworkWorld, type GuestNetworkWorld } from '../support/guest-network-world.ts';
import { until } from '../support/until.ts';

/**
 * IPAM through IPAddress objects (KEP-1880) against the real apiserver: ensureNics and
 * releaseNics as the VM controller calls them, and the repair loop that collects an address
 * whose VM is gone. The test plays the VM controller and the planner.
 */

// Long enough that a VM deleted right after its address was made goes within it, even on a loaded machine.
const GRACE_MS = 6000;

describe('guest IPAM: NICs and their addresses (real control plane)', function () {
  this.timeout(120_000);
  let client: KubeClient;
  let manager: Manager;
  let ctx: InfraContext;
  let world: GuestNetworkWorld;
  let web: NetworkObject;
  const signal = new AbortController().signal;

  before(async function () {
    this.timeout(240_000);
    const kc = await sharedKubeConfig();
    await ensureKumulusCrds();
    client = createKubeClient(kc);
    world = await guestNetworkWorld(client, uniqueName('ipam').slice(5));
    manager = createManager({ kubeConfig: kc, eventSource: 'kumulus.io/operator', httpBindAddress: '127.0.0.1:0', logger: log.child({ test: 'network-ipam' }) });
    ctx = registerInfrastructureControllers(manager, { orphanGraceMs: GRACE_MS });
    await manager.start();
    web = await world.network('web', { cidr: '10.1.1.0/24', gateway: '10.1.1.1' });
    web = await until('network web to settle its CIDR', 20_000, () => {
      const n = ctx.informers.networks.get({ namespace: world.namespace, name: 'web' });
      return Promise.resolve(n?.status?.cidr ? n : undefined);
    });
  });

  after(async function () {
    this.timeout(60_000);
    await manager?.stop();
    await world?.cleanup();
  });

  /** The VM as the cache sees it (as the VM controller would read it). */
  const cached = (name: string) => until(`VM ${name} in the cache`, 10_000, () => Promise.resolve(ctx.informers.vms.get({ namespace: world.namespace, name })));

  async function nicsOf(name: string): Promise<NicsOutcome> {
    return ensureNics(ctx, await cached(name), signal);
  }

  async function ready(name: string) {
    const outcome = await nicsOf(name);
    if (outcome.result !== 'ready') throw new Error(`VM ${name}: ${JSON.stringify(outcome)}`);
    return outcome.nics;
  }

  /** Writes status.nics as the VM controller does. */
  async function record(name: string, nics: NonNullable<VirtualMachineObject['status']>['nics']) {
    await world.vms.patchStatus({ namespace: world.namespace, name }, { status: { nics } });
    await until(`VM ${name}'s status in the cache`, 10_000, () => Promise.resolve(ctx.informers.vms.get({ namespace: world.namespace, name })?.status?.nics ? true : undefined));
  }

  it('gives a VM the address it asks for, the next free one otherwise, with MAC, netmask and gateway, and the same on every call', async () => {
    const a = await world.vm('a', [{ name: 'web', ipAddress: '10.1.1.10', default: true }]);
    await world.vm('b', [{ name: 'web' }]);
    const nicsA = await ready('a');
    expect(nicsA).to.deep.equal([{ network: 'web', deviceId: 0, isDefault: true, macAddress: nicMac(a.metadata.uid ?? '', web.metadata.uid ?? ''), ipAddress: '10.1.1.10', netmask: '255.255.255.0', gateway: '10.1.1.1' }]);
    const nicsB = await ready('b');
    expect(nicsB[0]?.ipAddress, 'the first free address: .1 is the gateway').to.equal('10.1.1.2');
    expect(nicsB[0]?.isDefault, 'the only NIC carries the default route').to.equal(true);
    // Again, before and after the cache has seen the objects: the same addresses, nothing new claimed.
    expect(await ready('b')).to.deep.equal(nicsB);
    await sleep(500);
    expect(await ready('a')).to.deep.equal(nicsA);
    const stored = await world.addressesOf(web);
    expect(stored.map((x) => x.spec.address).sort()).to.deep.equal(['10.1.1.10', '10.1.1.2']);
    const recordOfA = await world.ipAddresses.get({ name: ipAddressName(web.metadata.uid ?? '', '10.1.1.10') });
    expect(recordOfA.spec.consumerRef).to.deep.equal({ kind: 'VirtualMachine', namespace: world.namespace, name: 'a', uid: a.metadata.uid, nic: 'web' });
    expect(recordOfA.spec.macAddress).to.equal(nicsA[0]?.macAddress);
    expect(recordOfA.metadata.ownerReferences, 'a parent reference, not an owner reference the collector would ignore').to.equal(undefined);
    await until('the repair loop to mark them Allocated', 10_000, async () => ((await world.addressesOf(web)).every((x) => x.status?.state === 'Allocated') ? true : undefined));
  });

  it('refuses an address outside the CIDR or the range, reserved, or taken, naming the field, and claims nothing', async () => {
    const before = (await world.addressesOf(web)).length;
    const cases: [string, string, string, RegExp][] = [
      ['out', '10.1.2.5', 'AddressOutsideRange', /^10\.1\.2\.5 is not a guest address of network web \(10\.1\.1\.0\/24\); use one in 10\.1\.1\.1-10\.1\.1\.254$/],
      ['gw', '10.1.1.1', 'AddressReserved', /^10\.1\.1\.1 is network web's gateway/],
      ['dhcp', '10.1.1.254', 'AddressReserved', /reserved for network web's DHCP and DNS service on every host/],
      ['dup', '10.1.1.10', 'AddressTaken', /^10\.1\.1\.10 is already allocated on network web by VM a; choose another address, or leave spec\.networks\[1\]\.ipAddress out/],
    ];
    await world.network('other', { cidr: '10.1.9.0/24', gateway: '10.1.9.1' });
    for (const [name, ip, reason, message] of cases) {
      await world.vm(name, [{ name: 'other' }, { name: 'web', ipAddress: ip }]);
      const outcome = await nicsOf(name);
      expect(outcome, name).to.deep.include({ result: 'refused', reason, field: 'spec.networks[1].ipAddress', insufficientCapacity: false });
      expect((outcome as { message: string }).message, name).to.match(message);
    }
    const missing = await world.vm('lost', [{ name: 'nowhere' }]);
    expect(await ensureNics(ctx, missing, signal)).to.deep.include({ result: 'refused', reason: 'NetworkNotFound', field: 'spec.networks[0].name' });
    expect((await world.addressesOf(web)).length, 'nothing claimed on web').to.equal(before);
  });

  it('keeps the address across stop, start and a move to another host, and frees it only on release', async () => {
    await world.vm('keep', [{ name: 'web' }]);
    const first = await ready('keep');
    await record('keep', first);
    await world.place('keep', 'host-1');
    await world.vms.patch({ namespace: world.namespace, name: 'keep' }, { spec: { state: 'Stopped' } });
    await world.vms.patch({ namespace: world.namespace, name: 'keep' }, { spec: { state: 'Running' } });
    await world.place('keep', 'host-2');
    await until('the move in the cache', 10_000, () => Promise.resolve(ctx.informers.vms.get({ namespace: world.namespace, name: 'keep' })?.status?.placement?.host === 'host-2' ? true : undefined));
    // The Network controller implements web on its own schedule once a VM is placed on it.
    await until('network web implemented in the cache', 10_000, () => Promise.resolve(ctx.informers.networks.get({ namespace: world.namespace, name: 'web' })?.status?.broadcastUri ? true : undefined));
    const after = await ready('keep');
    expect(after[0]).to.include({ ipAddress: first[0]?.ipAddress, macAddress: first[0]?.macAddress });
    // Placed and running, the network was implemented meanwhile: the NIC now shows its VNI.
    expect(after[0]?.broadcastUri).to.match(/^vxlan:\/\/\d+$/);
    expect(after[0]?.isolationUri).to.equal(after[0]?.broadcastUri);
    const vm = await cached('keep');
    expect(await releaseNics(ctx, vm, signal)).to.equal(1);
    expect((await world.addressesOf(web)).some((x) => x.spec.address === first[0]?.ipAddress), 'released').to.equal(false);
    expect(await releaseNics(ctx, vm, signal), 'nothing left the second time').to.equal(0);
  });

  it('moves a NIC to a newly requested address and frees the old one; frees the address of a NIC removed', async () => {
    await world.vm('move', [{ name: 'web' }, { name: 'other' }]);
    const first = await ready('move');
    await record('move', first);
    await world.vms.patch({ namespace: world.namespace, name: 'move' }, { spec: { networks: [{ name: 'web', ipAddress: '10.1.1.77' }, { name: 'other' }] } });
    await until('the new spec in the cache', 10_000, () => Promise.resolve(ctx.informers.vms.get({ namespace: world.namespace, name: 'move' })?.spec.networks?.[0]?.ipAddress ? true : undefined));
    const moved = await ready('move');
    expect(moved[0]?.ipAddress).to.equal('10.1.1.77');
    const onWeb = (await world.addressesOf(web)).filter((x) => x.spec.consumerRef?.name === 'move');
    expect(onWeb.map((x) => x.spec.address)).to.deep.equal(['10.1.1.77']);
    await world.vms.patch({ namespace: world.namespace, name: 'move' }, { spec: { networks: [{ name: 'web', ipAddress: '10.1.1.77' }] } });
    await until('the NIC removal in the cache', 10_000, () => Promise.resolve(ctx.informers.vms.get({ namespace: world.namespace, name: 'move' })?.spec.networks?.length === 1 ? true : undefined));
    expect((await ready('move')).map((n) => n.network)).to.deep.equal(['web']);
    const other = await world.networks.get({ namespace: world.namespace, name: 'other' });
    expect((await world.addressesOf(other)).filter((x) => x.spec.consumerRef?.name === 'move'), 'the removed NIC\'s address is freed').to.deep.equal([]);
  });

  it('refuses with InsufficientAddressCapacity, saying so, when the network is full; a freed address is handed out again', async () => {
    const small = await world.network('small', { cidr: '10.1.3.0/29', gateway: '10.1.3.1' });
    await until('network small in the cache', 10_000, () => Promise.resolve(ctx.informers.networks.get({ namespace: world.namespace, name: 'small' })?.status?.cidr ? true : undefined));
    const got: string[] = [];
    for (const name of ['s1', 's2', 's3', 's4']) {
      await world.vm(name, [{ name: 'small' }]);
      got.push((await ready(name))[0]?.ipAddress ?? '');
    }
    expect(got, '.1 is the gateway and .6 the DHCP service address').to.deep.equal(['10.1.3.2', '10.1.3.3', '10.1.3.4', '10.1.3.5']);
    await world.vm('s5', [{ name: 'small' }]);
    const full = await nicsOf('s5');
    expect(full).to.deep.include({ result: 'refused', reason: 'InsufficientAddressCapacity', field: 'spec.networks[0].name', insufficientCapacity: true });
    expect((full as { message: string }).message).to.equal(
      'network small has no free address: all 4 guest addresses of 10.1.3.1-10.1.3.6 (less the gateway and the DHCP service address) are allocated; expunge a VM on it, or deploy on another network',
    );
    expect(await releaseNics(ctx, await cached('s2'), signal)).to.equal(1);
    expect((await ready('s5'))[0]?.ipAddress, 'the freed address, at once (the cache may still show it taken)').to.equal('10.1.3.3');
    expect((await world.addressesOf(small)).length).to.equal(4);
  });

  it('collects the address of a VM that is gone after the grace period, never before, and never one whose VM exists', async () => {
    await world.vm('gone', [{ name: 'web' }]);
    const goneIp = (await ready('gone'))[0]?.ipAddress ?? '';
    const goneName = ipAddressName(web.metadata.uid ?? '', goneIp);
    // The collector counts the grace from the record's creation, as stored (to the second), not from the VM's deletion.
    const created = Date.parse((await world.ipAddresses.get({ name: goneName })).metadata.creationTimestamp ?? '');
    // The VM disappears without its release (its controller lost the finalizer race, say).
    await world.vms.delete({ namespace: world.namespace, name: 'gone' });
    expect(Date.now(), 'the VM went within the grace period, so the rule is exercised').to.be.below(created + GRACE_MS);
    await world.vm('stays', [{ name: 'web' }]);
    const staysIp = (await ready('stays'))[0]?.ipAddress ?? '';
    const goneAt = await until(
      'the orphan to be collected',
      GRACE_MS + 15_000,
      () =>
        world.ipAddresses.get({ name: goneName }).then(
          () => undefined,
          (err: unknown) => (isNotFound(err) ? Date.now() : Promise.reject(err as Error)),
        ),
      100,
    );
    // Seen gone at most one poll after it went: a collection that ignored the grace would be seen seconds early.
    expect(goneAt, 'held until the grace period ran out').to.be.at.least(created + GRACE_MS);
    // A VM created again under the same name is another consumer: it does not adopt the old address.
    const reborn = await world.vm('gone', [{ name: 'web' }]);
    expect((await ready('gone'))[0]?.ipAddress).to.not.equal(undefined);
    expect((await world.addressesOf(web)).filter((x) => x.spec.consumerRef?.name === 'gone').map((x) => x.spec.consumerRef?.uid)).to.deep.equal([reborn.metadata.uid]);
    await sleep(GRACE_MS + 1000);
    expect((await world.ipAddresses.get({ name: ipAddressName(web.metadata.uid ?? '', staysIp) })).spec.consumerRef?.name, 'the live VM keeps its address past the grace period').to.equal('stays');
  });

  it('keeps every address when the operator stops: only a consumer\'s absence frees one', async () => {
    const before = (await world.addressesOf(web)).map((x) => x.metadata.name).sort();
    await manager.stop();
    await sleep(GRACE_MS + 500);
    const kc = await sharedKubeConfig();
    manager = createManager({ kubeConfig: kc, eventSource: 'kumulus.io/operator', httpBindAddress: '127.0.0.1:0', logger: log.child({ test: 'network-ipam-2' }) });
    ctx = registerInfrastructureControllers(manager, { orphanGraceMs: GRACE_MS });
    await manager.start();
    await sleep(GRACE_MS + 1000);
    expect((await world.addressesOf(web)).map((x) => x.metadata.name).sort()).to.deep.equal(before);
    // The restarted process finds each VM's address by its consumer uid: nothing new is claimed.
    expect((await ready('a'))[0]?.ipAddress).to.equal('10.1.1.10');
    expect((await world.addressesOf(web)).length).to.equal(before.length);
  });
});
