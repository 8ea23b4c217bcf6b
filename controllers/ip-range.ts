/**
 * IPRange: labelled with its zone (and pod), counts its addresses, the IPAddress objects taken
 * from it and the free rest, and is Ready once everything it names exists. Held while any of
 * its addresses is allocated. (Overlap within a zone is refused by the admission webhook.)
 */
import { IPRange, type IPRangeObject } from '../crds/index.ts';
import type { Manager } from '../lib/manager.ts';
import { rangeSize } from './capacity.ts';
import { IN_USE_FINALIZER, INDEX, LABEL_POD, LABEL_ZONE, type InfraContext } from './infra-context.ts';
import { registerKindReconciler, watchNames } from './reconciler.ts';

export function registerIPRangeController(manager: Manager, ctx: InfraContext): void {
  const i = ctx.informers;
  registerKindReconciler<IPRangeObject>(manager, ctx, {
    name: 'iprange',
    kind: IPRange,
    informer: i.ipRanges,
    ownership: { fields: ['total', 'allocated', 'free'], conditions: ['Ready'] },
    labels: (r) => ({ [LABEL_ZONE]: r.spec.zoneRef.name, [LABEL_POD]: r.spec.podRef?.name }),
    finalizer: IN_USE_FINALIZER,
    remaining: (r) => i.ipAddresses.byIndex(INDEX.ipRange, r.metadata.name ?? '').map((a) => `IPAddress ${a.metadata.name} (${a.spec.address})`),
    observe(range) {
      const spec = range.spec;
      const total = rangeSize(spec.startIp, spec.endIp);
      const allocated = i.ipAddresses.byIndex(INDEX.ipRange, range.metadata.name ?? '').length;
      const missing: string[] = [];
      if (!i.zones.get(spec.zoneRef.name)) missing.push(`Zone ${spec.zoneRef.name} (spec.zoneRef.name)`);
      if (spec.podRef && !i.pods.get(spec.podRef.name)) missing.push(`Pod ${spec.podRef.name} (spec.podRef.name)`);
      const physical = spec.physicalNetworkRef ? i.physicalNetworks.get(spec.physicalNetworkRef.name) : undefined;
      if (spec.physicalNetworkRef && !physical) missing.push(`PhysicalNetwork ${spec.physicalNetworkRef.name} (spec.physicalNetworkRef.name)`);
      if (spec.networkRef && !i.networks.get({ namespace: spec.networkRef.namespace, name: spec.networkRef.name })) {
        missing.push(`Network ${spec.networkRef.namespace}/${spec.networkRef.name} (spec.networkRef)`);
      }
      const wrongZone = physical && physical.spec.zoneRef.name !== spec.zoneRef.name ? `PhysicalNetwork ${physical.metadata.name} is in zone ${physical.spec.zoneRef.name}, not ${spec.zoneRef.name}` : '';
      const fields = { total, allocated, free: Math.max(0, total - allocated) };
      if (missing.length) return { state: 'Pending', fields, conditions: [{ type: 'Ready', status: 'False', reason: 'ReferenceNotFound', message: `waiting for ${missing.join(', ')} to exist` }] };
      if (wrongZone) return { state: 'Error', fields, conditions: [{ type: 'Ready', status: 'False', reason: 'ZoneMismatch', message: `${wrongZone}: fix spec.physicalNetworkRef` }] };
      return { state: 'Ready', fields, conditions: [{ type: 'Ready', status: 'True', reason: 'RangeReady', message: '' }] };
    },
    stateEvents: (from, to) => (to === 'Ready' && from !== 'Ready' ? [{ reason: 'VLAN.IP.RANGE.CREATE', note: 'IP range ready' }] : to === 'Ready' ? [] : [{ type: 'Warning', reason: 'VLAN.IP.RANGE.ERROR', note: `IP range ${to}` }]),
    deletedEvent: () => ({ reason: 'VLAN.IP.RANGE.DELETE', note: 'IP range deleted' }),
    watches: [
      watchNames(i.ipAddresses, (a) => [a.spec.ipRangeRef?.name]),
      watchNames(i.zones, (z) => i.ipRanges.byIndex(INDEX.zone, z.metadata.name ?? '').map((r) => r.metadata.name)),
      watchNames(i.pods, (p) => i.ipRanges.byIndex(INDEX.pod, p.metadata.name ?? '').map((r) => r.metadata.name)),
      watchNames(i.physicalNetworks, (pn) => i.ipRanges.byIndex(INDEX.physicalNetwork, pn.metadata.name ?? '').map((r) => r.metadata.name)),
      watchNames(i.networks, (n) => i.ipRanges.list().filter((r) => r.spec.networkRef?.name === n.metadata.name && r.spec.networkRef?.namespace === n.metadata.namespace).map((r) => r.metadata.name)),
    ],
  });
}
