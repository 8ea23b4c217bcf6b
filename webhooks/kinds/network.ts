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
import { guestAddressing, intToIp, ipToInt, parseCidr } from '../../lib/ipv4.ts';
import {
  defaultDisplayName,
  domainScopeErrors,
  inactiveOffering,
  kindAdmission,
  refChanged,
  resolveRef,
  tenantOf,
  whenChanged,
  zoneScopeErrors,
  type Admitted,
  type NameRef,
} from './rules.ts';

/**
 * Admission of network.kumulus.io: guest networks against their zone, offering and physical
 * network, and the allocation records (IPAddress, VlanAllocation) against their pools.
 */

type NetworkAdmitted = Admitted<NetworkObject>;
type OfferingAdmitted = Admitted<NetworkOfferingObject>;
type PhysicalNetworkAdmitted = Admitted<PhysicalNetworkObject>;

export function networkAdmission(lookup: Lookup): KindAdmission<NetworkAdmitted> {
  return kindAdmission<NetworkAdmitted>(Network, lookup, {
    defaults(network) {
      defaultDisplayName(network);
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
            for (const field of ['cidr', 'gateway'] as const) {
              if (spec[field] !== undefined) errors.push({ field: `spec.${field}`, message: `an L2 network has no addressing (offering ${offeringName} is L2); remove spec.${field}` });
            }
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
      whenChanged((n) => [n.spec.cidr, n.spec.gateway], ({ object }) => {
        const { cidr, gateway } = object.spec;
        const net = cidr ? parseCidr(cidr) : undefined;
        const gw = gateway ? ipToInt(gateway) : undefined;
        if (!net || gw === undefined || net.prefix >= 31 || (gw !== net.network && gw !== net.broadcast)) return [];
        return [{ field: 'spec.gateway', message: `${gateway} is the ${gw === net.network ? 'network' : 'broadcast'} address of ${cidr}; use a host address such as ${intToIp(net.network + 1)}` }];
      }),
    ],
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
        const cidr = addressing?.cidr;
        const net = cidr ? parseCidr(cidr) : undefined;
        if (cidr && net && address !== undefined && !r) {
          const name = network.parent?.metadata.name;
          if (address <= net.network || address >= net.broadcast) {
            errors.push({ field: 'spec.address', message: `${spec.address} is not a host address of network ${name}'s CIDR ${cidr}; take one in ${intToIp(net.network + 1)}-${intToIp(net.broadcast - 1)}` });
          } else if (spec.address === addressing?.serviceAddress) {
            errors.push({ field: 'spec.address', message: `${spec.address} is reserved for network ${name}'s DHCP and DNS service on every host; take another address in ${cidr}` });
          }
        }
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

