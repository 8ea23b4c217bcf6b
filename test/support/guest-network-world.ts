import { randomInt } from 'node:crypto';
import {
  IPAddress,
  Network,
  NetworkOffering,
  PhysicalNetwork,
  VirtualMachine,
  VlanAllocation,
  Zone,
  type IPAddressObject,
  type NetworkObject,
  type VirtualMachineObject,
  type VlanAllocationObject,
} from '../../crds/index.ts';
import type { KindInfo } from '../../crds/index.ts';
import { isAlreadyExists, isNotFound, resourceTypeOf, type KubeClient, type KubeObject, type ResourceClient } from '../../lib/kube-client.ts';
import { LABEL_NETWORK_UID } from '../../lib/guest-identity.ts';

/**
 * A small cloud for guest-network tests, through the real apiserver: a zone, a physical
 * network with a VNI range of its own, the three offering types, a namespace, networks and
 * VMs. Names carry a suffix, and the VNI range a random base, so tests and runs never collide.
 * The test plays the planner: `place` writes status.placement through the status subresource.
 */
export interface GuestNetworkWorld {
  client: KubeClient;
  suffix: string;
  namespace: string;
  zone: string;
  physicalNetwork: string;
  vniBase: number;
  offerings: { isolated: string; persistent: string; l2: string; shared: string };
  networks: ResourceClient<NetworkObject>;
  vms: ResourceClient<VirtualMachineObject>;
  ipAddresses: ResourceClient<IPAddressObject>;
  vlanAllocations: ResourceClient<VlanAllocationObject>;
  network(name: string, spec?: Partial<NetworkObject['spec']>): Promise<NetworkObject>;
  vm(name: string, networks: NonNullable<VirtualMachineObject['spec']['networks']>, opts?: { state?: 'Running' | 'Stopped'; finalizers?: string[] }): Promise<VirtualMachineObject>;
  place(vm: string, host?: string): Promise<VirtualMachineObject>;
  /** IPAddress objects of a network, from the apiserver. */
  addressesOf(network: NetworkObject): Promise<IPAddressObject[]>;
  /** VlanAllocations naming a network uid, from the apiserver. */
  allocationsOf(networkUid: string): Promise<VlanAllocationObject[]>;
  cleanup(): Promise<void>;
}

export interface WorldOptions {
  vniCount?: number;
  /** The zone's guest CIDR. */
  guestCidr?: string;
}

export async function guestNetworkWorld(client: KubeClient, suffix: string, options: WorldOptions = {}): Promise<GuestNetworkWorld> {
  const vniCount = options.vniCount ?? 50;
  const vniBase = 100_000 + randomInt(0, 10_000) * 1000;
  const namespace = `gn-${suffix}`;
  const zone = `gnz-${suffix}`;
  const physicalNetwork = `gnpn-${suffix}`;
  const offerings = { isolated: `gni-${suffix}`, persistent: `gnp-${suffix}`, l2: `gnl2-${suffix}`, shared: `gns-${suffix}` };
  const res = <T extends KubeObject = KubeObject>(kind: KindInfo) => client.resource<T>(resourceTypeOf(kind));
  const create = async <T extends KubeObject>(r: ResourceClient<T>, body: unknown): Promise<T> => {
    try {
      return await r.create(body as T);
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      return r.get({ name: (body as T).metadata.name ?? '', namespace: (body as T).metadata.namespace });
    }
  };
  const namespaces = client.resource({ group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false });
  await create(namespaces, { metadata: { name: namespace } });
  await create(res(Zone), { apiVersion: Zone.apiVersion, kind: 'Zone', metadata: { name: zone }, spec: { networkType: 'Advanced', dns1: '192.0.2.53', internalDns1: '192.0.2.53', guestCidr: options.guestCidr ?? '10.1.0.0/16', allocationState: 'Enabled' } });
  await create(res(PhysicalNetwork), {
    apiVersion: PhysicalNetwork.apiVersion,
    kind: 'PhysicalNetwork',
    metadata: { name: physicalNetwork },
    spec: { zoneRef: { name: zone }, isolationMethods: ['VLAN', 'VXLAN'], vniRanges: [{ start: vniBase, end: vniBase + vniCount - 1 }], trafficTypes: [{ type: 'Guest', kvmLabel: 'cloudbr1' }] },
  });
  const offering = (name: string, spec: Record<string, unknown>) => create(res(NetworkOffering), { apiVersion: NetworkOffering.apiVersion, kind: 'NetworkOffering', metadata: { name }, spec });
  await offering(offerings.isolated, { guestIpType: 'Isolated' });
  await offering(offerings.persistent, { guestIpType: 'Isolated', persistent: true });
  await offering(offerings.l2, { guestIpType: 'L2' });
  await offering(offerings.shared, { guestIpType: 'Shared', specifyVlan: true, specifyIpRanges: true });

  const networks = res<NetworkObject>(Network);
  const vms = res<VirtualMachineObject>(VirtualMachine);
  const ipAddresses = res<IPAddressObject>(IPAddress);
  const vlanAllocations = res<VlanAllocationObject>(VlanAllocation);
  const createdNetworks: string[] = [];
  const addressesOf = async (network: NetworkObject) => (await ipAddresses.list({ labelSelector: `${LABEL_NETWORK_UID}=${network.metadata.uid ?? ''}` })).items;
  const allocationsOf = async (networkUid: string) => (await vlanAllocations.list({ labelSelector: `${LABEL_NETWORK_UID}=${networkUid}` })).items;

  return {
    client,
    suffix,
    namespace,
    zone,
    physicalNetwork,
    vniBase,
    offerings,
    networks,
    vms,
    ipAddresses,
    vlanAllocations,
    async network(name, spec = {}) {
      createdNetworks.push(name);
      return networks.create({
        apiVersion: Network.apiVersion,
        kind: 'Network',
        metadata: { name, namespace },
        spec: { networkOfferingRef: { name: offerings.isolated }, zoneRef: { name: zone }, ...spec },
      });
    },
    vm(name, nics, opts = {}) {
      return vms.create({
        apiVersion: VirtualMachine.apiVersion,
        kind: 'VirtualMachine',
        metadata: { name, namespace, ...(opts.finalizers ? { finalizers: opts.finalizers } : {}) },
        spec: { zoneRef: { name: zone }, serviceOfferingRef: { name: 'small' }, templateRef: { name: 'tmpl' }, networks: nics, state: opts.state ?? 'Running' },
      });
    },
    place(vm, host = `host-${suffix}`) {
      return vms.patchStatus({ namespace, name: vm }, { status: { placement: { zone, pod: `pod-${suffix}`, cluster: `cluster-${suffix}`, host } } });
    },
    addressesOf,
    allocationsOf,
    async cleanup() {
      const ignore = (err: unknown) => {
        if (!isNotFound(err)) throw err;
      };
      for (const vm of (await vms.list({ namespace })).items) {
        await vms.patch({ namespace, name: vm.metadata.name ?? '' }, { metadata: { finalizers: null } }).catch(ignore);
        await vms.delete({ namespace, name: vm.metadata.name ?? '' }).catch(ignore);
      }
      for (const name of createdNetworks) {
        const n = await networks.get({ namespace, name }).catch(() => undefined);
        if (!n) continue;
        for (const a of await addressesOf(n)) await ipAddresses.delete({ name: a.metadata.name ?? '' }).catch(ignore);
        for (const a of await allocationsOf(n.metadata.uid ?? '')) await vlanAllocations.delete({ name: a.metadata.name ?? '' }).catch(ignore);
        await networks.patch({ namespace, name }, { metadata: { finalizers: null } }).catch(ignore);
        await networks.delete({ namespace, name }).catch(ignore);
      }
      for (const [r, name] of [
        [res(NetworkOffering), offerings.isolated],
        [res(NetworkOffering), offerings.persistent],
        [res(NetworkOffering), offerings.l2],
        [res(NetworkOffering), offerings.shared],
        [res(PhysicalNetwork), physicalNetwork],
        [res(Zone), zone],
      ] as const) {
        await r.patch({ name }, { metadata: { finalizers: null } }).catch(ignore);
        await r.delete({ name }).catch(ignore);
      }
      await namespaces.delete({ name: namespace }).catch(ignore);
    },
  };
}
