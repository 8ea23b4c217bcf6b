/**
 * network.kumulus.io: guest networks and the allocation records that make address and VLAN
 * handout crash-safe. A Network is what tenants attach VMs to; IPAddress and VlanAllocation
 * objects are locks: creating one claims the address or id, AlreadyExists means it is taken.
 * Each names its consumer by namespace, name and uid. The garbage collector ignores a
 * namespaced owner of a cluster-scoped object, so the operator frees a record whose consumer
 * is gone (KEP-1880's repair loop), never because a process went away.
 */
import Type from 'typebox';
import {
  ALLOCATION_RECORD_STATES,
  Cidr,
  Count,
  DisplayName,
  DisplayText,
  DomainName,
  ISOLATION_METHODS,
  Int,
  Ipv4,
  NamespacedRef,
  MacAddress,
  Netmask,
  Obj,
  Ref,
  Status,
  Str,
  Timestamp,
  UidRef,
  StringEnum,
  TRAFFIC_TYPES,
  VNI_MAX,
  VLAN_MAX,
  cidrGatewayRules,
  immutableSpec,
  rule,
} from './common.ts';
import { defineKind } from './kind.ts';

export const NETWORK_GROUP = 'network.kumulus.io';

// Network ---------------------------------------------------------------------------------

const NETWORK_STATES = ['Allocated', 'Setup', 'Implementing', 'Implemented', 'Shutdown', 'Destroy'] as const;

/**
 * A Network is a CloudStack guest network of the type its NetworkOffering gives (Isolated,
 * Shared, L2). Without spec.vlan it is Allocated when created; when its first VM is placed
 * (or at once for persistent offerings) it is Implementing, then Implemented: a VLAN id or
 * VNI is claimed from the physical network through a VlanAllocation (status.broadcastUri)
 * and the hosts in status.hosts build its bridge, DHCP and DNS. Idle for the global
 * network.gc.wait, it is Shutdown and the id returns to the pool, unless the offering is
 * persistent. With spec.vlan (Shared networks, specifyVlan offerings) it is Setup from
 * creation on that id. A network with VMs cannot be deleted; a restart is requested by
 * setting spec.restartRequestedAt and done when status.lastRestartAt equals it.
 */
export const Network = defineKind({
  group: NETWORK_GROUP,
  kind: 'Network',
  plural: 'networks',
  shortNames: ['csnet', 'csnetwork'],
  scope: 'Namespaced',
  description:
    'A CloudStack guest network (Isolated, Shared or L2, from its network offering) in a zone. Implemented on first use with a VLAN or VNI from its physical network. States: Allocated, Setup, Implementing, Implemented, Shutdown, Destroy.',
  spec: Obj(
    {
      displayName: Type.Optional(DisplayName('network')),
      displayText: Type.Optional(DisplayText('network')),
      networkOfferingRef: Ref('NetworkOffering', 'Offering giving the network type and services.'),
      zoneRef: Ref('Zone', 'Zone of the network. Immutable.'),
      physicalNetworkRef: Type.Optional(Ref('PhysicalNetwork', 'Physical network to use; absent: the zone\'s one carrying Guest traffic with the offering\'s tags.')),
      cidr: Type.Optional(Cidr('Guest CIDR; absent: the zone\'s guestCidr.')),
      gateway: Type.Optional(Ipv4('Gateway inside cidr; absent: the first address of cidr.')),
      startIp: Type.Optional(Ipv4('First address handed to guests (CloudStack `startip`); required for Shared networks. Absent: the first host address of cidr. Immutable.')),
      endIp: Type.Optional(Ipv4('Last address handed to guests, inclusive (CloudStack `endip`); required for Shared networks. Absent: the last host address of cidr. Immutable.')),
      vlan: Type.Optional(Int({ description: `VLAN id (1-${VLAN_MAX}) or VXLAN VNI (1-${VNI_MAX}), for offerings with specifyVlan. Absent: allocated on implementation. Immutable.`, minimum: 1, maximum: VNI_MAX })),
      networkDomain: Type.Optional(DomainName('DNS suffix of the guests; absent: the zone\'s or the account\'s.')),
      dns1: Type.Optional(Ipv4('First DNS server for guests; absent: the zone\'s.')),
      dns2: Type.Optional(Ipv4('Second DNS server for guests; absent: the zone\'s.')),
      restartRequestedAt: Type.Optional(Timestamp('Set to the current time to restart the network (CloudStack restartNetwork): every host re-applies it; done when status.lastRestartAt equals it.')),
    },
    {
      description: 'Desired network.',
      validations: [
        ...cidrGatewayRules('spec'),
        rule('self.zoneRef == oldSelf.zoneRef', 'spec.zoneRef is immutable: create a network in the other zone', '.zoneRef'),
        rule('has(self.vlan) == has(oldSelf.vlan) && (!has(self.vlan) || self.vlan == oldSelf.vlan)', 'spec.vlan is immutable: create a new network on the other VLAN', '.vlan'),
        rule('has(self.cidr) == has(oldSelf.cidr) && (!has(self.cidr) || self.cidr == oldSelf.cidr)', 'spec.cidr is immutable: create a new network with the other CIDR', '.cidr'),
        ...(['startIp', 'endIp'] as const).flatMap((field) => [
          rule(
            `!has(self.${field}) || (has(self.cidr) && (!isCIDR(self.cidr) || !isIP(self.${field}) || cidr(self.cidr).containsIP(self.${field})))`,
            `spec.${field} must be inside spec.cidr: fix the address, or set a cidr that contains it`,
            `.${field}`,
          ),
          rule(`has(self.${field}) == has(oldSelf.${field}) && (!has(self.${field}) || self.${field} == oldSelf.${field})`, `spec.${field} is immutable: create a new network with the other range`, `.${field}`),
        ]),
      ],
    },
  ),
  status: Status(StringEnum(NETWORK_STATES, { description: 'Network state, with CloudStack\'s names.' }), {
    cidr: Type.Optional(Cidr('Effective CIDR.')),
    gateway: Type.Optional(Ipv4('Effective gateway.')),
    netmask: Type.Optional(Netmask('Netmask of the CIDR.')),
    broadcastDomainType: Type.Optional(StringEnum(['Vlan', 'Vxlan', 'Native'] as const, { description: 'How the network is isolated.' })),
    broadcastUri: Type.Optional(Str({ description: 'Allocated VLAN or VNI, such as vlan://100 or vxlan://5001 (CloudStack `broadcasturi`).', maxLength: 64 })),
    physicalNetwork: Type.Optional(Str({ description: 'metadata.name of the PhysicalNetwork in use.', maxLength: 253 })),
    addressesTotal: Type.Optional(Count('Guest addresses in the CIDR.')),
    addressesAllocated: Type.Optional(Count('Addresses allocated (IPAddress objects).')),
    hosts: Type.Optional(
      Type.Array(Str({ description: 'metadata.name of a Host.', maxLength: 253 }), {
        description:
          'Hosts that carry the network, sorted: those with a VM on it, and for a persistent offering every host of the zone. Each host\'s agent builds the network and floods its broadcast traffic to the others\' VTEPs.',
        maxItems: 10000,
      }),
    ),
    lastRestartAt: Type.Optional(Timestamp('The spec.restartRequestedAt last carried out.')),
  }),
  columns: [
    { name: 'Offering', type: 'string', jsonPath: '.spec.networkOfferingRef.name', description: 'Network offering.' },
    { name: 'CIDR', type: 'string', jsonPath: '.status.cidr', description: 'Effective CIDR.' },
    { name: 'Broadcast', type: 'string', jsonPath: '.status.broadcastUri', description: 'VLAN or VNI.' },
    { name: 'Zone', type: 'string', jsonPath: '.spec.zoneRef.name', description: 'Zone.', priority: 1 },
    { name: 'Allocated', type: 'integer', jsonPath: '.status.addressesAllocated', description: 'Addresses in use.', priority: 1 },
  ],
});

// IPAddress -------------------------------------------------------------------------------

/**
 * An IPAddress is the record of one allocated address: its name is the pool and the address
 * (<network uid or range>-<a>-<b>-<c>-<d>, lib/guest-identity.ts), so creating it is the lock.
 * A guest address names the NIC holding it in spec.consumerRef, uid included, and carries the
 * labels network.kumulus.io/network-uid and network.kumulus.io/consumer-uid. It belongs to the
 * VM until the VM is expunged (stop, start and migration keep it); one whose consumer is gone
 * is deleted after a grace period. The spec is immutable: an allocation is released by
 * deleting the object.
 */
export const IPAddress = defineKind({
  group: NETWORK_GROUP,
  kind: 'IPAddress',
  plural: 'ipaddresses',
  shortNames: ['csip', 'csipaddress'],
  scope: 'Cluster',
  description:
    'One allocated IPv4 address: the allocation lock (creating it claims the address; AlreadyExists means taken), naming the NIC that holds it; freed when that VM is expunged, or after a grace period once its consumer is gone. Immutable. States: Allocating, Allocated, Releasing.',
  spec: Obj(
    {
      address: Ipv4('The address.'),
      purpose: StringEnum(TRAFFIC_TYPES, { description: 'What the address is for.' }),
      networkRef: Type.Optional(NamespacedRef('Network', 'The guest network the address belongs to.', true)),
      ipRangeRef: Type.Optional(Ref('IPRange', 'The range the address was taken from.')),
      macAddress: Type.Optional(MacAddress('MAC address of the NIC holding it, for DHCP.')),
      consumerRef: Type.Optional(
        UidRef('VirtualMachine', 'The NIC holding the address: its VM, pinned by uid, and the NIC. Absent for addresses that no VM holds.', {
          kind: StringEnum(['VirtualMachine'] as const, { description: 'Kind of the consumer.' }),
          nic: Str({ description: 'The NIC: the network\'s name in the VM\'s spec.networks.', minLength: 1, maxLength: 253 }),
        }),
      ),
    },
    {
      description: 'The allocation. Immutable: delete the object to release the address.',
      validations: [
        immutableSpec('IPAddress', 'delete the object to release the address and create another'),
        rule('has(self.networkRef) || has(self.ipRangeRef)', 'set spec.networkRef or spec.ipRangeRef: the pool the address comes from', '.networkRef'),
      ],
    },
  ),
  status: Status(StringEnum(ALLOCATION_RECORD_STATES, { description: 'Allocation state.' }), {}),
  columns: [
    { name: 'Address', type: 'string', jsonPath: '.spec.address', description: 'The address.' },
    { name: 'Purpose', type: 'string', jsonPath: '.spec.purpose', description: 'What it is for.' },
    { name: 'Network', type: 'string', jsonPath: '.spec.networkRef.name', description: 'Guest network.' },
    { name: 'Consumer', type: 'string', jsonPath: '.spec.consumerRef.name', description: 'VM holding it.' },
    { name: 'Range', type: 'string', jsonPath: '.spec.ipRangeRef.name', description: 'IP range.', priority: 1 },
  ],
});

// VlanAllocation --------------------------------------------------------------------------

/**
 * A VlanAllocation records one VLAN id or VXLAN VNI taken from a physical network's ranges,
 * named <physical network>-<vlan|vxlan>-<id> so creating it is the lock. It names the guest
 * network using it, uid included, and carries the label network.kumulus.io/network-uid. The
 * network releases it on shutdown and deletion; one whose network is gone is deleted after a
 * grace period. Immutable.
 */
export const VlanAllocation = defineKind({
  group: NETWORK_GROUP,
  kind: 'VlanAllocation',
  plural: 'vlanallocations',
  shortNames: ['csvlan', 'csvlanallocation'],
  scope: 'Cluster',
  description:
    'One allocated VLAN id or VXLAN VNI on a physical network: the allocation lock, naming the guest network using it; released on the network\'s shutdown or deletion. Immutable. States: Allocating, Allocated, Releasing.',
  spec: Obj(
    {
      physicalNetworkRef: Ref('PhysicalNetwork', 'The physical network the id comes from.'),
      isolation: StringEnum(ISOLATION_METHODS, { description: 'VLAN id or VXLAN VNI.' }),
      id: Int({ description: `The VLAN id (1-${VLAN_MAX}) or VNI (1-${VNI_MAX}).`, minimum: 1, maximum: VNI_MAX }),
      networkRef: Type.Optional(UidRef('Network', 'The guest network using it, pinned by uid.', {})),
    },
    {
      description: 'The allocation. Immutable: delete the object to release the id.',
      validations: [
        immutableSpec('VlanAllocation', 'delete the object to release the id and create another'),
        rule(`self.isolation != 'VLAN' || self.id <= ${VLAN_MAX}`, `spec.id must be 1-${VLAN_MAX} for a VLAN: use VXLAN for larger ids`, '.id'),
      ],
    },
  ),
  status: Status(StringEnum(ALLOCATION_RECORD_STATES, { description: 'Allocation state.' }), {}),
  columns: [
    { name: 'Physical-Network', type: 'string', jsonPath: '.spec.physicalNetworkRef.name', description: 'Physical network.' },
    { name: 'Isolation', type: 'string', jsonPath: '.spec.isolation', description: 'VLAN or VXLAN.' },
    { name: 'ID', type: 'integer', jsonPath: '.spec.id', description: 'VLAN id or VNI.' },
    { name: 'Network', type: 'string', jsonPath: '.spec.networkRef.name', description: 'Guest network.', priority: 1 },
  ],
});

export const networkKinds = [Network, IPAddress, VlanAllocation] as const;
