import { randomBytes, randomInt } from 'node:crypto';
import { chmod, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { HOST_LEASE_NAMESPACE } from '../../lib/agent-contract.ts';
import { installCrds, readCrdManifests } from '../../lib/install-crds.ts';
import { createKubeClient, isNotFound, type KubeClient, type ResourceClient } from '../../lib/kube-client.ts';
import { log } from '../../lib/log.ts';
import { commandRunner } from '../../node-daemon/drivers/exec.ts';
import { nicMac } from '../../lib/guest-identity.ts';
import { bridgeName, vxlanDeviceName } from '../../node-daemon/drivers/network/names.ts';
import { runAgent, type RunningAgent } from '../../node-daemon/main.ts';
import { RESOURCES } from '../../node-daemon/resources.ts';
import { sharedKubeConfig } from './cluster.ts';
import type { GuestTemplate } from '../../node-daemon/guest-template/build.ts';
import { guestDomainType } from './guest-domain-type.ts';
import { until } from './until.ts';
import type { Obj } from './objects.ts';

/**
 * What the agent e2e tests stand on, with the test playing the operator: a zone, pod and
 * cluster, a Local pool and a Local secondary storage in a fresh folder, an offering, a template from the tiny guest, VXLAN
 * networks (implemented: the agent needs their VNI) and VMs with their volumes, placed on the
 * agent's node. As the operator does (lib/agent-contract.ts), the test writes the VM's
 * status.placement and status.nics and each Volume's status.pool through the status
 * subresource. cleanup() removes all of it, including whatever a failed test left on the host.
 */

export { condition, type Condition, type Obj } from './objects.ts';

export async function getOrUndefined(resource: ResourceClient<Obj>, name: string, namespace?: string): Promise<Obj | undefined> {
  return resource.get({ name, namespace }).catch((err: unknown) => (isNotFound(err) ? undefined : Promise.reject(err as Error)));
}

export async function waitFor(resource: ResourceClient<Obj>, name: string, what: string, check: (obj: Obj) => boolean, timeoutMs = 60_000, namespace?: string): Promise<Obj> {
  let last: Obj | undefined;
  try {
    return await until(`${resource.type.kind} ${name} ${what}`, timeoutMs, async () => {
      last = await getOrUndefined(resource, name, namespace);
      return last && check(last) ? last : undefined;
    });
  } catch (err) {
    throw new Error(`${(err as Error).message}; last seen: ${JSON.stringify(last?.status ?? 'absent')}`, { cause: err });
  }
}

export async function linkExists(name: string): Promise<boolean> {
  return commandRunner()(['ip', 'link', 'show', name]).then(
    () => true,
    () => false,
  );
}

export interface AgentWorld {
  client: KubeClient;
  /** The test namespace: templates, networks, VMs and volumes live here. */
  ns: string;
  node: string;
  names: { zone: string; pod: string; cluster: string; pool: string; offering: string; diskOffering: string };
  workDir: string;
  poolDir: string;
  /** Where the agent keeps dnsmasq state: pass it as --state-dir. */
  agentStateDir: string;
  res(kind: keyof typeof RESOURCES): ResourceClient<Obj>;
  /** The flags of an agent for this world's node on `libvirtUri` (guestDomainType domains, short timeouts). */
  agentArgs(libvirtUri: string): string[];
  /** An agent for this world's node on the simulator hypervisor (no libvirt; its domains are files in its state dir), once joined. */
  runSimulatedAgent(): Promise<RunningAgent>;
  /** The template `tiny`, from the guest image. */
  createTemplate(guest: GuestTemplate): Promise<Obj>;
  /** A VXLAN network of a fresh /24, implemented on `vni`; `hosts` plays the operator's status.hosts. */
  createNetwork(name: string, vni: number, hosts?: string[]): Promise<{ network: Obj; prefix: string }>;
  /**
   * A VM with a ROOT volume from `tiny` (and a data disk if asked), labelled and placed on the
   * node, its NICs written in status.nics (MAC from the uids, the address given or .10 upwards)
   * and its volumes on the pool.
   */
  placeVm(
    name: string,
    options?: {
      networks?: { name: string; ipAddress?: string }[];
      dataDisk?: boolean;
      state?: 'Running' | 'Stopped';
      offering?: string;
      scheduledAt?: string;
      sshKeyPair?: string;
      /** A Template (format ISO) of the namespace in the VM's CD-ROM drive: spec.attachedIsoRef. */
      attachedIso?: string;
    },
  ): Promise<Obj>;
  /** A data volume of the disk offering for `vm` (deviceId given or free), on the pool. */
  createDataVolume(name: string, vm: string, options?: { deviceId?: number; size?: string }): Promise<Obj>;
  /** Removes every object, the links of `vnis` and any dnsmasq the agent left in its state directory. */
  cleanup(vnis: number[]): Promise<void>;
}

const repoRoot = resolve(import.meta.dirname, '../..');

const NAMESPACES = { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false };

/**
 * `namespace`: an existing namespace (an account's) for the world's objects, kept by cleanup();
 * a fresh one when absent. `hostAhead`: the node's Host is made before its Local pool, as
 * addHost makes it, for a control plane whose admission wants a pool's host to exist.
 */
export async function createAgentWorld(prefix: string, options: { namespace?: string; hostAhead?: boolean } = {}): Promise<AgentWorld> {
  const s = randomBytes(3).toString('hex');
  const ns = options.namespace ?? `${prefix}-${s}`;
  const node = `node-${prefix}-${s}`;
  const names = { zone: `zone-${s}`, pod: `pod-${s}`, cluster: `cluster-${s}`, pool: `local-${s}`, offering: `tiny-${s}`, diskOffering: `disk-${s}` };
  const kc = await sharedKubeConfig();
  await installCrds(kc, await readCrdManifests(join(repoRoot, 'crds')), log);
  const client = createKubeClient(kc);
  // What the installation (the operator's prepareInfrastructure) creates: the heartbeat Leases' namespace.
  await client.resource(NAMESPACES).create({ metadata: { name: HOST_LEASE_NAMESPACE } }).catch(() => undefined);
  if (options.namespace === undefined) await client.resource(NAMESPACES).create({ metadata: { name: ns } });
  // World-traversable: a system libvirtd runs QEMU as libvirt-qemu.
  const workDir = await mkdtemp(`/var/tmp/kumulus-${prefix}-`);
  await chmod(workDir, 0o755);
  const poolDir = join(workDir, 'pool');
  const agentStateDir = join(workDir, 'agent');
  const res = (kind: keyof typeof RESOURCES) => client.resource<Obj>(RESOURCES[kind]);
  const clusterScoped: { kind: keyof typeof RESOURCES; name: string }[] = [];
  const create = async (kind: keyof typeof RESOURCES, name: string, spec: Record<string, unknown>) => {
    await res(kind).create({ metadata: { name }, spec });
    clusterScoped.push({ kind, name });
  };
  const subnet = () => `10.${randomInt(16, 250)}.${randomInt(0, 255)}`;
  const zoneSubnet = subnet();
  await create('zones', names.zone, { networkType: 'Advanced', dns1: '8.8.8.8', internalDns1: '192.168.100.2', guestCidr: `${zoneSubnet}.0/24` });
  await create('pods', names.pod, { zoneRef: { name: names.zone }, gateway: '192.168.100.1', netmask: '255.255.255.0', startIp: '192.168.100.10' });
  await create('clusters', names.cluster, { podRef: { name: names.pod }, hypervisor: 'KVM' });
  if (options.hostAhead === true) await res('hosts').create({ metadata: { name: node }, spec: { clusterRef: { name: names.cluster }, nodeName: node } });
  await create('primaryStorages', names.pool, { zoneRef: { name: names.zone }, scope: 'Host', hostRef: { name: node }, protocol: 'Local', path: poolDir });
  // Templates are downloaded here (by the agent holding the zone's download Lease) and copied to the pool from here.
  await create('secondaryStorages', `images-${s}`, { zoneRef: { name: names.zone }, provider: 'Local', url: `file://${join(workDir, 'secondary')}` });
  await create('serviceOfferings', names.offering, { cpuNumber: 1, cpuSpeed: 500, memory: '128Mi' });
  await create('diskOfferings', names.diskOffering, { diskSize: '2Gi' });

  return {
    client,
    ns,
    node,
    names,
    workDir,
    poolDir,
    agentStateDir,
    res,
    agentArgs: (libvirtUri) => [
      '--http-bind-address=127.0.0.1:0',
      `--libvirt-uri=${libvirtUri}`,
      // Its VMs boot the guest template, which a PVM host's KVM cannot run (guest-domain-type.ts).
      `--domain-type=${guestDomainType}`,
      `--state-dir=${agentStateDir}`,
      `--cluster=${names.cluster}`,
      '--shutdown-timeout=2s',
      '--reboot-timeout=2s',
      '--log-level=warn',
    ],
    async runSimulatedAgent() {
      const agent = await runAgent({
        kubeConfig: client.kubeConfig,
        handleSignals: false,
        env: { NODE_NAME: node },
        args: ['--http-bind-address=127.0.0.1:0', '--hypervisor=simulator', `--state-dir=${agentStateDir}`, `--cluster=${names.cluster}`, '--log-level=warn'],
      });
      await agent.joined;
      return agent;
    },
    async createTemplate(guest) {
      return res('templates').create({
        metadata: { name: 'tiny', namespace: ns },
        spec: { url: `file://${guest.path}`, format: 'QCOW2', checksum: `{SHA-256}${guest.sha256}`, zoneRefs: [{ name: names.zone }] },
      });
    },
    async createNetwork(name, vni, hosts) {
      const prefix = subnet();
      const network = await res('networks').create({
        metadata: { name, namespace: ns },
        spec: { networkOfferingRef: { name: 'isolated' }, zoneRef: { name: names.zone }, cidr: `${prefix}.0/24`, gateway: `${prefix}.1` },
      });
      await res('networks').patchStatus(
        { name, namespace: ns },
        {
          status: {
            state: 'Implemented',
            cidr: `${prefix}.0/24`,
            gateway: `${prefix}.1`,
            netmask: '255.255.255.0',
            broadcastDomainType: 'Vxlan',
            broadcastUri: `vxlan://${vni}`,
            ...(hosts ? { hosts } : {}),
          },
        },
      );
      return { network, prefix };
    },
    async placeVm(name, options = {}) {
      const labels = { 'kumulus.io/host': node };
      const vm = await res('vms').create({
        metadata: { name, namespace: ns },
        spec: {
          displayName: name,
          zoneRef: { name: names.zone },
          serviceOfferingRef: { name: options.offering ?? names.offering },
          templateRef: { name: 'tiny', namespace: ns },
          networks: options.networks ?? [],
          state: options.state ?? 'Running',
          ...(options.sshKeyPair !== undefined ? { sshKeyPairRef: { name: options.sshKeyPair } } : {}),
          ...(options.attachedIso !== undefined ? { attachedIsoRef: { name: options.attachedIso } } : {}),
        },
      });
      const owner = [{ apiVersion: vm.apiVersion ?? '', kind: 'VirtualMachine', name, uid: vm.metadata.uid ?? '', controller: true, blockOwnerDeletion: true }];
      await res('volumes').create({
        metadata: { name: `${name}-root`, namespace: ns, labels, ownerReferences: owner },
        spec: { type: 'ROOT', zoneRef: { name: names.zone }, templateRef: { name: 'tiny', namespace: ns }, vmRef: { name }, deviceId: 0, size: '1Gi' },
      });
      if (options.dataDisk) {
        await res('volumes').create({
          metadata: { name: `${name}-data`, namespace: ns, labels, ownerReferences: owner },
          spec: { type: 'DATADISK', zoneRef: { name: names.zone }, diskOfferingRef: { name: names.diskOffering }, vmRef: { name }, deviceId: 1 },
        });
      }
      for (const volume of [`${name}-root`, ...(options.dataDisk ? [`${name}-data`] : [])]) {
        await res('volumes').patchStatus({ name: volume, namespace: ns }, { status: { pool: names.pool } });
      }
      // The operator's share of status: where the VM runs, and its NICs' MACs and addresses.
      const nics = [];
      for (const [deviceId, nic] of (options.networks ?? []).entries()) {
        const network = await res('networks').get({ name: nic.name, namespace: ns });
        const prefix = (network.spec?.['cidr'] as string).split('.').slice(0, 3).join('.');
        nics.push({ network: nic.name, deviceId, isDefault: deviceId === 0, macAddress: nicMac(vm.metadata.uid ?? '', network.metadata.uid ?? ''), ipAddress: nic.ipAddress ?? `${prefix}.${10 + deviceId}` });
      }
      await res('vms').patch({ name, namespace: ns }, { metadata: { labels } });
      // When it was placed, as the operator's Scheduled condition says: the agent admits VMs in that order.
      const scheduled = { type: 'Scheduled', status: 'True', reason: 'Placed', message: `host ${node}`, lastTransitionTime: options.scheduledAt ?? new Date().toISOString().replace(/\.\d{3}Z$/, 'Z') };
      await res('vms').patchStatus(
        { name, namespace: ns },
        { status: { placement: { zone: names.zone, pod: names.pod, cluster: names.cluster, host: node }, conditions: [scheduled], ...(nics.length > 0 ? { nics } : {}) } },
      );
      return vm;
    },
    async createDataVolume(name, vm, options = {}) {
      const owner = await res('vms').get({ name: vm, namespace: ns });
      const volume = await res('volumes').create({
        metadata: { name, namespace: ns, labels: { 'kumulus.io/host': node } },
        spec: {
          type: 'DATADISK',
          zoneRef: { name: names.zone },
          diskOfferingRef: { name: names.diskOffering },
          vmRef: { name: owner.metadata.name ?? vm },
          ...(options.deviceId !== undefined ? { deviceId: options.deviceId } : {}),
          ...(options.size !== undefined ? { size: options.size } : {}),
        },
      });
      await res('volumes').patchStatus({ name, namespace: ns }, { status: { pool: names.pool } });
      return volume;
    },
    async cleanup(vnis) {
      const strip = async (resource: ResourceClient<Obj>, name: string) => {
        await resource.patch({ name, namespace: ns }, { metadata: { finalizers: null } }).catch(() => undefined);
      };
      for (const kind of ['vms', 'volumes'] as const) {
        for (const o of (await res(kind).list({ namespace: ns }).catch(() => ({ items: [] as Obj[] }))).items) await strip(res(kind), o.metadata.name ?? '');
      }
      // A namespace the world was given stays: what the world put there goes.
      if (options.namespace !== undefined) {
        for (const kind of ['vms', 'volumes', 'templates'] as const) {
          for (const o of (await res(kind).list({ namespace: ns }).catch(() => ({ items: [] as Obj[] }))).items) {
            await strip(res(kind), o.metadata.name ?? '');
            await res(kind).delete({ name: o.metadata.name ?? '', namespace: ns }).catch(() => undefined);
          }
        }
      }
      for (const { kind, name } of clusterScoped.reverse()) await res(kind).delete({ name }).catch(() => undefined);
      await res('hosts').delete({ name: node }).catch(() => undefined);
      if (options.namespace === undefined) await client.resource(NAMESPACES).delete({ name: ns }).catch(() => undefined);
      const run = commandRunner();
      for (const vni of vnis) {
        await run(['ip', 'link', 'del', bridgeName({ type: 'vxlan', vni })]).catch(() => undefined);
        await run(['ip', 'link', 'del', vxlanDeviceName(vni)]).catch(() => undefined);
        await run(['ip', 'netns', 'del', `kumulus-dhcp-${bridgeName({ type: 'vxlan', vni })}`]).catch(() => undefined);
      }
      // A dnsmasq left by a failed test keeps its address bound.
      const dnsmasqRoot = join(agentStateDir, 'dnsmasq');
      for (const bridge of await readdir(dnsmasqRoot).catch(() => [] as string[])) {
        const pid = Number.parseInt(await readFile(join(dnsmasqRoot, bridge, 'dnsmasq.pid'), 'utf8').catch(() => ''), 10);
        if (!Number.isInteger(pid)) continue;
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          // already gone
        }
      }
      await rm(workDir, { recursive: true, force: true });
    },
  };
}
