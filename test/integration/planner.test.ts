import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { registerComputeControllers } from '../../controllers/compute.ts';
import type { NicAllocator } from '../../controllers/compute-context.ts';
import { registerInfrastructureControllers } from '../../controllers/infrastructure.ts';
import { kindByName, type KindInfo } from '../../crds/index.ts';
import { isNotFound, resourceTypeOf, type KubeClient, type KubeObject, type ResourceClient } from '../../lib/kube-client.ts';
import { log } from '../../lib/log.ts';
import { createManager, type Manager } from '../../lib/manager.ts';
import { runAgent, type RunningAgent } from '../../node-daemon/main.ts';
import { uniqueName } from '../support/cluster.ts';
import { preparedCluster } from '../support/prepared-cluster.ts';
import { until } from '../support/until.ts';

/**
 * The deployment planner end to end: the real control plane, the operator's infrastructure and
 * compute controllers (VMs without networks, so NICs are not involved), and simulated
 * hypervisor agents, each with its own node name, that join their clusters, heartbeat, report
 * this machine's capacity and mount a local pool of their own. Each strategy and each filter
 * has a case where it decides where a VM goes, or that it goes nowhere; then two operator
 * replicas place 200 VMs at once, the leader stopping halfway, and no host ends up over its
 * capacity.
 *
 *   zone ── pod p1 ── cluster a (Simulator): hosts a1, a2
 *        │        ├── cluster b (Simulator): host b1 (and later ghost)
 *        │        └── cluster k (KVM): host k1
 *        └─ pod p2 ── cluster c (Simulator): host c1
 */

interface Cond {
  type: string;
  status: string;
  reason: string;
  message: string;
}
type Obj = KubeObject & { spec?: Record<string, unknown>; status?: Record<string, unknown> & { state?: string; conditions?: Cond[] } };
type Placement = { zone: string; pod: string; cluster: string; host: string };
interface Capacity {
  cpuNumber: number;
  cpuSpeed: number;
  memoryBytes: number;
}

function kind(name: string): KindInfo {
  const k = kindByName(name);
  if (!k) throw new Error(`unknown kind ${name}`);
  return k;
}

const NAMESPACES = { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false };

/** VMs without networks get no NICs; the NIC allocator is the network controllers' (issue 12). */
const noNetworks = (): NicAllocator => ({
  ensureNics: () => Promise.resolve({ result: 'ready' as const, nics: [] }),
  releaseNics: () => Promise.resolve(0),
});

describe('planner: placement with simulated agents (real control plane)', function () {
  this.timeout(180_000);
  const s = uniqueName('p').slice(2);
  const ns = `planner-${s}`;
  const other = `planner-other-${s}`;
  const n = (base: string) => `${base}-${s}`;
  const clusters = { a: n('ca'), b: n('cb'), c: n('cc'), k: n('ck') };
  const hosts = { a1: n('a1'), a2: n('a2'), b1: n('b1'), c1: n('c1'), k1: n('k1'), ghost: n('ghost') };
  const simulated = [hosts.a1, hosts.a2, hosts.b1, hosts.c1];
  let client: KubeClient;
  let stateDir: string;
  let operators: Manager[] = [];
  /** Set once the suite tears down: operators that lose their lease are no longer restarted. */
  let stopping = false;
  const agents = new Map<string, RunningAgent>();
  let previousGlobal: Obj | undefined;
  let capacity: Capacity;
  const created: [string, string][] = [];
  const res = (k: string): ResourceClient<Obj> => client.resource<Obj>(resourceTypeOf(kind(k)));
  const get = (k: string, name: string, namespace?: string) => res(k).get({ name, namespace }).catch((err: unknown) => (isNotFound(err) ? undefined : Promise.reject(err as Error)));
  const make = async (k: string, name: string, spec: Record<string, unknown>, namespace?: string) => {
    await res(k).create({ metadata: { name, ...(namespace ? { namespace } : {}) }, spec });
    if (!namespace) created.push([k, name]);
  };
  const waitFor = async (k: string, name: string, what: string, check: (o: Obj) => boolean, timeoutMs = 60_000, namespace = ns): Promise<Obj> => {
    let last: Obj | undefined;
    try {
      return await until(`${k} ${name} ${what}`, timeoutMs, async () => {
        last = await get(k, name, kind(k).scope === 'Namespaced' ? namespace : undefined);
        return last && check(last) ? last : undefined;
      });
    } catch (err) {
      throw new Error(`${(err as Error).message}; last seen: ${JSON.stringify(last?.status ?? 'gone')}`, { cause: err });
    }
  };
  const scheduled = (o: Obj) => o.status?.conditions?.find((c) => c.type === 'Scheduled');
  const placementOf = (o: Obj | undefined) => o?.status?.placement as Placement | undefined;

  /** Sets global settings (the others keep their values) and waits until the operator's planner could have seen them. */
  const settings = async (values: Record<string, string>) => {
    const global = await get('Configuration', 'global');
    const merged = { ...((global?.spec?.['settings'] as Record<string, string> | undefined) ?? {}), ...values };
    for (const [key, value] of Object.entries(values)) if (value === '') delete merged[key];
    await res('Configuration').patch({ name: 'global' }, { spec: { settings: null } }, 'merge');
    await res('Configuration').patch({ name: 'global' }, { spec: { settings: merged } }, 'merge');
    await waitFor('Configuration', 'global', 'settings observed', (o) => {
      const entries = (o.status?.['settings'] as { name: string; value: string }[] | undefined) ?? [];
      return Object.entries(values).every(([key, value]) => value === '' || entries.some((e) => e.name === key && e.value === value));
    });
  };
  const resetSettings = () =>
    settings({
      'vm.deployment.planner': '',
      'vm.allocation.algorithm': '',
      'cluster.cpu.allocated.capacity.disablethreshold': '',
      'cluster.memory.allocated.capacity.disablethreshold': '',
    });

  const vmSpec = (offering: string, extra: Record<string, unknown> = {}) => ({ zoneRef: { name: n('zone') }, serviceOfferingRef: { name: offering }, templateRef: { name: 'sim' }, rootDiskSize: '1Gi', ...extra });
  /** Creates a VM and waits for its placement. */
  const place = async (name: string, offering: string, extra: Record<string, unknown> = {}, namespace = ns): Promise<Placement> => {
    await res('VirtualMachine').create({ metadata: { name, namespace }, spec: vmSpec(offering, extra) });
    return placementOf(await waitFor('VirtualMachine', name, 'placed', (o) => placementOf(o) !== undefined, 60_000, namespace))!;
  };
  /** Creates a VM and waits for Scheduled False; returns its message. */
  const refuse = async (name: string, offering: string, extra: Record<string, unknown> = {}): Promise<string> => {
    await res('VirtualMachine').create({ metadata: { name, namespace: ns }, spec: vmSpec(offering, extra) });
    const vm = await waitFor('VirtualMachine', name, 'unschedulable', (o) => scheduled(o)?.status === 'False' && scheduled(o)?.reason === 'Unschedulable');
    expect(placementOf(vm)).to.equal(undefined);
    return scheduled(vm)!.message;
  };
  /** Deletes every VM of the namespaces and waits until the agents and the operator let them go. */
  const clearVms = async (namespaces = [ns, other]) => {
    for (const namespace of namespaces) {
      for (const vm of (await res('VirtualMachine').list({ namespace })).items) await res('VirtualMachine').delete({ name: vm.metadata.name ?? '', namespace }).catch(() => undefined);
    }
    await until('every VM gone', 480_000, async () => {
      for (const namespace of namespaces) if ((await res('VirtualMachine').list({ namespace })).items.length > 0) return undefined;
      return true;
    });
  };
  const startAgent = async (node: string, cluster: string) => {
    const agent = await runAgent({
      kubeConfig: client.kubeConfig,
      handleSignals: false,
      env: { NODE_NAME: node },
      args: ['--http-bind-address=127.0.0.1:0', '--hypervisor=simulator', `--cluster=${cluster}`, `--state-dir=${join(stateDir, node)}`, '--log-level=warn'],
    });
    agents.set(node, agent);
    await agent.joined;
    created.push(['Host', node]);
  };
  const startOperator = (leaderElection?: { identity: string }) => {
    const manager = createManager({
      kubeConfig: client.kubeConfig,
      eventSource: 'kumulus.io/operator',
      httpBindAddress: '127.0.0.1:0',
      logger: log.child({ component: leaderElection?.identity ?? 'operator' }),
      ...(leaderElection
        ? { leaderElection: { namespace: ns, name: 'kumulus-operator', identity: leaderElection.identity, leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2000 } }
        : {}),
    });
    registerComputeControllers(manager, registerInfrastructureControllers(manager), noNetworks);
    operators.push(manager);
    return manager;
  };

  before(async function () {
    this.timeout(300_000);
    client = (await preparedCluster()).client;
    previousGlobal = await get('Configuration', 'global');
    stateDir = await mkdtemp(join(tmpdir(), 'kumulus-planner-'));
    for (const namespace of [ns, other]) await client.resource(NAMESPACES).create({ metadata: { name: namespace } });
    await make('Zone', n('zone'), { networkType: 'Advanced', dns1: '8.8.8.8', internalDns1: '192.168.100.2', allocationState: 'Enabled' });
    await make('Pod', n('p1'), { zoneRef: { name: n('zone') }, gateway: '192.168.100.1', netmask: '255.255.255.0', startIp: '192.168.100.10' });
    await make('Pod', n('p2'), { zoneRef: { name: n('zone') }, gateway: '192.168.101.1', netmask: '255.255.255.0', startIp: '192.168.101.10' });
    await make('Cluster', clusters.a, { podRef: { name: n('p1') }, hypervisor: 'Simulator' });
    await make('Cluster', clusters.b, { podRef: { name: n('p1') }, hypervisor: 'Simulator' });
    await make('Cluster', clusters.k, { podRef: { name: n('p1') }, hypervisor: 'KVM' });
    await make('Cluster', clusters.c, { podRef: { name: n('p2') }, hypervisor: 'Simulator' });
    for (const host of Object.values(hosts)) {
      await make('PrimaryStorage', `local-${host}`, { zoneRef: { name: n('zone') }, scope: 'Host', hostRef: { name: host }, protocol: 'Local', path: join(stateDir, 'pools', host), ...(host === hosts.a1 ? { tags: ['fast'] } : {}) });
    }
    // An empty qcow2 image: the agents cache it and make the VMs' disks from it, so the simulated VMs run.
    const image = join(stateDir, 'empty.qcow2');
    await promisify(execFile)('qemu-img', ['create', '-q', '-f', 'qcow2', image, '1G']);
    const template = { url: `file://${image}`, format: 'QCOW2', checksum: `{SHA-256}${createHash('sha256').update(await readFile(image)).digest('hex')}`, zoneRefs: [{ name: n('zone') }] };
    await make('Template', 'sim', { ...template, hypervisor: 'Simulator' }, ns);
    await make('Template', 'sim', { ...template, hypervisor: 'Simulator' }, other);
    await make('Template', 'kvm', { ...template, hypervisor: 'KVM' }, ns);

    startOperator();
    await operators[0]!.start();
    await startAgent(hosts.a1, clusters.a);
    await startAgent(hosts.a2, clusters.a);
    await startAgent(hosts.b1, clusters.b);
    await startAgent(hosts.c1, clusters.c);
    await startAgent(hosts.k1, clusters.k);
    for (const host of [...simulated, hosts.k1]) {
      await waitFor('Host', host, 'Up and Enabled', (o) => o.status?.state === 'Up' && o.status.resourceState === 'Enabled');
      await waitFor('PrimaryStorage', `local-${host}`, 'Up', (o) => o.status?.state === 'Up');
    }
    capacity = (await get('Host', hosts.a1))!.status!['capacity'] as Capacity;
    // Offerings sized from what the simulated hosts report (this machine's CPUs): `big` takes
    // 60% of a host's CPU, so one fits on a host and two do not.
    const local = { storageType: 'local', memory: '64Mi' };
    await make('ServiceOffering', n('small'), { cpuNumber: 1, cpuSpeed: 100, ...local });
    await make('ServiceOffering', n('big'), { cpuNumber: capacity.cpuNumber, cpuSpeed: Math.floor(capacity.cpuSpeed * 0.6), ...local });
    await make('ServiceOffering', n('ssd'), { cpuNumber: 1, cpuSpeed: 100, hostTags: ['ssd'], ...local });
    await make('ServiceOffering', n('ghostly'), { cpuNumber: 1, cpuSpeed: 100, hostTags: ['ghostly'], ...local });
    await make('ServiceOffering', n('fast'), { cpuNumber: 1, cpuSpeed: 100, storageTags: ['fast'], ...local });
    await make('ServiceOffering', n('fastest'), { cpuNumber: 1, cpuSpeed: 100, storageTags: ['fastest'], ...local });
    await make('ServiceOffering', n('concentrated'), { cpuNumber: 1, cpuSpeed: 100, deploymentPlanner: 'UserConcentratedPodPlanner', ...local });
    await make('ServiceOffering', n('unit'), { cpuNumber: 1, cpuSpeed: Math.max(100, Math.floor((capacity.cpuNumber * capacity.cpuSpeed) / 25)), ...local });
    await resetSettings();
  });

  afterEach(async function () {
    this.timeout(600_000);
    // The last test's 200 VMs go with the suite's namespaces, all at once.
    if (this.currentTest?.title.startsWith('two operators')) return;
    await clearVms();
    await resetSettings();
  });

  after(async function () {
    this.timeout(180_000);
    stopping = true;
    await Promise.all(operators.map((m) => m.stop()));
    for (const agent of agents.values()) await agent.stop();
    for (const namespace of [ns, other]) {
      for (const k of ['VirtualMachine', 'Volume', 'AffinityGroup']) {
        for (const o of (await res(k).list({ namespace }).catch(() => ({ items: [] as Obj[] }))).items) {
          await res(k).patch({ name: o.metadata.name ?? '', namespace }, { metadata: { finalizers: null } }).catch(() => undefined);
        }
      }
      await client.resource(NAMESPACES).delete({ name: namespace }).catch(() => undefined);
    }
    for (const [k, name] of created.reverse()) {
      await res(k).patch({ name }, { metadata: { finalizers: null } }).catch(() => undefined);
      await res(k).delete({ name }).catch(() => undefined);
    }
    if (previousGlobal) await res('Configuration').patch({ name: 'global' }, { spec: { settings: previousGlobal.spec?.['settings'] ?? {} } }, 'merge');
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
  });

  it('firstfit: FirstFitPlanner tries the least allocated cluster first, the firstfit allocator its hosts by name', async () => {
    await settings({ 'vm.allocation.algorithm': 'firstfit' });
    // All clusters empty: the first by pod and name (a), its first host. Then b and c, now
    // less allocated than a, and then a again, on its first host while it has room.
    expect((await place('ff1', n('small'))).host).to.equal(hosts.a1);
    expect((await place('ff2', n('small'))).host).to.equal(hosts.b1);
    expect((await place('ff3', n('small'))).host).to.equal(hosts.c1);
    expect((await place('ff4', n('small'))).host).to.equal(hosts.a1);
  });

  it('random (the default allocator): spreads a cluster\'s VMs over its hosts where firstfit stacks them', async () => {
    await res('Cluster').patch({ name: clusters.b }, { spec: { allocationState: 'Disabled' } });
    await res('Cluster').patch({ name: clusters.c }, { spec: { allocationState: 'Disabled' } });
    try {
      const randomHosts = new Set<string>();
      for (let i = 0; i < 16; i++) randomHosts.add((await place(`rnd${i}`, n('small'))).host);
      expect([...randomHosts].sort(), 'both hosts of cluster a (all 16 on one has odds of 2^-15)').to.deep.equal([hosts.a1, hosts.a2].sort());
      await clearVms();
      await settings({ 'vm.allocation.algorithm': 'firstfit' });
      const firstfitHosts = new Set<string>();
      for (let i = 0; i < 4; i++) firstfitHosts.add((await place(`ff${i}`, n('small'))).host);
      expect([...firstfitHosts]).to.deep.equal([hosts.a1]);
    } finally {
      await res('Cluster').patch({ name: clusters.b }, { spec: { allocationState: 'Enabled' } });
      await res('Cluster').patch({ name: clusters.c }, { spec: { allocationState: 'Enabled' } });
    }
  });

  it('userdispersing: spreads an account over the hosts it has fewest VMs on, where firstfit would not', async () => {
    await settings({ 'vm.allocation.algorithm': 'firstfit' });
    const firstfit: string[] = [];
    for (let i = 0; i < 4; i++) firstfit.push((await place(`ff${i}`, n('small'))).host);
    expect(firstfit, 'firstfit: a2 stays empty').to.not.include(hosts.a2);
    await clearVms();
    await settings({ 'vm.deployment.planner': 'UserDispersingPlanner', 'vm.allocation.algorithm': 'userdispersing' });
    const dispersed: string[] = [];
    for (let i = 0; i < 4; i++) dispersed.push((await place(`ud${i}`, n('small'))).host);
    expect([...dispersed].sort(), 'one VM of the account on each Simulator host').to.deep.equal([...simulated].sort());
  });

  it('userconcentratedpod: keeps an account in the pod where it runs, though another pod has more room; the offering overrides the global planner', async () => {
    // The account's first VM goes to pod p2 by an explicit host (an administrator's spec.hostRef).
    expect(await place('anchor', n('small'), { hostRef: { name: hosts.c1 } })).to.deep.include({ pod: n('p2'), host: hosts.c1 });
    // FirstFitPlanner prefers the emptier pod p1 ...
    expect((await place('firstfit', n('small'), {}, other)).pod).to.equal(n('p1'));
    // ... the offering's UserConcentratedPodPlanner keeps the account in p2 ...
    expect((await place('concentrated', n('concentrated'))).pod).to.equal(n('p2'));
    // ... and so does the global setting, while an account with nothing in p2 gets p1.
    await settings({ 'vm.deployment.planner': 'UserConcentratedPodPlanner' });
    expect((await place('concentrated2', n('small'))).pod).to.equal(n('p2'));
    expect((await place('elsewhere', n('small'), {}, other)).pod).to.equal(n('p1'));
  });

  it('hypervisor: a Simulator template never lands on the KVM cluster, a KVM template only there', async () => {
    expect((await place('kvm', n('small'), { templateRef: { name: 'kvm' } })).host).to.equal(hosts.k1);
    await res('Cluster').patch({ name: clusters.k }, { spec: { allocationState: 'Disabled' } });
    try {
      const message = await refuse('kvm2', n('small'), { templateRef: { name: 'kvm' } });
      expect(message).to.match(/^AllocationState: 0\/5 hosts in zone \S+ can take VM/);
      expect(message).to.contain(`4 hosts of another hypervisor than the template's (cluster ${clusters.a} is Simulator, the template KVM`);
      expect(message).to.contain(`1 host not in an Enabled zone, pod, cluster and resource state (cluster ${clusters.k} is Disabled)`);
    } finally {
      await res('Cluster').patch({ name: clusters.k }, { spec: { allocationState: 'Enabled' } });
    }
    // Capacity appearing (the cluster enabled again) retries it.
    expect(placementOf(await waitFor('VirtualMachine', 'kvm2', 'placed once its cluster is Enabled', (o) => placementOf(o) !== undefined))?.host).to.equal(hosts.k1);
  });

  it('host tags: only a host carrying the offering\'s tags', async () => {
    const message = await refuse('ssd', n('ssd'));
    expect(message).to.match(/^HostTags: /);
    await res('Host').patch({ name: hosts.c1 }, { spec: { hostTags: ['ssd'] } });
    try {
      expect(placementOf(await waitFor('VirtualMachine', 'ssd', 'placed on the tagged host', (o) => placementOf(o) !== undefined))?.host).to.equal(hosts.c1);
    } finally {
      await res('Host').patch({ name: hosts.c1 }, { spec: { hostTags: null } });
    }
  });

  it('storage tags: the root volume goes to the only pool with the offering\'s tags, and its host follows', async () => {
    expect((await place('fast', n('fast'))).host).to.equal(hosts.a1);
    const volume = await waitFor('Volume', 'fast-root', 'on a pool', (o) => o.status?.['pool'] !== undefined);
    expect(volume.status?.['pool']).to.equal(`local-${hosts.a1}`);
    expect(await refuse('fastest', n('fastest'))).to.match(/^StorageTags: .*carries fastest for/);
  });

  it('capacity: one big VM per host, the next one waits with the reason, and takes the room a deleted VM frees', async () => {
    const placed = new Set<string>();
    for (let i = 0; i < simulated.length; i++) placed.add((await place(`big${i}`, n('big'))).host);
    expect([...placed].sort()).to.deep.equal([...simulated].sort());
    const message = await refuse('big-late', n('big'));
    expect(message).to.match(/^InsufficientCapacity: 0\/5 hosts/);
    expect(message).to.contain('4 hosts without enough free CPU or memory');
    await res('VirtualMachine').delete({ name: 'big0', namespace: ns });
    const late = await waitFor('VirtualMachine', 'big-late', 'placed in the freed room', (o) => placementOf(o) !== undefined, 90_000);
    expect(placementOf(late)?.host).to.be.oneOf(simulated);
  });

  it('disable threshold: a cluster the VM would take past cluster.cpu.allocated.capacity.disablethreshold is skipped', async () => {
    await settings({ 'vm.allocation.algorithm': 'firstfit' });
    expect((await place('first', n('small'))).cluster).to.equal(clusters.a);
    // Cluster a is now the most allocated: the big VM goes to b by default ...
    expect((await place('big-default', n('big'))).cluster).to.equal(clusters.b);
    await res('VirtualMachine').delete({ name: 'big-default', namespace: ns });
    // ... but with a threshold of 50% only two-host cluster a stays below it.
    await settings({ 'vm.allocation.algorithm': 'firstfit', 'cluster.cpu.allocated.capacity.disablethreshold': '0.5' });
    expect((await place('big-threshold', n('big'))).cluster).to.equal(clusters.a);
    const message = await refuse('big-none', n('big'));
    expect(message).to.match(/^DisableThreshold: /);
    expect(message).to.contain('above cluster.cpu.allocated.capacity.disablethreshold 50%');
  });

  it('affinity: strict anti-affinity puts each member on its own host and refuses one more; strict affinity keeps them together', async () => {
    await res('AffinityGroup').create({ metadata: { name: 'spread', namespace: ns }, spec: { type: 'host anti-affinity' } });
    await res('AffinityGroup').create({ metadata: { name: 'pack', namespace: ns }, spec: { type: 'host affinity' } });
    const spread = new Set<string>();
    for (let i = 0; i < simulated.length; i++) spread.add((await place(`spread${i}`, n('small'), { affinityGroupRefs: [{ name: 'spread' }] })).host);
    expect(spread.size).to.equal(simulated.length);
    const message = await refuse('spread-more', n('small'), { affinityGroupRefs: [{ name: 'spread' }] });
    expect(message).to.match(/^Affinity: /);
    expect(message).to.contain(`${ns}/spread (host anti-affinity)`);
    const first = (await place('pack0', n('small'), { affinityGroupRefs: [{ name: 'pack' }] })).host;
    for (let i = 1; i < 4; i++) expect((await place(`pack${i}`, n('small'), { affinityGroupRefs: [{ name: 'pack' }] })).host).to.equal(first);
  });
  it('allocation state and host Up: a host in maintenance and a host with no agent take nothing; a VM waits until its host is Up', async () => {
    await res('Host').patch({ name: hosts.a2 }, { spec: { hostTags: ['ghostly'] } });
    await res('Host').patch({ name: hosts.a2 }, { spec: { maintenance: true } });
    await waitFor('Host', hosts.a2, 'in maintenance', (o) => o.status?.['resourceState'] === 'Maintenance');
    // A Host made ahead for a node whose agent has not started: Connecting.
    await make('Host', hosts.ghost, { clusterRef: { name: clusters.b }, nodeName: hosts.ghost, hostTags: ['ghostly'] });
    try {
      const message = await refuse('ghostly', n('ghostly'));
      expect(message).to.match(/^NoHostUp: 0\/6 hosts/);
      expect(message).to.contain(`1 host not Up (${hosts.ghost} Connecting)`);
      expect(message).to.contain(`host ${hosts.a2} is Maintenance`);
      await startAgent(hosts.ghost, clusters.b);
      const vm = await waitFor('VirtualMachine', 'ghostly', 'placed once the ghost host is Up', (o) => placementOf(o) !== undefined, 90_000);
      expect(placementOf(vm)?.host).to.equal(hosts.ghost);
    } finally {
      await res('Host').patch({ name: hosts.a2 }, { spec: { maintenance: false, hostTags: null } });
      await waitFor('Host', hosts.a2, 'Enabled again', (o) => o.status?.['resourceState'] === 'Enabled');
    }
  });


  it('two operators placing 200 VMs at once, the leader stopping halfway, never put a host over its capacity', async function () {
    this.timeout(600_000);
    // From here on the replicas elect a leader: the operator without leader election stops.
    const single = operators.pop()!;
    await single.stop();
    // A replica that loses its lease exits and is restarted, as its Deployment would (an
    // apiserver slowed by this load can make a renewal miss its deadline).
    let replicas: Manager[] = [];
    let serial = 0;
    const replica = async (): Promise<void> => {
      const manager = startOperator({ identity: `op-${++serial}-${s}` });
      replicas.push(manager);
      void manager.done.then((exit) => {
        replicas = replicas.filter((m) => m !== manager);
        if (exit === 'leadership-lost' && !stopping) void replica();
      });
      await manager.start();
    };
    await Promise.all([replica(), replica()]);
    // Only the hosts' CPU limits: the disable thresholds off, every simulated host the same.
    await settings({ 'cluster.cpu.allocated.capacity.disablethreshold': '1', 'cluster.memory.allocated.capacity.disablethreshold': '1' });
    const up = (await res('Host').list()).items.filter((h) => [clusters.a, clusters.b, clusters.c].includes((h.spec?.['clusterRef'] as { name: string }).name) && h.status?.state === 'Up');
    const unit = (await get('ServiceOffering', n('unit')))!.spec as { cpuNumber: number; cpuSpeed: number; memory: string };
    const unitMhz = unit.cpuNumber * unit.cpuSpeed;
    const perHost = Math.floor((capacity.cpuNumber * capacity.cpuSpeed) / unitMhz);
    const room = up.length * perHost;
    expect(room, 'capacity binds: fewer places than VMs').to.be.lessThan(200);

    /** What the VMs placed on each host take, from the apiserver; throws naming a host over its capacity. */
    const check = async (): Promise<{ placed: number; unschedulable: number }> => {
      const vms = (await res('VirtualMachine').list({ namespace: ns })).items;
      const load = new Map<string, number>();
      for (const vm of vms) {
        const host = placementOf(vm)?.host;
        if (host) load.set(host, (load.get(host) ?? 0) + unitMhz);
      }
      for (const [host, mhz] of load) {
        if (mhz > capacity.cpuNumber * capacity.cpuSpeed) throw new Error(`host ${host} holds ${mhz} MHz of VMs, more than its ${capacity.cpuNumber * capacity.cpuSpeed} MHz`);
      }
      return { placed: [...load.values()].reduce((a, b) => a + b, 0) / unitMhz, unschedulable: vms.filter((vm) => scheduled(vm)?.reason === 'Unschedulable').length };
    };

    const names = Array.from({ length: 200 }, (_, i) => `load-${i}`);
    let next = 0;
    const creating = Promise.all(
      Array.from({ length: 20 }, async () => {
        while (next < names.length) await res('VirtualMachine').create({ metadata: { name: names[next++]!, namespace: ns }, spec: vmSpec(n('unit')) });
      }),
    );
    // Halfway, the leader stops (as a rolling update does); the other replica takes over.
    await until('half of the room placed', 300_000, async () => ((await check()).placed >= room / 2 ? true : undefined), 250);
    const leader = await until('a leader', 60_000, () => Promise.resolve(replicas.find((m) => m.isLeader())));
    await leader.stop();
    operators = operators.filter((m) => m !== leader);
    await creating;
    const final = await until('every VM placed or unschedulable', 300_000, async () => {
      const c = await check();
      return c.placed + c.unschedulable === names.length ? c : undefined;
    }, 500);
    // Every place taken, none twice, and the rest told why.
    expect(final).to.deep.equal({ placed: room, unschedulable: 200 - room });
    const refused = (await res('VirtualMachine').list({ namespace: ns })).items.filter((vm) => !placementOf(vm));
    for (const vm of refused) expect(scheduled(vm)?.message, vm.metadata.name).to.match(/^InsufficientCapacity: 0\/\d+ hosts/);
  });
});
