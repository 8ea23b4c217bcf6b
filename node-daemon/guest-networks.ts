/**
 * Guest networks (agent side). The network driver takes the whole set a host should carry, so
 * one function computes it and applies it, one run at a time: the VM reconciler calls it before
 * starting a domain (its bridges must exist), and this reconciler calls it when a Network or a
 * Host address changes.
 *
 * - Carried: every network a VM placed here uses, and every network whose status.hosts (kept
 *   by the operator's network-hosts controller) names this host: that is how a persistent
 *   network is built, and kept while idle, on every host of its zone.
 * - Segment: from the Network's status.broadcastUri (vxlan://<vni> or vlan://<id>); a VLAN
 *   rides the interface its physical network's Guest traffic label names.
 * - Remote VTEPs: the status.ipAddress of the other hosts in the network's status.hosts. The
 *   agent never watches other hosts' VMs.
 * - DHCP: static entries for this host's VMs only (the MAC and address of each NIC in the VM's
 *   status.nics, written by the operator), served from the network's service address
 *   (lib/ipv4.ts), the same on every host (nftables keeps it from crossing the uplink).
 */
import type { Informer } from '../lib/informer.ts';
import type { HostObject, NetworkObject, PhysicalNetworkObject, VirtualMachineObject } from '../crds/index.ts';
import { guestAddressing } from '../lib/ipv4.ts';
import { keyOf } from '../lib/kube-client.ts';
import type { Logger } from '../lib/log.ts';
import type { Manager } from '../lib/manager.ts';
import { bridgeName } from './drivers/network/names.ts';
import type { GuestNetworkSpec, NetworkDriver, Segment } from './drivers/network/types.ts';
import { errorMessage } from '../lib/error-message.ts';

export interface GuestNetworkInformers {
  /** VMs placed on this host. */
  ownVms: Informer<VirtualMachineObject>;
  networks: Informer<NetworkObject>;
  physicalNetworks: Informer<PhysicalNetworkObject>;
  hosts: Informer<HostObject>;
}

export interface NetworkAttachment {
  bridge: string;
  segment: Segment;
}

export interface SyncResult {
  /** Each network's bridge, by `namespace/name`. */
  attached: Map<string, NetworkAttachment>;
  /** Why a network has no bridge, by `namespace/name`. */
  problems: Map<string, string>;
  /** Set when the driver failed as a whole: worth retrying. */
  failed?: string;
}

export interface GuestNetworks {
  /** Applies the set of networks this host carries, once the caches it reads have synced. */
  sync(): Promise<SyncResult>;
  /** Whether the network (`namespace/name`) is carried here, or was at the last sync: a change to it may change the host. */
  concerns(key: string): boolean;
}

/** `namespace/name` of a VM's network. */
export function networkKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
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
    localVtep: string | undefined;
    logger: Logger;
    /** Told when the driver fails (the host is then Alert) and when it works again. */
    onHealth?: (problem: string | undefined) => void;
    /** Aborted when the agent stops: a sync still waiting for the caches gives up. */
    signal?: AbortSignal;
  },
): GuestNetworks {
  const { ownVms, networks, physicalNetworks, hosts, driver, host } = deps;
  let running: Promise<unknown> = Promise.resolve();
  let lastCarried = new Set<string>();

  const listedHere = (): NetworkObject[] => networks.list().filter((n) => active(n) && n.status?.hosts?.includes(host) === true);

  const segmentOf = (network: NetworkObject): Segment => {
    const uri = network.status?.broadcastUri ?? '';
    const name = keyOf(network);
    const match = /^(vxlan|vlan):\/\/(\d+)$/.exec(uri);
    if (!match?.[1] || !match[2]) {
      throw new Error(`Network ${name} is not implemented yet: status.broadcastUri is "${uri}", expected vxlan://<vni> or vlan://<id>`);
    }
    const id = Number(match[2]);
    if (match[1] === 'vxlan') {
      if (deps.localVtep === undefined) throw new Error(`Network ${name} is VXLAN but this agent has no VTEP address: set --vtep-address`);
      const remote = new Set<string>();
      for (const there of network.status?.hosts ?? []) {
        if (there === host) continue;
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
    const listed = new Set(listedHere().map((n) => keyOf(n)));
    for (const key of listed) if (!users.has(key)) users.set(key, []);
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
        const segment = segmentOf(network);
        const { cidr, gateway, serviceAddress } = guestAddressing(network) ?? {};
        if (cidr !== undefined && serviceAddress === undefined) {
          throw new Error(`Network ${key}'s CIDR ${cidr} leaves no address for the DHCP and DNS service; use a /30 or larger`);
        }
        // The NIC as the operator wrote it in status.nics: its MAC and its address.
        const dhcpHosts = cidr
          ? vms.flatMap((vm) => {
              const nic = vm.status?.nics?.find((n) => n.network === network.metadata.name);
              return nic?.ipAddress ? [{ mac: nic.macAddress.toLowerCase(), ip: nic.ipAddress, hostname: hostLabel(vm) }] : [];
            })
          : [];
        const dns = [network.spec.dns1, network.spec.dns2].filter((d) => d !== undefined);
        specs.push({
          uid: network.metadata.uid ?? '',
          segment,
          inUse: vms.length > 0,
          // Listed here by the operator: kept while no local VM uses it.
          persistent: listed.has(key),
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

  const usedHere = (key: string): boolean => {
    const [namespace, name] = key.split('/');
    return ownVms.list(namespace).some((vm) => active(vm) && vm.spec.networks?.some((n) => n.name === name));
  };

  return {
    concerns(key) {
      const network = networks.get(key);
      return lastCarried.has(key) || (network !== undefined && active(network) && network.status?.hosts?.includes(host) === true) || usedHere(key);
    },
    sync() {
      const next = running.then(async (): Promise<SyncResult> => {
        // On partial caches the desired set would be short, and apply would tear down live networks.
        await Promise.all([ownVms, networks, physicalNetworks, hosts].map((i) => i.waitForSync(deps.signal)));
        const { specs, attached, problems } = desired();
        lastCarried = new Set([...attached.keys(), ...problems.keys()]);
        try {
          const plan = await driver.apply(specs);
          // A network the driver cannot build is left as it was; the others are built.
          for (const key of [...attached.keys()]) {
            const why = plan.rejected.get(networks.get(key)?.metadata.uid ?? '');
            if (why === undefined) continue;
            problems.set(key, why);
            attached.delete(key);
          }
          deps.onHealth?.(undefined);
          return { attached, problems };
        } catch (err) {
          const message = `the host's guest networking could not be applied: ${errorMessage(err)}`;
          for (const key of attached.keys()) problems.set(key, message);
          attached.clear();
          deps.logger.warn('guest networks not applied', { error: errorMessage(err) });
          deps.onHealth?.(message);
          return { attached, problems, failed: message };
        }
      });
      running = next.catch(() => undefined);
      return next;
    },
  };
}

/** Re-applies the host's networks when a Network, or the address of a host carrying one of them, changes. */
export function registerGuestNetworkReconciler(manager: Manager, deps: GuestNetworkInformers & { networksOfHost: GuestNetworks }): void {
  const { networks, hosts, networksOfHost } = deps;
  manager.addController({
    name: 'agent-network',
    for: networks,
    watches: [
      {
        // A host's address is a VTEP of the networks it carries with this host; its other status changes are not.
        informer: hosts,
        changed: (before, after) => (before as HostObject).status?.ipAddress !== (after as HostObject).status?.ipAddress,
        map: (h) =>
          networks
            .list()
            .filter((n) => n.status?.hosts?.includes(h.metadata.name ?? '') && networksOfHost.concerns(keyOf(n)))
            .map((n) => ({ namespace: n.metadata.namespace, name: n.metadata.name ?? '' })),
      },
    ],
    reconcile: async (ctx, request) => {
      const key = networkKey(request.namespace ?? '', request.name);
      if (!networksOfHost.concerns(key)) return;
      const { problems, failed } = await networksOfHost.sync();
      // Retried with backoff: nothing else would bring the host's networks back.
      if (failed !== undefined) throw new Error(failed);
      const problem = problems.get(key);
      if (problem) ctx.log.info('network not plumbed', { problem });
    },
  });
}
