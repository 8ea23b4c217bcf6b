/**
 * Network.status.hosts: the hosts that carry a guest network. The agents read it instead of
 * every VM placement of the cluster, so each agent watches only what is placed on it and the
 * networks, while one operator keeps the cluster-wide view. A host carries a network when a VM
 * placed there has a NIC on it; every host of the zone carries an implemented network whose
 * offering is persistent (CloudStack §15.20: implemented at creation and kept while idle).
 */
import { Network, type NetworkObject, type VirtualMachineObject } from '../crds/index.ts';
import { isNotFound, keyOf } from '../lib/kube-client.ts';
import type { Manager } from '../lib/manager.ts';
import { commitStatus, type StatusWriter } from '../lib/status.ts';
import { INDEX, LABEL_ZONE, clientFor, type InfraContext } from './infra-context.ts';

/** Its own field manager: the fields other controllers apply to Network status never drop this list. */
const WRITER: StatusWriter = { fieldManager: 'kumulus-operator-network-hosts', fields: ['hosts'], conditions: [] };

export function registerNetworkHostsController(manager: Manager, ctx: InfraContext): void {
  const i = ctx.informers;
  const client = clientFor<NetworkObject>(ctx, Network);

  const persistent = (network: NetworkObject): boolean =>
    network.status?.broadcastUri !== undefined && i.networkOfferings.get(network.spec.networkOfferingRef.name)?.spec.persistent === true;

  const hostsOf = (network: NetworkObject): string[] => {
    const hosts = new Set<string>();
    for (const vm of i.vms.byIndex(INDEX.network, keyOf(network))) {
      const host = vm.status?.placement?.host;
      if (host && vm.metadata.deletionTimestamp === undefined) hosts.add(host);
    }
    if (persistent(network)) {
      for (const host of i.hosts.list()) if (host.metadata.labels?.[LABEL_ZONE] === network.spec.zoneRef.name) hosts.add(host.metadata.name ?? '');
    }
    return [...hosts].sort();
  };

  const requestOf = (n: NetworkObject) => ({ namespace: n.metadata.namespace, name: n.metadata.name ?? '' });

  manager.addController<NetworkObject>({
    name: 'network-hosts',
    for: i.networks,
    watches: [
      {
        informer: i.vms,
        map: (vm) => ((vm as VirtualMachineObject).spec.networks ?? []).map((n) => ({ namespace: vm.metadata.namespace, name: n.name })),
      },
      { informer: i.networkOfferings, map: (o) => i.networks.byIndex(INDEX.networkOffering, o.metadata.name ?? '').map(requestOf) },
      {
        // A host joining or leaving a zone joins or leaves its persistent networks; its status changes do not matter here.
        informer: i.hosts,
        changed: (before, after) => before.metadata.labels?.[LABEL_ZONE] !== after.metadata.labels?.[LABEL_ZONE],
        map: (h) => i.networks.list().filter((n) => n.spec.zoneRef.name === h.metadata.labels?.[LABEL_ZONE] || n.status?.hosts?.includes(h.metadata.name ?? '')).map(requestOf),
      },
    ],
    async reconcile(rctx, request) {
      const network = i.networks.get(request);
      if (!network || network.metadata.deletionTimestamp !== undefined) return;
      const hosts = hostsOf(network);
      // No list and an empty one say the same: a network no host carries yet is not written to.
      if (hosts.length === 0 && !network.status?.hosts) return;
      try {
        if (!(await commitStatus(client, network, WRITER, { fields: { hosts }, conditions: [] }, rctx.signal))) return;
      } catch (err) {
        if (isNotFound(err)) return;
        throw err;
      }
      rctx.log.info('network hosts', { hosts });
    },
  });
}
