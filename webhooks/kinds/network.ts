import {
  Account,
  Domain,
  IPAddress,
  IPRange,
  Network,
  NetworkOffering,
  PhysicalNetwork,
  VlanAllocation,
  Zone,
  type IPAddressObject,
  type IPRangeObject,
  type NetworkObject,
  type NetworkOfferingObject,
  type PhysicalNetworkObject,
  type VlanAllocationObject,
  type ZoneObject,
} from '../../crds/index.ts';
import { VLAN_MAX } from '../../crds/common.ts';
import type { KindAdmission } from '../admission.ts';
import type { Lookup } from '../lookup.ts';
import { guestAddressing, guestAddressProblem, intToIp, ipToInt, parseCidr, type Subnet } from '../../lib/ipv4.ts';
import {
  defaultDisplayName,
  domainScopeErrors,
  inactiveOffering,
  kindAdmission,
  refChanged,
  resolveRef,
  tenantOf,
  overlaps,
  whenChanged,
  zoneScopeErrors,
  type Admitted,
  type NameRef,
} from './rules.ts';
import { limitsRule } from './limits.ts';

/**
 * Admission of network.kumulus.io: guest networks against their zone, offering and physical
 * network, and the allocation records (IPAddress, VlanAllocation) against their pools.
 */

type NetworkAdmitted = Admitted<NetworkObject>;
type OfferingAdmitted = Admitted<NetworkOfferingObject>;
type PhysicalNetworkAdmitted = Admitted<PhysicalNetworkObject>;

/** CloudStack's default guest CIDR of a zone that names none. */
const DEFAULT_GUEST_CIDR = '10.1.1.0/24';
/** The size of the subnet an isolated network gets from its zone's guest CIDR. */
const DEFAULT_PREFIX = 24;

const interval = (net: Subnet) => ({ start: net.network, end: net.broadcast });

/**
 * The account's other Isolated networks (same namespace), each with its effective CIDR. Read
 * from the apiserver, not the cache: `kubectl apply` of two networks creates the second a
 * moment after the first, before the cache may hold it, and both would default to one CIDR.
 */
async function isolatedSiblings(lookup: Lookup, network: NetworkAdmitted): Promise<{ name: string; cidr: string; net: Subnet }[]> {
  const isolated = (n: NetworkAdmitted) => lookup.list<OfferingAdmitted>(NetworkOffering).find((o) => o.metadata.name === n.spec.networkOfferingRef.name)?.spec.guestIpType === 'Isolated';
  return (await lookup.current<NetworkAdmitted>(Network, network.metadata.namespace ?? ''))
    .filter((n) => n.metadata.name !== network.metadata.name && !n.metadata.deletionTimestamp && isolated(n))
    .flatMap((n) => {
      const cidr = guestAddressing(n)?.cidr;
      const net = cidr ? parseCidr(cidr) : undefined;
      return cidr && net ? [{ name: n.metadata.name ?? '', cidr, net }] : [];
    });
}

/**
 * The CIDR an Isolated network gets when it names none: the first /24 of its zone's guest
 * CIDR (CloudStack's 10.1.1.0/24 when the zone names none) that overlaps none of the
 * account's other isolated networks; the zone's whole guest CIDR when it is /24 or smaller.
 */
async function defaultIsolatedCidr(lookup: Lookup, network: NetworkAdmitted): Promise<string | undefined> {
  const zone = lookup.list<Admitted<ZoneObject>>(Zone).find((z) => z.metadata.name === network.spec.zoneRef.name);
  const base = parseCidr(zone?.spec.guestCidr ?? DEFAULT_GUEST_CIDR);
  if (!base) return undefined;
  const taken = (await isolatedSiblings(lookup, network)).map((s) => interval(s.net));
  const prefix = Math.max(base.prefix, DEFAULT_PREFIX);
  const size = 2 ** (32 - prefix);
  for (let start = base.network; start <= base.broadcast; start += size) {
    const candidate = { start, end: start + size - 1 };
    if (!taken.some((t) => overlaps(t, candidate))) return `${intToIp(start)}/${prefix}`;
  }
  return undefined;
}

export function networkAdmission(lookup: Lookup): KindAdmission<NetworkAdmitted> {
  return kindAdmission<NetworkAdmitted>(Network, lookup, {
    async defaults(network) {
      defaultDisplayName(network);
      const offering = lookup.list<OfferingAdmitted>(NetworkOffering).find((o) => o.metadata.name === network.spec.networkOfferingRef.name);
      if (network.spec.cidr === undefined && offering?.spec.guestIpType === 'Isolated') {
        const cidr = await defaultIsolatedCidr(lookup, network);
        if (cidr) network.spec.cidr = cidr;
      }
      // CloudStack gives an isolated network's router the first address of its CIDR.
      const cidr = network.spec.cidr ? parseCidr(network.spec.cidr) : undefined;
      if (cidr && cidr.prefix <= 30) network.spec.gateway ??= intToIp(cidr.network + 1);
    },
    rules: [
      async (ctx) => {
        const { object, oldObject, lookup } = ctx;
        const spec = object.spec;
        const changed = (read: (s: NetworkAdmitted['spec']) => NameRef | undefined) => refChanged(ctx, (o) => read(o.spec));
        const zone = await resolveRef<Admitted<ZoneObject>>(lookup, Zone, 'spec.zoneRef.name', spec.zoneRef, changed((s) => s.zoneRef));
        const offeringRef = await resolveRef<OfferingAdmitted>(lookup, NetworkOffering, 'spec.networkOfferingRef.name', spec.networkOfferingRef, changed((s) => s.networkOfferingRef));
        const errors = [...zone.errors, ...offeringRef.errors];
        const offering = offeringRef.parent;
        if (offering && changed((s) => s.networkOfferingRef)) {
          const what = `NetworkOffering ${offering.metadata.name}`;
          const tenant = await tenantOf(lookup, Account, Domain, object.metadata.namespace);
          errors.push(
            ...inactiveOffering(NetworkOffering, 'spec.networkOfferingRef.name', offering),
            ...(offering.spec.state === 'Disabled'
              ? [{ field: 'spec.networkOfferingRef.name', message: `${what} is Disabled: enable it (its spec.state Enabled, or updateNetworkOffering state=Enabled) or choose an Enabled offering` }]
              : []),
            ...zoneScopeErrors('spec.networkOfferingRef.name', what, offering.spec.zoneRefs, spec.zoneRef.name),
            ...domainScopeErrors('spec.networkOfferingRef.name', what, offering.spec.domainRefs?.map((d) => d.name), tenant),
          );
        }
        if (offering) {
          const type = offering.spec.guestIpType;
          const offeringName = offering.metadata.name ?? '';
          if (zone.parent?.spec.networkType === 'Basic' && type !== 'Shared') {
            errors.push({
              field: 'spec.networkOfferingRef.name',
              message: `offering ${offeringName} is ${type} but zone ${spec.zoneRef.name} is Basic, which has Shared networks only; use a Shared offering or an Advanced zone`,
            });
          }
          if (spec.vlan !== undefined && !offering.spec.specifyVlan) {
            errors.push({ field: 'spec.vlan', message: `offering ${offeringName} allocates VLANs itself (specifyVlan false); remove spec.vlan, or use an offering with specifyVlan: true` });
          }
          if (spec.vlan === undefined && offering.spec.specifyVlan && !oldObject) {
            errors.push({ field: 'spec.vlan', message: `is required: offering ${offeringName} has specifyVlan true, so the network's creator gives its VLAN id; set spec.vlan, or use an offering that allocates VLANs` });
          }
          if (type === 'L2') {
            for (const field of ['cidr', 'gateway', 'startIp', 'endIp'] as const) {
              if (spec[field] !== undefined) errors.push({ field: `spec.${field}`, message: `an L2 network has no addressing (offering ${offeringName} is L2); remove spec.${field}` });
            }
          }
          if (type === 'Shared' && !oldObject) {
            if (spec.cidr === undefined) errors.push({ field: 'spec.cidr', message: `is required for a Shared network (offering ${offeringName}): give the subnet its guests share, such as 192.168.10.0/24` });
            for (const field of ['startIp', 'endIp'] as const) {
              if (spec[field] === undefined) {
                errors.push({ field: `spec.${field}`, message: `is required for a Shared network (offering ${offeringName}): give the range of addresses handed to guests (CloudStack startip and endip)` });
              }
            }
          }
          if (type === 'Isolated' && spec.cidr === undefined && !oldObject) {
            errors.push({
              field: 'spec.cidr',
              message: `no CIDR could be defaulted from zone ${spec.zoneRef.name}'s guest CIDR: none of its /${DEFAULT_PREFIX}s is free of the account's other isolated networks (or the zone was not known yet); give spec.cidr`,
            });
          }
          if (oldObject && oldObject.spec.networkOfferingRef.name !== spec.networkOfferingRef.name) {
            const previous = await lookup.get<OfferingAdmitted>(NetworkOffering, oldObject.spec.networkOfferingRef.name);
            if (previous && previous.spec.guestIpType !== type) {
              errors.push({
                field: 'spec.networkOfferingRef.name',
                message: `offering ${offeringName} is ${type} but the network is ${previous.spec.guestIpType} (offering ${previous.metadata.name}); change to an offering of the same guest type`,
              });
            }
          }
        }
        const physical = await resolveRef<PhysicalNetworkAdmitted>(lookup, PhysicalNetwork, 'spec.physicalNetworkRef.name', spec.physicalNetworkRef, changed((s) => s.physicalNetworkRef));
        errors.push(...physical.errors);
        const pn = physical.parent;
        if (pn) {
          const pnName = pn.metadata.name ?? '';
          if (pn.spec.zoneRef.name !== spec.zoneRef.name) {
            errors.push({ field: 'spec.physicalNetworkRef.name', message: `physical network ${pnName} is in zone ${pn.spec.zoneRef.name}, not ${spec.zoneRef.name}; name one of zone ${spec.zoneRef.name}` });
          }
          if (!pn.spec.trafficTypes.some((t) => t.type === 'Guest')) {
            errors.push({ field: 'spec.physicalNetworkRef.name', message: `physical network ${pnName} carries no Guest traffic; name one that does, or add Guest to its spec.trafficTypes` });
          }
          if (spec.vlan !== undefined && spec.vlan > VLAN_MAX && !pn.spec.isolationMethods.includes('VXLAN')) {
            errors.push({ field: 'spec.vlan', message: `${spec.vlan} is above the VLAN maximum ${VLAN_MAX} and physical network ${pnName} has no VXLAN isolation; use a VLAN id 1-${VLAN_MAX}` });
          }
        }
        return errors;
      },
      whenChanged((n) => [n.spec.cidr, n.spec.startIp, n.spec.endIp], ({ object }) => {
        const { cidr, startIp, endIp } = object.spec;
        const net = cidr ? parseCidr(cidr) : undefined;
        if (!net) return [];
        const errors = [];
        const bounds = { start: startIp ? ipToInt(startIp) : net.network + 1, end: endIp ? ipToInt(endIp) : net.broadcast - 1 };
        for (const [field, ip] of [['startIp', startIp], ['endIp', endIp]] as const) {
          const n = ip ? ipToInt(ip) : undefined;
          if (n !== undefined && (n === net.network || n === net.broadcast)) {
            errors.push({ field: `spec.${field}`, message: `${ip} is the ${n === net.network ? 'network' : 'broadcast'} address of ${cidr}; use one in ${intToIp(net.network + 1)}-${intToIp(net.broadcast - 1)}` });
          }
        }
        if (bounds.start !== undefined && bounds.end !== undefined && bounds.start > bounds.end) {
          errors.push({ field: 'spec.startIp', message: `${intToIp(bounds.start)} is after spec.endIp (${intToIp(bounds.end)}); swap them` });
        }
        return errors;
      }),
      whenChanged((n) => [n.spec.cidr, n.spec.networkOfferingRef], async ({ object, lookup }) => {
        const offering = await lookup.get<OfferingAdmitted>(NetworkOffering, object.spec.networkOfferingRef.name);
        const net = object.spec.cidr ? parseCidr(object.spec.cidr) : undefined;
        if (offering?.spec.guestIpType !== 'Isolated' || !net) return [];
        const other = (await isolatedSiblings(lookup, object)).find((s) => overlaps(interval(s.net), interval(net)));
        if (!other) return [];
        return [{ field: 'spec.cidr', message: `${object.spec.cidr} overlaps ${other.cidr} of isolated network ${other.name} in this account; choose a CIDR outside it` }];
      }),
      whenChanged((n) => [n.spec.cidr, n.spec.gateway], ({ object }) => {
        const { cidr, gateway } = object.spec;
        const net = cidr ? parseCidr(cidr) : undefined;
        const gw = gateway ? ipToInt(gateway) : undefined;
        if (!net || gw === undefined || net.prefix >= 31 || (gw !== net.network && gw !== net.broadcast)) return [];
        return [{ field: 'spec.gateway', message: `${gateway} is the ${gw === net.network ? 'network' : 'broadcast'} address of ${cidr}; use a host address such as ${intToIp(net.network + 1)}` }];
      }),
    ],
    limits: limitsRule(Network),
  });
}

type IPAddressAdmitted = Admitted<IPAddressObject>;

export function ipAddressAdmission(lookup: Lookup): KindAdmission<IPAddressAdmitted> {
  return kindAdmission<IPAddressAdmitted>(IPAddress, lookup, {
    rules: [
      async ({ object, operation, lookup }) => {
        if (operation !== 'CREATE') return [];
        const spec = object.spec;
        const address = ipToInt(spec.address);
        const range = await resolveRef<Admitted<IPRangeObject>>(lookup, IPRange, 'spec.ipRangeRef.name', spec.ipRangeRef);
        const network = await resolveRef<NetworkAdmitted>(lookup, Network, 'spec.networkRef.name', spec.networkRef);
        const errors = [...range.errors, ...network.errors];
        const r = range.parent;
        if (r && address !== undefined) {
          const [start, end] = [ipToInt(r.spec.startIp)!, ipToInt(r.spec.endIp)!];
          if (address < start || address > end) {
            errors.push({ field: 'spec.address', message: `${spec.address} is outside IP range ${r.metadata.name} (${r.spec.startIp}-${r.spec.endIp}); take an address from the range` });
          }
          if (r.spec.purpose !== spec.purpose) {
            errors.push({ field: 'spec.purpose', message: `is ${spec.purpose} but IP range ${r.metadata.name} is for ${r.spec.purpose}; use purpose ${r.spec.purpose}` });
          }
        }
        const addressing = network.parent ? guestAddressing(network.parent) : undefined;
        const problem = addressing && !r ? guestAddressProblem(addressing, spec.address, network.parent?.metadata.name ?? '') : undefined;
        if (problem) errors.push({ field: 'spec.address', message: problem.message });
        return errors;
      },
    ],
  });
}

type VlanAllocationAdmitted = Admitted<VlanAllocationObject>;

export function vlanAllocationAdmission(lookup: Lookup): KindAdmission<VlanAllocationAdmitted> {
  return kindAdmission<VlanAllocationAdmitted>(VlanAllocation, lookup, {
    rules: [
      async ({ object, operation, lookup }) => {
        if (operation !== 'CREATE') return [];
        const { parent: pn, errors } = await resolveRef<PhysicalNetworkAdmitted>(lookup, PhysicalNetwork, 'spec.physicalNetworkRef.name', object.spec.physicalNetworkRef);
        if (pn && !pn.spec.isolationMethods.includes(object.spec.isolation)) {
          errors.push({
            field: 'spec.isolation',
            message: `physical network ${pn.metadata.name} isolates by ${pn.spec.isolationMethods.join(' and ')}, not ${object.spec.isolation}; allocate a ${pn.spec.isolationMethods[0]} id`,
          });
        }
        return errors;
      },
    ],
  });
}

export const networkAdmissions = (lookup: Lookup): KindAdmission[] =>
  [networkAdmission(lookup), ipAddressAdmission(lookup), vlanAllocationAdmission(lookup)] as unknown as KindAdmission[];

