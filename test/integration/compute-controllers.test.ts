import { expect } from 'chai';
import { registerComputeControllers } from '../../controllers/compute.ts';
import type { Placement } from '../../controllers/compute-context.ts';
import { registerInfrastructureControllers } from '../../controllers/infrastructure.ts';
import { kindByName, type KindInfo } from '../../crds/index.ts';
import { AGENT_FINALIZER, agentFieldManager, HOST_LEASE_NAMESPACE, hostLeaseName, PROVISIONING_FAILED } from '../../lib/agent-contract.ts';
import { VM_FINALIZER } from '../../lib/compute.ts';
import { isNotFound, retryOnConflict, type KubeClient, type KubeObject, type ResourceClient, resourceTypeOf } from '../../lib/kube-client.ts';
import { LEASES } from '../../lib/leader-election.ts';
import { log } from '../../lib/log.ts';
import { createManager, type Manager } from '../../lib/manager.ts';
import { PRIVATE_KEY_DATA, privateKeySecretName, sshFingerprint } from '../../lib/ssh-keys.ts';
import { uniqueName } from '../support/cluster.ts';
import { preparedCluster } from '../support/prepared-cluster.ts';
import { until } from '../support/until.ts';

/**
 * The compute controllers and the deployment planner against the real control plane, with
 * the test playing the agents of two hosts: their heartbeat, capacity and mounts, and what
 * they report about VMs and volumes (server-side apply of their fields under their field
 * managers, their finalizer), so each case decides what the hosts say. The agents themselves
 * run in test/integration/compute-lifecycle.test.ts.
 */

interface Cond {
  type: string;
  status: string;
  reason: string;
  message: string;
  observedGeneration?: number;
  lastTransitionTime?: string;
}
type Obj = KubeObject & { spec?: Record<string, unknown>; status?: Record<string, unknown> & { state?: string; conditions?: Cond[] } };

const GiB = 2 ** 30;

function kind(name: string): KindInfo {
  const k = kindByName(name);
  if (!k) throw new Error(`unknown kind ${name}`);
  return k;
}

const condition = (o: Obj | undefined, type: string) => o?.status?.conditions?.find((c) => c.type === type);

function microTime(date = new Date()): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

describe('compute controllers and the planner (real control plane, the test plays the agents)', function () {
  this.timeout(120_000);
  const s = uniqueName('c').slice(2);
  const ns = `compute-${s}`;
  const names = { zone: `zone-${s}`, pod: `pod-${s}`, cluster: `cluster-${s}`, pool: `pool-${s}`, small: `small-${s}`, large: `large-${s}`, huge: `huge-${s}`, disk: `disk-${s}`, hosts: [`ha-${s}`, `hb-${s}`] };
  let client: KubeClient;
  let manager: Manager;
  let previousGlobal: Obj | undefined;
  const res = (k: string): ResourceClient<Obj> => client.resource<Obj>(resourceTypeOf(kind(k)));
  const released: string[] = [];
  const where = (host: string): Placement => ({ zone: names.zone, pod: names.pod, cluster: names.cluster, host });
  const other = (host: string) => names.hosts.find((h) => h !== host)!;
  let heartbeat: NodeJS.Timeout | undefined;
  /** What the hosts' agents report: a heartbeat, their capacity and the pool mounted. */
  const reportHost = async (host: string, cores: number) => {
    await res('Host').applyStatus(
      { apiVersion: kind('Host').apiVersion, kind: 'Host', metadata: { name: host }, status: { capacity: { cpuSockets: 1, cpuNumber: cores, cpuSpeed: 2000, memoryBytes: 8 * GiB }, bridges: ['cloudbr0'], ipAddress: '192.168.100.20' } },
      { fieldManager: agentFieldManager(host), force: true },
    );
    await res('PrimaryStorage').applyStatus(
      { apiVersion: kind('PrimaryStorage').apiVersion, kind: 'PrimaryStorage', metadata: { name: names.pool }, status: { mounts: [{ host, mounted: true, capacityBytes: 1024 * GiB, usedBytes: 10 * GiB }] } },
      { fieldManager: agentFieldManager(host), force: true },
    );
  };
  const renew = () =>
    Promise.all(names.hosts.map((host) => client.resource(LEASES).patch({ name: hostLeaseName(host), namespace: HOST_LEASE_NAMESPACE }, { spec: { renewTime: microTime() } }).catch(() => undefined)));
  const noNetworks = () => ({
    ensureNics: (vm: { spec: { networks?: unknown[] } }) =>
      Promise.resolve(vm.spec.networks?.length ? { result: 'waiting' as const, reason: 'NetworkPending', message: 'this test allocates no NICs' } : { result: 'ready' as const, nics: [] }),
    releaseNics: (vm: { metadata: { name?: string } }) => {
      released.push(vm.metadata.name ?? '');
      return Promise.resolve(0);
    },
  });

  const get = (k: string, name: string, namespace?: string) => res(k).get({ name, namespace }).catch((err: unknown) => (isNotFound(err) ? undefined : Promise.reject(err as Error)));
  const waitFor = async (k: string, name: string, what: string, check: (o: Obj) => boolean, timeoutMs = 30_000): Promise<Obj> => {
    let last: Obj | undefined;
    try {
      return await until(`${k} ${name} ${what}`, timeoutMs, async () => {
        last = await get(k, name, kind(k).scope === 'Namespaced' ? ns : undefined);
        return last && check(last) ? last : undefined;
      });
    } catch (err) {
      throw new Error(`${(err as Error).message}; last seen: ${JSON.stringify(last ? { metadata: { labels: last.metadata.labels, finalizers: last.metadata.finalizers }, status: last.status } : 'gone')}`, { cause: err });
    }
  };
  const waitGone = (k: string, name: string, timeoutMs = 30_000) => until(`${k} ${name} to be gone`, timeoutMs, async () => ((await get(k, name, ns)) ? undefined : true));
  const events = async (name: string): Promise<string[]> => {
    const list = await client.resource<KubeObject & { reason: string; regarding: { name: string } }>({ group: 'events.k8s.io', version: 'v1', plural: 'events', kind: 'Event', namespaced: true }).list({ namespace: ns });
    return list.items.filter((e) => e.regarding.name === name).map((e) => e.reason);
  };
  const waitForEvent = (name: string, reason: string) => until(`event ${reason} for ${name}`, 15_000, async () => ((await events(name)).includes(reason) ? true : undefined));

  /** What the agent of `host` reports about a VM: its finalizer, power state and Running condition at the VM's generation. */
  const agentReports = async (vmName: string, host: string, power: 'PowerOn' | 'PowerOff', reason: string, message = '', extra: Record<string, unknown> = {}) => {
    // As the agent does, a finalizer change made against a version the operator has since written is read again and retried.
    const vm = await retryOnConflict(async () => {
      const seen = (await get('VirtualMachine', vmName, ns))!;
      if (seen.metadata.finalizers?.includes(AGENT_FINALIZER)) return seen;
      return res('VirtualMachine').patch({ name: vmName, namespace: ns }, { metadata: { finalizers: [...(seen.metadata.finalizers ?? []), AGENT_FINALIZER], resourceVersion: seen.metadata.resourceVersion } });
    });
    const running = { type: 'Running', status: power === 'PowerOn' ? 'True' : 'False', reason, message, observedGeneration: vm.metadata.generation, lastTransitionTime: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z') };
    await res('VirtualMachine').applyStatus(
      { apiVersion: kind('VirtualMachine').apiVersion, kind: 'VirtualMachine', metadata: { name: vmName, namespace: ns }, status: { powerState: power, instanceName: `kumulus-${vm.metadata.uid}`, conditions: [running], ...extra } },
      { fieldManager: agentFieldManager(host), force: true },
    );
  };
  const agentLetsGo = async (vmName: string, kindName = 'VirtualMachine') => {
    await retryOnConflict(async () => {
      const obj = await get(kindName, vmName, ns);
      if (obj) await res(kindName).patch({ name: vmName, namespace: ns }, { metadata: { finalizers: (obj.metadata.finalizers ?? []).filter((f) => f !== AGENT_FINALIZER), resourceVersion: obj.metadata.resourceVersion } });
    });
  };
  const agentProvisions = async (volume: string, host: string, sizeBytes: number, attached: boolean) => {
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    await res('Volume').applyStatus(
      {
        apiVersion: kind('Volume').apiVersion,
        kind: 'Volume',
        metadata: { name: volume, namespace: ns },
        status: {
          host,
          path: `/pool/${volume}.qcow2`,
          format: 'QCOW2',
          sizeBytes,
          conditions: [
            { type: 'Provisioned', status: 'True', reason: 'DiskReady', message: '', lastTransitionTime: now },
            { type: 'Attached', status: attached ? 'True' : 'False', reason: attached ? 'InDomain' : 'NotInDomain', message: '', lastTransitionTime: now },
          ],
        },
      },
      { fieldManager: agentFieldManager(host), force: true },
    );
  };
  const vmSpec = (extra: Record<string, unknown> = {}) => ({ zoneRef: { name: names.zone }, serviceOfferingRef: { name: names.small }, templateRef: { name: 'tiny' }, rootDiskSize: '1Gi', ...extra });
  const hostOf = (o: Obj | undefined) => (o?.status?.placement as Placement | undefined)?.host;

  before(async function () {
    this.timeout(240_000);
    const prepared = await preparedCluster();
    const kc = prepared.kc;
    client = prepared.client;
    previousGlobal = await get('Configuration', 'global');
    await client.resource({ group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false }).create({ metadata: { name: ns } });
    await res('Zone').create({ metadata: { name: names.zone }, spec: { networkType: 'Advanced', dns1: '8.8.8.8', internalDns1: '192.168.100.2', guestCidr: '10.1.1.0/24', allocationState: 'Enabled' } });
    await res('Pod').create({ metadata: { name: names.pod }, spec: { zoneRef: { name: names.zone }, gateway: '192.168.100.1', netmask: '255.255.255.0', startIp: '192.168.100.10' } });
    await res('Cluster').create({ metadata: { name: names.cluster }, spec: { podRef: { name: names.pod }, hypervisor: 'KVM' } });
    await res('PrimaryStorage').create({ metadata: { name: names.pool }, spec: { zoneRef: { name: names.zone }, scope: 'Cluster', clusterRef: { name: names.cluster }, protocol: 'SharedMountPoint', path: '/pool' } });
    await res('ServiceOffering').create({ metadata: { name: names.small }, spec: { cpuNumber: 1, cpuSpeed: 500, memory: '512Mi' } });
    await res('ServiceOffering').create({ metadata: { name: names.large }, spec: { cpuNumber: 2, cpuSpeed: 1000, memory: '2Gi' } });
    await res('ServiceOffering').create({ metadata: { name: names.huge }, spec: { cpuNumber: 16, cpuSpeed: 1000, memory: '1Gi' } });
    await res('DiskOffering').create({ metadata: { name: names.disk }, spec: { diskSize: '2Gi' } });
    await res('Template').create({ metadata: { name: 'tiny', namespace: ns }, spec: { url: 'file:///var/tmp/tiny.qcow2', format: 'QCOW2', zoneRefs: [{ name: names.zone }] } });
    for (const host of names.hosts) {
      await res('Host').create({ metadata: { name: host }, spec: { clusterRef: { name: names.cluster }, nodeName: `node-${host}` } });
      await client.resource(LEASES).create({ metadata: { name: hostLeaseName(host), namespace: HOST_LEASE_NAMESPACE }, spec: { holderIdentity: `node-${host}`, leaseDurationSeconds: 40, renewTime: microTime() } } as KubeObject);
    }
    manager = createManager({ kubeConfig: kc, eventSource: 'kumulus.io/operator', httpBindAddress: '127.0.0.1:0', logger: log });
    const infra = registerInfrastructureControllers(manager);
    registerComputeControllers(manager, infra, noNetworks);
    await manager.start();
    heartbeat = setInterval(() => void renew(), 2000);
    for (const host of names.hosts) await reportHost(host, 4);
    for (const host of names.hosts) await waitFor('Host', host, 'Up and Enabled', (o) => o.status?.state === 'Up' && o.status.resourceState === 'Enabled');
    await waitFor('PrimaryStorage', names.pool, 'Up', (o) => o.status?.state === 'Up');
  });

  after(async function () {
    this.timeout(60_000);
    clearInterval(heartbeat);
    await manager?.stop();
    for (const k of ['VirtualMachine', 'Volume', 'SSHKeyPair', 'AffinityGroup', 'InstanceGroup', 'UserData']) {
      for (const o of (await res(k).list({ namespace: ns }).catch(() => ({ items: [] as Obj[] }))).items) {
        await res(k).patch({ name: o.metadata.name ?? '', namespace: ns }, { metadata: { finalizers: null } }).catch(() => undefined);
      }
    }
    await client.resource({ group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false }).delete({ name: ns }).catch(() => undefined);
    for (const [k, name] of [['ServiceOffering', names.small], ['ServiceOffering', names.large], ['ServiceOffering', names.huge], ['DiskOffering', names.disk], ['PrimaryStorage', names.pool], ...names.hosts.map((h) => ['Host', h]), ['Cluster', names.cluster], ['Pod', names.pod], ['Zone', names.zone]] as const) {
      await res(k).patch({ name }, { metadata: { finalizers: null } }).catch(() => undefined);
      await res(k).delete({ name }).catch(() => undefined);
    }
    const configs = res('Configuration');
    if (previousGlobal) await configs.apply({ apiVersion: previousGlobal.apiVersion, kind: 'Configuration', metadata: { name: 'global' }, spec: previousGlobal.spec }, { fieldManager: 'compute-test', force: true });
  });

  let webHost = '';

  it('places a VM as a claim, creates its volumes on the chosen pool, labels both, and follows the agent to Running', async () => {
    await res('VirtualMachine').create({ metadata: { name: 'web', namespace: ns }, spec: vmSpec({ dataDisks: [{ name: 'data', diskOfferingRef: { name: names.disk } }] }) });
    const placed = await waitFor('VirtualMachine', 'web', 'placed', (o) => hostOf(o) !== undefined);
    webHost = hostOf(placed)!;
    expect(names.hosts).to.include(webHost);
    expect(placed.status?.placement).to.deep.equal(where(webHost));
    expect(placed.status?.state).to.equal('Starting');
    expect(condition(placed, 'Scheduled')).to.include({ status: 'True', reason: 'Placed' });
    for (const volume of ['web-root', 'web-data']) {
      const v = await waitFor('Volume', volume, 'on the pool', (o) => o.status?.pool === names.pool && o.status?.state === 'Creating');
      expect(v.metadata.labels?.['kumulus.io/host']).to.equal(webHost);
      // Labelled, it is the host's agent's: it carries the agent's finalizer from the start.
      expect(v.metadata.finalizers).to.include(AGENT_FINALIZER);
      expect(v.metadata.ownerReferences?.[0]).to.include({ kind: 'VirtualMachine', name: 'web', uid: placed.metadata.uid });
    }
    expect((await get('Volume', 'web-root', ns))?.spec).to.deep.include({ type: 'ROOT', templateRef: { name: 'tiny', namespace: ns }, deviceId: 0, size: '1Gi' });

    // The VM goes to its host's agent (its labels) only once the disks it declares are made.
    await agentProvisions('web-root', webHost, GiB, true);
    await new Promise((r) => setTimeout(r, 1000));
    expect((await get('VirtualMachine', 'web', ns))?.metadata.labels?.['kumulus.io/host'], 'labelled while web-data has no disk').to.equal(undefined);
    await agentProvisions('web-data', webHost, 2 * GiB, true);
    const labelled = await waitFor('VirtualMachine', 'web', 'labelled with its host', (o) => o.metadata.labels?.['kumulus.io/host'] === webHost);
    expect(labelled.metadata.labels).to.include({ 'kumulus.io/zone': names.zone, 'kumulus.io/pod': names.pod, 'kumulus.io/cluster': names.cluster });
    expect(labelled.metadata.finalizers).to.include.members([VM_FINALIZER, AGENT_FINALIZER]);
    await waitFor('Volume', 'web-data', 'Ready', (o) => o.status?.state === 'Ready' && condition(o, 'Ready')?.status === 'True');
    await agentReports('web', webHost, 'PowerOff', 'Starting', 'defining the domain');
    await waitFor('VirtualMachine', 'web', 'still Starting, saying why', (o) => condition(o, 'Ready')?.message.includes('defining the domain') ?? false);
    await agentReports('web', webHost, 'PowerOn', 'DomainRunning');
    const running = await waitFor('VirtualMachine', 'web', 'Running and Ready', (o) => o.status?.state === 'Running' && condition(o, 'Ready')?.status === 'True');
    // The agent's fields are left as it wrote them.
    expect(running.status?.powerState).to.equal('PowerOn');
    // The operator's events only (lib/agent-contract.ts): VM.START is the agent's, which this test plays.
    await waitForEvent('web-root', 'VOLUME.ATTACH');
    await new Promise((r) => setTimeout(r, 1000));
    expect(await events('web'), 'the operator\'s events of web').to.deep.equal(['VM.CREATE']);
    expect((await events('web-root')).sort(), 'the operator\'s events of web-root').to.deep.equal(['VOLUME.ATTACH', 'VOLUME.CREATE']);
  });

  it('stops, scales while stopped, reboots and starts through spec, following the host\'s report', async () => {
    const host = webHost;
    await res('VirtualMachine').patch({ name: 'web', namespace: ns }, { spec: { state: 'Stopped' } });
    await waitFor('VirtualMachine', 'web', 'Stopping while the domain runs', (o) => o.status?.state === 'Stopping' && condition(o, 'Ready')?.status === 'False');
    await agentReports('web', host, 'PowerOff', 'Stopped');
    await waitFor('VirtualMachine', 'web', 'Stopped', (o) => o.status?.state === 'Stopped' && condition(o, 'Ready')?.status === 'True');

    await res('VirtualMachine').patch({ name: 'web', namespace: ns }, { spec: { serviceOfferingRef: { name: names.large } } });
    // The agent has not acted on the new generation yet: not Ready.
    await waitFor('VirtualMachine', 'web', 'converging on the new offering', (o) => condition(o, 'Ready')?.reason === 'Converging');
    await agentReports('web', host, 'PowerOff', 'Stopped');
    await waitFor('VirtualMachine', 'web', 'Ready at the new generation', (o) => condition(o, 'Ready')?.status === 'True');

    await res('VirtualMachine').patch({ name: 'web', namespace: ns }, { spec: { state: 'Running' } });
    await waitFor('VirtualMachine', 'web', 'Starting', (o) => o.status?.state === 'Starting');
    await agentReports('web', host, 'PowerOn', 'DomainRunning');
    await waitFor('VirtualMachine', 'web', 'Running', (o) => o.status?.state === 'Running' && condition(o, 'Ready')?.status === 'True');

    const asked = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    await res('VirtualMachine').patch({ name: 'web', namespace: ns }, { spec: { rebootRequestedAt: asked } });
    await waitFor('VirtualMachine', 'web', 'not Ready until the reboot is reported', (o) => condition(o, 'Ready')?.reason === 'Rebooting');
    await agentReports('web', host, 'PowerOn', 'DomainRunning', '', { lastRebootAt: asked });
    await waitFor('VirtualMachine', 'web', 'Ready after the reboot', (o) => o.status?.state === 'Running' && condition(o, 'Ready')?.status === 'True');
  });

  it('destroys, recovers, and expunges a destroyed VM after expunge.delay, releasing its NICs after the agent let go', async () => {
    const host = webHost;
    await res('VirtualMachine').patch({ name: 'web', namespace: ns }, { spec: { state: 'Destroyed' } });
    await agentReports('web', host, 'PowerOff', 'Stopped');
    const destroyed = await waitFor('VirtualMachine', 'web', 'Destroyed', (o) => o.status?.state === 'Destroyed');
    expect(destroyed.status?.destroyedAt).to.be.a('string');
    expect(destroyed.status?.placement, 'a destroyed VM keeps its host until expunged').to.deep.equal(where(host));
    await waitForEvent('web', 'VM.DESTROY');

    await res('VirtualMachine').patch({ name: 'web', namespace: ns }, { spec: { state: 'Stopped' } });
    await agentReports('web', host, 'PowerOff', 'Stopped');
    const recovered = await waitFor('VirtualMachine', 'web', 'recovered, Stopped', (o) => o.status?.state === 'Stopped' && condition(o, 'Ready')?.status === 'True');
    expect(recovered.status?.destroyedAt).to.equal(undefined);
    await waitForEvent('web', 'VM.RECOVER');

    await res('Configuration').apply({ apiVersion: kind('Configuration').apiVersion, kind: 'Configuration', metadata: { name: 'global' }, spec: { settings: { 'expunge.delay': '2' } } }, { fieldManager: 'compute-test', force: true });
    await res('VirtualMachine').patch({ name: 'web', namespace: ns }, { spec: { state: 'Destroyed' } });
    await agentReports('web', host, 'PowerOff', 'Stopped');
    const expunging = await waitFor('VirtualMachine', 'web', 'expunged (deleted) after expunge.delay', (o) => o.metadata.deletionTimestamp !== undefined && o.status?.state === 'Expunging', 20_000);
    // The agent still holds it (undefining the domain): the addresses stay until it lets go.
    expect(expunging.metadata.finalizers).to.include.members([VM_FINALIZER, AGENT_FINALIZER]);
    expect(released).to.not.include('web');
    await agentLetsGo('web');
    await waitGone('VirtualMachine', 'web');
    expect(released).to.include('web');
    await waitForEvent('web', 'VM.EXPUNGE');
    // The volumes it owned go with it (garbage collection), once their host's agent has deleted their disks.
    for (const volume of ['web-root', 'web-data']) {
      await waitFor('Volume', volume, 'being deleted', (o) => o.metadata.deletionTimestamp !== undefined);
      await agentLetsGo(volume, 'Volume');
      await waitGone('Volume', volume);
    }
  });

  it('says Scheduled=False with the planner\'s constraint while nothing fits, and places the VM when capacity appears', async () => {
    await res('VirtualMachine').create({ metadata: { name: 'waits', namespace: ns }, spec: vmSpec({ serviceOfferingRef: { name: names.huge } }) });
    const waiting = await waitFor('VirtualMachine', 'waits', 'unschedulable', (o) => condition(o, 'Scheduled')?.status === 'False');
    expect(condition(waiting, 'Scheduled')?.reason).to.equal('Unschedulable');
    expect(condition(waiting, 'Scheduled')?.message).to.match(/^InsufficientCapacity: 0\/2 hosts .*16 cores/);
    expect(waiting.status?.placement).to.equal(undefined);
    expect(waiting.metadata.labels?.['kumulus.io/host']).to.equal(undefined);
    // The volumes exist (Allocated), unlabelled: no agent takes them yet.
    const root = await waitFor('Volume', 'waits-root', 'Allocated', (o) => o.status?.state === 'Allocated');
    expect(root.metadata.labels?.['kumulus.io/host']).to.equal(undefined);

    // Host b grows to 32 cores: its status changes, which retries the VMs that did not fit (a watch, not a poll).
    await reportHost(names.hosts[1]!, 32);
    const placed = await waitFor('VirtualMachine', 'waits', 'placed on the grown host', (o) => hostOf(o) === names.hosts[1]);
    expect(condition(placed, 'Scheduled')).to.include({ status: 'True' });
    await waitFor('Volume', 'waits-root', 'labelled and on the pool', (o) => o.metadata.labels?.['kumulus.io/host'] === names.hosts[1] && o.status?.pool === names.pool);
    await agentProvisions('waits-root', names.hosts[1]!, GiB, false);
    await waitFor('VirtualMachine', 'waits', 'labelled with the grown host', (o) => o.metadata.labels?.['kumulus.io/host'] === names.hosts[1]);
  });

  let movesHost = '';

  it('places a VM again elsewhere when its host refuses it for lack of capacity', async () => {
    await res('VirtualMachine').create({ metadata: { name: 'moves', namespace: ns }, spec: vmSpec() });
    const first = hostOf(await waitFor('VirtualMachine', 'moves', 'placed', (o) => hostOf(o) !== undefined))!;
    await waitFor('Volume', 'moves-root', 'on the pool', (o) => o.status?.pool === names.pool);
    await agentProvisions('moves-root', first, GiB, false);
    await waitFor('VirtualMachine', 'moves', 'labelled', (o) => o.metadata.labels?.['kumulus.io/host'] === first);
    await agentReports('moves', first, 'PowerOff', 'InsufficientCapacity', `host ${first} is full for VM moves: memory: it needs 512 MiB and 0 MiB are left`);
    movesHost = other(first);
    const moved = await waitFor('VirtualMachine', 'moves', 'placed on the other host', (o) => o.metadata.labels?.['kumulus.io/host'] === movesHost && hostOf(o) === movesHost);
    expect(moved.status?.state).to.equal('Starting');
    // The refusal left behind by the first host is not taken for the second's: the VM stays.
    await new Promise((r) => setTimeout(r, 1500));
    expect(hostOf(await get('VirtualMachine', 'moves', ns))).to.equal(movesHost);
    // Placing it again is part of its start, whose VM.START the agent of the new host reports.
    expect(await events('moves')).to.deep.equal(['VM.CREATE']);
  });

  it('refuses to write a placement against a stale version: the claim is optimistic', async () => {
    const vm = (await get('VirtualMachine', 'moves', ns))!;
    await res('VirtualMachine').patch({ name: 'moves', namespace: ns }, { metadata: { annotations: { 'test/touch': '1' } } });
    const stale = res('VirtualMachine').applyStatus(
      { apiVersion: vm.apiVersion, kind: 'VirtualMachine', metadata: { name: 'moves', namespace: ns, resourceVersion: vm.metadata.resourceVersion }, status: { placement: where(other(movesHost)) } },
      { fieldManager: 'kumulus-operator', force: true },
    );
    await stale.then(
      () => expect.fail('an apply with a stale resourceVersion was accepted'),
      (err: unknown) => expect((err as { code?: number }).code).to.equal(409),
    );
  });

  it('gives a data volume attached later a pool and the host of its VM, and reports a resize', async () => {
    await res('Volume').create({ metadata: { name: 'extra', namespace: ns }, spec: { type: 'DATADISK', zoneRef: { name: names.zone }, diskOfferingRef: { name: names.disk } } });
    const allocated = await waitFor('Volume', 'extra', 'Allocated', (o) => o.status?.state === 'Allocated');
    expect(condition(allocated, 'Ready')).to.include({ status: 'True', reason: 'Allocated' });
    await res('Volume').patch({ name: 'extra', namespace: ns }, { spec: { vmRef: { name: 'moves' }, deviceId: 5 } });
    await waitFor('Volume', 'extra', 'placed with its VM, Creating', (o) => o.status?.pool === names.pool && o.metadata.labels?.['kumulus.io/host'] === movesHost && o.status?.state === 'Creating');
    await agentProvisions('extra', movesHost, 2 * GiB, true);
    await waitFor('Volume', 'extra', 'Ready', (o) => o.status?.state === 'Ready');
    await res('Volume').patch({ name: 'extra', namespace: ns }, { spec: { size: '4Gi' } });
    await waitFor('Volume', 'extra', 'Resizing', (o) => o.status?.state === 'Resizing');
    await agentProvisions('extra', movesHost, 4 * GiB, true);
    await waitFor('Volume', 'extra', 'Ready again', (o) => o.status?.state === 'Ready');
    // The agent reports the resize (VOLUME.RESIZE), having grown the disk; the operator, the attach.
    await waitForEvent('extra', 'VOLUME.ATTACH');
    expect(await events('extra')).to.not.include('VOLUME.RESIZE');
  });

  it('warns once (VOLUME.CREATE) when the agent fails to make a disk, however often it retries', async () => {
    await res('Volume').create({ metadata: { name: 'broken', namespace: ns }, spec: { type: 'DATADISK', zoneRef: { name: names.zone }, diskOfferingRef: { name: names.disk }, vmRef: { name: 'moves' }, deviceId: 6 } });
    await waitFor('Volume', 'broken', 'on the pool, Creating', (o) => o.status?.pool === names.pool && o.status?.state === 'Creating');
    const fails = async (message: string) => {
      const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
      await res('Volume').applyStatus(
        { apiVersion: kind('Volume').apiVersion, kind: 'Volume', metadata: { name: 'broken', namespace: ns }, status: { conditions: [{ type: 'Provisioned', status: 'False', reason: PROVISIONING_FAILED, message, lastTransitionTime: now }] } },
        { fieldManager: agentFieldManager(movesHost), force: true },
      );
      await waitFor('Volume', 'broken', 'saying why', (o) => condition(o, 'Ready')?.message.includes(message) ?? false);
    };
    await fails('qemu-img: No space left on device');
    await fails('qemu-img: Permission denied');
    await new Promise((r) => setTimeout(r, 1000));
    const list = await client.resource<KubeObject & { reason: string; type: string; note: string; regarding: { name: string } }>({ group: 'events.k8s.io', version: 'v1', plural: 'events', kind: 'Event', namespaced: true }).list({ namespace: ns });
    const warnings = list.items.filter((e) => e.regarding.name === 'broken' && e.type === 'Warning');
    expect(warnings.map((e) => [e.reason, e.note])).to.deep.equal([['VOLUME.CREATE', 'the disk is being created on PrimaryStorage ' + names.pool + ': qemu-img: No space left on device']]);
    await res('Volume').delete({ name: 'broken', namespace: ns });
    await agentLetsGo('broken', 'Volume');
    await waitGone('Volume', 'broken');
  });

  it('destroys a detached volume (Destroy), recovers it, and deletes a destroyed one after expunge.delay', async () => {
    const delay = (seconds: string) => res('Configuration').apply({ apiVersion: kind('Configuration').apiVersion, kind: 'Configuration', metadata: { name: 'global' }, spec: { settings: { 'expunge.delay': seconds } } }, { fieldManager: 'compute-test', force: true });
    await delay('3600');
    const attached = await res('Volume').patch({ name: 'extra', namespace: ns }, { spec: { destroyed: true } }).then(() => undefined, (err: unknown) => err as Error);
    expect(attached?.message).to.match(/spec.destroyed applies to a detached volume: remove spec.vmRef first/);

    await res('Volume').create({ metadata: { name: 'spare', namespace: ns }, spec: { type: 'DATADISK', zoneRef: { name: names.zone }, diskOfferingRef: { name: names.disk } } });
    await waitFor('Volume', 'spare', 'Allocated', (o) => o.status?.state === 'Allocated');
    await res('Volume').patch({ name: 'spare', namespace: ns }, { spec: { destroyed: true } });
    const destroyed = await waitFor('Volume', 'spare', 'Destroy', (o) => o.status?.state === 'Destroy');
    expect(destroyed.status?.destroyedAt).to.be.a('string');
    expect(condition(destroyed, 'Ready')).to.include({ status: 'True', reason: 'Destroyed' });
    await waitForEvent('spare', 'VOLUME.DESTROY');

    await res('Volume').patch({ name: 'spare', namespace: ns }, { spec: { destroyed: false } });
    const recovered = await waitFor('Volume', 'spare', 'recovered, Allocated', (o) => o.status?.state === 'Allocated');
    expect(recovered.status?.destroyedAt).to.equal(undefined);
    await waitForEvent('spare', 'VOLUME.RECOVER');

    await res('Volume').patch({ name: 'spare', namespace: ns }, { spec: { destroyed: true } });
    await waitFor('Volume', 'spare', 'Destroy again', (o) => o.status?.state === 'Destroy');
    expect(await get('Volume', 'spare', ns), 'kept while expunge.delay has not passed').to.not.equal(undefined);
    await delay('1');
    await waitGone('Volume', 'spare');
  });

  it('fingerprints a registered key, and generates a pair whose private key is left once in a Secret', async () => {
    const given = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGxU4aR5f3p1d0Y4pX3Wl6m3b8Kc2mJQ0rT7yH9vN2sB demo@example';
    await res('SSHKeyPair').create({ metadata: { name: 'given', namespace: ns }, spec: { publicKey: given } });
    const ready = await waitFor('SSHKeyPair', 'given', 'Ready', (o) => o.status?.state === 'Ready');
    expect(ready.status?.fingerprint).to.equal('4f:d0:76:07:4b:88:88:50:92:00:0a:0b:93:43:21:ca');

    await res('SSHKeyPair').create({ metadata: { name: 'made', namespace: ns }, spec: {} });
    const made = await waitFor('SSHKeyPair', 'made', 'Ready with a generated key', (o) => o.status?.state === 'Ready');
    const publicKey = made.spec?.publicKey as string;
    expect(publicKey).to.match(/^ssh-rsa /);
    expect(made.status?.fingerprint).to.equal(sshFingerprint(publicKey));
    const secret = await client.resource<KubeObject & { data?: Record<string, string> }>({ group: '', version: 'v1', plural: 'secrets', kind: 'Secret', namespaced: true }).get({ name: privateKeySecretName('made'), namespace: ns });
    expect(Buffer.from(secret.data?.[PRIVATE_KEY_DATA] ?? '', 'base64').toString()).to.match(/^-----BEGIN RSA PRIVATE KEY-----/);
    expect(secret.metadata.ownerReferences?.[0]).to.include({ kind: 'SSHKeyPair', name: 'made' });
  });

  it('lists an affinity group\'s members in status, and holds its deletion until they leave', async () => {
    await res('AffinityGroup').create({ metadata: { name: 'spread', namespace: ns }, spec: { type: 'host anti-affinity' } });
    await res('VirtualMachine').create({ metadata: { name: 'member', namespace: ns }, spec: vmSpec({ state: 'Stopped', affinityGroupRefs: [{ name: 'spread' }] }) });
    const group = await waitFor('AffinityGroup', 'spread', 'with its member', (o) => o.status?.vmCount === 1);
    expect(group.status?.virtualMachines).to.deep.equal(['member']);
    await res('AffinityGroup').delete({ name: 'spread', namespace: ns });
    await waitFor('AffinityGroup', 'spread', 'held while the VM is in it', (o) => condition(o, 'DeletionBlocked')?.status === 'True');
    await res('VirtualMachine').patch({ name: 'member', namespace: ns }, { spec: { affinityGroupRefs: [] } });
    await waitGone('AffinityGroup', 'spread');
  });

  it('counts an instance group\'s members by their spec.group', async () => {
    await res('InstanceGroup').create({ metadata: { name: 'web', namespace: ns }, spec: { displayName: 'Web tier' } });
    await waitFor('InstanceGroup', 'web', 'Ready and empty', (o) => o.status?.state === 'Ready' && o.status?.vmCount === 0);
    await res('VirtualMachine').create({ metadata: { name: 'grouped', namespace: ns }, spec: vmSpec({ state: 'Stopped', group: 'Web tier' }) });
    await waitFor('InstanceGroup', 'web', 'with its member', (o) => o.status?.vmCount === 1);
    await res('VirtualMachine').patch({ name: 'grouped', namespace: ns }, { spec: { group: null } });
    await waitFor('InstanceGroup', 'web', 'empty again', (o) => o.status?.vmCount === 0);
  });

  it('makes registered user data Ready, or Error naming a declared parameter the payload never uses', async () => {
    const payload = (text: string) => Buffer.from(text).toString('base64');
    await res('UserData').create({ metadata: { name: 'used', namespace: ns }, spec: { userData: payload('#cloud-config\nhostname: {{ role }}\n'), params: ['role'] } });
    await waitFor('UserData', 'used', 'Ready', (o) => o.status?.state === 'Ready');
    await res('UserData').create({ metadata: { name: 'unused', namespace: ns }, spec: { userData: payload('#cloud-config\nhostname: web\n'), params: ['role'] } });
    const bad = await waitFor('UserData', 'unused', 'Error', (o) => o.status?.state === 'Error');
    expect(condition(bad, 'Ready')).to.include({ status: 'False', reason: 'UnusedParams', message: 'spec.params names role, which the payload never uses as {{ name }}: remove them or use them' });
  });
});
