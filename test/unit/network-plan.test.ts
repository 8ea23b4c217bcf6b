import { expect } from 'chai';
import { planNetwork, wantsNetwork, type NetworkObservation } from '../../controllers/network.ts';
import type { NetworkObject, NetworkOfferingObject, PhysicalNetworkObject, VirtualMachineObject, VlanAllocationObject, ZoneObject } from '../../crds/index.ts';

/** The Network controller's plan, from hand-made observations: states, claims, the idle timer, deletion. */

const NOW = new Date('2026-01-01T12:00:00Z');
const uid = '11111111-2222-4333-8444-555555555555';

function network(spec: Partial<NetworkObject['spec']> = {}, status?: NetworkObject['status'], metadata: Partial<NetworkObject['metadata']> = {}): NetworkObject {
  return {
    apiVersion: 'network.kumulus.io/v1alpha1',
    kind: 'Network',
    metadata: { name: 'web', namespace: 'demo', uid, generation: 1, ...metadata },
    spec: { networkOfferingRef: { name: 'isolated' }, zoneRef: { name: 'zone1' }, cidr: '10.1.1.0/24', gateway: '10.1.1.1', ...spec },
    ...(status ? { status } : {}),
  };
}

function offering(spec: Partial<NetworkOfferingObject['spec']> = {}): NetworkOfferingObject {
  return { metadata: { name: 'isolated' }, spec: { guestIpType: 'Isolated', ...spec } } as NetworkOfferingObject;
}

const zone = { metadata: { name: 'zone1' }, spec: { networkType: 'Advanced', dns1: '8.8.8.8', internalDns1: '8.8.4.4', guestCidr: '10.1.0.0/16' } } as ZoneObject;

function physnet(spec: Partial<PhysicalNetworkObject['spec']> = {}): PhysicalNetworkObject {
  return {
    metadata: { name: 'physnet1' },
    spec: { zoneRef: { name: 'zone1' }, isolationMethods: ['VLAN', 'VXLAN'], vlanRanges: [{ start: 100, end: 199 }], vniRanges: [{ start: 5000, end: 5999 }], trafficTypes: [{ type: 'Guest', kvmLabel: 'cloudbr1' }], ...spec },
  } as PhysicalNetworkObject;
}

function vm(name: string, opts: { placed?: boolean; state?: 'Running' | 'Stopped' | 'Destroyed'; deleting?: boolean } = {}): VirtualMachineObject {
  return {
    metadata: { name, namespace: 'demo', uid: `vm-${name}`, ...(opts.deleting ? { deletionTimestamp: NOW.toISOString() } : {}) },
    spec: { zoneRef: { name: 'zone1' }, serviceOfferingRef: { name: 'small' }, templateRef: { name: 't' }, networks: [{ name: 'web' }], state: opts.state ?? 'Running' },
    status: opts.placed === false ? {} : { placement: { zone: 'zone1', pod: 'p', cluster: 'c', host: 'h1' } },
  } as VirtualMachineObject;
}

function allocation(id: number, isolation: 'VLAN' | 'VXLAN' = 'VXLAN', networkUid = uid): VlanAllocationObject {
  return {
    metadata: { name: `physnet1-${isolation.toLowerCase()}-${id}`, uid: `a-${id}` },
    spec: { physicalNetworkRef: { name: 'physnet1' }, isolation, id, networkRef: { namespace: 'demo', name: 'web', uid: networkUid } },
  } as VlanAllocationObject;
}

function observe(o: Partial<NetworkObservation> = {}): NetworkObservation {
  return { network: network(), offering: offering(), zone, physicalNetworks: [physnet()], vms: [], allocations: [], addressesAllocated: 0, gcWaitSeconds: 600, now: NOW, ...o };
}

const ready = (plan: ReturnType<typeof planNetwork>) => plan.conditions.find((c) => c.type === 'Ready');

describe('Network controller plan', () => {
  it('leaves an isolated network without VMs Allocated, with its addressing settled and nothing claimed', () => {
    const plan = planNetwork(observe());
    expect(plan.state).to.equal('Allocated');
    expect(plan.claim).to.equal(undefined);
    expect(plan.fields).to.include({ cidr: '10.1.1.0/24', gateway: '10.1.1.1', netmask: '255.255.255.0', addressesTotal: 252, physicalNetwork: 'physnet1' });
    expect(plan.fields.broadcastUri).to.equal(undefined);
    expect(ready(plan)?.status).to.equal('True');
  });

  it('claims a VNI (VXLAN preferred) when a VM that wants to run is placed, and is Implemented once it holds one', () => {
    const placed = planNetwork(observe({ vms: [vm('a')] }));
    expect(placed.state).to.equal('Implementing');
    expect(placed.claim).to.deep.equal({ physicalNetwork: 'physnet1', isolation: 'VXLAN', ranges: [{ start: 5000, end: 5999 }] });
    const held = planNetwork(observe({ vms: [vm('a')], allocations: [allocation(5001)] }));
    expect(held.state).to.equal('Implemented');
    expect(held.claim).to.equal(undefined);
    expect(held.fields).to.include({ broadcastUri: 'vxlan://5001', broadcastDomainType: 'Vxlan' });
    expect(held.conditions.find((c) => c.type === 'InUse')?.status).to.equal('True');
  });

  it('takes a VLAN from the VLAN ranges when the physical network has no VXLAN', () => {
    const plan = planNetwork(observe({ vms: [vm('a')], physicalNetworks: [physnet({ isolationMethods: ['VLAN'], vniRanges: undefined })] }));
    expect(plan.claim).to.deep.equal({ physicalNetwork: 'physnet1', isolation: 'VLAN', ranges: [{ start: 100, end: 199 }] });
  });

  it('does not implement for VMs that are not placed, stopped or being expunged', () => {
    for (const v of [vm('a', { placed: false }), vm('b', { state: 'Stopped' }), vm('c', { deleting: true }), vm('d', { state: 'Destroyed' })]) {
      expect(wantsNetwork(v), v.metadata.name).to.equal(false);
      expect(planNetwork(observe({ vms: [v] })).claim, v.metadata.name).to.equal(undefined);
    }
    expect(wantsNetwork(vm('e'))).to.equal(true);
  });

  it('keeps an idle network implemented for network.gc.wait, from when it went idle, then shuts it down releasing its VNI', () => {
    const idleSince = new Date(NOW.getTime() - 400_000).toISOString();
    const status = { state: 'Implemented' as const, broadcastUri: 'vxlan://5001', conditions: [{ type: 'InUse', status: 'False' as const, reason: 'Idle', message: '', lastTransitionTime: idleSince, observedGeneration: 1 }] };
    const waiting = planNetwork(observe({ network: network({}, status), allocations: [allocation(5001)] }));
    expect(waiting.state).to.equal('Implemented');
    expect(waiting.release).to.deep.equal([]);
    expect(waiting.requeueAfterMs).to.equal(200_000);
    const later = planNetwork(observe({ network: network({}, status), allocations: [allocation(5001)], now: new Date(NOW.getTime() + 200_000) }));
    expect(later.state).to.equal('Shutdown');
    expect(later.release.map((a) => a.spec.id)).to.deep.equal([5001]);
    expect(later.fields.broadcastUri, 'the status written before the release no longer advertises it').to.equal(undefined);
    const justIdle = planNetwork(observe({ network: network({}, { state: 'Implemented', broadcastUri: 'vxlan://5001' }), allocations: [allocation(5001)] }));
    expect(justIdle.requeueAfterMs, 'the timer starts when the network is first seen idle').to.equal(600_000);
  });

  it('implements a persistent network at once and keeps it while idle', () => {
    const plan = planNetwork(observe({ offering: offering({ persistent: true }), allocations: [allocation(5001)], gcWaitSeconds: 0 }));
    expect(plan.state).to.equal('Implemented');
    expect(plan.release).to.deep.equal([]);
    expect(planNetwork(observe({ offering: offering({ persistent: true }) })).claim?.isolation).to.equal('VXLAN');
  });

  it('sets up a network with a given VLAN from creation: that id is claimed, on VLAN when it fits', () => {
    const shared = planNetwork(observe({ network: network({ vlan: 1200, networkOfferingRef: { name: 'shared' } }), offering: offering({ guestIpType: 'Shared', specifyVlan: true, specifyIpRanges: true }) }));
    expect(shared.claim).to.deep.equal({ physicalNetwork: 'physnet1', isolation: 'VLAN', id: 1200 });
    expect(shared.state).to.equal('Allocated');
    const held = planNetwork(observe({ network: network({ vlan: 1200 }), offering: offering({ guestIpType: 'Shared', specifyVlan: true }), allocations: [allocation(1200, 'VLAN')] }));
    expect(held.state).to.equal('Setup');
    expect(held.fields.broadcastUri).to.equal('vlan://1200');
    expect(planNetwork(observe({ network: network({ vlan: 70000 }), offering: offering({ specifyVlan: true }) })).claim?.isolation, 'above 4094 only VXLAN fits').to.equal('VXLAN');
  });

  it('gives an L2 network a VNI but no addressing', () => {
    const plan = planNetwork(observe({ network: network({ cidr: undefined, gateway: undefined }), offering: offering({ guestIpType: 'L2' }), vms: [vm('a')], allocations: [allocation(5002)] }));
    expect(plan.state).to.equal('Implemented');
    expect(plan.fields.cidr).to.equal(undefined);
    expect(plan.fields.addressesAllocated).to.equal(undefined);
    expect(plan.fields.broadcastUri).to.equal('vxlan://5002');
  });

  it('defaults the CIDR from the zone when spec has none, and says what is missing otherwise', () => {
    expect(planNetwork(observe({ network: network({ cidr: undefined, gateway: undefined }) })).fields).to.include({ cidr: '10.1.0.0/16', gateway: '10.1.0.1' });
    const noPn = planNetwork(observe({ physicalNetworks: [] }));
    expect(ready(noPn)).to.include({ status: 'False', reason: 'PhysicalNetworkNotFound' });
    expect(ready(noPn)?.message).to.match(/no physical network of zone zone1 carries Guest traffic/);
    const noRange = planNetwork(observe({ physicalNetworks: [physnet({ vlanRanges: undefined, vniRanges: undefined })] }));
    expect(ready(noRange)?.message).to.equal('physical network physnet1 has no VNI or VLAN range to allocate from: add spec.vniRanges or spec.vlanRanges');
  });

  it('keeps the id status records and releases stray ones (a crash between two claims)', () => {
    const plan = planNetwork(observe({ network: network({}, { state: 'Implemented', broadcastUri: 'vxlan://5003' }), vms: [vm('a')], allocations: [allocation(5001), allocation(5003)] }));
    expect(plan.fields.broadcastUri).to.equal('vxlan://5003');
    expect(plan.release.map((a) => a.spec.id)).to.deep.equal([5001]);
  });

  it('blocks deletion while VMs name the network, naming them; then destroys it releasing everything', () => {
    const deleting = network({}, { state: 'Implemented', broadcastUri: 'vxlan://5001' }, { deletionTimestamp: NOW.toISOString(), finalizers: ['network.kumulus.io/network'] });
    const blocked = planNetwork(observe({ network: deleting, vms: [vm('b', { state: 'Stopped' }), vm('a')], allocations: [allocation(5001)] }));
    expect(blocked.blockedBy).to.deep.equal(['VirtualMachine demo/a', 'VirtualMachine demo/b']);
    expect(blocked.release).to.deep.equal([]);
    expect(blocked.conditions.find((c) => c.type === 'DeletionBlocked')?.message).to.equal('deletion waits for 2 VM(s) on the network to be expunged or detached: VirtualMachine demo/a, VirtualMachine demo/b');
    const free = planNetwork(observe({ network: deleting, allocations: [allocation(5001)] }));
    expect(free.blockedBy).to.deep.equal([]);
    expect(free.state).to.equal('Destroy');
    expect(free.release.map((a) => a.spec.id)).to.deep.equal([5001]);
  });

  it('marks a restart request done by echoing its token', () => {
    const token = '2026-01-01T11:59:00Z';
    const plan = planNetwork(observe({ network: network({ restartRequestedAt: token }), vms: [vm('a')], allocations: [allocation(5001)] }));
    expect(plan.restart).to.equal(token);
    expect(plan.fields.lastRestartAt).to.equal(token);
    const done = planNetwork(observe({ network: network({ restartRequestedAt: token }, { lastRestartAt: token }), vms: [vm('a')], allocations: [allocation(5001)] }));
    expect(done.restart).to.equal(undefined);
  });
});
