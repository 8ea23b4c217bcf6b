/**
 * PhysicalNetwork: keeps its traffic types and labels, reports its network service providers
 * with their state, how many VLAN ids and VNIs are allocated, and for every host of its zone
 * whether the host has the bridge each traffic label names. Ready when every connected host
 * has them. Held while guest networks or IP ranges use it.
 */
import { PhysicalNetwork, type PhysicalNetworkObject } from '../crds/index.ts';
import { isBeingDeleted } from '../lib/ownership.ts';
import type { Manager } from '../lib/manager.ts';
import { hostAncestry, hostsOfZone } from './hierarchy.ts';
import { CHILDREN_FINALIZER, INDEX, LABEL_ZONE, listNames, type InfraContext } from './infra-context.ts';
import { registerKindReconciler, watchNames } from './reconciler.ts';

/** Providers Kumulus runs when a physical network names none: the distributed virtual router and config drive. */
const DEFAULT_PROVIDERS = [
  { name: 'VirtualRouter', state: 'Enabled' },
  { name: 'ConfigDrive', state: 'Enabled' },
] as const;

export function registerPhysicalNetworkController(manager: Manager, ctx: InfraContext): void {
  const i = ctx.informers;
  registerKindReconciler<PhysicalNetworkObject>(manager, ctx, {
    name: 'physicalnetwork',
    kind: PhysicalNetwork,
    informer: i.physicalNetworks,
    ownership: { fields: ['serviceProviders', 'vlansAllocated', 'hosts'], conditions: ['Ready'] },
    labels: (pn) => ({ [LABEL_ZONE]: pn.spec.zoneRef.name }),
    finalizer: CHILDREN_FINALIZER,
    remaining(pn) {
      const name = pn.metadata.name ?? '';
      return [
        ...i.networks.byIndex(INDEX.physicalNetwork, name).map((n) => `Network ${n.metadata.namespace}/${n.metadata.name}`),
        ...i.ipRanges.byIndex(INDEX.physicalNetwork, name).map((r) => `IPRange ${r.metadata.name}`),
      ];
    },
    observe(pn) {
      const name = pn.metadata.name ?? '';
      const zone = pn.spec.zoneRef.name;
      const labels = [...new Set(pn.spec.trafficTypes.map((t) => t.kvmLabel))].sort();
      const hosts = hostsOfZone(ctx, zone).sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''));
      const perHost = hosts.map((h) => {
        const bridges = h.status?.bridges;
        const missing = bridges ? labels.filter((l) => !bridges.includes(l)) : labels;
        return { host: h.metadata.name ?? '', ready: bridges !== undefined && missing.length === 0, missingLabels: missing.length ? missing : undefined, connected: h.status?.state === 'Up' || h.status?.state === 'Alert', reported: bridges !== undefined };
      });
      const lacking = perHost.filter((h) => h.connected && !h.ready);
      const state = pn.spec.state ?? 'Enabled';
      const providers = (pn.spec.serviceProviders ?? DEFAULT_PROVIDERS).map((p) => ({ name: p.name, state: isBeingDeleted(pn) ? 'Shutdown' : (p.state ?? 'Enabled') }));
      let ready: { status: 'True' | 'False'; reason: string; message: string };
      if (!i.zones.get(zone)) ready = { status: 'False', reason: 'ZoneNotFound', message: `Zone ${zone} does not exist: create it or fix spec.zoneRef.name` };
      else if (lacking.length) {
        ready = {
          status: 'False',
          reason: 'BridgesMissing',
          message: `connected host(s) lack the bridges this network's traffic labels name: ${listNames(lacking.map((h) => (h.reported ? `Host ${h.host} lacks ${h.missingLabels?.join(', ')}` : `Host ${h.host} has not reported its bridges`)))}`,
        };
      } else ready = { status: 'True', reason: 'BridgesPresent', message: '' };
      return {
        state,
        fields: {
          serviceProviders: providers,
          vlansAllocated: i.vlanAllocations.byIndex(INDEX.physicalNetwork, name).length,
          // The schema holds 1024 hosts; the Ready message still covers every host.
          hosts: perHost.slice(0, 1024).map(({ host, ready: ok, missingLabels }) => ({ host, ready: ok, missingLabels })),
        },
        conditions: [{ type: 'Ready', ...ready }],
      };
    },
    stateEvents: (from, to) => [from === undefined ? { reason: 'PHYSICAL.NETWORK.CREATE', note: `physical network created, ${to}` } : { reason: 'PHYSICAL.NETWORK.UPDATE', note: `state ${from} → ${to}` }],
    deletedEvent: () => ({ reason: 'PHYSICAL.NETWORK.DELETE', note: 'physical network deleted' }),
    watches: [
      watchNames(i.hosts, (h) => {
        const zone = hostAncestry(ctx, h).zone;
        return zone ? i.physicalNetworks.byIndex(INDEX.zone, zone).map((pn) => pn.metadata.name) : [];
      }),
      watchNames(i.zones, (z) => i.physicalNetworks.byIndex(INDEX.zone, z.metadata.name ?? '').map((pn) => pn.metadata.name)),
      watchNames(i.vlanAllocations, (v) => [v.spec.physicalNetworkRef.name]),
      watchNames(i.networks, (n) => [n.spec.physicalNetworkRef?.name, n.status?.physicalNetwork]),
      watchNames(i.ipRanges, (r) => [r.spec.physicalNetworkRef?.name]),
    ],
  });
}
