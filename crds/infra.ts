/**
 * infra.kumulus.io: the physical cloud an administrator builds, top down, exactly as in
 * CloudStack: a Zone holds Pods, a Pod holds Clusters of one hypervisor, a Cluster holds
 * Hosts. Storage (PrimaryStorage for running disks, SecondaryStorage for templates) and
 * networks (PhysicalNetwork, IPRange) hang off the zone. Offerings are the catalogue
 * tenants choose from. Everything here is cluster-scoped and written by administrators.
 */
import Type from 'typebox';
import {
  ALLOCATION_STATES,
  ARCHITECTURES,
  AllocationState,
  Bool,
  Cidr,
  Count,
  Dedication,
  DiskIoLimits,
  DisplayName,
  DisplayText,
  DomainName,
  Hypervisor,
  ISOLATION_METHODS,
  IdRange,
  Int,
  Ipv4,
  Ipv6,
  KeyedList,
  List,
  NamespacedRef,
  Netmask,
  Num,
  Obj,
  OfferingState,
  ProvisioningType,
  Quantity,
  ReadinessState,
  Ref,
  RefList,
  Status,
  StorageType,
  Str,
  StringEnum,
  TRAFFIC_TYPES,
  Tags,
  Timestamp,
  VLAN_MAX,
  VNI_MAX,
  immutableSpecExcept,
  noOverlapRule,
  quantityOrderRule,
  rule,
  subnetRangeRules,
} from './common.ts';
import { defineKind } from './kind.ts';

export const INFRA_GROUP = 'infra.kumulus.io';

/** Capacity figures CloudStack rolls up per zone, pod and cluster (`listCapacity`). */
export const CAPACITY_TYPES = [
  'MEMORY',
  'CPU',
  'CPU_CORE',
  'STORAGE',
  'STORAGE_ALLOCATED',
  'LOCAL_STORAGE',
  'SECONDARY_STORAGE',
  'VIRTUAL_NETWORK_PUBLIC_IP',
  'PRIVATE_IP',
  'DIRECT_ATTACHED_PUBLIC_IP',
  'VLAN',
] as const;

function CapacityRollup(what: string) {
  return KeyedList(
    Obj(
      {
        type: StringEnum(CAPACITY_TYPES, { description: 'What is counted, with CloudStack\'s capacity type name.' }),
        total: Count('Total: bytes for memory and storage, MHz for CPU, a count otherwise. Overcommit ratios are applied.'),
        used: Count('In use, in the same unit as total: running VMs\' CPU and memory, bytes written on storage, addresses and ids handed out (CloudStack `capacityused`).'),
        allocated: Type.Optional(Count('Promised, in the same unit as total: every VM placed (running or not), every volume\'s size (CloudStack `capacityallocated`).')),
        percentUsed: Type.Optional(Num({ description: 'used / total × 100, two decimals (CloudStack `percentused`); 0 when total is 0.', minimum: 0 })),
      },
      { description: 'One capacity figure.' },
    ),
    'type',
    { description: `Capacity of the ${what}, summed over what it contains.`, maxItems: 16 },
  );
}

// Zone ------------------------------------------------------------------------------------

/**
 * A Zone is one datacenter: the largest unit of failure and the thing tenants pick when they
 * deploy. Advanced zones give each guest network its own VLAN or VXLAN and a gateway; Basic
 * zones put every guest on one flat network behind security groups. New zones start Disabled
 * so an administrator can finish building them; Enabled zones take new VMs. status.state
 * mirrors the allocation state once the zone is Ready.
 */
export const Zone = defineKind({
  group: INFRA_GROUP,
  kind: 'Zone',
  plural: 'zones',
  shortNames: ['cszone'],
  scope: 'Cluster',
  description:
    'A CloudStack zone: one datacenter holding pods, clusters, hosts, storage and networks. Lifecycle: created Disabled, Enabled when built; a zone with pods cannot be deleted. States: Enabled, Disabled.',
  spec: Obj(
    {
      displayName: Type.Optional(DisplayName('zone')),
      description: Type.Optional(DisplayText('zone')),
      networkType: Type.Optional(StringEnum(['Basic', 'Advanced'] as const, {
        description: 'Advanced: isolated guest networks, one VLAN or VNI each. Basic: one flat guest network filtered by security groups.',
        default: 'Advanced',
      })),
      dns1: Ipv4('First DNS server handed to guest VMs.'),
      dns2: Type.Optional(Ipv4('Second DNS server handed to guest VMs.')),
      internalDns1: Ipv4('First DNS server used by system components (resolving host and storage names).'),
      internalDns2: Type.Optional(Ipv4('Second DNS server for system components.')),
      ip6Dns1: Type.Optional(Ipv6('First IPv6 DNS server for guest VMs.')),
      ip6Dns2: Type.Optional(Ipv6('Second IPv6 DNS server for guest VMs.')),
      guestCidr: Type.Optional(Cidr('Default CIDR of isolated guest networks in an Advanced zone (CloudStack `guestcidraddress`); Basic zones must leave it unset.')),
      networkDomain: Type.Optional(DomainName('DNS suffix given to guest VMs, such as cloud.example.com (CloudStack `domain`).')),
      securityGroupsEnabled: Type.Optional(Bool({ description: 'Guests are filtered by security groups (always true in Basic zones).', default: false })),
      localStorageEnabled: Type.Optional(Bool({ description: 'VMs may use the hosts\' local disks as primary storage.', default: false })),
      allocationState: Type.Optional(AllocationState('zone', 'Disabled')),
      dedication: Type.Optional(Dedication('zone')),
    },
    {
      description: 'Desired configuration of the zone.',
      validations: [
        rule(
          "self.networkType == 'Advanced' || !has(self.guestCidr)",
          'spec.guestCidr applies only to Advanced zones: remove it or set spec.networkType to Advanced',
          '.guestCidr',
        ),
        rule(
          "self.networkType == 'Advanced' || self.securityGroupsEnabled",
          'spec.securityGroupsEnabled must be true in a Basic zone: set it to true or use networkType Advanced',
          '.securityGroupsEnabled',
        ),
        rule(
          '!has(self.guestCidr) || !isCIDR(self.guestCidr) || cidr(self.guestCidr) == cidr(self.guestCidr).masked()',
          'spec.guestCidr must be a network address with no host bits set, such as 10.1.0.0/16',
          '.guestCidr',
        ),
      ],
    },
  ),
  status: Status(StringEnum(ALLOCATION_STATES, { description: 'Effective allocation state, once the zone is Ready.' }), {
    capacity: Type.Optional(CapacityRollup('zone')),
    podCount: Type.Optional(Count('Pods in the zone.')),
    clusterCount: Type.Optional(Count('Clusters in the zone.')),
    hostCount: Type.Optional(Count('Hosts in the zone.')),
  }),
  columns: [
    { name: 'Network', type: 'string', jsonPath: '.spec.networkType', description: 'Basic or Advanced.' },
    { name: 'Allocation', type: 'string', jsonPath: '.spec.allocationState', description: 'Desired allocation state.' },
    { name: 'Hosts', type: 'integer', jsonPath: '.status.hostCount', description: 'Hosts in the zone.' },
    { name: 'DNS', type: 'string', jsonPath: '.spec.dns1', description: 'First guest DNS server.', priority: 1 },
    { name: 'Guest-CIDR', type: 'string', jsonPath: '.spec.guestCidr', description: 'Default guest CIDR.', priority: 1 },
  ],
});

// Pod -------------------------------------------------------------------------------------

/**
 * A Pod is a rack: hosts that share a management subnet and switch. The reserved system
 * range (startIp..endIp) is where hosts and system components take their management
 * addresses. Lifecycle and states follow the zone's: allocation state Enabled or Disabled.
 */
export const Pod = defineKind({
  group: INFRA_GROUP,
  kind: 'Pod',
  plural: 'pods',
  shortNames: ['cspod'],
  scope: 'Cluster',
  description:
    'A CloudStack pod: a rack of hosts sharing one management subnet, inside a zone. Its reserved system range (startIp..endIp) hands out management addresses. States: Enabled, Disabled.',
  spec: Obj(
    {
      zoneRef: Ref('Zone', 'The zone the pod belongs to. Immutable.'),
      displayName: Type.Optional(DisplayName('pod')),
      gateway: Ipv4('Gateway of the pod\'s management subnet.'),
      netmask: Netmask('Netmask of the pod\'s management subnet.'),
      startIp: Ipv4('First address of the reserved system range.'),
      endIp: Type.Optional(Ipv4('Last address of the reserved system range. Absent: the range is startIp alone.')),
      allocationState: Type.Optional(AllocationState('pod', 'Enabled')),
    },
    { description: 'Desired configuration of the pod.', validations: [...subnetRangeRules(true), rule('self.zoneRef == oldSelf.zoneRef', 'spec.zoneRef is immutable: create a new pod in the other zone', '.zoneRef')] },
  ),
  status: Status(StringEnum(ALLOCATION_STATES, { description: 'Effective allocation state, once the pod is Ready.' }), {
    capacity: Type.Optional(CapacityRollup('pod')),
    clusterCount: Type.Optional(Count('Clusters in the pod.')),
    hostCount: Type.Optional(Count('Hosts in the pod.')),
  }),
  columns: [
    { name: 'Zone', type: 'string', jsonPath: '.spec.zoneRef.name', description: 'The zone.' },
    { name: 'Gateway', type: 'string', jsonPath: '.spec.gateway', description: 'Management gateway.' },
    { name: 'Start', type: 'string', jsonPath: '.spec.startIp', description: 'First reserved address.', priority: 1 },
    { name: 'End', type: 'string', jsonPath: '.spec.endIp', description: 'Last reserved address.', priority: 1 },
  ],
});

// Cluster ---------------------------------------------------------------------------------

/**
 * A Cluster groups hosts of one hypervisor that share primary storage, so VMs can live-migrate
 * among them. Overcommit ratios multiply the CPU (MHz) and memory the planner may hand out.
 * CloudStack limits a KVM cluster to 16 hosts by default; maxHosts makes that explicit.
 */
export const Cluster = defineKind({
  group: INFRA_GROUP,
  kind: 'Cluster',
  plural: 'clusters',
  shortNames: ['cscluster'],
  scope: 'Cluster',
  description:
    'A CloudStack cluster: hosts of one hypervisor type sharing primary storage, so VMs migrate among them. Overcommit ratios scale CPU and memory capacity. States: Enabled, Disabled.',
  spec: Obj(
    {
      podRef: Ref('Pod', 'The pod the cluster belongs to. Immutable.'),
      displayName: Type.Optional(DisplayName('cluster')),
      hypervisor: Type.Optional(Hypervisor('Hypervisor of every host in the cluster. Immutable.', 'KVM')),
      clusterType: Type.Optional(StringEnum(['CloudManaged', 'ExternalManaged'] as const, {
        description: 'CloudManaged: Kumulus manages each host. ExternalManaged: another system (vCenter-like) does.',
        default: 'CloudManaged',
      })),
      arch: Type.Optional(StringEnum(ARCHITECTURES, { description: 'CPU architecture of the hosts.', default: 'x86_64' })),
      allocationState: Type.Optional(AllocationState('cluster', 'Enabled')),
      cpuOvercommitRatio: Type.Optional(Num({ description: 'CPU MHz handed out per physical MHz (CloudStack `cpuovercommitratio`). Absent: the global setting cpu.overprovisioning.factor.', minimum: 1, maximum: 16 })),
      memoryOvercommitRatio: Type.Optional(Num({ description: 'Memory handed out per physical byte (CloudStack `memoryovercommitratio`). Absent: the global setting mem.overprovisioning.factor.', minimum: 1, maximum: 4 })),
      maxHosts: Type.Optional(Int({ description: 'Most hosts the cluster accepts; CloudStack\'s KVM limit is 16.', minimum: 1, maximum: 1024, default: 16 })),
    },
    {
      description: 'Desired configuration of the cluster.',
      validations: [
        rule('self.podRef == oldSelf.podRef', 'spec.podRef is immutable: create a new cluster in the other pod', '.podRef'),
        rule('self.hypervisor == oldSelf.hypervisor', 'spec.hypervisor is immutable: create a new cluster for the other hypervisor', '.hypervisor'),
      ],
    },
  ),
  status: Status(StringEnum(ALLOCATION_STATES, { description: 'Effective allocation state, once the cluster is Ready.' }), {
    capacity: Type.Optional(CapacityRollup('cluster')),
    hostCount: Type.Optional(Count('Hosts in the cluster.')),
  }),
  columns: [
    { name: 'Pod', type: 'string', jsonPath: '.spec.podRef.name', description: 'The pod.' },
    { name: 'Hypervisor', type: 'string', jsonPath: '.spec.hypervisor', description: 'Hypervisor type.' },
    { name: 'Hosts', type: 'integer', jsonPath: '.status.hostCount', description: 'Hosts in the cluster.' },
    { name: 'CPU-Ratio', type: 'number', jsonPath: '.spec.cpuOvercommitRatio', description: 'CPU overcommit.', priority: 1 },
    { name: 'Mem-Ratio', type: 'number', jsonPath: '.spec.memoryOvercommitRatio', description: 'Memory overcommit.', priority: 1 },
  ],
});

// Host ------------------------------------------------------------------------------------

const HOST_STATES = ['Connecting', 'Up', 'Down', 'Disconnected', 'Alert', 'Error'] as const;
const RESOURCE_STATES = ['Enabled', 'Disabled', 'PrepareForMaintenance', 'ErrorInPrepareForMaintenance', 'Maintenance', 'ErrorInMaintenance'] as const;

/**
 * A Host is one hypervisor node, named after its Kubernetes node. The agent creates it (or
 * adopts one made in advance, the way `addHost` does), reports facts and capacity, and
 * renews a heartbeat. Two states, as in CloudStack: status.state is the connection (Up,
 * Down, Disconnected, Alert, Connecting) and status.resourceState the administrative one;
 * setting spec.maintenance moves it Enabled → PrepareForMaintenance (VMs migrate away) →
 * Maintenance, and clearing it brings it back to Enabled.
 */
export const Host = defineKind({
  group: INFRA_GROUP,
  kind: 'Host',
  plural: 'hosts',
  shortNames: ['cshost'],
  scope: 'Cluster',
  description:
    'A CloudStack host: one hypervisor node, created or adopted by the agent running on it. state is the connection (Up, Down, Disconnected, Alert, Connecting); resourceState the administrative state (Enabled, Disabled, PrepareForMaintenance, Maintenance, ErrorInMaintenance). Set spec.maintenance to drain it.',
  spec: Obj(
    {
      clusterRef: Ref('Cluster', 'The cluster the host belongs to. Immutable.'),
      nodeName: Str({
        description: 'The Kubernetes node the agent runs on; the agent adopts the Host whose nodeName is its node. Immutable.',
        minLength: 1,
        maxLength: 253,
        validations: [rule('self == oldSelf', 'spec.nodeName is immutable: delete the Host and create one for the other node')],
      }),
      url: Type.Optional(Str({ description: 'Address the host was added with, as in CloudStack `addHost` (http://<host name or IP>).', maxLength: 2048 })),
      hostTags: Type.Optional(Tags('Tags a service offering\'s hostTags must match for VMs to land here.')),
      allocationState: Type.Optional(AllocationState('host', 'Enabled')),
      maintenance: Type.Optional(Bool({ description: 'True asks for maintenance: no new VMs, running ones are live-migrated away. False cancels it.', default: false })),
    },
    {
      description: 'Desired configuration of the host.',
      validations: [rule('self.clusterRef == oldSelf.clusterRef', 'spec.clusterRef is immutable: put the host in maintenance, delete it and add it to the other cluster', '.clusterRef')],
    },
  ),
  status: Status(StringEnum(HOST_STATES, { description: 'Connection state of the agent, with CloudStack\'s names.' }), {
    resourceState: Type.Optional(StringEnum(RESOURCE_STATES, { description: 'Administrative state: Enabled, Disabled, or a step of maintenance.' })),
    ipAddress: Type.Optional(Ipv4('Management address of the host.')),
    hypervisorVersion: Type.Optional(Str({ description: 'Hypervisor version (libvirt and QEMU).', maxLength: 256 })),
    agentVersion: Type.Optional(Str({ description: 'Version of the Kumulus agent.', maxLength: 64 })),
    cpuModel: Type.Optional(Str({ description: 'CPU model name.', maxLength: 256 })),
    arch: Type.Optional(StringEnum(ARCHITECTURES, { description: 'CPU architecture.' })),
    capacity: Type.Optional(
      Obj(
        {
          cpuSockets: Count('CPU sockets.'),
          cpuNumber: Count('CPU cores (CloudStack `cpunumber`).'),
          cpuSpeed: Count('Speed of one core in MHz.'),
          memoryBytes: Count('Physical memory in bytes.'),
          localStorageBytes: Type.Optional(Count('Local disk space for local primary storage, in bytes.')),
        },
        { description: 'Physical capacity as the agent found it.' },
      ),
    ),
    allocated: Type.Optional(
      Obj(
        {
          cpuMhz: Count('CPU MHz promised to the VMs placed here.'),
          memoryBytes: Count('Memory promised to the VMs placed here, in bytes.'),
          vmCount: Count('VMs placed here.'),
        },
        { description: 'What the VMs placed on this host take, derived from the VM objects.' },
      ),
    ),
    usage: Type.Optional(
      Obj(
        {
          cpuLoadAverage: Num({ description: 'One-minute load average.', minimum: 0 }),
          cpuUsedPercent: Num({ description: 'CPU in use, percent of capacity (CloudStack `cpuused`).', minimum: 0, maximum: 100 }),
          memoryUsedBytes: Count('Memory in use on the host, in bytes.'),
        },
        { description: 'Current use measured by the agent.' },
      ),
    ),
    uefiCapable: Type.Optional(Bool({ description: 'The host can boot UEFI guests (CloudStack `ueficapability`).' })),
    bridges: Type.Optional(List(Str({ description: 'A bridge or interface name.', maxLength: 15 }), { description: 'Bridges and interfaces found on the host, checked against the traffic labels of the physical networks.', maxItems: 256, set: true })),
    lastHeartbeat: Type.Optional(Timestamp('Last time the agent renewed its heartbeat (CloudStack `lastpinged`).')),
    disconnectedAt: Type.Optional(Timestamp('When the host was last seen to disconnect.')),
  }),
  columns: [
    { name: 'Cluster', type: 'string', jsonPath: '.spec.clusterRef.name', description: 'The cluster.' },
    { name: 'Node', type: 'string', jsonPath: '.spec.nodeName', description: 'Kubernetes node.' },
    { name: 'Resource', type: 'string', jsonPath: '.status.resourceState', description: 'Administrative state.' },
    { name: 'IP', type: 'string', jsonPath: '.status.ipAddress', description: 'Management address.', priority: 1 },
    { name: 'Heartbeat', type: 'date', jsonPath: '.status.lastHeartbeat', description: 'Last heartbeat.', priority: 1 },
  ],
});

// PrimaryStorage --------------------------------------------------------------------------

const STORAGE_POOL_STATES = ['Initialized', 'Up', 'Down', 'PrepareForMaintenance', 'ErrorInMaintenance', 'CancelMaintenance', 'Maintenance', 'Disabled'] as const;

/**
 * PrimaryStorage is a CloudStack storage pool: where running VMs' disks live. Zone-scoped
 * pools are reached by every host of the zone, cluster-scoped ones by the hosts of one
 * cluster, host-scoped (Local) ones by a single host. The agent of every host in scope
 * mounts it and reports the result per host. States: Initialized → Up; Maintenance on request.
 */
export const PrimaryStorage = defineKind({
  group: INFRA_GROUP,
  kind: 'PrimaryStorage',
  plural: 'primarystorages',
  shortNames: ['csps', 'csprimarystorage'],
  scope: 'Cluster',
  description:
    'A CloudStack primary storage pool holding running VMs\' disks, scoped to a zone, a cluster or a host. Protocols: Local, SharedMountPoint, NFS, RBD. States: Initialized, Up, Down, PrepareForMaintenance, Maintenance, ErrorInMaintenance, Disabled.',
  spec: Obj(
    {
      displayName: Type.Optional(DisplayName('storage pool')),
      zoneRef: Ref('Zone', 'The zone of the pool. Immutable.'),
      scope: Type.Optional(StringEnum(['Zone', 'Cluster', 'Host'] as const, {
        description: 'Which hosts reach the pool: all of the zone, those of clusterRef, or only hostRef (Local).',
        default: 'Cluster',
      })),
      clusterRef: Type.Optional(Ref('Cluster', 'The cluster whose hosts mount the pool; required when scope is Cluster.')),
      hostRef: Type.Optional(Ref('Host', 'The host whose disk holds the pool; required when scope is Host.')),
      protocol: StringEnum(['Local', 'SharedMountPoint', 'NFS', 'RBD'] as const, {
        description:
          'Local: a directory on one host. SharedMountPoint: a path already mounted on every host (a cluster filesystem). NFS: the agent mounts server:path. RBD: a Ceph pool.',
      }),
      server: Type.Optional(Str({ description: 'NFS server or Ceph monitor address; required for NFS and RBD.', maxLength: 253 })),
      path: Str({ description: 'Absolute path (the export for NFS, the mount point or directory otherwise), or the Ceph pool name for RBD.', minLength: 1, maxLength: 4096 }),
      nfsMountOptions: Type.Optional(Str({ description: 'Extra NFS mount options, such as vers=4.1,nconnect=4.', maxLength: 1024 })),
      hypervisor: Type.Optional(Hypervisor('Hypervisor of the hosts a Zone-scoped pool serves.')),
      tags: Type.Optional(Tags('Storage tags that offerings\' storageTags must match.')),
      capacityBytes: Type.Optional(Count('Overrides the capacity the agent measures, in bytes.')),
      capacityIops: Type.Optional(Count('IOPS the pool can serve, when known.')),
      overprovisionFactor: Type.Optional(Num({ description: 'Bytes that may be allocated per physical byte (thin provisioning). Absent: the global setting storage.overprovisioning.factor.', minimum: 1, maximum: 100 })),
      maintenance: Type.Optional(Bool({ description: 'True asks for maintenance: VMs using the pool are stopped and nothing new is placed on it. False cancels it.', default: false })),
    },
    {
      description: 'Desired configuration of the pool.',
      validations: [
        rule("self.scope != 'Cluster' || has(self.clusterRef)", 'spec.clusterRef is required when spec.scope is Cluster: name the cluster whose hosts mount the pool', '.clusterRef'),
        rule("self.scope != 'Host' || has(self.hostRef)", 'spec.hostRef is required when spec.scope is Host: name the host that holds the pool', '.hostRef'),
        rule("self.scope == 'Cluster' || !has(self.clusterRef)", 'spec.clusterRef applies only when spec.scope is Cluster: remove it or change the scope', '.clusterRef'),
        rule("self.scope == 'Host' || !has(self.hostRef)", 'spec.hostRef applies only when spec.scope is Host: remove it or change the scope', '.hostRef'),
        rule("self.protocol != 'Local' || self.scope == 'Host'", 'spec.scope must be Host for Local storage: set scope Host and hostRef', '.scope'),
        rule("!(self.protocol in ['NFS', 'RBD']) || has(self.server)", 'spec.server is required for NFS and RBD: give the NFS server or Ceph monitor address', '.server'),
        rule("self.protocol == 'RBD' || self.path.startsWith('/')", 'spec.path must be an absolute path starting with / for Local, SharedMountPoint and NFS', '.path'),
        rule("!has(self.nfsMountOptions) || self.protocol == 'NFS'", 'spec.nfsMountOptions applies only to NFS: remove it', '.nfsMountOptions'),
        rule('self.zoneRef == oldSelf.zoneRef', 'spec.zoneRef is immutable: create a new pool in the other zone', '.zoneRef'),
        rule('self.protocol == oldSelf.protocol', 'spec.protocol is immutable: create a new pool', '.protocol'),
      ],
    },
  ),
  status: Status(StringEnum(STORAGE_POOL_STATES, { description: 'Pool state, with CloudStack\'s names.' }), {
    capacityBytes: Type.Optional(Count('Usable size in bytes (CloudStack `disksizetotal`).')),
    allocatedBytes: Type.Optional(Count('Bytes promised to volumes (CloudStack `disksizeallocated`).')),
    usedBytes: Type.Optional(Count('Bytes actually used on the device (CloudStack `disksizeused`).')),
    usedIops: Type.Optional(Count('IOPS promised to volumes.')),
    mounts: Type.Optional(
      KeyedList(
        Obj(
          {
            host: Str({ description: 'metadata.name of the Host.', minLength: 1, maxLength: 253 }),
            mounted: Bool({ description: 'The pool is mounted and writable on that host.' }),
            capacityBytes: Type.Optional(Count('Size of the filesystem as that host sees it, in bytes.')),
            usedBytes: Type.Optional(Count('Bytes used on the filesystem as that host sees it.')),
            message: Type.Optional(Str({ description: 'Why it is not, when it is not.', maxLength: 4096 })),
            lastTransitionTime: Type.Optional(Timestamp('When mounted last changed.')),
          },
          { description: 'The mount result on one host.' },
        ),
        'host',
        { description: 'Per-host mount results, reported by each agent in scope.', maxItems: 1024 },
      ),
    ),
  }),
  columns: [
    { name: 'Zone', type: 'string', jsonPath: '.spec.zoneRef.name', description: 'The zone.' },
    { name: 'Scope', type: 'string', jsonPath: '.spec.scope', description: 'Zone, Cluster or Host.' },
    { name: 'Protocol', type: 'string', jsonPath: '.spec.protocol', description: 'Storage protocol.' },
    { name: 'Capacity', type: 'integer', jsonPath: '.status.capacityBytes', description: 'Bytes.', priority: 1 },
    { name: 'Path', type: 'string', jsonPath: '.spec.path', description: 'Path.', priority: 1 },
  ],
});

// SecondaryStorage ------------------------------------------------------------------------

/**
 * SecondaryStorage is a CloudStack image store: where templates and ISOs are kept before they
 * are copied to primary storage. NFS for real zones, Local (a directory on the single host)
 * for one-host clouds. Pending until mounted, then Ready.
 */
export const SecondaryStorage = defineKind({
  group: INFRA_GROUP,
  kind: 'SecondaryStorage',
  plural: 'secondarystorages',
  shortNames: ['csss', 'cssecondarystorage'],
  scope: 'Cluster',
  description:
    'A CloudStack image store (secondary storage) holding templates and ISOs for a zone. Providers: NFS, or Local for single-host clouds. States: Pending, Ready, Error.',
  spec: Obj(
    {
      displayName: Type.Optional(DisplayName('image store')),
      zoneRef: Ref('Zone', 'The zone the store serves. Immutable.'),
      provider: Type.Optional(StringEnum(['NFS', 'Local'] as const, { description: 'NFS: an NFS export. Local: a directory on the one host of a single-host cloud.', default: 'NFS' })),
      url: Str({ description: 'Where the store is: nfs://server/export for NFS, file:///path for Local.', minLength: 1, maxLength: 2048 }),
      readOnly: Type.Optional(Bool({ description: 'True stops new templates from being written here (existing ones are still served).', default: false })),
    },
    {
      description: 'Desired configuration of the image store.',
      validations: [
        rule("self.provider != 'NFS' || self.url.matches('^nfs://[^/]+/.+')", 'spec.url must look like nfs://server/export for provider NFS', '.url'),
        rule("self.provider != 'Local' || self.url.startsWith('file:///')", 'spec.url must look like file:///path for provider Local', '.url'),
        rule('self.zoneRef == oldSelf.zoneRef', 'spec.zoneRef is immutable: create a new store in the other zone', '.zoneRef'),
      ],
    },
  ),
  status: Status(ReadinessState('image store'), {
    capacityBytes: Type.Optional(Count('Size of the store in bytes (CloudStack `disksizetotal`).')),
    usedBytes: Type.Optional(Count('Bytes used (CloudStack `disksizeused`).')),
  }),
  columns: [
    { name: 'Zone', type: 'string', jsonPath: '.spec.zoneRef.name', description: 'The zone.' },
    { name: 'Provider', type: 'string', jsonPath: '.spec.provider', description: 'NFS or Local.' },
    { name: 'URL', type: 'string', jsonPath: '.spec.url', description: 'Location.' },
  ],
});

// PhysicalNetwork -------------------------------------------------------------------------

const NETWORK_PROVIDERS = ['VirtualRouter', 'VpcVirtualRouter', 'InternalLbVm', 'SecurityGroupProvider', 'ConfigDrive'] as const;
const PROVIDER_STATES = ['Enabled', 'Disabled', 'Shutdown'] as const;

/**
 * A PhysicalNetwork is a set of host NICs (a bridge or interface on every host) carrying one
 * or more traffic types. Guest networks of an Advanced zone take their VLAN ids or VXLAN VNIs
 * from its ranges. Each traffic type names its KVM label: the bridge or interface it rides on,
 * which the agent checks against the bridges it finds. States: Enabled, Disabled.
 */
export const PhysicalNetwork = defineKind({
  group: INFRA_GROUP,
  kind: 'PhysicalNetwork',
  plural: 'physicalnetworks',
  shortNames: ['cspn', 'csphysicalnetwork'],
  scope: 'Cluster',
  description:
    'A CloudStack physical network: host NICs carrying traffic types (Guest, Management, Public, Storage), each labelled with the host bridge it uses, plus the VLAN and VXLAN ranges guest networks draw from. States: Enabled, Disabled.',
  spec: Obj(
    {
      displayName: Type.Optional(DisplayName('physical network')),
      zoneRef: Ref('Zone', 'The zone the network belongs to. Immutable.'),
      isolationMethods: List(StringEnum(ISOLATION_METHODS, { description: 'An isolation method.' }), {
        description: 'How guest networks are kept apart: VLAN tags, VXLAN VNIs, or both.',
        minItems: 1,
        maxItems: 2,
        set: true,
      }),
      vlanRanges: Type.Optional(
        List(IdRange('VLAN id', 1, VLAN_MAX), {
          description: 'VLAN ids guest networks may use (CloudStack `vlan`, such as 100-199).',
          maxItems: 64,
          validations: [noOverlapRule('spec.vlanRanges')],
        }),
      ),
      vniRanges: Type.Optional(
        List(IdRange('VXLAN VNI', 1, VNI_MAX), {
          description: 'VXLAN network identifiers guest networks may use.',
          maxItems: 64,
          validations: [noOverlapRule('spec.vniRanges')],
        }),
      ),
      broadcastDomainRange: Type.Optional(StringEnum(['ZONE', 'POD'] as const, { description: 'Span of one broadcast domain.', default: 'ZONE' })),
      networkSpeed: Type.Optional(Str({ description: 'Link speed, informational, such as 10G.', maxLength: 16 })),
      tags: Type.Optional(Tags('Tags that network offerings\' tags must match for guest networks to land here.')),
      trafficTypes: KeyedList(
        Obj(
          {
            type: StringEnum(TRAFFIC_TYPES, { description: 'The traffic carried.' }),
            kvmLabel: Str({
              description: 'The host bridge or interface carrying this traffic on KVM hosts, such as cloudbr0.',
              minLength: 1,
              maxLength: 15,
              pattern: '^[a-zA-Z0-9_.-]+$',
            }),
            vlan: Type.Optional(Int({ description: 'VLAN tag of Management or Storage traffic when it is tagged.', minimum: 1, maximum: VLAN_MAX })),
          },
          { description: 'One traffic type and the bridge it rides on.' },
        ),
        'type',
        { description: 'Traffic types carried, each with its KVM label. Empty between createPhysicalNetwork and the first addTrafficType, as in CloudStack.', maxItems: 4 },
      ),
      serviceProviders: Type.Optional(
        KeyedList(
          Obj(
            {
              name: StringEnum(NETWORK_PROVIDERS, { description: 'Provider name, as CloudStack names it.' }),
              state: Type.Optional(StringEnum(PROVIDER_STATES, { description: 'Desired provider state.', default: 'Enabled' })),
              elementEnabled: Type.Optional(
                Type.Boolean({
                  description:
                    "VirtualRouter and VpcVirtualRouter only: whether the provider's element (Kumulus' distributed DHCP and DNS) is configured on (CloudStack's configureVirtualRouterElement). Absent: enabled.",
                }),
              ),
            },
            { description: 'One network service provider.' },
          ),
          'name',
          { description: 'Network service providers on this network and their desired state.', maxItems: 8 },
        ),
      ),
      state: Type.Optional(StringEnum(ALLOCATION_STATES, { description: 'Desired state of the physical network.', default: 'Enabled' })),
    },
    {
      description: 'Desired configuration of the physical network.',
      validations: [
        rule("!has(self.vlanRanges) || 'VLAN' in self.isolationMethods", 'spec.vlanRanges needs VLAN in spec.isolationMethods: add it or remove the ranges', '.vlanRanges'),
        rule("!has(self.vniRanges) || 'VXLAN' in self.isolationMethods", 'spec.vniRanges needs VXLAN in spec.isolationMethods: add it or remove the ranges', '.vniRanges'),
        rule('self.zoneRef == oldSelf.zoneRef', 'spec.zoneRef is immutable: create a new physical network in the other zone', '.zoneRef'),
      ],
    },
  ),
  status: Status(StringEnum(ALLOCATION_STATES, { description: 'State of the physical network.' }), {
    serviceProviders: Type.Optional(
      KeyedList(
        Obj(
          {
            name: StringEnum(NETWORK_PROVIDERS, { description: 'Provider name.' }),
            state: StringEnum(PROVIDER_STATES, { description: 'Observed provider state.' }),
          },
          { description: 'One provider\'s observed state.' },
        ),
        'name',
        { description: 'Observed state of each network service provider.', maxItems: 8 },
      ),
    ),
    vlansAllocated: Type.Optional(Count('VLAN ids and VNIs allocated to guest networks.')),
    hosts: Type.Optional(
      KeyedList(
        Obj(
          {
            host: Str({ description: 'metadata.name of the Host.', minLength: 1, maxLength: 253 }),
            ready: Bool({ description: 'The host has the bridge every traffic label names.' }),
            missingLabels: Type.Optional(List(Str({ description: 'A kvmLabel.', maxLength: 15 }), { description: 'Traffic labels (bridges) the host lacks.', maxItems: 4, set: true })),
          },
          { description: 'Whether one host of the zone carries this network\'s bridges.' },
        ),
        'host',
        { description: 'Per host of the zone, whether it has the bridge each traffic label names (from the bridges the agent reports).', maxItems: 1024 },
      ),
    ),
  }),
  columns: [
    { name: 'Zone', type: 'string', jsonPath: '.spec.zoneRef.name', description: 'The zone.' },
    { name: 'Isolation', type: 'string', jsonPath: '.spec.isolationMethods', description: 'Isolation methods.' },
    { name: 'Allocated', type: 'integer', jsonPath: '.status.vlansAllocated', description: 'VLANs and VNIs in use.', priority: 1 },
  ],
});

// IPRange ---------------------------------------------------------------------------------

/**
 * An IPRange is a CloudStack VLAN IP range: addresses of one subnet, optionally tagged, for
 * public traffic (source NAT, static NAT), for a shared guest network, or for a pod's
 * management or storage traffic. Each address handed out becomes an IPAddress object.
 */
export const IPRange = defineKind({
  group: INFRA_GROUP,
  kind: 'IPRange',
  plural: 'ipranges',
  shortNames: ['csipr', 'csiprange'],
  scope: 'Cluster',
  description:
    'A CloudStack VLAN IP range: startIp..endIp of one subnet for Public, Guest (a shared network), Management or Storage traffic, optionally VLAN-tagged and dedicated. Each address in use is an IPAddress. States: Pending, Ready, Error.',
  spec: Obj(
    {
      purpose: StringEnum(TRAFFIC_TYPES, {
        description: 'Public: public addresses. Guest: addresses of a shared guest network (networkRef). Management and Storage: a pod\'s system addresses (podRef).',
      }),
      zoneRef: Ref('Zone', 'The zone of the range.'),
      podRef: Type.Optional(Ref('Pod', 'The pod of a Management or Storage range.')),
      networkRef: Type.Optional(NamespacedRef('Network', 'The shared guest network of a Guest range.', true)),
      physicalNetworkRef: Type.Optional(Ref('PhysicalNetwork', 'The physical network carrying the range; defaults to the one with the matching traffic type.')),
      vlan: Type.Optional(Int({ description: 'VLAN tag of the range. Absent: untagged.', minimum: 1, maximum: VLAN_MAX })),
      gateway: Ipv4('Gateway of the subnet.'),
      netmask: Netmask('Netmask of the subnet.'),
      startIp: Ipv4('First address of the range.'),
      endIp: Ipv4('Last address of the range, inclusive.'),
      forSystemVms: Type.Optional(Bool({ description: 'Reserve the range for system components.', default: false })),
      dedication: Type.Optional(Dedication('range')),
    },
    {
      description: 'Desired configuration of the range.',
      validations: [
        ...subnetRangeRules(false),
        rule("self.purpose != 'Guest' || has(self.networkRef)", 'spec.networkRef is required for a Guest range: name the shared network it serves', '.networkRef'),
        rule("!(self.purpose in ['Management', 'Storage']) || has(self.podRef)", 'spec.podRef is required for a Management or Storage range: name the pod', '.podRef'),
        rule("self.purpose == 'Public' || !has(self.dedication)", 'spec.dedication applies only to Public ranges: remove it', '.dedication'),
        rule('self.startIp == oldSelf.startIp && self.endIp == oldSelf.endIp && self.gateway == oldSelf.gateway && self.netmask == oldSelf.netmask', 'spec.startIp, endIp, gateway and netmask are immutable: add another range instead', '.startIp'),
      ],
    },
  ),
  status: Status(ReadinessState('range'), {
    total: Type.Optional(Count('Addresses in the range.')),
    allocated: Type.Optional(Count('Addresses handed out (IPAddress objects).')),
    free: Type.Optional(Count('Addresses not handed out: total - allocated.')),
  }),
  columns: [
    { name: 'Purpose', type: 'string', jsonPath: '.spec.purpose', description: 'Traffic purpose.' },
    { name: 'Start', type: 'string', jsonPath: '.spec.startIp', description: 'First address.' },
    { name: 'End', type: 'string', jsonPath: '.spec.endIp', description: 'Last address.' },
    { name: 'Allocated', type: 'integer', jsonPath: '.status.allocated', description: 'Addresses in use.', priority: 1 },
    { name: 'VLAN', type: 'integer', jsonPath: '.spec.vlan', description: 'VLAN tag.', priority: 1 },
  ],
});

// Offerings -------------------------------------------------------------------------------

/** CloudStack's deployment planners: how clusters are ordered (the global setting vm.deployment.planner). */
export const DEPLOYMENT_PLANNERS = ['FirstFitPlanner', 'UserDispersingPlanner', 'UserConcentratedPodPlanner'] as const;

const OFFERING_SCOPE = {
  domainRefs: Type.Optional(RefList('Domain', 'Domains that may use the offering. Absent: public to every domain.', 32)),
  zoneRefs: Type.Optional(RefList('Zone', 'Zones where the offering is available. Absent: every zone.', 32)),
  sortKey: Type.Optional(Int({ description: 'Place of the offering in lists, lowest first (CloudStack `sortkey`). Absent: 0.', minimum: -2147483648, maximum: 2147483647 })),
};

/**
 * What CloudStack's update command of an offering may change, and so what stays mutable in its
 * spec: the presentation (name, text, order) and the scope that decides who may use it. Whatever
 * sizes a VM, a volume or a network (cores, memory, disk size, IOPS and rate limits,
 * customization, services) is immutable: a new offering changes it.
 */
const OFFERING_PRESENTATION = ['displayName', 'displayText', 'sortKey', 'domainRefs', 'zoneRefs'] as const;

const serviceOfferingSpec = {
  displayName: Type.Optional(DisplayName('offering')),
  displayText: Type.Optional(DisplayText('offering')),
  cpuNumber: Type.Optional(Int({ description: 'CPU cores. Required unless customized.', minimum: 1, maximum: 512 })),
  cpuSpeed: Type.Optional(Int({ description: 'Speed of each core in MHz, used for placement and CPU shares.', minimum: 100, maximum: 100000, default: 1000 })),
  memory: Type.Optional(Quantity({ description: 'Memory, such as 512Mi or 4Gi. Required unless customized.', minimum: '32Mi' })),
  customized: Type.Optional(
    Obj(
      {
        minCpuNumber: Type.Optional(Int({ description: 'Fewest cores a tenant may ask for.', minimum: 1, maximum: 512, default: 1 })),
        maxCpuNumber: Int({ description: 'Most cores a tenant may ask for.', minimum: 1, maximum: 512 }),
        minMemory: Type.Optional(Quantity({ description: 'Least memory a tenant may ask for.', minimum: '32Mi', default: '512Mi' })),
        maxMemory: Quantity({ description: 'Most memory a tenant may ask for.', minimum: '32Mi' }),
      },
      {
        description: 'Makes the offering customizable: each VM states its cores and memory within these ranges. Excludes cpuNumber and memory.',
        validations: [
          rule('self.minCpuNumber <= self.maxCpuNumber', 'spec.customized.minCpuNumber must not exceed maxCpuNumber: swap or fix them', '.minCpuNumber'),
          quantityOrderRule('minMemory', 'maxMemory', 'spec.customized.minMemory must not exceed maxMemory: swap or fix them', '.minMemory'),
        ],
      },
    ),
  ),
  rootDiskSize: Type.Optional(Quantity({ description: 'Size of the root disk; absent: the template\'s size.', minimum: '1Gi' })),
  diskOfferingRef: Type.Optional(Ref('DiskOffering', 'Disk offering of the root volume (tags, provisioning, limits).')),
  offerHa: Type.Optional(Bool({ description: 'Restart the VM on another host when its host fails.', default: false })),
  limitCpuUse: Type.Optional(Bool({ description: 'Cap the VM at its cpuSpeed even when the host is idle.', default: false })),
  isVolatile: Type.Optional(Bool({ description: 'Replace the root disk with a fresh one from the template on every reboot.', default: false })),
  dynamicScalingEnabled: Type.Optional(Bool({ description: 'Allow scaling a running VM to another offering.', default: true })),
  hostTags: Type.Optional(Tags('Host tags a host must carry to run these VMs.')),
  storageTags: Type.Optional(Tags('Storage tags the root volume\'s pool must carry.')),
  storageType: Type.Optional(StorageType('offering')),
  provisioningType: Type.Optional(ProvisioningType()),
  networkRate: Type.Optional(Int({ description: 'Network rate limit in megabits per second. Absent: the global default.', minimum: 1 })),
  deploymentPlanner: Type.Optional(StringEnum(DEPLOYMENT_PLANNERS, { description: 'Overrides the global setting vm.deployment.planner for these VMs.' })),
  ...DiskIoLimits(),
  ...OFFERING_SCOPE,
};

/**
 * A ServiceOffering is a compute size tenants deploy VMs with: cores, MHz per core and
 * memory, or ranges the tenant picks from when customized. Its sizes are immutable: to change
 * one, create a new offering; its name, text, order, scope and tags may change. Deleting one in use turns it Inactive (hidden) until its VMs are gone.
 */
export const ServiceOffering = defineKind({
  group: INFRA_GROUP,
  kind: 'ServiceOffering',
  plural: 'serviceofferings',
  shortNames: ['csso', 'csserviceoffering'],
  scope: 'Cluster',
  description:
    'A CloudStack compute (service) offering: CPU cores, MHz and memory for VMs, fixed or customizable within ranges, plus HA, tags and limits. Only its name, text, sort key, scope and tags change once created. States: Active, Inactive.',
  spec: Obj(
    serviceOfferingSpec,
    {
      description: 'The offering. displayName, displayText, sortKey, domainRefs, zoneRefs, hostTags and storageTags may change (they apply to the next placement); the rest is immutable: create a new offering to change it.',
      validations: [
        ...immutableSpecExcept('ServiceOffering', serviceOfferingSpec, [...OFFERING_PRESENTATION, 'hostTags', 'storageTags'], 'create a new offering and move VMs to it'),
        rule('has(self.customized) || (has(self.cpuNumber) && has(self.memory))', 'spec.cpuNumber and spec.memory are required unless spec.customized is set', '.cpuNumber'),
        rule('!has(self.customized) || (!has(self.cpuNumber) && !has(self.memory))', 'spec.customized excludes spec.cpuNumber and spec.memory: remove one or the other', '.customized'),
      ],
    },
  ),
  status: Status(OfferingState('offering'), {}),
  columns: [
    { name: 'CPUs', type: 'integer', jsonPath: '.spec.cpuNumber', description: 'Cores.' },
    { name: 'MHz', type: 'integer', jsonPath: '.spec.cpuSpeed', description: 'MHz per core.' },
    { name: 'Memory', type: 'string', jsonPath: '.spec.memory', description: 'Memory.' },
    { name: 'Storage', type: 'string', jsonPath: '.spec.storageType', description: 'shared or local.', priority: 1 },
    { name: 'HA', type: 'boolean', jsonPath: '.spec.offerHa', description: 'HA enabled.', priority: 1 },
  ],
});

const diskOfferingSpec = {
  displayName: Type.Optional(DisplayName('offering')),
  displayText: Type.Optional(DisplayText('offering')),
  diskSize: Type.Optional(Quantity({ description: 'Volume size, such as 20Gi. Required unless customized.', minimum: '1Gi' })),
  customized: Type.Optional(
    Obj(
      {
        minSize: Type.Optional(Quantity({ description: 'Smallest size a tenant may ask for.', minimum: '1Gi', default: '1Gi' })),
        maxSize: Type.Optional(Quantity({ description: 'Largest size a tenant may ask for.', minimum: '1Gi', default: '1Ti' })),
      },
      {
        description: 'Makes the size customizable within these bounds. Excludes diskSize.',
        validations: [quantityOrderRule('minSize', 'maxSize', 'spec.customized.minSize must not exceed maxSize: swap or fix them', '.minSize')],
      },
    ),
  ),
  minIops: Type.Optional(Int({ description: 'Guaranteed IOPS, on storage that supports it.', minimum: 1, int64: true })),
  maxIops: Type.Optional(Int({ description: 'IOPS ceiling, on storage that supports it.', minimum: 1, int64: true })),
  storageTags: Type.Optional(Tags('Storage tags the volume\'s pool must carry.')),
  storageType: Type.Optional(StorageType('offering')),
  provisioningType: Type.Optional(ProvisioningType()),
  encrypt: Type.Optional(Bool({ description: 'Encrypt volumes of this offering.', default: false })),
  displayOffering: Type.Optional(Bool({ description: 'Show the offering to tenants.', default: true })),
  ...DiskIoLimits(),
  ...OFFERING_SCOPE,
};

/**
 * A DiskOffering is a data-disk (or root-disk) size and class: a fixed size or a
 * customizable range, storage tags, provisioning and throughput limits. Its sizes and limits
 * are immutable; its name, text, order, visibility, scope and tags may change.
 */
export const DiskOffering = defineKind({
  group: INFRA_GROUP,
  kind: 'DiskOffering',
  plural: 'diskofferings',
  shortNames: ['csdo', 'csdiskoffering'],
  scope: 'Cluster',
  description:
    'A CloudStack disk offering: a fixed volume size or a customizable range, storage tags and type, provisioning (thin, sparse, fat) and byte and IOPS limits. Only its name, text, sort key, visibility, scope and storage tags change once created. States: Active, Inactive.',
  spec: Obj(
    diskOfferingSpec,
    {
      description: 'The offering. displayName, displayText, sortKey, displayOffering, domainRefs, zoneRefs and storageTags may change (tags apply to the next placement); the rest is immutable: create a new offering to change it.',
      validations: [
        ...immutableSpecExcept('DiskOffering', diskOfferingSpec, [...OFFERING_PRESENTATION, 'displayOffering', 'storageTags'], 'create a new offering'),
        rule('has(self.diskSize) != has(self.customized)', 'set exactly one of spec.diskSize (fixed size) or spec.customized (size range)', '.diskSize'),
        rule('!has(self.minIops) || !has(self.maxIops) || self.minIops <= self.maxIops', 'spec.minIops must not exceed spec.maxIops', '.minIops'),
      ],
    },
  ),
  status: Status(OfferingState('offering'), {}),
  columns: [
    { name: 'Size', type: 'string', jsonPath: '.spec.diskSize', description: 'Fixed size.' },
    { name: 'Storage', type: 'string', jsonPath: '.spec.storageType', description: 'shared or local.' },
    { name: 'Provisioning', type: 'string', jsonPath: '.spec.provisioningType', description: 'thin, sparse or fat.', priority: 1 },
  ],
});

const NETWORK_SERVICES = [
  'Dhcp',
  'Dns',
  'UserData',
  'SourceNat',
  'StaticNat',
  'PortForwarding',
  'Lb',
  'Firewall',
  'SecurityGroup',
  'Vpn',
  'NetworkACL',
  'Gateway',
  'Connectivity',
] as const;

const networkOfferingSpec = {
  displayName: Type.Optional(DisplayName('offering')),
  displayText: Type.Optional(DisplayText('offering')),
  guestIpType: StringEnum(['Isolated', 'Shared', 'L2'] as const, {
    description: 'Isolated: a private network with its own VLAN and source NAT. Shared: one network many accounts use, addresses from admin ranges. L2: no addressing at all.',
  }),
  trafficType: Type.Optional(StringEnum(['Guest'] as const, { description: 'Traffic type; guest networks only.', default: 'Guest' })),
  services: Type.Optional(
    KeyedList(
      Obj(
        {
          name: StringEnum(NETWORK_SERVICES, { description: 'Service name, as CloudStack names it.' }),
          provider: Type.Optional(StringEnum(NETWORK_PROVIDERS, {
            description: 'Who provides the service. Kumulus implements VirtualRouter services distributed on the hosts.',
            default: 'VirtualRouter',
          })),
        },
        { description: 'One service and its provider.' },
      ),
      'name',
      { description: 'Services the networks provide.', maxItems: 16 },
    ),
  ),
  specifyVlan: Type.Optional(Bool({ description: 'The network\'s creator gives its VLAN instead of having one allocated.', default: false })),
  specifyIpRanges: Type.Optional(Bool({ description: 'Address ranges are given explicitly (required for Shared networks).', default: false })),
  persistent: Type.Optional(Bool({ description: 'Implement networks at creation instead of at their first VM, and keep them while idle.', default: false })),
  conserveMode: Type.Optional(Bool({ description: 'Allow several services (NAT, load balancing) on one public address.', default: true })),
  egressDefaultAllow: Type.Optional(Bool({ description: 'Allow guest egress unless a rule denies it (CloudStack `egressdefaultpolicy`).', default: true })),
  availability: Type.Optional(StringEnum(['Optional', 'Required'] as const, { description: 'Required: every account gets a network of this offering automatically.', default: 'Optional' })),
  internetProtocol: Type.Optional(StringEnum(['IPv4', 'DualStack'] as const, { description: 'Address families of the networks.', default: 'IPv4' })),
  forVpc: Type.Optional(Bool({ description: 'For VPC tiers (a later phase).', default: false })),
  networkRate: Type.Optional(Int({ description: 'Rate limit in megabits per second. Absent: the global default.', minimum: 1 })),
  tags: Type.Optional(Tags('Physical network tags: the networks use a physical network carrying these tags.')),
  state: Type.Optional(
    StringEnum(['Enabled', 'Disabled'] as const, { description: 'Disabled: no new network may use the offering; its networks keep working (CloudStack `state`). Absent: Enabled.' }),
  ),
  ...OFFERING_SCOPE,
};

/**
 * A NetworkOffering is the template for guest networks: Isolated (own VLAN, source NAT),
 * Shared (admin-defined ranges) or L2 (no addressing), and the services each provides with
 * which provider. Its kind and services are immutable; its name, text, order, state,
 * availability, scope and tags may change. Deleting one in use turns it Inactive until its networks are gone.
 */
export const NetworkOffering = defineKind({
  group: INFRA_GROUP,
  kind: 'NetworkOffering',
  plural: 'networkofferings',
  shortNames: ['csno', 'csnetworkoffering'],
  scope: 'Cluster',
  description:
    'A CloudStack network offering: the kind of guest network (Isolated, Shared, L2), its services and their providers, VLAN and range policy, persistence. Only its name, text, sort key, state (Enabled, Disabled), availability, scope and tags change once created. States: Active, Inactive.',
  spec: Obj(
    networkOfferingSpec,
    {
      description: 'The offering. displayName, displayText, sortKey, state, availability, domainRefs, zoneRefs and tags may change (tags apply to networks placed later); the rest is immutable: create a new offering to change it.',
      validations: [
        ...immutableSpecExcept('NetworkOffering', networkOfferingSpec, [...OFFERING_PRESENTATION, 'state', 'availability', 'tags'], 'create a new offering and move networks to it'),
        rule("self.guestIpType != 'L2' || !has(self.services) || self.services.all(s, s.name == 'UserData')", 'spec.services of an L2 offering may only hold UserData: remove the others or use Isolated', '.services'),
        rule("self.guestIpType != 'Shared' || self.specifyIpRanges", 'spec.specifyIpRanges must be true for a Shared offering', '.specifyIpRanges'),
        rule(
          "self.guestIpType == 'Isolated' || !has(self.services) || !self.services.exists(s, s.name in ['SourceNat', 'StaticNat', 'PortForwarding'])",
          'spec.services: SourceNat, StaticNat and PortForwarding need guestIpType Isolated',
          '.services',
        ),
      ],
    },
  ),
  status: Status(OfferingState('offering'), {}),
  columns: [
    { name: 'Guest-Type', type: 'string', jsonPath: '.spec.guestIpType', description: 'Isolated, Shared or L2.' },
    { name: 'Persistent', type: 'boolean', jsonPath: '.spec.persistent', description: 'Persistent networks.' },
    { name: 'Specify-VLAN', type: 'boolean', jsonPath: '.spec.specifyVlan', description: 'VLAN given by creator.', priority: 1 },
  ],
});

export const infraKinds = [Zone, Pod, Cluster, Host, PrimaryStorage, SecondaryStorage, PhysicalNetwork, IPRange, ServiceOffering, DiskOffering, NetworkOffering] as const;

