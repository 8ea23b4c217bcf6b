import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { kindByName } from '../../crds/index.ts';
import { HOST_LEASE_NAMESPACE } from '../../lib/agent-contract.ts';
import { installCrds, readCrdManifests } from '../../lib/install-crds.ts';
import { createKubeClient, isNotFound, type KubeClient, type ResourceClient, resourceTypeOf } from '../../lib/kube-client.ts';
import { log } from '../../lib/log.ts';
import { commandRunner } from '../../node-daemon/drivers/exec.ts';
import { sharedControlPlane, sharedKubeConfig } from './cluster.ts';
import { until } from './until.ts';
import type { Obj } from './objects.ts';

/**
 * A whole small cloud for compute tests, run as its parts run in production: the operator
 * (`kumulus operator`) and one agent per host (`kumulus agent --hypervisor=simulator`) as
 * processes of their own, which a test may SIGKILL and start again. The objects: a zone, pod
 * and cluster of the Simulator hypervisor, a Local pool per host in a fresh folder, offerings,
 * a template (a small qcow2 made here) and, if asked, a physical network with a VNI range and
 * Isolated guest networks. `inventory()` lists what exists in the API and on the hosts (disks,
 * simulated domains, which the simulator keeps in each agent's state dir as libvirt keeps its
 * own across agent restarts), so a test can check that nothing leaked or was made twice.
 * Simulated hosts touch no host-global state: these tests need no host lock.
 */

export { condition, type Condition, type Obj } from './objects.ts';

/** A simulated domain as the agent's simulator keeps it in <state-dir>/simulator (node-daemon/drivers/hypervisor/simulator.ts). */
export interface SimulatedDomain {
  uid: string;
  state: string;
  vcpus: number;
  memoryMiB: number;
  host: string;
}

export interface Inventory {
  vms: Obj[];
  volumes: Obj[];
  /** Disk files per host pool, by file name. */
  disks: { host: string; file: string }[];
  domains: SimulatedDomain[];
  /** IPAddress objects of the world's networks. */
  addresses: Obj[];
  /** VlanAllocation objects of the world's physical network. */
  vlans: Obj[];
}

export interface ComputeWorld {
  client: KubeClient;
  ns: string;
  hosts: string[];
  names: { zone: string; pod: string; cluster: string; physnet: string; offering: string; small: string; large: string; disk: string; template: string; networks: string[] };
  workDir: string;
  res(kind: string): ResourceClient<Obj>;
  get(kind: string, name: string): Promise<Obj | undefined>;
  waitFor(kind: string, name: string, what: string, check: (o: Obj) => boolean, timeoutMs?: number): Promise<Obj>;
  /** The operator as a process of its own (no leader election: a restarted one takes over at once). */
  startOperator(extraArgs?: string[]): ChildProcess;
  startAgent(host: string): ChildProcess;
  /** SIGKILL to the process group (an agent's `virsh event` child too), then waits for the exit. */
  kill(child: ChildProcess | undefined): Promise<void>;
  /** Waits until every host is Up with its pool Up: the planner can place. */
  ready(timeoutMs?: number): Promise<void>;
  vmSpec(extra?: Record<string, unknown>): Record<string, unknown>;
  /** Changes global settings for the rest of the test; cleanup puts the previous ones back. */
  setSettings(settings: Record<string, string>): Promise<void>;
  /** The simulated domains of `host`, as its agent's simulator keeps them. */
  domains(host?: string): Promise<SimulatedDomain[]>;
  inventory(): Promise<Inventory>;
  /** The last lines the processes wrote, for a failed test. */
  logs(lines?: number): Promise<string>;
  cleanup(): Promise<void>;
}

const repoRoot = resolve(import.meta.dirname, '../..');
const NAMESPACES = { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false };

export interface WorldOptions {
  hosts: number;
  /** Isolated guest networks to create (simulated hosts plan them and plumb nothing). */
  networks?: number;
  /** Global settings the test needs (expunge.delay, network.gc.wait...); the previous ones come back on cleanup. */
  settings?: Record<string, string>;
}

export async function createComputeWorld(prefix: string, options: WorldOptions): Promise<ComputeWorld> {
  const s = randomBytes(3).toString('hex');
  const ns = `${prefix}-${s}`;
  const hosts = Array.from({ length: options.hosts }, (_, i) => `node-${prefix}-${s}-${i}`);
  const networkNames = Array.from({ length: options.networks ?? 0 }, (_, i) => `net${i}`);
  const names = {
    zone: `zone-${s}`,
    pod: `pod-${s}`,
    cluster: `cluster-${s}`,
    physnet: `physnet-${s}`,
    small: `small-${s}`,
    large: `large-${s}`,
    disk: `disk-${s}`,
    offering: `isolated-${s}`,
    template: 'tiny',
    networks: networkNames,
  };
  const plane = await sharedControlPlane();
  const kc = await sharedKubeConfig();
  await installCrds(kc, await readCrdManifests(join(repoRoot, 'crds')), log);
  const client = createKubeClient(kc);
  const res = (kind: string) => client.resource<Obj>(resourceTypeOf(kindByName(kind)!));
  const scoped = (kind: string) => kindByName(kind)!.scope === 'Namespaced';
  const get = (kind: string, name: string) =>
    res(kind)
      .get({ name, namespace: scoped(kind) ? ns : undefined })
      .catch((err: unknown) => (isNotFound(err) ? undefined : Promise.reject(err as Error)));
  const waitFor = async (kind: string, name: string, what: string, check: (o: Obj) => boolean, timeoutMs = 60_000) => {
    let last: Obj | undefined;
    try {
      return await until(`${kind} ${name} ${what}`, timeoutMs, async () => {
        last = await get(kind, name);
        return last && check(last) ? last : undefined;
      });
    } catch (err) {
      throw new Error(`${(err as Error).message}; last seen: ${JSON.stringify(last ? { finalizers: last.metadata.finalizers, labels: last.metadata.labels, status: last.status } : 'gone')}`, { cause: err });
    }
  };

  await client.resource(NAMESPACES).create({ metadata: { name: HOST_LEASE_NAMESPACE } }).catch(() => undefined);
  await client.resource(NAMESPACES).create({ metadata: { name: ns } });
  // World-traversable, as a system libvirtd would need; the simulator does not care.
  const workDir = await mkdtemp(`/var/tmp/kumulus-${prefix}-`);
  await chmod(workDir, 0o755);
  const poolDir = (host: string) => join(workDir, 'pools', host);
  const stateDir = (host: string) => join(workDir, 'agents', host);
  for (const host of hosts) await mkdir(poolDir(host), { recursive: true });

  const created: { kind: string; name: string }[] = [];
  const create = async (kind: string, name: string, spec: Record<string, unknown>) => {
    await res(kind).create({ metadata: { name, ...(scoped(kind) ? { namespace: ns } : {}) }, spec });
    if (!scoped(kind)) created.push({ kind, name });
  };
  const previousSettings = (await get('Configuration', 'global'))?.spec?.settings as Record<string, string> | undefined;
  let settings = { ...previousSettings, ...options.settings };
  const applySettings = (values: Record<string, string>) =>
    res('Configuration').apply({ apiVersion: kindByName('Configuration')!.apiVersion, kind: 'Configuration', metadata: { name: 'global' }, spec: { settings: values } }, { fieldManager: 'compute-world', force: true });
  await applySettings(settings);
  await create('Zone', names.zone, { networkType: 'Advanced', dns1: '8.8.8.8', internalDns1: '192.168.100.2', guestCidr: '10.1.0.0/16', allocationState: 'Enabled' });
  await create('Pod', names.pod, { zoneRef: { name: names.zone }, gateway: '192.168.100.1', netmask: '255.255.255.0', startIp: '192.168.100.10', endIp: '192.168.100.60' });
  await create('Cluster', names.cluster, { podRef: { name: names.pod }, hypervisor: 'Simulator', cpuOvercommitRatio: 4, memoryOvercommitRatio: 2 });
  // Templates are downloaded into the zone's secondary storage first, then copied to the pools.
  await create('SecondaryStorage', `images-${s}`, { zoneRef: { name: names.zone }, provider: 'Local', url: `file://${join(workDir, 'secondary')}` });
  for (const host of hosts) await create('PrimaryStorage', `local-${host}`, { zoneRef: { name: names.zone }, scope: 'Host', hostRef: { name: host }, protocol: 'Local', path: poolDir(host) });
  // Each host's disks are on its own Local pool: the offerings ask for local storage.
  await create('ServiceOffering', names.small, { cpuNumber: 1, cpuSpeed: 100, memory: '64Mi', storageType: 'local' });
  await create('ServiceOffering', names.large, { cpuNumber: 2, cpuSpeed: 100, memory: '128Mi', storageType: 'local' });
  await create('DiskOffering', names.disk, { diskSize: '1Gi', storageType: 'local' });
  if (networkNames.length > 0) {
    const firstVni = 600_000 + Math.floor(Math.random() * 100_000);
    await create('PhysicalNetwork', names.physnet, {
      zoneRef: { name: names.zone },
      isolationMethods: ['VXLAN'],
      vniRanges: [{ start: firstVni, end: firstVni + 99 }],
      trafficTypes: [
        { type: 'Management', kvmLabel: 'cloudbr0' },
        { type: 'Guest', kvmLabel: 'cloudbr1' },
      ],
    });
    await create('NetworkOffering', names.offering, { guestIpType: 'Isolated', services: [{ name: 'Dhcp', provider: 'VirtualRouter' }, { name: 'Dns', provider: 'VirtualRouter' }] });
    for (const [i, name] of networkNames.entries()) {
      await create('Network', name, { networkOfferingRef: { name: names.offering }, zoneRef: { name: names.zone }, cidr: `10.1.${i + 1}.0/24`, gateway: `10.1.${i + 1}.1` });
    }
  }
  // The template: a small blank qcow2, verified by its checksum like any download.
  const image = join(workDir, 'tiny.qcow2');
  await commandRunner()(['qemu-img', 'create', '-q', '-f', 'qcow2', image, '64M']);
  const checksum = createHash('sha256').update(await readFile(image)).digest('hex');
  await create('Template', names.template, { url: `file://${image}`, format: 'QCOW2', checksum: `{SHA-256}${checksum}`, hypervisor: 'Simulator', zoneRefs: [{ name: names.zone }] });

  const processes = new Set<ChildProcess>();
  const logFile = (what: string) => join(workDir, `${what}.log`);
  const run = (what: string, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess => {
    const out = openSync(logFile(what), 'a');
    const child = spawn(process.execPath, [join(repoRoot, 'bin', 'kumulus.ts'), ...args], {
      env: { ...process.env, ...env, KUBECONFIG: plane.kubeconfigPath, KUMULUS_LOG_LEVEL: 'warn' },
      detached: true,
      stdio: ['ignore', out, out],
    });
    closeSync(out);
    processes.add(child);
    child.once('exit', () => processes.delete(child));
    return child;
  };

  const kill = async (child: ChildProcess | undefined): Promise<void> => {
    if (!child) return;
    const running = child.exitCode === null && child.signalCode === null;
    const exited = new Promise((done) => child.once('exit', done));
    try {
      process.kill(-(child.pid ?? 0), 'SIGKILL');
    } catch {
      // the whole group is gone already
    }
    if (running) await exited;
  };

  const domains = async (host?: string): Promise<SimulatedDomain[]> => {
    const out: SimulatedDomain[] = [];
    for (const h of host ? [host] : hosts) {
      const dir = join(stateDir(h), 'simulator');
      for (const file of (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.json'))) {
        const d = JSON.parse(await readFile(join(dir, file), 'utf8')) as Omit<SimulatedDomain, 'host'>;
        out.push({ ...d, host: h });
      }
    }
    return out;
  };

  return {
    client,
    ns,
    hosts,
    names,
    workDir,
    res,
    get,
    waitFor,
    startOperator: (extraArgs = []) => run('operator', ['operator', '--http-bind-address=127.0.0.1:0', '--leader-elect=false', '--orphan-grace-period=5s', ...extraArgs]),
    startAgent: (host) =>
      run(`agent-${host}`, ['agent', '--hypervisor=simulator', '--http-bind-address=127.0.0.1:0', `--state-dir=${stateDir(host)}`, `--cluster=${names.cluster}`, '--shutdown-timeout=2s', '--reboot-timeout=2s'], { NODE_NAME: host }),
    kill,
    async ready(timeoutMs = 90_000) {
      for (const host of hosts) await waitFor('Host', host, 'Up and Enabled', (o) => o.status?.state === 'Up' && o.status.resourceState === 'Enabled', timeoutMs);
      for (const host of hosts) await waitFor('PrimaryStorage', `local-${host}`, 'Up', (o) => o.status?.state === 'Up', timeoutMs);
    },
    async setSettings(values) {
      settings = { ...settings, ...values };
      await applySettings(settings);
    },
    vmSpec: (extra = {}) => ({ zoneRef: { name: names.zone }, serviceOfferingRef: { name: names.small }, templateRef: { name: names.template }, rootDiskSize: '1Gi', ...extra }),
    domains,
    async inventory() {
      const list = async (kind: string) => (await res(kind).list(scoped(kind) ? { namespace: ns } : {})).items;
      const disks: Inventory['disks'] = [];
      for (const host of hosts) for (const file of await readdir(poolDir(host)).catch(() => [] as string[])) disks.push({ host, file });
      const networkUids = new Set((await list('Network')).map((n) => n.metadata.uid));
      const addresses = (await list('IPAddress')).filter((a) => networkUids.has((a.metadata.labels ?? {})['network.kumulus.io/network-uid'] ?? '') || (a.spec?.networkRef as { namespace?: string } | undefined)?.namespace === ns);
      const vlans = (await list('VlanAllocation')).filter((v) => (v.spec?.physicalNetworkRef as { name?: string } | undefined)?.name === names.physnet);
      return { vms: await list('VirtualMachine'), volumes: await list('Volume'), disks, domains: await domains(), addresses, vlans };
    },
    async logs(lines = 30) {
      const parts: string[] = [];
      for (const file of (await readdir(workDir)).filter((f) => f.endsWith('.log'))) {
        const text = await readFile(join(workDir, file), 'utf8').catch(() => '');
        parts.push(`--- ${file}\n${text.split('\n').slice(-lines).join('\n')}`);
      }
      return parts.join('\n');
    },
    async cleanup() {
      for (const child of [...processes]) await kill(child);
      for (const kind of ['VirtualMachine', 'Volume', 'Network', 'AffinityGroup']) {
        for (const o of (await res(kind).list({ namespace: ns }).catch(() => ({ items: [] as Obj[] }))).items) {
          await res(kind).patch({ name: o.metadata.name ?? '', namespace: ns }, { metadata: { finalizers: null } }).catch(() => undefined);
        }
      }
      await client.resource(NAMESPACES).delete({ name: ns }).catch(() => undefined);
      for (const { kind, name } of created.reverse()) {
        await res(kind).patch({ name }, { metadata: { finalizers: null } }).catch(() => undefined);
        await res(kind).delete({ name }).catch(() => undefined);
      }
      for (const host of hosts) {
        await res('Host').patch({ name: host }, { metadata: { finalizers: null } }).catch(() => undefined);
        await res('Host').delete({ name: host }).catch(() => undefined);
      }
      for (const o of (await res('VlanAllocation').list({}).catch(() => ({ items: [] as Obj[] }))).items.filter((v) => (v.spec?.physicalNetworkRef as { name?: string } | undefined)?.name === names.physnet)) {
        await res('VlanAllocation').delete({ name: o.metadata.name ?? '' }).catch(() => undefined);
      }
      await applySettings(previousSettings ?? {}).catch(() => undefined);
      await rm(workDir, { recursive: true, force: true });
    },
  };
}
