import { expect } from 'chai';
import type { CapacityIndex } from '../../controllers/planner/capacity-index.ts';
import { orderClusters, orderHosts, shuffle } from '../../controllers/planner/order.ts';
import { plan, type Decision, type PlanResult, type Unschedulable } from '../../controllers/planner/plan.ts';
import { planRequest, type PlanOptions, type VolumeLike } from '../../controllers/planner/request.ts';
import type { VirtualMachineObject } from '../../crds/index.ts';
import { DEFAULT_SETTINGS, resolveSettings } from '../../lib/settings.ts';
import { holdsAt, vmUsage } from '../../lib/usage.ts';
import {
  GiB,
  affinityGroup,
  basicWorld,
  cluster,
  configuration,
  diskOffering,
  feedAll,
  host,
  indexOf,
  offering,
  pod,
  pool,
  template,
  vm,
  volume,
  zone,
  type Objects,
} from '../support/planner-fixtures.ts';

const NOW = Date.parse('2026-06-01T12:00:00Z');

/** mulberry32: a seeded source of randomness, so random placement is repeatable here. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function decideOn(index: CapacityIndex, theVm: VirtualMachineObject, volumes: VolumeLike[] = [], options: PlanOptions = {}, seed = 1): PlanResult {
  const request = planRequest(index, theVm, volumes, options);
  if ('scheduled' in request) return request;
  return plan(index, request, { now: NOW, random: seeded(seed) });
}

function decide(objects: Objects, theVm: VirtualMachineObject, volumes: VolumeLike[] = [], options: PlanOptions = {}, seed = 1): PlanResult {
  return decideOn(indexOf(objects, { now: () => NOW }), theVm, volumes, options, seed);
}

function placed(result: PlanResult): Decision {
  if (!result.scheduled) throw new Error(`expected a decision, got ${result.reason}: ${result.message}`);
  return result;
}

function refused(result: PlanResult): Unschedulable {
  if (result.scheduled) throw new Error(`expected no decision, got host ${result.placement.host}`);
  return result;
}

const firstfit = configuration({ 'vm.allocation.algorithm': 'firstfit' });

describe('planner: usage (lib/usage.ts), as the index and the rollups count it', () => {
  const settings = resolveSettings({ 'capacity.skipcounting.hours': '600' }).settings;
  const spec = offering('small', { cpuNumber: 2, cpuSpeed: 1500, memory: '2Gi' }).spec;

  it('holds cores × MHz and memory from placement while running or on its way, and nothing before placement', () => {
    expect(vmUsage(vm('ns', 'a', { host: 'h1', state: 'Running' }), spec, settings)).to.deep.equal({ cores: 2, cpuMhz: 3000, memoryBytes: 2 * GiB, running: true, holdsUntil: Infinity });
    expect(vmUsage(vm('ns', 'a', { host: 'h1' }), spec, settings)).to.include({ running: true, holdsUntil: Infinity });
    expect(vmUsage(vm('ns', 'a', { state: 'Running' }), spec, settings)).to.equal(undefined);
  });

  it('holds a stopped VM for capacity.skipcounting.hours seconds after it stopped, then releases it', () => {
    const usage = vmUsage(vm('ns', 'a', { host: 'h1', state: 'Stopped', stoppedAt: '2026-06-01T12:00:00Z' }), spec, settings)!;
    expect(usage).to.include({ running: false, holdsUntil: NOW + 600_000 });
    expect(holdsAt(usage, NOW + 599_999)).to.equal(true);
    expect(holdsAt(usage, NOW + 600_000)).to.equal(false);
  });

  it('releases a Destroyed or Expunging VM at once; one in Error keeps its place', () => {
    for (const state of ['Destroyed', 'Expunging']) expect(vmUsage(vm('ns', 'a', { host: 'h1', state }), spec, DEFAULT_SETTINGS), state).to.equal(undefined);
    expect(vmUsage(vm('ns', 'a', { host: 'h1', state: 'Error' }), spec, DEFAULT_SETTINGS)).to.include({ running: false, holdsUntil: Infinity });
  });
});

describe('planner: strategies', () => {
  it('firstfit: FirstFitPlanner takes the cluster with the most free CPU, firstfit its first host by name', () => {
    const objects = basicWorld({ clusters: ['c1', 'c2'] });
    objects.configurations = [firstfit];
    // Busy c1: without the capacity order the first cluster by name would win.
    objects.vms = [vm('other', 'busy', { host: 'c1-h2', state: 'Running', cpuNumber: 4 })];
    expect(placed(decide(objects, vm('ns', 'a'))).placement).to.deep.equal({ zone: 'z1', pod: 'p1', cluster: 'c2', host: 'c2-h1' });
    objects.vms = [];
    expect(placed(decide(objects, vm('ns', 'a'))).placement.host).to.equal('c1-h1');
  });

  it('random (the default): spreads over equal hosts, repeatably for a given seed', () => {
    const objects = basicWorld({ hostsPerCluster: 4 });
    const hosts = new Set(Array.from({ length: 20 }, (_, seed) => placed(decide(objects, vm('ns', 'a'), [], {}, seed)).placement.host));
    expect(hosts.size).to.be.greaterThan(2);
    expect(placed(decide(objects, vm('ns', 'a'), [], {}, 7)).placement.host).to.equal(placed(decide(objects, vm('ns', 'a'), [], {}, 7)).placement.host);
    objects.configurations = [firstfit];
    const firstfitHosts = new Set(Array.from({ length: 20 }, (_, seed) => placed(decide(objects, vm('ns', 'a'), [], {}, seed)).placement.host));
    expect([...firstfitHosts]).to.deep.equal(['c1-h1']);
  });

  it('userdispersing: UserDispersingPlanner puts the account where it has the fewest running VMs, whatever the capacity', () => {
    const objects = basicWorld({ clusters: ['c1', 'c2'] });
    objects.configurations = [configuration({ 'vm.deployment.planner': 'UserDispersingPlanner', 'vm.allocation.algorithm': 'userdispersing' })];
    // c2 is busier with another account's VMs, but ns already runs in c1.
    objects.vms = [vm('ns', 'mine', { host: 'c1-h1', state: 'Running' }), vm('other', 'x', { host: 'c2-h1', state: 'Running', cpuNumber: 6 })];
    expect(placed(decide(objects, vm('ns', 'a'))).placement.cluster).to.equal('c2');
    // Inside a cluster the userdispersing allocator avoids the host it already runs on.
    objects.vms = [vm('ns', 'mine', { host: 'c1-h1', state: 'Running' })];
    objects.clusters = [cluster('c1', 'p1')];
    objects.hosts = [host('c1-h1', 'c1'), host('c1-h2', 'c1')];
    expect(placed(decide(objects, vm('ns', 'a'))).placement.host).to.equal('c1-h2');
    objects.configurations = [firstfit];
    expect(placed(decide(objects, vm('ns', 'a'))).placement.host, 'firstfit would stack it').to.equal('c1-h1');
  });

  it('userconcentratedpod: UserConcentratedPodPlanner keeps the account in the pod where it runs, even when another pod has more room', () => {
    const objects: Objects = {
      ...basicWorld({ clusters: [] }),
      pods: [pod('p1', 'z1'), pod('p2', 'z1')],
      clusters: [cluster('c1', 'p1'), cluster('c2', 'p2')],
      hosts: [host('h1', 'c1'), host('h2', 'c2')],
      configurations: [configuration({ 'vm.deployment.planner': 'UserConcentratedPodPlanner', 'vm.allocation.algorithm': 'userconcentratedpod_firstfit' })],
      vms: [vm('ns', 'mine', { host: 'h2', state: 'Running', cpuNumber: 4 })],
    };
    expect(placed(decide(objects, vm('ns', 'a'))).placement).to.include({ pod: 'p2', host: 'h2' });
    expect(placed(decide(objects, vm('other', 'a'))).placement.pod, 'an account with no VMs gets the roomiest cluster').to.equal('p1');
  });

  it("the service offering's deploymentPlanner overrides vm.deployment.planner", () => {
    const objects = basicWorld({ clusters: ['c1', 'c2'] });
    objects.configurations = [configuration({ 'vm.deployment.planner': 'FirstFitPlanner', 'vm.allocation.algorithm': 'firstfit' })];
    objects.vms = [vm('ns', 'mine', { host: 'c2-h1', state: 'Running' }), vm('other', 'x', { host: 'c1-h1', state: 'Running', cpuNumber: 6 })];
    expect(placed(decide(objects, vm('ns', 'a'))).placement.cluster).to.equal('c2');
    objects.serviceOfferings = [offering('small', { deploymentPlanner: 'UserDispersingPlanner' })];
    const decision = placed(decide(objects, vm('ns', 'a')));
    expect(decision.placement.cluster).to.equal('c1');
    expect(decision.strategy).to.equal('UserDispersingPlanner/firstfit');
  });

  it('orders clusters by free RAM or both when host.capacityType.to.order.clusters says so', () => {
    const load = (cpu: number, memory: number) => ({ cpu: { total: 100, allocated: cpu }, memory: { total: 100, allocated: memory } });
    const clusters = [
      { name: 'a', pod: 'p', load: load(10, 90), accountVms: 0 },
      { name: 'b', pod: 'p', load: load(50, 20), accountVms: 0 },
    ];
    expect(orderClusters('FirstFitPlanner', clusters, { capacityType: 'CPU', dispersionWeight: 1 }).map((c) => c.name)).to.deep.equal(['a', 'b']);
    expect(orderClusters('FirstFitPlanner', clusters, { capacityType: 'RAM', dispersionWeight: 1 }).map((c) => c.name)).to.deep.equal(['b', 'a']);
    expect(orderClusters('FirstFitPlanner', clusters, { capacityType: 'COMBINED', dispersionWeight: 1 }).map((c) => c.name)).to.deep.equal(['b', 'a']);
    const hosts = [
      { name: 'h1', cpuTotal: 100, cpuAllocated: 60, memoryTotal: 100, memoryAllocated: 0, accountVms: 0 },
      { name: 'h2', cpuTotal: 100, cpuAllocated: 10, memoryTotal: 100, memoryAllocated: 0, accountVms: 0 },
    ];
    expect(orderHosts('firstfitleastconsumed', hosts, { capacityType: 'CPU', dispersionWeight: 1 }, Math.random).map((h) => h.name)).to.deep.equal(['h2', 'h1']);
    expect(shuffle([1, 2, 3, 4, 5], seeded(3)).sort()).to.deep.equal([1, 2, 3, 4, 5]);
  });
});

describe('planner: filters, each deciding the outcome', () => {
  it('allocation state: skips a Disabled cluster and a host in maintenance; a Disabled zone places nothing', () => {
    const objects = basicWorld({ clusters: ['c1', 'c2'] });
    objects.configurations = [firstfit];
    objects.clusters = [cluster('c1', 'p1', { allocationState: 'Disabled' }), cluster('c2', 'p1')];
    objects.hosts = [host('c1-h1', 'c1'), host('c2-h1', 'c2', { resourceState: 'Maintenance' }), host('c2-h2', 'c2')];
    expect(placed(decide(objects, vm('ns', 'a'))).placement.host).to.equal('c2-h2');
    objects.zones = [zone('z1', { allocationState: 'Disabled' })];
    const r = refused(decide(objects, vm('ns', 'a')));
    expect(r.reason).to.equal('AllocationState');
    expect(r.message).to.contain('zone z1 is Disabled');
  });

  it('reports the deepest filter: the only cluster of the right hypervisor Disabled is AllocationState, a tagged host Down is NoHostUp', () => {
    const objects = basicWorld({ clusters: ['c1', 'c2'] });
    objects.clusters = [cluster('c1', 'p1', { hypervisor: 'Simulator' }), cluster('c2', 'p1', { allocationState: 'Disabled' })];
    const r = refused(decide(objects, vm('ns', 'a')));
    expect(r.reason).to.equal('AllocationState');
    expect(r.message).to.contain('2 hosts not in an Enabled zone, pod, cluster and resource state (cluster c2 is Disabled); 2 hosts of another hypervisor');
    objects.clusters = [cluster('c1', 'p1'), cluster('c2', 'p1')];
    objects.hosts = [host('c1-h1', 'c1', { tags: ['gpu'], state: 'Down' }), host('c1-h2', 'c1')];
    objects.serviceOfferings = [offering('small', { hostTags: ['gpu'] })];
    expect(refused(decide(objects, vm('ns', 'a'))).reason).to.equal('NoHostUp');
  });

  it('hypervisor: only clusters of the template\'s hypervisor', () => {
    const objects = basicWorld({ clusters: ['c1', 'c2'] });
    objects.configurations = [firstfit];
    objects.clusters = [cluster('c1', 'p1', { hypervisor: 'KVM' }), cluster('c2', 'p1', { hypervisor: 'Simulator' })];
    objects.templates = [template('ns', 'tmpl', { hypervisor: 'Simulator' })];
    expect(placed(decide(objects, vm('ns', 'a'))).placement.cluster).to.equal('c2');
    objects.clusters = [cluster('c1', 'p1'), cluster('c2', 'p1')];
    const r = refused(decide(objects, vm('ns', 'a')));
    expect(r.reason).to.equal('Hypervisor');
    expect(r.message).to.contain('cluster c1 is KVM, the template Simulator');
  });

  it('host Up: never a Down, Disconnected or Connecting host', () => {
    const objects = basicWorld();
    objects.configurations = [firstfit];
    objects.hosts = [host('c1-h1', 'c1', { state: 'Down' }), host('c1-h2', 'c1')];
    expect(placed(decide(objects, vm('ns', 'a'))).placement.host).to.equal('c1-h2');
    objects.hosts = [host('c1-h1', 'c1', { state: 'Down' }), host('c1-h2', 'c1', { state: 'Disconnected' })];
    const r = refused(decide(objects, vm('ns', 'a')));
    expect(r.reason).to.equal('NoHostUp');
    expect(r.message).to.match(/^0\/2 hosts in zone z1 can take VM ns\/a \(1 cores × 1000 MHz, 1 GiB\): 2 hosts not Up \(c1-h1 Down; c1-h2 Disconnected\)$/);
  });

  it("host tags: only hosts carrying every tag of the offering", () => {
    const objects = basicWorld();
    objects.configurations = [firstfit];
    objects.hosts = [host('c1-h1', 'c1', { tags: ['ssd'] }), host('c1-h2', 'c1', { tags: ['ssd', 'gpu'] })];
    objects.serviceOfferings = [offering('small', { hostTags: ['gpu'] })];
    expect(placed(decide(objects, vm('ns', 'a'))).placement.host).to.equal('c1-h2');
    objects.serviceOfferings = [offering('small', { hostTags: ['gpu', 'fpga'] })];
    const r = refused(decide(objects, vm('ns', 'a')));
    expect(r.reason).to.equal('HostTags');
    expect(r.message).to.contain('c1-h2 lacks fpga');
  });

  it('capacity: free CPU and memory with the overcommit factors, cores and core speed', () => {
    const objects = basicWorld({ hostsPerCluster: 1, host: { cores: 4, mhz: 2000, memory: 8 * GiB } });
    objects.serviceOfferings = [offering('small', { cpuNumber: 2, cpuSpeed: 2000, memory: '4Gi' })];
    objects.vms = [vm('ns', 'x', { host: 'c1-h1', state: 'Running' }), vm('ns', 'y', { host: 'c1-h1', state: 'Running' })];
    // Room for 8000 MHz and 8 GiB: two VMs fill it; the disable threshold is out of the way here.
    const settings = { 'cluster.cpu.allocated.capacity.disablethreshold': '1', 'cluster.memory.allocated.capacity.disablethreshold': '1' };
    objects.configurations = [configuration(settings)];
    const r = refused(decide(objects, vm('ns', 'a')));
    expect(r.reason).to.equal('InsufficientCapacity');
    expect(r.message).to.contain('c1-h1 has 0 MHz and 0 B free');
    objects.configurations = [configuration({ ...settings, 'cpu.overprovisioning.factor': '2', 'mem.overprovisioning.factor': '2' })];
    expect(placed(decide(objects, vm('ns', 'a'))).placement.host).to.equal('c1-h1');
    // The cluster's own ratios win over the global factors.
    objects.clusters = [cluster('c1', 'p1', { cpuOvercommitRatio: 1, memoryOvercommitRatio: 1 })];
    expect(refused(decide(objects, vm('ns', 'a'))).reason).to.equal('InsufficientCapacity');
    objects.vms = [];
    expect(refused(decide(objects, vm('ns', 'a', { cpuNumber: 6 }))).message).to.contain('c1-h1 has 4 cores');
    objects.serviceOfferings = [offering('small', { cpuNumber: 1, cpuSpeed: 2400 })];
    expect(refused(decide(objects, vm('ns', 'a'))).message).to.contain('c1-h1 cores run at 2000 MHz');
  });

  it('capacity: a stopped VM holds its host for capacity.skipcounting.hours, then no longer', () => {
    const objects = basicWorld({ hostsPerCluster: 1, host: { cores: 2, mhz: 1000, memory: 4 * GiB } });
    objects.serviceOfferings = [offering('small', { cpuNumber: 2, cpuSpeed: 1000, memory: '2Gi' })];
    const threshold = { 'cluster.cpu.allocated.capacity.disablethreshold': '1', 'cluster.memory.allocated.capacity.disablethreshold': '1' };
    objects.configurations = [configuration({ ...threshold, 'capacity.skipcounting.hours': '3600' })];
    objects.vms = [vm('ns', 'stopped', { host: 'c1-h1', state: 'Stopped', stoppedAt: new Date(NOW - 1800_000).toISOString() })];
    expect(refused(decide(objects, vm('ns', 'a'))).reason).to.equal('InsufficientCapacity');
    objects.configurations = [configuration({ ...threshold, 'capacity.skipcounting.hours': '1800' })];
    expect(placed(decide(objects, vm('ns', 'a'))).placement.host).to.equal('c1-h1');
  });

  it('disable threshold: skips a cluster the VM would take past cluster.{cpu,memory}.allocated.capacity.disablethreshold', () => {
    const objects = basicWorld({ clusters: ['c1', 'c2'], hostsPerCluster: 1, host: { cores: 10, mhz: 1000, memory: 100 * GiB } });
    objects.configurations = [configuration({ 'vm.allocation.algorithm': 'firstfit', 'host.capacityType.to.order.clusters': 'RAM' })];
    // c1 is ordered first (more free memory) but its CPU would reach 90%.
    objects.vms = [vm('ns', 'x', { host: 'c1-h1', state: 'Running', cpuNumber: 8 }), vm('ns', 'y', { host: 'c2-h1', state: 'Running', memory: '20Gi' })];
    expect(placed(decide(objects, vm('ns', 'a'))).placement.cluster).to.equal('c2');
    objects.configurations = [configuration({ 'vm.allocation.algorithm': 'firstfit', 'host.capacityType.to.order.clusters': 'RAM', 'cluster.cpu.allocated.capacity.disablethreshold': '0.95' })];
    expect(placed(decide(objects, vm('ns', 'a'))).placement.cluster).to.equal('c1');
    objects.hosts = [host('c1-h1', 'c1', { cores: 10, mhz: 1000, memory: 100 * GiB })];
    objects.configurations = [firstfit];
    const r = refused(decide(objects, vm('ns', 'a')));
    expect(r.reason).to.equal('DisableThreshold');
    expect(r.message).to.contain('cluster c1: CPU would be 90% allocated, above cluster.cpu.allocated.capacity.disablethreshold 85%');
  });

  it('strict host anti-affinity: never beside another member; with no host left, Affinity', () => {
    const objects = basicWorld();
    objects.configurations = [firstfit];
    objects.affinityGroups = [affinityGroup('ns', 'spread', 'host anti-affinity')];
    objects.vms = [vm('ns', 'm1', { host: 'c1-h1', state: 'Running', groups: ['spread'] })];
    expect(placed(decide(objects, vm('ns', 'a', { groups: ['spread'] }))).placement.host).to.equal('c1-h2');
    objects.vms.push(vm('ns', 'm2', { host: 'c1-h2', state: 'Running', groups: ['spread'] }));
    const r = refused(decide(objects, vm('ns', 'a', { groups: ['spread'] })));
    expect(r.reason).to.equal('Affinity');
    expect(r.message).to.contain('ns/spread (host anti-affinity): ns/m1 runs on c1-h1');
    // A destroyed member no longer counts.
    objects.vms[1] = vm('ns', 'm2', { host: 'c1-h2', state: 'Destroyed', groups: ['spread'] });
    expect(placed(decide(objects, vm('ns', 'a', { groups: ['spread'] }))).placement.host).to.equal('c1-h2');
  });

  it('strict host affinity: only on the host of the members', () => {
    const objects = basicWorld();
    objects.configurations = [firstfit];
    objects.affinityGroups = [affinityGroup('ns', 'pack', 'host affinity')];
    objects.vms = [vm('ns', 'm1', { host: 'c1-h2', state: 'Running', groups: ['pack'] })];
    expect(placed(decide(objects, vm('ns', 'a', { groups: ['pack'] }))).placement.host).to.equal('c1-h2');
    expect(placed(decide(objects, vm('ns', 'a'))).placement.host, 'without the group, firstfit').to.equal('c1-h1');
    objects.hosts = [host('c1-h1', 'c1'), host('c1-h2', 'c1', { state: 'Down' })];
    const r = refused(decide(objects, vm('ns', 'a', { groups: ['pack'] })));
    expect(r.reason).to.equal('Affinity');
    expect(r.message).to.contain('1 host not Up');
  });

  it('non-strict affinity groups are preferences: followed when possible, broken when not', () => {
    const objects = basicWorld({ hostsPerCluster: 3 });
    objects.configurations = [firstfit];
    objects.affinityGroups = [affinityGroup('ns', 'spread', 'non-strict host anti-affinity'), affinityGroup('ns', 'pack', 'non-strict host affinity')];
    objects.vms = [vm('ns', 'm1', { host: 'c1-h1', state: 'Running', groups: ['spread', 'pack'] }), vm('ns', 'm2', { host: 'c1-h3', state: 'Running', groups: ['pack'] })];
    expect(placed(decide(objects, vm('ns', 'a', { groups: ['spread'] }))).placement.host).to.equal('c1-h2');
    expect(placed(decide(objects, vm('ns', 'a', { groups: ['pack'] }))).placement.host).to.equal('c1-h1');
    objects.hosts = [host('c1-h1', 'c1'), host('c1-h2', 'c1', { state: 'Down' }), host('c1-h3', 'c1', { state: 'Down' })];
    expect(placed(decide(objects, vm('ns', 'a', { groups: ['spread'] }))).placement.host, 'the only host left, though m1 is on it').to.equal('c1-h1');
  });

  it('an explicit host (spec.hostRef) is the only candidate, and still passes every filter', () => {
    const objects = basicWorld({ clusters: ['c1', 'c2'] });
    objects.configurations = [firstfit];
    expect(placed(decide(objects, vm('ns', 'a', { hostRef: 'c2-h2' }))).placement).to.include({ cluster: 'c2', host: 'c2-h2' });
    objects.hosts = [...objects.hosts!.filter((h) => h.metadata.name !== 'c2-h2'), host('c2-h2', 'c2', { state: 'Down' })];
    const r = refused(decide(objects, vm('ns', 'a', { hostRef: 'c2-h2' })));
    expect(r.reason).to.equal('NoHostUp');
    expect(r.message).to.match(/^0\/1 hosts/);
    expect(refused(decide(objects, vm('ns', 'a', { hostRef: 'nope' }))).reason).to.equal('HostNotFound');
    objects.zones!.push(zone('z2'));
    objects.pods!.push(pod('p2', 'z2'));
    objects.clusters!.push(cluster('c3', 'p2'));
    objects.hosts.push(host('c3-h1', 'c3'));
    expect(refused(decide(objects, vm('ns', 'a', { hostRef: 'c3-h1' }))).message).to.equal("Host c3-h1 (spec.hostRef) is in zone z2, not in the VM's zone z1");
  });

  it('the avoid set (hosts that refused the VM) is skipped; the preferred host is tried first', () => {
    const objects = basicWorld();
    objects.configurations = [firstfit];
    expect(placed(decide(objects, vm('ns', 'a'), [], { avoidHosts: ['c1-h1'] })).placement.host).to.equal('c1-h2');
    expect(refused(decide(objects, vm('ns', 'a'), [], { avoidHosts: ['c1-h1', 'c1-h2'] })).reason).to.equal('Avoided');
    expect(placed(decide(objects, vm('ns', 'a'), [], { preferHost: 'c1-h2' })).placement.host).to.equal('c1-h2');
    objects.hosts = [host('c1-h1', 'c1'), host('c1-h2', 'c1', { state: 'Down' })];
    expect(placed(decide(objects, vm('ns', 'a'), [], { preferHost: 'c1-h2' })).placement.host).to.equal('c1-h1');
  });

  it('names the constraint that eliminated the last candidates and counts every other one', () => {
    const objects = basicWorld({ hostsPerCluster: 0, clusters: ['c1'] });
    objects.hosts = [host('h1', 'c1', { state: 'Down', tags: ['gpu'] }), host('h2', 'c1'), host('h3', 'c1', { cores: 1, tags: ['gpu'] })];
    objects.serviceOfferings = [offering('small', { cpuNumber: 2, hostTags: ['gpu'] })];
    const r = refused(decide(objects, vm('ns', 'a')));
    expect(r.reason).to.equal('InsufficientCapacity');
    expect(r.message).to.equal(
      "0/3 hosts in zone z1 can take VM ns/a (2 cores × 1000 MHz, 1 GiB): 1 host without enough free CPU or memory (h3 has 1 cores); 1 host not Up (h1 Down); 1 host lacking the offering's host tags (h2 lacks gpu)",
    );
    expect(refused(decide({ ...objects, hosts: [] }, vm('ns', 'a'))).reason).to.equal('NoHosts');
    expect(refused(decide(objects, vm('ns', 'a', { zone: 'z9' }))).reason).to.equal('ZoneNotFound');
    expect(refused(decide(objects, vm('ns', 'a', { offering: 'huge' }))).reason).to.equal('OfferingNotFound');
    expect(refused(decide(objects, vm('ns', 'a', { template: 'gone' }))).reason).to.equal('TemplateNotFound');
    expect(refused(decide(objects, vm('ns', 'a', { groups: ['gone'] }))).reason).to.equal('AffinityGroupNotFound');
  });
});

describe('planner: storage', () => {
  const root = volume('ns', 'a-root', { size: '10Gi' });

  it('storage tags: the root volume goes to a pool with the offering\'s storage tags', () => {
    const objects = basicWorld();
    objects.configurations = [firstfit];
    objects.primaryStorages = [pool('plain', 'z1', { capacity: 10 * 1024 * GiB }), pool('fast', 'z1', { tags: ['ssd'] })];
    expect(placed(decide(objects, vm('ns', 'a'), [root])).volumes).to.deep.equal([{ key: 'ns/a-root', pool: 'plain', bytes: 10 * GiB }]);
    objects.serviceOfferings = [offering('small', { storageTags: ['ssd'] })];
    expect(placed(decide(objects, vm('ns', 'a'), [root])).volumes[0]!.pool).to.equal('fast');
    objects.serviceOfferings = [offering('small', { storageTags: ['nvme'] })];
    const r = refused(decide(objects, vm('ns', 'a'), [root]));
    expect(r.reason).to.equal('StorageTags');
    expect(r.message).to.contain('carries nvme for ns/a-root');
  });

  it('data volumes take their disk offering\'s tags; a cluster-scoped pool wins over a zone-wide one', () => {
    const objects = basicWorld();
    objects.configurations = [firstfit];
    objects.diskOfferings = [diskOffering('archive', '100Gi', { storageTags: ['hdd'] })];
    objects.primaryStorages = [pool('zone-hdd', 'z1', { tags: ['hdd'], capacity: 100 * 1024 * GiB }), pool('c1-hdd', 'z1', { cluster: 'c1', tags: ['hdd'] }), pool('zone-pool', 'z1')];
    const data = volume('ns', 'a-data', { type: 'DATADISK', diskOffering: 'archive' });
    expect(placed(decide(objects, vm('ns', 'a'), [data, root])).volumes).to.deep.equal([
      { key: 'ns/a-root', pool: 'c1-hdd', bytes: 10 * GiB },
      { key: 'ns/a-data', pool: 'c1-hdd', bytes: 100 * GiB },
    ]);
  });

  it('capacity: allocated bytes from the volumes on the pool against capacity × storage.overprovisioning.factor × the disable threshold', () => {
    const objects = basicWorld();
    objects.configurations = [configuration({ 'storage.overprovisioning.factor': '1' })];
    objects.primaryStorages = [pool('p', 'z1', { capacity: 100 * GiB })];
    objects.volumes = [volume('ns', 'old', { size: '76Gi', pool: 'p' })];
    // 76 + 10 > 85 (the 0.85 disable threshold of 100 GiB).
    const r = refused(decide(objects, vm('ns', 'a'), [root]));
    expect(r.reason).to.equal('InsufficientStorage');
    expect(r.message).to.contain('ns/a-root needs 10 GiB, the roomiest pool of c1-h1 has 9 GiB');
    objects.configurations = [configuration({ 'storage.overprovisioning.factor': '2' })];
    expect(placed(decide(objects, vm('ns', 'a'), [root])).volumes[0]!.pool).to.equal('p');
    objects.primaryStorages = [pool('p', 'z1', { capacity: 100 * GiB, used: 90 * GiB })];
    expect(refused(decide(objects, vm('ns', 'a'), [root])).reason, 'pool.storage.capacity.disablethreshold on used bytes').to.equal('InsufficientStorage');
  });

  it('local storage: only the host\'s own pool, so the host with room wins', () => {
    const objects = basicWorld();
    objects.configurations = [firstfit];
    objects.serviceOfferings = [offering('small', { storageType: 'local' })];
    objects.primaryStorages = [pool('zone-pool', 'z1'), pool('local-1', 'z1', { host: 'c1-h1', capacity: 5 * GiB }), pool('local-2', 'z1', { host: 'c1-h2' })];
    expect(placed(decide(objects, vm('ns', 'a'), [root])).placement.host).to.equal('c1-h2');
    objects.primaryStorages = [pool('zone-pool', 'z1')];
    expect(refused(decide(objects, vm('ns', 'a'), [root])).reason).to.equal('NoReachableStorage');
  });

  it('reachability: a pool not Up, or reported unmounted on the host, does not count; a volume already on a pool pins the hosts that reach it', () => {
    const objects = basicWorld({ clusters: ['c1', 'c2'] });
    objects.configurations = [firstfit];
    objects.primaryStorages = [pool('c1-pool', 'z1', { cluster: 'c1', unmountedOn: ['c1-h1'] }), pool('c2-pool', 'z1', { cluster: 'c2', state: 'Down' })];
    expect(placed(decide(objects, vm('ns', 'a'), [root])).placement.host).to.equal('c1-h2');
    objects.primaryStorages = [pool('c1-pool', 'z1', { cluster: 'c1' }), pool('c2-pool', 'z1', { cluster: 'c2' })];
    objects.vms = [vm('other', 'busy', { host: 'c1-h1', state: 'Running', cpuNumber: 6 })];
    expect(placed(decide(objects, vm('ns', 'a'), [root])).placement.cluster).to.equal('c2');
    expect(placed(decide(objects, vm('ns', 'a'), [volume('ns', 'a-root', { size: '10Gi', pool: 'c1-pool' })])).placement.cluster).to.equal('c1');
  });
});

describe('planner: the capacity index and the assume cache', () => {
  const tight = (): Objects => {
    const objects = basicWorld({ hostsPerCluster: 2, host: { cores: 2, mhz: 1000, memory: 4 * GiB } });
    objects.serviceOfferings = [offering('small', { cpuNumber: 2, cpuSpeed: 1000, memory: '2Gi' })];
    objects.configurations = [configuration({ 'vm.allocation.algorithm': 'firstfit', 'cluster.cpu.allocated.capacity.disablethreshold': '1', 'cluster.memory.allocated.capacity.disablethreshold': '1' })];
    return objects;
  };

  it('counts an assumed decision at once, until its write fails (forget) or the informer shows it (confirm)', () => {
    let now = NOW;
    const index = indexOf(tight(), { now: () => now, assumeTtlMs: 30_000 });
    const a = vm('ns', 'a');
    const first = placed(decideOn(index, a));
    expect(first.placement.host).to.equal('c1-h1');
    expect(placed(decideOn(index, vm('ns', 'b'))).placement.host, 'without the assumption, the same host again').to.equal('c1-h1');
    index.assumeVm(a, first.placement.host, first.demand);
    expect(placed(decideOn(index, vm('ns', 'b'))).placement.host).to.equal('c1-h2');
    index.forgetVm(a.metadata.uid!, a);
    expect(placed(decideOn(index, vm('ns', 'b'))).placement.host).to.equal('c1-h1');

    // Assumed again; an informer event that has not caught up leaves it standing.
    index.assumeVm(a, 'c1-h1', first.demand);
    index.upsert('vms', a);
    expect(placed(decideOn(index, vm('ns', 'b'))).placement.host).to.equal('c1-h2');
    // The informer shows it placed: confirmed, still counted, and it no longer lapses.
    index.upsert('vms', { ...a, status: { placement: { ...first.placement }, state: 'Starting' } });
    expect(index.vmEntry(a.metadata.uid!)?.assumed).to.equal(undefined);
    now += 60_000;
    expect(placed(decideOn(index, vm('ns', 'b'))).placement.host).to.equal('c1-h2');
  });

  it('lets an unconfirmed assumption lapse after its time to live', () => {
    let now = NOW;
    const index = indexOf(tight(), { now: () => now, assumeTtlMs: 30_000 });
    const a = vm('ns', 'a');
    index.assumeVm(a, 'c1-h1', { cores: 2, cpuMhz: 2000, memoryBytes: 2 * GiB });
    const at = (t: number) => {
      const request = planRequest(index, vm('ns', 'b'), []);
      if ('scheduled' in request) throw new Error(request.message);
      return placed(plan(index, request, { now: t, random: Math.random })).placement.host;
    };
    expect(at(now + 29_999)).to.equal('c1-h2');
    now += 30_000;
    expect(at(now)).to.equal('c1-h1');
  });

  it('follows VM and volume changes: a VM that stops holding, a deleted VM, an offering arriving late', () => {
    const objects = tight();
    objects.serviceOfferings = [];
    const index = indexOf(objects, { now: () => NOW });
    const x = vm('ns', 'x', { host: 'c1-h1', state: 'Running' });
    index.upsert('vms', x);
    // The offering arrives after the VM: the host's sum follows.
    index.upsert('serviceOfferings', offering('small', { cpuNumber: 2, cpuSpeed: 1000, memory: '2Gi' }));
    const slot = index.host('c1-h1')!;
    expect(index.hostLoad(slot, NOW)).to.include({ cpuMhz: 2000, memoryBytes: 2 * GiB });
    index.upsert('vms', { ...x, status: { ...x.status, state: 'Destroyed' } });
    expect(index.hostLoad(slot, NOW)).to.include({ cpuMhz: 0, memoryBytes: 0 });
    index.upsert('vms', x);
    index.remove('vms', x);
    expect(index.hostLoad(slot, NOW)).to.include({ cpuMhz: 0 });

    const p = index.pool('zone-pool')!;
    const v = volume('ns', 'v', { size: '10Gi', pool: 'zone-pool' });
    index.upsert('volumes', v);
    expect(index.poolAllocated(p, NOW)).to.equal(10 * GiB);
    index.assumeVolume('ns/w', 'zone-pool', GiB);
    expect(index.poolAllocated(p, NOW)).to.equal(11 * GiB);
    index.forgetVolume('ns/w', undefined);
    index.remove('volumes', v);
    expect(index.poolAllocated(p, NOW)).to.equal(0);
  });

  it('does not count the VM against itself when it is planned again', () => {
    const objects = tight();
    objects.hosts = [host('c1-h1', 'c1', { cores: 2, mhz: 1000, memory: 4 * GiB })];
    const a = vm('ns', 'a', { host: 'c1-h1', state: 'Stopped', stoppedAt: new Date(NOW - 1000).toISOString() });
    objects.vms = [a];
    expect(placed(decide(objects, a)).placement.host).to.equal('c1-h1');
    expect(refused(decide(objects, vm('ns', 'b'))).reason).to.equal('InsufficientCapacity');
  });

  it('feeds from plain objects the same way informers do', () => {
    const index = feedAll(indexOf(basicWorld()), { hosts: [host('c1-h3', 'c1')] });
    expect(index.hostsOfCluster('c1')).to.deep.equal(['c1-h1', 'c1-h2', 'c1-h3']);
    index.remove('hosts', host('c1-h3', 'c1'));
    expect(index.hostsOfCluster('c1')).to.deep.equal(['c1-h1', 'c1-h2']);
  });
});
