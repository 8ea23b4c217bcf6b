import { defaultServiceNamespacePrefix } from './names.ts';
import { planNetworks } from './plan.ts';
import type { NetworkDriver, ObservedNetworking } from './types.ts';

const nothing = (): ObservedNetworking => ({ links: new Map(), floodTargets: new Map(), dnsmasq: new Map(), serviceNamespaces: new Map() });

/**
 * The network driver of a simulated host (--hypervisor=simulator): it plans as the Linux
 * driver does, so a network a host could not build is rejected the same way, and touches
 * nothing. Simulated agents, many on one machine, must never take the machine's links,
 * namespaces or dnsmasq for their own and remove them.
 */
export function simulatedNetworkDriver(stateDir: string): NetworkDriver {
  const options = { stateDir, serviceNamespacePrefix: defaultServiceNamespacePrefix };
  const plan = (desired: Parameters<NetworkDriver['plan']>[0]) => Promise.resolve(planNetworks(desired, nothing(), options));
  return { observe: () => Promise.resolve(nothing()), plan, apply: plan };
}
