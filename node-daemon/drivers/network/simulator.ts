import { defaultServiceNamespacePrefix } from './names.ts';
import { planNetworks } from './plan.ts';
import type { NetworkDriver, ObservedNetworking } from './types.ts';

/** Nothing but the simulated underlay that holds the host's VTEP address, as the Linux host's uplink would. */
const nothing = (localVtep: string | undefined): ObservedNetworking => ({
  links: new Map(localVtep === undefined ? [] : [[SIMULATED_UNDERLAY, { name: SIMULATED_UNDERLAY, mtu: 1500, up: true, addresses: [{ ip: localVtep, prefix: 32 }], ipv6: false }]]),
  floodTargets: new Map(),
  dnsmasq: new Map(),
  serviceNamespaces: new Map(),
});
const SIMULATED_UNDERLAY = 'sim-underlay';

/**
 * The network driver of a simulated host (--hypervisor=simulator): it plans as the Linux
 * driver does, so a network a host could not build is rejected the same way, and touches
 * nothing. Simulated agents, many on one machine, must never take the machine's links,
 * namespaces or dnsmasq for their own and remove them. The host's VTEP address is on a
 * simulated underlay, so VMs on VXLAN guest networks start on simulated hosts too.
 */
export function simulatedNetworkDriver(stateDir: string, localVtep?: string): NetworkDriver {
  const options = { stateDir, serviceNamespacePrefix: defaultServiceNamespacePrefix };
  const plan = (desired: Parameters<NetworkDriver['plan']>[0]) => Promise.resolve(planNetworks(desired, nothing(localVtep), options));
  return { observe: () => Promise.resolve(nothing(localVtep)), plan, apply: plan };
}
