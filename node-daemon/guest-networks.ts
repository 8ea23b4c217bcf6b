/**
 * Guest networks (agent side). The network driver takes the whole set a host should carry, so
 * one function computes it and applies it, one run at a time: the VM reconciler calls it before
 * starting a domain (its bridges must exist), and this reconciler calls it when a Network, its
 * offering, another host's VMs (the remote VTEPs) or a Host address changes.
 *
 * - Carried: every network a VM placed here uses, and every implemented network of this host's
 *   zone whose offering is persistent (CloudStack implements those at creation and keeps them
 *   while idle, so a physical device on the bridge, or the next VM, finds them in place).
 * - Segment: from the Network's status.broadcastUri (vxlan://<vni> or vlan://<id>); a VLAN
 *   rides the interface its physical network's Guest traffic label names.
 * - Remote VTEPs: the status.ipAddress of every other host carrying the network: those with a
 *   VM on it, and for a persistent network every host of the zone.
 * - DHCP: static entries for this host's VMs only, served from the network's service address
 *   (lib/ipv4.ts), the same on every host (nftables keeps it from crossing the uplink).
 */
import type { Informer } from '../lib/informer.ts';
import type { HostObject, NetworkObject, NetworkOfferingObject, PhysicalNetworkObject, VirtualMachineObject } from '../crds/index.ts';
import { LABEL_ZONE } from '../lib/hierarchy-labels.ts';
import { guestServiceAddress } from '../lib/ipv4.ts';
import { keyOf } from '../lib/kube-client.ts';
import type { Logger } from '../lib/log.ts';
import type { Manager } from '../lib/manager.ts';
import { nicMac } from './drivers/identity.ts';
import { bridgeName } from './drivers/network/names.ts';
import type { GuestNetworkSpec, NetworkDriver, Segment } from './drivers/network/types.ts';
import { errorMessage } from './resources.ts';

export interface GuestNetworkInformers {
  /** VMs placed on this host. */
  ownVms: Informer<VirtualMachineObject>;
  /** Every placed VM of the cluster: where the other VTEPs of a network are. */
  placedVms: Informer<VirtualMachineObject>;
  networks: Informer<NetworkObject>;
  networkOfferings: Informer<NetworkOfferingObject>;
  physicalNetworks: Informer<PhysicalNetworkObject>;
  hosts: Informer<HostObject>;
}

export interface NetworkAttachment {
  bridge: string;
  segment: Segment;
}

export interface GuestNetworks {
  /** Applies the set of networks this host carries; returns each network's bridge, or why it has none. */
  sync(): Promise<{ attached: Map<string, NetworkAttachment>; problems: Map<string, string> }>;
  /** Whether the network (`namespace/name`) is carried here now or was at the last sync: a change to it may change the host. */
  concerns(key: string): boolean;
  /** Implemented networks of this host's zone with a persistent offering. */
  persistentHere(): NetworkObject[];
}

/** `namespace/name` of a VM's network. */
export function networkKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/** The MAC of a VM's NIC: the fixed one from spec, else derived from both uids. */
export function nicMacOf(vm: VirtualMachineObject, nic: { macAddress?: string }, network: NetworkObject): string {
  return (nic.macAddress ?? nicMac(vm.metadata.uid ?? '', network.metadata.uid ?? '')).toLowerCase();
}

function hostLabel(vm: VirtualMachineObject): string {
  const name = (vm.spec.hostName ?? vm.metadata.name ?? 'vm').split('.')[0] ?? 'vm';
  return name.toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 63).replace(/^-+|-+$/g, '') || 'vm';
}

function active(obj: VirtualMachineObject | NetworkObject): boolean {
  return obj.metadata.deletionTimestamp === undefined;
}

export function guestNetworks(
  deps: GuestNetworkInformers & {
    driver: NetworkDriver;
    host: string;
    /** This host's zone: persistent networks of the zone are carried here. */
    zone: string;
    localVtep: string | undefined;
    logger: Logger;
    /** Told when the driver fails (the host is then Alert) and when it works again. */
    onHealth?: (problem: string | undefined) => void;
  },
): GuestNetworks {
  const { ownVms, placedVms, networks, networkOfferings, physicalNetworks, hosts, driver, host, zone } = deps;
  let running: Promise<unknown> = Promise.resolve();
  let lastCarried = new Set<string>();

  const persistentHere = (): NetworkObject[] =>
    networks
      .list()
      .filter(
        (n) =>
          active(n) &&
          n.spec.zoneRef.name === zone &&
          n.status?.broadcastUri !== undefined &&
          n.status.state !== 'Shutdown' &&
          n.status.state !== 'Destroy' &&
          networkOfferings.get(n.spec.networkOfferingRef.name)?.spec.persistent === true,
      );

  const segmentOf = (network: NetworkObject, persistent: boolean): Segment => {
    const uri = network.status?.broadcastUri ?? '';
    const name = keyOf(network);
    const match = /^(vxlan|vlan):\/\/(\d+)$/.exec(uri);
    if (!match?.[1] || !match[2]) {
      throw new Error(`Network ${name} is not implemented yet: status.broadcastUri is "${uri}", expected vxlan://<vni> or vlan://<id>`);
    }
    const id = Number(match[2]);
    if (match[1] === 'vxlan') {
      if (deps.localVtep === undefined) throw new Error(`Network ${name} is VXLAN but this agent has no VTEP address: set --vtep-address`);
      const carriers = new Set<string>();
      for (const vm of placedVms.list(network.metadata.namespace)) {
        const there = vm.status?.placement?.host;
        if (there && active(vm) && vm.spec.networks?.some((n) => n.name === network.metadata.name)) carriers.add(there);
      }
      if (persistent) for (const h of hosts.list()) if (h.metadata.labels?.[LABEL_ZONE] === zone) carriers.add(h.metadata.name ?? '');
      carriers.delete(host);
      const remote = new Set<string>();
      for (const there of carriers) {
        const address = hosts.get(there)?.status?.ipAddress;
        if (address && address !== deps.localVtep) remote.add(address);
      }
      return { type: 'vxlan', vni: id, localVtep: deps.localVtep, remoteVteps: [...remote].sort() };
    }
    const physical = network.status?.physicalNetwork ?? network.spec.physicalNetworkRef?.name;
    const label = physical ? physicalNetworks.get(physical)?.spec.trafficTypes.find((t) => t.type === 'Guest')?.kvmLabel : undefined;
    if (!label) throw new Error(`Network ${name} is VLAN ${id} but its physical network ${physical ?? '(none)'} names no Guest traffic label (kvmLabel) for the uplink`);
    return { type: 'vlan', vlan: id, uplink: label };
  };

  const desired = (): { specs: GuestNetworkSpec[]; attached: Map<string, NetworkAttachment>; problems: Map<string, string> } => {
    const users = new Map<string, VirtualMachineObject[]>();
    for (const vm of ownVms.list()) {
      if (!active(vm)) continue;
      for (const nic of vm.spec.networks ?? []) {
        const key = networkKey(vm.metadata.namespace ?? '', nic.name);
        users.set(key, [...(users.get(key) ?? []), vm]);
      }
    }
    const persistent = new Set(persistentHere().map((n) => keyOf(n)));
    for (const key of persistent) if (!users.has(key)) users.set(key, []);
    const specs: GuestNetworkSpec[] = [];
    const attached = new Map<string, NetworkAttachment>();
    const problems = new Map<string, string>();
    for (const [key, vms] of users) {
      const network = networks.get(key);
      if (!network) {
        problems.set(key, `Network ${key} does not exist: create it or fix the VM's spec.networks`);
        continue;
      }
      try {
        const segment = segmentOf(network, persistent.has(key));
        const cidr = network.status?.cidr ?? network.spec.cidr;
        const gateway = network.status?.gateway ?? network.spec.gateway;
        const serviceAddress = cidr === undefined ? undefined : guestServiceAddress(cidr, gateway);
        if (cidr !== undefined && serviceAddress === undefined) {
          throw new Error(`Network ${key}'s CIDR ${cidr} leaves no address for the DHCP and DNS service; use a /30 or larger`);
        }
        const dhcpHosts = cidr
          ? vms.flatMap((vm) => {
              const nic = vm.spec.networks?.find((n) => n.name === network.metadata.name);
              const ip = vm.status?.nics?.find((n) => n.network === network.metadata.name)?.ipAddress ?? nic?.ipAddress;
              return nic && ip ? [{ mac: nicMacOf(vm, nic, network), ip, hostname: hostLabel(vm) }] : [];
            })
          : [];
        const dns = [network.spec.dns1, network.spec.dns2].filter((d) => d !== undefined);
        specs.push({
          uid: network.metadata.uid ?? '',
          segment,
          inUse: vms.length > 0,
          persistent: persistent.has(key),
          ...(cidr !== undefined && serviceAddress !== undefined
            ? {
                dhcp: {
                  cidr,
                  serviceAddress,
                  ...(gateway !== undefined ? { gateway } : {}),
                  ...(dns.length > 0 ? { dnsServers: dns } : {}),
                  ...(network.spec.networkDomain !== undefined ? { domain: network.spec.networkDomain } : {}),
                  hosts: dhcpHosts,
                },
              }
            : {}),
        });
        attached.set(key, { bridge: bridgeName(segment), segment });
      } catch (err) {
        problems.set(key, errorMessage(err));
      }
    }
    return { specs, attached, problems };
  };

  return {
    persistentHere,
    concerns(key) {
      return lastCarried.has(key) || desired().attached.has(key);
    },
    sync() {
      const next = running.then(async () => {
        const { specs, attached, problems } = desired();
        lastCarried = new Set([...attached.keys(), ...problems.keys()]);
        try {
          await driver.apply(specs);
          deps.onHealth?.(undefined);
        } catch (err) {
          // One bad network must not leave the others unplumbed: report it against every network.
          const message = `the host's guest networking could not be applied: ${errorMessage(err)}`;
          for (const key of attached.keys()) problems.set(key, message);
          attached.clear();
          deps.logger.warn('guest networks not applied', { error: errorMessage(err) });
          deps.onHealth?.(message);
        }
        return { attached, problems };
      });
      running = next.catch(() => undefined);
      return next;
    },
  };
}

/** Re-applies the host's networks when a Network, its offering, a remote VM placement or a Host address changes. */
export function registerGuestNetworkReconciler(manager: Manager, deps: GuestNetworkInformers & { networksOfHost: GuestNetworks; zone: string }): void {
  const { networks, networkOfferings, placedVms, hosts, ownVms, networksOfHost, zone } = deps;
  const requestOf = (key: string) => {
    const [namespace, name = ''] = key.split('/');
    return { namespace, name };
  };
  const usedHere = (): Set<string> => new Set(ownVms.list().flatMap((vm) => (vm.spec.networks ?? []).map((n) => networkKey(vm.metadata.namespace ?? '', n.name))));
  manager.addController({
    name: 'agent-network',
    for: networks,
    watches: [
      { informer: placedVms, map: (obj) => ((obj as VirtualMachineObject).spec.networks ?? []).map((n) => ({ namespace: obj.metadata.namespace, name: n.name })) },
      {
        informer: networkOfferings,
        map: (offering) => networks.list().filter((n) => n.spec.networkOfferingRef.name === offering.metadata.name).map((n) => ({ namespace: n.metadata.namespace, name: n.metadata.name ?? '' })),
      },
      {
        // A host's address is a VTEP of the networks its VMs share with this host's, and of the zone's persistent networks.
        informer: hosts,
        map: (h) => {
          const there = new Set(placedVms.list().filter((vm) => vm.status?.placement?.host === h.metadata.name).flatMap((vm) => (vm.spec.networks ?? []).map((n) => networkKey(vm.metadata.namespace ?? '', n.name))));
          const shared = [...usedHere()].filter((key) => there.has(key));
          const persistent = h.metadata.labels?.[LABEL_ZONE] === zone ? networksOfHost.persistentHere().map((n) => keyOf(n)) : [];
          return [...new Set([...shared, ...persistent])].map(requestOf);
        },
      },
    ],
    reconcile: async (ctx, request) => {
      const key = networkKey(request.namespace ?? '', request.name);
      if (!networksOfHost.concerns(key)) return;
      const { problems } = await networksOfHost.sync();
      const problem = problems.get(key);
      if (problem) ctx.log.info('network not plumbed', { problem });
    },
  });
}
