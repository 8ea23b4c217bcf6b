import { expect } from 'chai';
import { agentFieldManager, AGENT_HEALTHY, HOST_LEASE_NAMESPACE, hostLeaseName } from '../../lib/agent-contract.ts';
import { prepareInfrastructure, registerInfrastructureControllers } from '../../controllers/infrastructure.ts';
import type { Condition } from '../../crds/index.ts';
import { createKubeClient, isAlreadyExists, isNotFound, type KubeClient, type KubeObject, type ResourceClient } from '../../lib/kube-client.ts';
import { LEASES } from '../../lib/leader-election.ts';
import { log } from '../../lib/log.ts';
import { errorMessage } from '../../lib/error-message.ts';
import { metav1Time } from '../../lib/time.ts';
import { createManager, type Manager } from '../../lib/manager.ts';
import { ensureKumulusCrds, sharedKubeConfig, uniqueName } from '../support/cluster.ts';
import { suffixedZoneExample } from '../support/examples.ts';
import { api, kindNamed, waitFor, type Obj } from '../support/objects.ts';
import { until } from '../support/until.ts';

/**
 * The infrastructure controllers against the real control plane. The test plays the agent:
 * it creates Hosts ahead of their agents (as addHost does), renews their heartbeat Leases and
 * reports capacity, bridges and mounts through server-side apply, as node-daemon will.
 */

const GiB = 2 ** 30;
const TiB = 2 ** 40;

function condition(obj: Obj | undefined, type: string): Condition | undefined {
  return obj?.status?.conditions?.find((c) => c.type === type);
}

function capacity(obj: Obj, type: string): { total: number; allocated: number; used: number; percentUsed: number } | undefined {
  return (obj.status?.capacity as { type: string; total: number; allocated: number; used: number; percentUsed: number }[] | undefined)?.find((c) => c.type === type);
}

async function waitGone(resource: ResourceClient<Obj>, name: string, timeoutMs = 30_000): Promise<void> {
  await until(`${resource.type.kind} ${name} to be deleted`, timeoutMs, () =>
    resource.get({ name }).then(
      () => undefined,
      (err: unknown) => (isNotFound(err) ? true : Promise.reject(err as Error)),
    ),
  );
}

/** The sum of a manager metric's samples for one controller (reconciles, queue depth, busy workers). */
async function metricOf(manager: Manager, metric: string, controller: string): Promise<number> {
  const values = (await manager.metrics.registry.getSingleMetric(metric)?.get())?.values ?? [];
  return values.filter((v) => v.labels.controller === controller).reduce((sum, v) => sum + v.value, 0);
}

/**
 * Waits for a round of reconciles that `trigger` (a change of the global Configuration, which
 * every object of these kinds watches) causes: each controller has since finished at least
 * as many reconciles as there are objects of its kind.
 */
async function reconcileRound(manager: Manager, client: KubeClient, kinds: readonly string[], trigger: () => Promise<void>): Promise<void> {
  const controllers = kinds.map((k) => k.toLowerCase());
  const before = await Promise.all(controllers.map((c) => metricOf(manager, 'controller_runtime_reconcile_total', c)));
  const objects = await Promise.all(kinds.map(async (k) => (await api(client, k).list()).items.length));
  await trigger();
  await until(`a round of ${kinds.join(', ')} reconciles`, 30_000, async () => {
    for (const [i, c] of controllers.entries()) if ((await metricOf(manager, 'controller_runtime_reconcile_total', c)) < before[i]! + objects[i]!) return undefined;
    return true;
  }, 50);
}

function microTime(date = new Date()): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** The agent of one host, played by the test: heartbeat Lease, facts, and mount reports. */
function playAgent(client: KubeClient, host: string, node: string) {
  const leases = client.resource<KubeObject & { spec?: Record<string, unknown> }>(LEASES);
  let timer: NodeJS.Timeout | undefined;
  const renew = async () => {
    const key = { namespace: HOST_LEASE_NAMESPACE, name: hostLeaseName(host) };
    try {
      await leases.patch(key, { spec: { renewTime: microTime() } });
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await leases.create({ metadata: key, spec: { holderIdentity: node, leaseDurationSeconds: 40, renewTime: microTime() } });
    }
  };
  const fieldManager = agentFieldManager(host);
  // An agent applies its whole status every time: a field left out of an apply is given up.
  let facts: Record<string, unknown> = {};
  return {
    async start(periodMs = 300) {
      await renew();
      timer = setInterval(() => void renew().catch(() => undefined), periodMs);
    },
    stop() {
      clearInterval(timer);
    },
    reportFacts(update: Record<string, unknown>) {
      facts = { ...facts, ...update };
      return api(client, 'Host').applyStatus({ apiVersion: kindNamed('Host').apiVersion, kind: 'Host', metadata: { name: host }, status: facts }, { fieldManager, force: true });
    },
    reportMount(pool: string, mount: Record<string, unknown>) {
      return api(client, 'PrimaryStorage').applyStatus(
        { apiVersion: kindNamed('PrimaryStorage').apiVersion, kind: 'PrimaryStorage', metadata: { name: pool }, status: { mounts: [{ host, ...mount }] } },
        { fieldManager, force: true },
      );
    },
  };
}

/** Applies examples/zone-advanced with every cluster-scoped name suffixed, so runs never collide. */
async function applyExample(client: KubeClient, suffix: string): Promise<Map<string, string>> {
  const { docs, names } = await suffixedZoneExample(suffix);
  for (const doc of docs) await api(client, doc.kind ?? '').create(doc);
  return names;
}

async function ensureNamespace(client: KubeClient, name: string): Promise<void> {
  await client
    .resource({ group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false })
    .create({ metadata: { name } })
    .catch((err: unknown) => {
      if (!isAlreadyExists(err)) throw err;
    });
}

/** Sets the global Configuration's settings (creating it), returning what to restore. */
async function setGlobalSettings(client: KubeClient, settings: Record<string, string>): Promise<void> {
  const configs = api(client, 'Configuration');
  const body = { apiVersion: kindNamed('Configuration').apiVersion, kind: 'Configuration', metadata: { name: 'global' }, spec: { settings } };
  await configs.apply(body, { fieldManager: 'infra-test', force: true });
}

interface Event {
  reason: string;
  note?: string;
  regarding: { name: string; kind: string };
}

async function eventReasons(client: KubeClient, kindName: string, name: string): Promise<string[]> {
  const events = await client.resource<KubeObject & Event>({ group: 'events.k8s.io', version: 'v1', plural: 'events', kind: 'Event', namespaced: true }).list({ namespace: 'default' });
  return events.items.filter((e) => e.regarding.kind === kindName && e.regarding.name === name).map((e) => e.reason);
}

async function waitForEvent(client: KubeClient, kindName: string, name: string, reason: string, timeoutMs = 15_000): Promise<void> {
  let reasons: string[] = [];
  await until(`a ${reason} event for ${kindName} ${name}`, timeoutMs, async () => {
    reasons = await eventReasons(client, kindName, name);
    return reasons.includes(reason) || undefined;
  }).catch((err: unknown) => {
    throw new Error(`${errorMessage(err)}; saw ${reasons.join(', ') || 'none'}`);
  });
}

describe('infrastructure controllers (real control plane)', function () {
  this.timeout(180_000);
  let client: KubeClient;
  let manager: Manager;
  let namespace: string;
  let previousGlobal: Obj | undefined;

  before(async function () {
    this.timeout(240_000);
    const kc = await sharedKubeConfig();
    await ensureKumulusCrds();
    client = createKubeClient(kc);
    previousGlobal = await api(client, 'Configuration').get({ name: 'global' }).catch(() => undefined);
    // Twice: preparing is idempotent, as every operator start runs it.
    await prepareInfrastructure(client);
    await prepareInfrastructure(client);
    namespace = uniqueName('infra');
    await ensureNamespace(client, namespace);
    manager = createManager({ kubeConfig: kc, eventSource: 'kumulus.io/operator', httpBindAddress: '127.0.0.1:0', logger: log });
    registerInfrastructureControllers(manager);
    await manager.start();
  });

  after(async function () {
    this.timeout(60_000);
    await manager?.stop();
    const configs = api(client, 'Configuration');
    if (previousGlobal) await configs.apply({ apiVersion: previousGlobal.apiVersion, kind: 'Configuration', metadata: { name: 'global' }, spec: previousGlobal.spec }, { fieldManager: 'infra-test', force: true });
    else await configs.delete({ name: 'global' }).catch(() => undefined);
  });

  /**
   * Builds examples/zone-advanced with two hosts (8 cores × 2000 MHz, 16 GiB each), a Running
   * small VM on host a, a Stopped medium VM on host b, a 20 GiB volume on the pool, two public
   * addresses and one VLAN id, with the agents reporting in.
   */
  async function buildZone() {
    const suffix = uniqueName('z').slice(2);
    const names = await applyExample(client, suffix);
    const n = (name: string) => names.get(name)!;
    const hosts = api(client, 'Host');
    const hostNames = [`host-a-${suffix}`, `host-b-${suffix}`];
    const agents = hostNames.map((h, index) => ({ name: h, ip: `192.168.100.${11 + index}`, agent: playAgent(client, h, `node-${h}`) }));
    for (const a of agents) await hosts.create({ metadata: { name: a.name }, spec: { clusterRef: { name: n('cluster1') }, nodeName: `node-${a.name}` } });
    for (const a of agents) {
      await waitFor(hosts, a.name, 'to wait for its agent', (h) => h.status?.state === 'Connecting' && condition(h, 'Ready')?.reason === 'WaitingForAgent');
      await a.agent.start();
      await a.agent.reportFacts({ capacity: { cpuSockets: 1, cpuNumber: 8, cpuSpeed: 2000, memoryBytes: 16 * GiB }, bridges: ['cloudbr0', 'cloudbr1', 'eth0'], ipAddress: a.ip });
      await a.agent.reportMount(n('cluster1-primary'), { mounted: true, capacityBytes: TiB, usedBytes: 100 * GiB });
    }
    await api(client, 'SecondaryStorage').applyStatus(
      { apiVersion: kindNamed('SecondaryStorage').apiVersion, kind: 'SecondaryStorage', metadata: { name: n('zone1-images') }, status: { capacityBytes: 500 * GiB, usedBytes: 50 * GiB } },
      { fieldManager: 'kumulus-agent.images', force: true },
    );
    const vms = api(client, 'VirtualMachine');
    const placement = (host: string) => ({ zone: n('zone1'), pod: n('pod1'), cluster: n('cluster1'), host });
    const vm = async (name: string, offering: string, host: string, state: string) => {
      await vms.create({ metadata: { name, namespace }, spec: { zoneRef: { name: n('zone1') }, serviceOfferingRef: { name: n(offering) }, templateRef: { name: 'tiny' } } });
      await vms.patchStatus({ namespace, name }, { status: { state, placement: placement(host) } });
    };
    await vm(`small-${suffix}`, 'small', hostNames[0]!, 'Running');
    await vm(`medium-${suffix}`, 'medium', hostNames[1]!, 'Stopped');
    const volumes = api(client, 'Volume');
    await volumes.create({ metadata: { name: `data-${suffix}`, namespace }, spec: { type: 'DATADISK', zoneRef: { name: n('zone1') }, diskOfferingRef: { name: n('small-disk') }, size: '20Gi' } });
    await volumes.patchStatus({ namespace, name: `data-${suffix}` }, { status: { state: 'Ready', pool: n('cluster1-primary'), sizeBytes: 20 * GiB } });
    const addresses = api(client, 'IPAddress');
    for (const last of [10, 11]) {
      await addresses.create({ metadata: { name: `${n('zone1-public')}-203-0-113-${last}` }, spec: { address: `203.0.113.${last}`, purpose: 'Public', ipRangeRef: { name: n('zone1-public') } } });
    }
    await api(client, 'VlanAllocation').create({ metadata: { name: `${n('physnet1')}-vlan-100` }, spec: { physicalNetworkRef: { name: n('physnet1') }, isolation: 'VLAN', id: 100 } });
    return { suffix, n, agents, hostNames, vmName: (what: string) => `${what}-${suffix}` };
  }

  it('brings examples/zone-advanced to Ready with exact listCapacity rollups', async () => {
    if (!previousGlobal) {
      const prepared = await waitFor(api(client, 'Configuration'), 'global', 'to list every default', (o) => o.status?.state === 'Ready');
      expect((prepared.status?.settings as { name: string; value: string }[]).find((s) => s.name === 'vm.allocation.algorithm')?.value).to.equal('random');
    }
    await setGlobalSettings(client, { 'vm.allocation.algorithm': 'firstfit', 'cpu.overprovisioning.factor': '2', 'expunge.delay': '60' });
    const zone = await buildZone();
    const { n } = zone;
    try {
      const zones = api(client, 'Zone');
      const z = await waitFor(zones, n('zone1'), 'to be Ready with its rollups', (o) =>
        condition(o, 'Ready')?.status === 'True' && capacity(o, 'CPU')?.allocated === 5000 && capacity(o, 'STORAGE_ALLOCATED')?.allocated === 20 * GiB && capacity(o, 'VLAN')?.used === 1 && capacity(o, 'VIRTUAL_NETWORK_PUBLIC_IP')?.used === 2 && capacity(o, 'PRIVATE_IP')?.used === 2,
      );
      expect(z.status?.state).to.equal('Enabled');
      expect(condition(z, 'Allocatable')?.status).to.equal('True');
      expect(condition(z, 'Synced')?.status).to.equal('True');
      expect(z.status?.observedGeneration).to.equal(z.metadata.generation);
      expect([z.status?.podCount, z.status?.clusterCount, z.status?.hostCount]).to.deep.equal([1, 1, 2]);
      // Two hosts × 8 cores × 2000 MHz × cpuOvercommitRatio 2; the small VM (1 × 1000 MHz, 1 GiB) runs, the medium one (2 × 2000 MHz, 4 GiB) is stopped.
      expect(capacity(z, 'CPU')).to.deep.equal({ type: 'CPU', total: 64000, allocated: 5000, used: 1000, percentUsed: 1.56 });
      expect(capacity(z, 'CPU_CORE')).to.deep.equal({ type: 'CPU_CORE', total: 16, allocated: 3, used: 1, percentUsed: 6.25 });
      expect(capacity(z, 'MEMORY')).to.deep.equal({ type: 'MEMORY', total: 32 * GiB, allocated: 5 * GiB, used: GiB, percentUsed: 3.13 });
      expect(capacity(z, 'STORAGE')).to.deep.equal({ type: 'STORAGE', total: TiB, allocated: 100 * GiB, used: 100 * GiB, percentUsed: 9.77 });
      // The pool's overprovisionFactor defaults to 2.
      expect(capacity(z, 'STORAGE_ALLOCATED')).to.deep.equal({ type: 'STORAGE_ALLOCATED', total: 2 * TiB, allocated: 20 * GiB, used: 20 * GiB, percentUsed: 0.98 });
      expect(capacity(z, 'SECONDARY_STORAGE')).to.deep.equal({ type: 'SECONDARY_STORAGE', total: 500 * GiB, allocated: 50 * GiB, used: 50 * GiB, percentUsed: 10 });
      expect(capacity(z, 'VIRTUAL_NETWORK_PUBLIC_IP')).to.deep.equal({ type: 'VIRTUAL_NETWORK_PUBLIC_IP', total: 191, allocated: 2, used: 2, percentUsed: 1.05 });
      expect(capacity(z, 'PRIVATE_IP')).to.deep.equal({ type: 'PRIVATE_IP', total: 91, allocated: 2, used: 2, percentUsed: 2.2 });
      expect(capacity(z, 'VLAN')).to.deep.equal({ type: 'VLAN', total: 1200, allocated: 1, used: 1, percentUsed: 0.08 });
      expect(capacity(z, 'DIRECT_ATTACHED_PUBLIC_IP')).to.deep.equal({ type: 'DIRECT_ATTACHED_PUBLIC_IP', total: 0, allocated: 0, used: 0, percentUsed: 0 });

      const cluster = await waitFor(api(client, 'Cluster'), n('cluster1'), 'to roll up', (o) => capacity(o, 'CPU')?.allocated === 5000);
      expect(cluster.status?.hostCount).to.equal(2);
      expect(cluster.metadata.labels).to.include({ 'kumulus.io/zone': n('zone1'), 'kumulus.io/pod': n('pod1') });
      expect(capacity(cluster, 'MEMORY')?.total).to.equal(32 * GiB);
      const pod = await waitFor(api(client, 'Pod'), n('pod1'), 'to roll up', (o) => capacity(o, 'PRIVATE_IP')?.used === 2);
      expect(pod.metadata.labels).to.include({ 'kumulus.io/zone': n('zone1') });
      expect(capacity(pod, 'CPU')?.total).to.equal(64000);

      // Allocatable follows the cluster's, which settles once its rollups have: wait for both.
      const host = await waitFor(api(client, 'Host'), zone.hostNames[1]!, 'to count its VM and be allocatable', (o) => (o.status?.allocated as { vmCount?: number } | undefined)?.vmCount === 1 && condition(o, 'Allocatable')?.status === 'True');
      expect(host.metadata.labels).to.include({ 'kumulus.io/zone': n('zone1'), 'kumulus.io/pod': n('pod1'), 'kumulus.io/cluster': n('cluster1'), 'kumulus.io/host': zone.hostNames[1] });
      expect(host.status?.allocated).to.deep.equal({ cpuMhz: 4000, memoryBytes: 4 * GiB, vmCount: 1 });
      expect([host.status?.state, host.status?.resourceState]).to.deep.equal(['Up', 'Enabled']);
      expect(condition(host, 'Allocatable')?.status).to.equal('True');

      const pool = await waitFor(api(client, 'PrimaryStorage'), n('cluster1-primary'), 'to be Up', (o) => o.status?.state === 'Up' && o.status.allocatedBytes === 20 * GiB);
      expect([pool.status?.capacityBytes, pool.status?.usedBytes]).to.deep.equal([TiB, 100 * GiB]);
      expect(condition(pool, 'Mounted')?.status).to.equal('True');

      const range = await waitFor(api(client, 'IPRange'), n('zone1-public'), 'to count addresses', (o) => o.status?.allocated === 2);
      expect([range.status?.state, range.status?.total, range.status?.free]).to.deep.equal(['Ready', 191, 189]);

      const physnet = await waitFor(api(client, 'PhysicalNetwork'), n('physnet1'), 'to list its hosts', (o) => (o.status?.hosts as unknown[] | undefined)?.length === 2 && o.status?.vlansAllocated === 1);
      expect(condition(physnet, 'Ready')?.status).to.equal('True');
      expect(physnet.status?.serviceProviders).to.deep.equal([{ name: 'VirtualRouter', state: 'Enabled' }, { name: 'ConfigDrive', state: 'Enabled' }]);

      const offering = await waitFor(api(client, 'ServiceOffering'), n('small'), 'to be Active', (o) => o.status?.state === 'Active');
      expect(offering.metadata.finalizers).to.include('infra.kumulus.io/in-use');

      const config = await waitFor(api(client, 'Configuration'), 'global', 'to list settings', (o) => (o.status?.settings as { name: string; value: string }[] | undefined)?.some((s) => s.name === 'vm.allocation.algorithm' && s.value === 'firstfit') ?? false);
      const settings = config.status?.settings as { name: string; value: string; defaultValue: string }[];
      expect(settings.find((s) => s.name === 'ping.interval')).to.include({ value: '60', defaultValue: '60' });
      expect(settings.find((s) => s.name === 'cpu.overprovisioning.factor')).to.include({ value: '2', defaultValue: '1.0' });
      await waitForEvent(client, 'Zone', n('zone1'), 'ZONE.CREATE');

      // A host's bridge going missing takes it out of placement and the physical network says which.
      await zone.agents[0]!.agent.reportFacts({ capacity: { cpuSockets: 1, cpuNumber: 8, cpuSpeed: 2000, memoryBytes: 16 * GiB }, bridges: ['cloudbr0'], ipAddress: zone.agents[0]!.ip });
      const lacking = await waitFor(api(client, 'PhysicalNetwork'), n('physnet1'), 'to report the missing bridge', (o) => condition(o, 'Ready')?.reason === 'BridgesMissing');
      expect(condition(lacking, 'Ready')?.message).to.contain(`Host ${zone.hostNames[0]} lacks cloudbr1`);
      const hostA = await waitFor(api(client, 'Host'), zone.hostNames[0]!, 'to stop being allocatable', (o) => condition(o, 'Allocatable')?.reason === 'MissingBridges');
      expect(condition(hostA, 'Allocatable')?.message).to.contain('cloudbr1');
    } finally {
      for (const a of zone.agents) a.agent.stop();
    }
  });

  it('holds deletions in the wrong order with a condition naming what remains, and completes them once children are gone', async () => {
    const zone = await buildZone();
    const { n } = zone;
    const zones = api(client, 'Zone');
    const hosts = api(client, 'Host');
    try {
      await waitFor(zones, n('zone1'), 'to be Ready', (o) => condition(o, 'Ready')?.status === 'True');
      await zones.delete({ name: n('zone1') });
      const held = await waitFor(zones, n('zone1'), 'to say why its deletion waits', (o) => condition(o, 'DeletionBlocked')?.status === 'True');
      const message = condition(held, 'DeletionBlocked')?.message ?? '';
      for (const child of [`Pod ${n('pod1')}`, `PrimaryStorage ${n('cluster1-primary')}`, `SecondaryStorage ${n('zone1-images')}`, `PhysicalNetwork ${n('physnet1')}`, `IPRange ${n('zone1-public')}`]) {
        expect(message).to.contain(child);
      }
      expect(condition(held, 'Ready')).to.include({ status: 'False', reason: 'Deleting' });
      await waitForEvent(client, 'Zone', n('zone1'), 'DeletionBlocked');

      // A host with a VM placed on it stays; so does an offering a VM uses, as Inactive.
      await hosts.delete({ name: zone.hostNames[0]! });
      const heldHost = await waitFor(hosts, zone.hostNames[0]!, 'to be held by its VM', (o) => condition(o, 'DeletionBlocked')?.status === 'True');
      expect(condition(heldHost, 'DeletionBlocked')?.message).to.contain(`VirtualMachine ${namespace}/${zone.vmName('small')}`);
      const offerings = api(client, 'ServiceOffering');
      await offerings.delete({ name: n('small') });
      const inactive = await waitFor(offerings, n('small'), 'to turn Inactive', (o) => o.status?.state === 'Inactive');
      expect(condition(inactive, 'DeletionBlocked')?.message).to.contain(zone.vmName('small'));
      const pools = api(client, 'PrimaryStorage');
      await pools.delete({ name: n('cluster1-primary') });
      await waitFor(pools, n('cluster1-primary'), 'to be held by its volume', (o) => condition(o, 'DeletionBlocked')?.message.includes(`Volume ${namespace}/data-${zone.suffix}`) ?? false);

      // Children go; each parent follows.
      await api(client, 'VirtualMachine').delete({ namespace, name: zone.vmName('small') });
      await waitGone(hosts, zone.hostNames[0]!);
      await waitGone(offerings, n('small'));
      await api(client, 'Volume').delete({ namespace, name: `data-${zone.suffix}` });
      await waitGone(pools, n('cluster1-primary'));
      await api(client, 'VirtualMachine').delete({ namespace, name: zone.vmName('medium') });
      await hosts.delete({ name: zone.hostNames[1]! });
      await waitGone(hosts, zone.hostNames[1]!);
      const ranges = api(client, 'IPRange');
      await ranges.delete({ name: n('zone1-public') });
      await waitFor(ranges, n('zone1-public'), 'to be held by its addresses', (o) => condition(o, 'DeletionBlocked')?.status === 'True');
      for (const last of [10, 11]) await api(client, 'IPAddress').delete({ name: `${n('zone1-public')}-203-0-113-${last}` });
      await waitGone(ranges, n('zone1-public'));
      await api(client, 'Cluster').delete({ name: n('cluster1') });
      await waitGone(api(client, 'Cluster'), n('cluster1'));
      await api(client, 'Pod').delete({ name: n('pod1') });
      await api(client, 'SecondaryStorage').delete({ name: n('zone1-images') });
      await api(client, 'PhysicalNetwork').delete({ name: n('physnet1') });
      await api(client, 'VlanAllocation').delete({ name: `${n('physnet1')}-vlan-100` });
      await waitGone(zones, n('zone1'));
      await waitForEvent(client, 'Zone', n('zone1'), 'ZONE.DELETE');
    } finally {
      for (const a of zone.agents) a.agent.stop();
    }
  });

  it('moves a host Up → Disconnected → Down and back as its heartbeat stops and resumes, and Alert on trouble', async () => {
    await setGlobalSettings(client, { 'ping.interval': '2', 'ping.timeout': '2' });
    const zone = await buildZone();
    const hosts = api(client, 'Host');
    const name = zone.hostNames[0]!;
    const agent = zone.agents[0]!.agent;
    try {
      await waitFor(hosts, name, 'to be Up', (o) => o.status?.state === 'Up');
      agent.stop();
      const late = await waitFor(hosts, name, 'to be Disconnected', (o) => o.status?.state === 'Disconnected', 10_000);
      expect(condition(late, 'Ready')).to.include({ status: 'False', reason: 'HeartbeatLate' });
      expect(late.status?.disconnectedAt).to.be.a('string');
      const down = await waitFor(hosts, name, 'to be Down', (o) => o.status?.state === 'Down', 10_000);
      expect(condition(down, 'Ready')?.message).to.contain('ping.interval 2 s × ping.timeout 2');
      expect(condition(down, 'Allocatable')?.reason).to.equal('NotUp');
      // The only other host keeps the cluster Ready; its message names the one that is not.
      const cluster = await waitFor(api(client, 'Cluster'), zone.n('cluster1'), 'to name the Down host', (o) => condition(o, 'Ready')?.message.includes(`Host ${name}`) ?? false);
      expect(condition(cluster, 'Ready')?.status).to.equal('True');
      // Nothing changes while the host stays Down, so nothing is rewritten (no status loop between
      // host and parents): once settled, a round of host and cluster reconciles (an unrelated
      // setting changes) writes neither. A loop would rewrite them in every round.
      const versions = async () => [(await api(client, 'Cluster').get({ name: zone.n('cluster1') })).metadata.resourceVersion, (await hosts.get({ name })).metadata.resourceVersion];
      let round = 0;
      await until('a round of reconciles that rewrites neither the Down host nor its cluster', 60_000, async () => {
        const before = await versions();
        round++;
        await reconcileRound(manager, client, ['Host', 'Cluster'], () => setGlobalSettings(client, { 'ping.interval': '2', 'ping.timeout': '2', 'zone.vlan.capacity.notificationthreshold': String(0.5 + round / 100) }));
        const after = await versions();
        return after.every((v, i) => v === before[i]) || undefined;
      }, 0);
      expect(round, 'the host and cluster kept being rewritten').to.be.at.most(3);
      await agent.start();
      await waitFor(hosts, name, 'to be Up again', (o) => o.status?.state === 'Up', 10_000);
      for (const reason of ['HOST.DISCONNECTED', 'HOST.DOWN', 'HOST.RECONNECT']) await waitForEvent(client, 'Host', name, reason);

      await agent.reportFacts({ conditions: [{ type: AGENT_HEALTHY, status: 'False', reason: 'LibvirtUnreachable', message: 'cannot connect to /var/run/libvirt/libvirt-sock', lastTransitionTime: metav1Time() }] });
      const alert = await waitFor(hosts, name, 'to be Alert', (o) => o.status?.state === 'Alert');
      expect(condition(alert, 'Ready')?.message).to.contain('LibvirtUnreachable');
      expect(condition(alert, 'Ready')?.status).to.equal('False');
      // The agent's own condition and facts survive the operator's status writes (separate field managers).
      expect(condition(alert, AGENT_HEALTHY)?.status).to.equal('False');
      await agent.reportFacts({ conditions: [{ type: AGENT_HEALTHY, status: 'True', reason: 'Healthy', message: '', lastTransitionTime: metav1Time() }] });
      await waitFor(hosts, name, 'to be Up after the trouble clears', (o) => o.status?.state === 'Up');

      // Every host gone quiet: the cluster, pod and zone say so, naming the child.
      for (const a of zone.agents) a.agent.stop();
      const chain = new RegExp(`no Pod is Ready: Pod ${zone.n('pod1')}: no Cluster is Ready: Cluster ${zone.n('cluster1')}: no Host is Ready: Host host-`);
      const zoneDown = await waitFor(api(client, 'Zone'), zone.n('zone1'), 'to name the chain of children that are not Ready', (o) => condition(o, 'Ready')?.status === 'False' && chain.test(condition(o, 'Ready')?.message ?? ''), 15_000);
      expect(condition(zoneDown, 'Ready')?.reason).to.equal('DependenciesNotReady');
      expect(condition(zoneDown, 'Allocatable')?.status).to.equal('False');
    } finally {
      for (const a of zone.agents) a.agent.stop();
      await setGlobalSettings(client, {});
    }
  });

  it('drains a host through PrepareForMaintenance to Maintenance and back, refusing placements meanwhile', async () => {
    const zone = await buildZone();
    const hosts = api(client, 'Host');
    const name = zone.hostNames[0]!;
    try {
      await waitFor(hosts, name, 'to be Up and Enabled', (o) => o.status?.state === 'Up' && o.status.resourceState === 'Enabled' && condition(o, 'Allocatable')?.status === 'True');
      await hosts.patch({ name }, { spec: { maintenance: true } });
      const preparing = await waitFor(hosts, name, 'to prepare for maintenance', (o) => o.status?.resourceState === 'PrepareForMaintenance');
      expect(condition(preparing, 'Allocatable')).to.include({ status: 'False', reason: 'Maintenance' });
      expect(condition(preparing, 'Allocatable')?.message).to.contain(zone.vmName('small'));
      // Another look at the host (a spec change it must observe) while the VM is still placed on it.
      const tagged = await hosts.patch({ name }, { spec: { hostTags: ['maintenance-probe'] } });
      const seen = await waitFor(hosts, name, 'to observe the new generation', (o) => o.status?.observedGeneration === tagged.metadata.generation);
      expect(seen.status?.resourceState).to.equal('PrepareForMaintenance', 'a host with a VM placed on it must not reach Maintenance');
      // The VM leaves (evacuation is a later issue: here it is destroyed).
      await api(client, 'VirtualMachine').patchStatus({ namespace, name: zone.vmName('small') }, { status: { state: 'Destroyed' } });
      await waitFor(hosts, name, 'to reach Maintenance', (o) => o.status?.resourceState === 'Maintenance');
      await hosts.patch({ name }, { spec: { maintenance: false } });
      await waitFor(hosts, name, 'to be Enabled again', (o) => o.status?.resourceState === 'Enabled' && condition(o, 'Allocatable')?.status === 'True');
      for (const reason of ['HOST.MAINTENANCE.PREPARE', 'HOST.MAINTENANCE', 'HOST.MAINTENANCE.CANCEL']) await waitForEvent(client, 'Host', name, reason);

      // Primary storage maintenance follows the same path; cancel brings it back Up.
      const pools = api(client, 'PrimaryStorage');
      const pool = zone.n('cluster1-primary');
      await pools.patch({ name: pool }, { spec: { maintenance: true } });
      await waitFor(pools, pool, 'to reach Maintenance', (o) => o.status?.state === 'Maintenance' && condition(o, 'Allocatable')?.status === 'False');
      await pools.patch({ name: pool }, { spec: { maintenance: false } });
      await waitFor(pools, pool, 'to be Up again', (o) => o.status?.state === 'Up');
      for (const reason of ['MAINT.PREPARE.PS', 'PRIMARY.STORAGE.MAINTENANCE', 'MAINT.CANCEL.PS']) await waitForEvent(client, 'PrimaryStorage', pool, reason);
    } finally {
      for (const a of zone.agents) a.agent.stop();
    }
  });

  it('follows the agents\' mount reports: Down when no connected host has the pool, Up with Mounted False when only some do', async () => {
    const zone = await buildZone();
    const pools = api(client, 'PrimaryStorage');
    const pool = zone.n('cluster1-primary');
    const [a, b] = zone.agents;
    try {
      await waitFor(pools, pool, 'to be Up', (o) => o.status?.state === 'Up' && condition(o, 'Mounted')?.status === 'True');
      await a!.agent.reportMount(pool, { mounted: false, message: 'mount: /var/lib/kumulus/primary: permission denied' });
      await b!.agent.reportMount(pool, { mounted: false, message: 'stale file handle' });
      const down = await waitFor(pools, pool, 'to be Down', (o) => o.status?.state === 'Down');
      expect(condition(down, 'Ready')?.message).to.contain(`${a!.name}: mount: /var/lib/kumulus/primary: permission denied`).and.to.contain(`${b!.name}: stale file handle`);
      expect(condition(down, 'Allocatable')?.status).to.equal('False');
      const zoneObj = await waitFor(api(client, 'Zone'), zone.n('zone1'), 'to name the pool', (o) => condition(o, 'Ready')?.message.includes(`PrimaryStorage ${pool}: Down`) ?? false);
      expect(condition(zoneObj, 'Ready')?.status).to.equal('False');
      await waitForEvent(client, 'PrimaryStorage', pool, 'PRIMARY.STORAGE.DOWN');

      await b!.agent.reportMount(pool, { mounted: true, capacityBytes: TiB, usedBytes: 200 * GiB });
      const partial = await waitFor(pools, pool, 'to be Up on one host', (o) => o.status?.state === 'Up' && o.status.usedBytes === 200 * GiB);
      expect(condition(partial, 'Mounted')).to.include({ status: 'False', reason: 'NotMountedEverywhere' });
      expect(condition(partial, 'Mounted')?.message).to.contain(a!.name);
      expect(condition(partial, 'Ready')?.status).to.equal('True');
      await waitFor(api(client, 'Zone'), zone.n('zone1'), 'to be Ready again', (o) => condition(o, 'Ready')?.status === 'True');
      await waitForEvent(client, 'PrimaryStorage', pool, 'PRIMARY.STORAGE.UP');
    } finally {
      for (const agent of zone.agents) agent.agent.stop();
    }
  });

  it('stops allocation in a cluster at the configured capacity threshold, and in a disabled zone', async () => {
    const zone = await buildZone();
    const clusters = api(client, 'Cluster');
    const hosts = api(client, 'Host');
    const cluster = zone.n('cluster1');
    try {
      await waitFor(clusters, cluster, 'to be allocatable', (o) => condition(o, 'Allocatable')?.status === 'True' && capacity(o, 'CPU')?.allocated === 5000);
      // CPU allocated is 5000 of 64000 MHz (7.81 %): a 7 % threshold is reached, 8 % is not.
      await reconcileRound(manager, client, ['Cluster'], () => setGlobalSettings(client, { 'cluster.cpu.allocated.capacity.disablethreshold': '0.08' }));
      expect(condition(await clusters.get({ name: cluster }), 'Allocatable')?.status).to.equal('True');
      await setGlobalSettings(client, { 'cluster.cpu.allocated.capacity.disablethreshold': '0.07' });
      const full = await waitFor(clusters, cluster, 'to stop allocation', (o) => condition(o, 'Allocatable')?.reason === 'CapacityThresholdReached');
      expect(condition(full, 'Allocatable')?.message).to.contain('CPU allocated 7.81% reached cluster.cpu.allocated.capacity.disablethreshold 7%');
      await waitFor(hosts, zone.hostNames[0]!, 'to follow its cluster', (o) => condition(o, 'Allocatable')?.reason === 'ClusterNotAllocatable');
      // Notification thresholds raise CapacityAlert without stopping allocation.
      await setGlobalSettings(client, { 'cluster.memory.allocated.capacity.notificationthreshold': '0.1' });
      const alerting = await waitFor(clusters, cluster, 'to alert on memory', (o) => condition(o, 'CapacityAlert')?.status === 'True' && condition(o, 'Allocatable')?.status === 'True');
      expect(condition(alerting, 'CapacityAlert')?.message).to.contain('MEMORY allocated 15.63%');
      await waitForEvent(client, 'Cluster', cluster, 'ALERT.CAPACITY');
      // An invalid value keeps the default and says which setting is wrong.
      await setGlobalSettings(client, { 'cluster.cpu.allocated.capacity.disablethreshold': 'lots' });
      const config = await waitFor(api(client, 'Configuration'), 'global', 'to reject the value', (o) => o.status?.state === 'Error');
      expect(condition(config, 'Ready')?.message).to.contain('spec.settings["cluster.cpu.allocated.capacity.disablethreshold"] is "lots"');
      await waitFor(clusters, cluster, 'to be allocatable under the default', (o) => condition(o, 'Allocatable')?.status === 'True');

      await api(client, 'Zone').patch({ name: zone.n('zone1') }, { spec: { allocationState: 'Disabled' } });
      const disabled = await waitFor(api(client, 'Zone'), zone.n('zone1'), 'to be Disabled', (o) => o.status?.state === 'Disabled' && condition(o, 'Allocatable')?.reason === 'Disabled');
      expect(condition(disabled, 'Ready')?.status).to.equal('True');
      const pod = await waitFor(api(client, 'Pod'), zone.n('pod1'), 'to follow its zone', (o) => condition(o, 'Allocatable')?.reason === 'ZoneNotAllocatable');
      expect(condition(pod, 'Allocatable')?.message).to.contain(`Zone ${zone.n('zone1')} is not allocatable`);
      await waitForEvent(client, 'Zone', zone.n('zone1'), 'ZONE.EDIT');
    } finally {
      for (const a of zone.agents) a.agent.stop();
      await setGlobalSettings(client, {});
    }
  });

  it('applies the global overcommit factor to a cluster that sets no ratio of its own, and follows its changes', async () => {
    const zone = await buildZone();
    try {
      const clusters = api(client, 'Cluster');
      const cpuTotal = (o: Obj) => capacity(o, 'CPU')?.total;
      // Two hosts × 8 cores × 2000 MHz = 32,000 MHz, times the ratio in force.
      await waitFor(clusters, zone.n('cluster1'), 'at its own ratio 2', (o) => cpuTotal(o) === 64_000);
      await clusters.patch({ name: zone.n('cluster1') }, { spec: { cpuOvercommitRatio: null } }, 'merge');
      await setGlobalSettings(client, { 'cpu.overprovisioning.factor': '3' });
      await waitFor(clusters, zone.n('cluster1'), 'at the global factor 3', (o) => cpuTotal(o) === 96_000);
      await setGlobalSettings(client, {});
      await waitFor(clusters, zone.n('cluster1'), 'at the default factor 1', (o) => cpuTotal(o) === 32_000);
      expect((await clusters.get({ name: zone.n('cluster1') })).spec?.['cpuOvercommitRatio'], 'no default shadows the global factor').to.equal(undefined);
    } finally {
      for (const a of zone.agents) a.agent.stop();
      await setGlobalSettings(client, {});
    }
  });

  it('lists in Network.status.hosts the hosts with a VM on it, and every host of the zone for an implemented persistent network', async () => {
    const zone = await buildZone();
    try {
      const [hostA, hostB] = zone.hostNames as [string, string];
      const networks = api(client, 'Network');
      const vms = api(client, 'VirtualMachine');
      const hostsOf = async (name: string) => ((await networks.get({ namespace, name })).status?.hosts as string[] | undefined) ?? [];
      const hostsBecome = (what: string, name: string, expected: string[]) =>
        until(`${what}: Network ${name} status.hosts ${JSON.stringify(expected)}`, 30_000, async () => (JSON.stringify(await hostsOf(name)) === JSON.stringify(expected) ? true : undefined));
      const persistentOffering = `persistent-${zone.suffix}`;
      await api(client, 'NetworkOffering').create({ metadata: { name: persistentOffering }, spec: { guestIpType: 'Isolated', persistent: true } });
      const lazy = `lazy-${zone.suffix}`;
      const always = `always-${zone.suffix}`;
      await networks.create({ metadata: { name: lazy, namespace }, spec: { networkOfferingRef: { name: zone.n('isolated-nat') }, zoneRef: { name: zone.n('zone1') }, cidr: '10.44.0.0/24' } });
      await networks.create({ metadata: { name: always, namespace }, spec: { networkOfferingRef: { name: persistentOffering }, zoneRef: { name: zone.n('zone1') }, cidr: '10.45.0.0/24' } });

      const vm = `nic-${zone.suffix}`;
      await vms.create({ metadata: { name: vm, namespace }, spec: { zoneRef: { name: zone.n('zone1') }, serviceOfferingRef: { name: zone.n('small') }, templateRef: { name: 'tiny' }, networks: [{ name: lazy }] } });
      await vms.patchStatus({ namespace, name: vm }, { status: { state: 'Starting', placement: { zone: zone.n('zone1'), pod: zone.n('pod1'), cluster: zone.n('cluster1'), host: hostB } } });
      await hostsBecome('the VM placed on host b', lazy, [hostB]);
      // A persistent offering has the Network controller implement the network at once, VM or not.
      await hostsBecome('the implemented persistent network', always, [hostA, hostB].sort());
      expect((await networks.get({ namespace, name: always })).status?.state).to.equal('Implemented');
      expect(await hostsOf(lazy), 'the other network keeps its own list').to.deep.equal([hostB]);

      await vms.delete({ namespace, name: vm });
      await hostsBecome('the VM gone', lazy, []);
      await networks.delete({ namespace, name: lazy });
      await networks.delete({ namespace, name: always });
      await api(client, 'NetworkOffering').delete({ name: persistentOffering });
    } finally {
      for (const a of zone.agents) a.agent.stop();
    }
  });
});
