/**
 * compute.kumulus.io: what tenants run, in their account's namespace. A VirtualMachine is
 * deployed from a Template (or ISO) with a ServiceOffering into a Zone; its disks are
 * Volumes, its access key an SSHKeyPair, its placement rules AffinityGroups.
 */
import Type from 'typebox';
import {
  ACTIVE_STATES,
  ARCHITECTURES,
  Bool,
  Count,
  DISK_FORMATS,
  DNS_LABEL,
  DisplayName,
  DisplayText,
  HostName,
  Hypervisor,
  Int,
  Ipv4,
  KeyedList,
  List,
  MacAddress,
  NamespacedRef,
  Netmask,
  Obj,
  Quantity,
  ReadinessState,
  Ref,
  RefList,
  Status,
  Str,
  StringEnum,
  Timestamp,
  VOLUME_TYPES,
  immutableField,
  immutableOnceSet,
  rule,
} from './common.ts';
import { defineKind } from './kind.ts';

export const COMPUTE_GROUP = 'compute.kumulus.io';

// VirtualMachine --------------------------------------------------------------------------

const VM_STATES = ['Starting', 'Running', 'Stopping', 'Stopped', 'Migrating', 'Error', 'Unknown', 'Shutdown', 'Destroyed', 'Expunging'] as const;

/**
 * A VirtualMachine is a CloudStack user instance. spec.state says whether it should run, be
 * stopped or be destroyed (recoverable); deleting the object expunges it. The operator plans
 * it (zone → pod → cluster → host, recorded in status.placement), creates its Volumes and its
 * NICs' addresses, and derives status.state from what the agent of the chosen host reports
 * (powerState and the Running condition): Stopped → Starting → Running → Stopping → Stopped,
 * Destroyed, Expunging, Error. The agent defines and starts the libvirt domain, whose UUID is
 * the VM's metadata.uid. A reboot is requested by setting spec.rebootRequestedAt;
 * status.lastRebootAt echoes it once done; a restore (new root disk) likewise with
 * spec.restoreRequestedAt and status.lastRestoreAt. lib/agent-contract.ts says who writes what.
 */
export const VirtualMachine = defineKind({
  group: COMPUTE_GROUP,
  kind: 'VirtualMachine',
  plural: 'virtualmachines',
  shortNames: ['csvm'],
  scope: 'Namespaced',
  description:
    'A CloudStack virtual machine instance: deployed from a template or ISO with a service offering into a zone, on guest networks, with data disks. spec.state is Running, Stopped or Destroyed; deleting the object expunges the VM. States: Starting, Running, Stopping, Stopped, Migrating, Error, Unknown, Shutdown, Destroyed, Expunging.',
  spec: Obj(
    {
      displayName: Type.Optional(DisplayName('VM (CloudStack `displayname`)')),
      hostName: Type.Optional(HostName('Guest host name (CloudStack `name`), handed out by DHCP. Defaults to metadata.name.')),
      zoneRef: Ref('Zone', 'Zone to deploy in. Immutable.'),
      serviceOfferingRef: Ref('ServiceOffering', 'Compute size of the VM.'),
      cpuNumber: Type.Optional(Int({ description: 'Cores, for a customized service offering only.', minimum: 1, maximum: 512 })),
      cpuSpeed: Type.Optional(Int({ description: 'MHz per core, for a customized service offering only.', minimum: 100, maximum: 100000 })),
      memory: Type.Optional(Quantity({ description: 'Memory, for a customized service offering only.', minimum: '32Mi' })),
      templateRef: Type.Optional(NamespacedRef('Template', 'Template of the root disk: in the VM\'s namespace, kumulus-public (the platform\'s public templates), or a public template of another account. Set this or isoRef.')),
      isoRef: Type.Optional(NamespacedRef('Template', 'ISO (a Template of format ISO) to boot from, with an empty root disk from rootDiskOfferingRef. Set this or templateRef.')),
      attachedIsoRef: Type.Optional(
        NamespacedRef(
          'Template',
          'ISO (a Template of format ISO) in the VM\'s CD-ROM drive (CloudStack attachIso and detachIso; the VM\'s isoid): a running VM gets it live, a stopped one at its next start; remove it to eject. Defaults to isoRef when the VM is created.',
        ),
      ),
      rootDiskOfferingRef: Type.Optional(Ref('DiskOffering', 'Disk offering of the root volume; required with isoRef, optional with a template.')),
      rootDiskSize: Type.Optional(Quantity({ description: 'Size of the root disk; absent: the template\'s or the offering\'s.', minimum: '1Gi' })),
      networks: Type.Optional(
        KeyedList(
          Obj(
            {
              name: Str({ description: 'metadata.name of the Network, in this namespace.', minLength: 1, maxLength: 253 }),
              ipAddress: Type.Optional(Ipv4('Fixed address on that network. Absent: the next free one.')),
              macAddress: Type.Optional(MacAddress('Fixed MAC address. Absent: derived from the VM\'s uid.')),
              default: Type.Optional(Bool({ description: 'The NIC carrying the default route; exactly one network is the default (the first when none says so).', default: false })),
            },
            { description: 'One NIC on a guest network.' },
          ),
          'name',
          { description: 'Guest networks to attach, in NIC order. Absent: the zone\'s default network for the account.', maxItems: 16 },
        ),
      ),
      dataDisks: Type.Optional(
        KeyedList(
          Obj(
            {
              name: Str({ description: 'Suffix of the created Volume\'s name (<vm>-<name>).', minLength: 1, maxLength: 63, pattern: DNS_LABEL }),
              diskOfferingRef: Ref('DiskOffering', 'Offering of the data disk.'),
              size: Type.Optional(Quantity({ description: 'Size, for a customized disk offering.', minimum: '1Gi' })),
            },
            { description: 'One data disk, created as a Volume owned by the VM.' },
          ),
          'name',
          { description: 'Data disks created with the VM (CloudStack `datadiskofferinglist`).', maxItems: 16 },
        ),
      ),
      sshKeyPairRef: Type.Optional(Ref('SSHKeyPair', 'Key pair, in this namespace, whose public key is installed for login.')),
      userData: Type.Optional(Str({ description: 'Base64-encoded user data (cloud-init) served to the guest.', maxLength: 1048576, format: 'byte' })),
      affinityGroupRefs: Type.Optional(RefList('AffinityGroup', 'Affinity groups, in this namespace, that constrain placement.', 16)),
      hostRef: Type.Optional(Ref('Host', 'Pins the VM to one host (administrators only).')),
      group: Type.Optional(Str({ description: 'Instance group, a free-text label CloudStack lists VMs by.', maxLength: 255 })),
      bootType: Type.Optional(StringEnum(['BIOS', 'UEFI'] as const, { description: 'Firmware.', default: 'BIOS' })),
      bootMode: Type.Optional(StringEnum(['LEGACY', 'SECURE'] as const, { description: 'UEFI boot mode; only with bootType UEFI.' })),
      state: Type.Optional(
        StringEnum(['Running', 'Stopped', 'Destroyed'] as const, {
          description:
            'Desired state: Running or Stopped (CloudStack `startvm`, start and stop), or Destroyed (CloudStack destroy: powered off and kept, recoverable by setting Running or Stopped again, expunged after the global expunge.delay). Deleting the object expunges the VM at once.',
          default: 'Running',
        }),
      ),
      rebootRequestedAt: Type.Optional(Timestamp('Set to the current time to request a reboot; done when status.lastRebootAt equals it.')),
      restoreRequestedAt: Type.Optional(
        Timestamp(
          'Set to the current time to restore the VM (CloudStack restoreVirtualMachine): its root disk is replaced by a new one from spec.templateRef (which may change in the same update), the old one is deleted, and a running VM is powered off and started again on the new disk. Done when status.lastRestoreAt equals it.',
        ),
      ),
    },
    {
      description: 'Desired VM.',
      validations: [
        rule('has(self.templateRef) != has(self.isoRef)', 'set exactly one of spec.templateRef or spec.isoRef', '.templateRef'),
        rule('!has(self.isoRef) || has(self.rootDiskOfferingRef)', 'spec.rootDiskOfferingRef is required with spec.isoRef: the ISO needs an empty root disk', '.rootDiskOfferingRef'),
        rule("!has(self.bootMode) || self.bootType == 'UEFI'", 'spec.bootMode needs spec.bootType UEFI: set bootType UEFI or remove bootMode', '.bootMode'),
        rule('!has(self.networks) || self.networks.filter(n, n.default).size() <= 1', 'spec.networks: at most one network may be the default', '.networks'),
        rule('self.zoneRef == oldSelf.zoneRef', 'spec.zoneRef is immutable: a VM cannot change zones', '.zoneRef'),
        rule(
          '(has(self.restoreRequestedAt) && (!has(oldSelf.restoreRequestedAt) || self.restoreRequestedAt != oldSelf.restoreRequestedAt)) || ((has(self.templateRef) == has(oldSelf.templateRef)) && (!has(self.templateRef) || self.templateRef == oldSelf.templateRef) && (has(self.isoRef) == has(oldSelf.isoRef)))',
          'spec.templateRef changes only with a restore: set spec.restoreRequestedAt to the current time in the same update (the root disk is then made again from the new template)',
          '.templateRef',
        ),
        rule('!has(self.restoreRequestedAt) || has(self.templateRef)', 'spec.restoreRequestedAt needs spec.templateRef: an ISO-booted VM is restored onto a template; set spec.templateRef and remove spec.isoRef', '.restoreRequestedAt'),
      ],
    },
  ),
  status: Status(StringEnum(VM_STATES, { description: 'The VM state, with CloudStack\'s names.' }), {
    powerState: Type.Optional(StringEnum(['PowerOn', 'PowerOff', 'PowerUnknown', 'PowerReportMissing'] as const, { description: 'Power state the hypervisor last reported.' })),
    placement: Type.Optional(
      Obj(
        {
          zone: Str({ description: 'Zone name.', maxLength: 253 }),
          pod: Str({ description: 'Pod name.', maxLength: 253 }),
          cluster: Str({ description: 'Cluster name.', maxLength: 253 }),
          host: Str({ description: 'Host name.', maxLength: 253 }),
        },
        { description: 'Where the planner placed the VM; written once with optimistic concurrency.' },
      ),
    ),
    instanceName: Type.Optional(Str({ description: 'The libvirt domain name, derived from the uid.', maxLength: 253 })),
    nics: Type.Optional(
      List(
        Obj(
          {
            network: Str({ description: 'metadata.name of the Network.', maxLength: 253 }),
            deviceId: Int({ description: 'NIC order, from 0.', minimum: 0, maximum: 31 }),
            isDefault: Bool({ description: 'Carries the default route.' }),
            ipAddress: Type.Optional(Ipv4('Address allocated on the network.')),
            netmask: Type.Optional(Netmask('Netmask of the network.')),
            gateway: Type.Optional(Ipv4('Gateway of the network.')),
            macAddress: MacAddress('MAC address of the NIC.'),
            isolationUri: Type.Optional(Str({ description: 'Isolation, such as vlan://100 or vxlan://5001.', maxLength: 64 })),
            broadcastUri: Type.Optional(Str({ description: 'Broadcast domain, such as vlan://100.', maxLength: 64 })),
          },
          { description: 'One NIC.' },
        ),
        { description: 'NICs as implemented (CloudStack `nic`).', maxItems: 16 },
      ),
    ),
    volumes: Type.Optional(
      List(
        Obj(
          {
            name: Str({ description: 'metadata.name of the Volume.', maxLength: 253 }),
            type: StringEnum(VOLUME_TYPES, { description: 'Root or data disk.' }),
            deviceId: Int({ description: 'Disk order, 0 for the root disk.', minimum: 0, maximum: 63 }),
          },
          { description: 'One attached volume.' },
        ),
        { description: 'Volumes attached.', maxItems: 32 },
      ),
    ),
    console: Type.Optional(
      Obj(
        {
          host: Str({ description: 'Address the console listens on.', maxLength: 253 }),
          port: Int({ description: 'VNC port.', minimum: 1, maximum: 65535 }),
        },
        { description: 'Where the VNC console is served.' },
      ),
    ),
    attachedIso: Type.Optional(
      NamespacedRef(
        'Template',
        'The ISO the domain\'s CD-ROM drive holds, as the agent last saw it (the running domain\'s drive, else its definition\'s): spec.attachedIsoRef once inserted; absent while the drive is empty.',
        true,
      ),
    ),
    lastRebootAt: Type.Optional(Timestamp('The spec.rebootRequestedAt last carried out.')),
    lastRestoreAt: Type.Optional(Timestamp('The spec.restoreRequestedAt last carried out: the new root disk is the only one and the VM is back in spec.state.')),
    startedAt: Type.Optional(Timestamp('When the VM last started.')),
    destroyedAt: Type.Optional(Timestamp('When spec.state became Destroyed; the VM is expunged expunge.delay seconds later.')),
    serviceOffering: Type.Optional(
      Obj(
        {
          name: Str({ description: 'spec.serviceOfferingRef.name.', maxLength: 253 }),
          cpuNumber: Type.Optional(Int({ description: 'spec.cpuNumber (a customized offering).', minimum: 1, maximum: 512 })),
          cpuSpeed: Type.Optional(Int({ description: 'spec.cpuSpeed (a customized offering).', minimum: 100, maximum: 100000 })),
          memory: Type.Optional(Str({ description: 'spec.memory (a customized offering).', maxLength: 64 })),
        },
        { description: 'The compute size the operator last accepted: spec.serviceOfferingRef with a customized offering\'s spec.cpuNumber, cpuSpeed and memory. Each change of it (a scale) is reported once, as VM.UPGRADE.' },
      ),
    ),
  }),
  columns: [
    { name: 'Display-Name', type: 'string', jsonPath: '.spec.displayName', description: 'Display name.' },
    { name: 'Host', type: 'string', jsonPath: '.status.placement.host', description: 'Host running it.' },
    { name: 'IP', type: 'string', jsonPath: '.status.nics[0].ipAddress', description: 'First NIC address.' },
    { name: 'Offering', type: 'string', jsonPath: '.spec.serviceOfferingRef.name', description: 'Service offering.', priority: 1 },
    { name: 'Template', type: 'string', jsonPath: '.spec.templateRef.name', description: 'Template.', priority: 1 },
    { name: 'Zone', type: 'string', jsonPath: '.spec.zoneRef.name', description: 'Zone.', priority: 1 },
  ],
});

// Volume ----------------------------------------------------------------------------------

const VOLUME_STATES = ['Allocated', 'Creating', 'Ready', 'Attaching', 'Resizing', 'Migrating', 'Snapshotting', 'Destroy', 'Expunging', 'Expunged', 'Uploaded'] as const;

/**
 * A Volume is a virtual disk: the root disk of a VM (created from its template) or a data
 * disk (from a disk offering). It is Allocated until first attached, when it is created on a
 * primary storage pool near its VM and becomes Ready. Root volumes are owned by their VM and
 * go with it; data volumes follow deletionPolicy. Size may grow, never shrink.
 */
export const Volume = defineKind({
  group: COMPUTE_GROUP,
  kind: 'Volume',
  plural: 'volumes',
  shortNames: ['csvol', 'csvolume'],
  scope: 'Namespaced',
  description:
    'A CloudStack volume: a VM\'s root disk (from a template) or a data disk (from a disk offering), placed on primary storage when first attached. Size may grow, never shrink. States: Allocated, Creating, Ready, Attaching, Resizing, Migrating, Snapshotting, Destroy, Expunging, Expunged, Uploaded.',
  spec: Obj(
    {
      displayName: Type.Optional(DisplayName('volume')),
      type: Type.Optional(StringEnum(VOLUME_TYPES, { description: 'ROOT: a VM\'s boot disk from templateRef. DATADISK: an extra disk from diskOfferingRef.', default: 'DATADISK' })),
      zoneRef: Ref('Zone', 'Zone of the volume. Immutable.'),
      diskOfferingRef: Type.Optional(Ref('DiskOffering', 'Offering of the disk; required for DATADISK.')),
      templateRef: Type.Optional(NamespacedRef('Template', 'Template the root disk is copied from; required for ROOT.')),
      size: Type.Optional(Quantity({ description: 'Size, such as 20Gi; absent: the offering\'s or template\'s. May grow, never shrink.', minimum: '1Gi', validations: [
        rule('!isQuantity(string(self)) || !isQuantity(string(oldSelf)) || quantity(string(self)).compareTo(quantity(string(oldSelf))) >= 0', 'spec.size cannot shrink: give a size at least as large as before'),
      ] })),
      vmRef: Type.Optional(Ref('VirtualMachine', 'VM, in this namespace, the volume is attached to. Absent: detached.')),
      deviceId: Type.Optional(Int({ description: 'Disk order on the VM: 0 for ROOT, 1 or more for data disks. Absent: the next free one.', minimum: 0, maximum: 63 })),
      deletionPolicy: Type.Optional(StringEnum(['Delete', 'Retain'] as const, { description: 'On deletion of the Volume object: Delete removes the disk, Retain keeps the file on the pool.', default: 'Delete' })),
      destroyed: Type.Optional(Bool({ description: 'true: destroyed (CloudStack state Destroy), recoverable by setting it false until expunge.delay has passed, then deleted. Only a detached volume.' })),
    },
    {
      description: 'Desired volume.',
      validations: [
        rule("self.type != 'ROOT' || has(self.templateRef)", 'spec.templateRef is required for a ROOT volume', '.templateRef'),
        rule("self.type != 'DATADISK' || has(self.diskOfferingRef)", 'spec.diskOfferingRef is required for a DATADISK volume', '.diskOfferingRef'),
        rule("self.type != 'DATADISK' || !has(self.templateRef)", 'spec.templateRef applies only to ROOT volumes: remove it', '.templateRef'),
        rule('!has(self.deviceId) || has(self.vmRef)', 'spec.deviceId needs spec.vmRef: name the VM or remove the device id', '.deviceId'),
        rule("!has(self.deviceId) || (self.type == 'ROOT') == (self.deviceId == 0)", 'spec.deviceId must be 0 for a ROOT volume and 1 or more for a DATADISK', '.deviceId'),
        rule('!has(self.destroyed) || !self.destroyed || !has(self.vmRef)', 'spec.destroyed applies to a detached volume: remove spec.vmRef first (detach it)', '.destroyed'),
        rule('self.type == oldSelf.type', 'spec.type is immutable', '.type'),
        rule('self.zoneRef == oldSelf.zoneRef', 'spec.zoneRef is immutable: migrate by copying to a new volume', '.zoneRef'),
      ],
    },
  ),
  status: Status(StringEnum(VOLUME_STATES, { description: 'The volume state, with CloudStack\'s names.' }), {
    pool: Type.Optional(Str({ description: 'metadata.name of the PrimaryStorage holding it.', maxLength: 253 })),
    host: Type.Optional(Str({ description: 'Host holding it, for local storage.', maxLength: 253 })),
    path: Type.Optional(Str({ description: 'File or image name on the pool, derived from the uid.', maxLength: 4096 })),
    format: Type.Optional(StringEnum(DISK_FORMATS, { description: 'Disk image format.' })),
    sizeBytes: Type.Optional(Count('Virtual size in bytes.')),
    physicalSizeBytes: Type.Optional(Count('Bytes used on the pool.')),
    attachedAt: Type.Optional(Timestamp('When it was last attached.')),
    destroyedAt: Type.Optional(Timestamp('When spec.destroyed became true; the volume is deleted expunge.delay seconds later.')),
  }),
  columns: [
    { name: 'Type', type: 'string', jsonPath: '.spec.type', description: 'ROOT or DATADISK.' },
    { name: 'Size', type: 'string', jsonPath: '.spec.size', description: 'Requested size.' },
    { name: 'VM', type: 'string', jsonPath: '.spec.vmRef.name', description: 'Attached to.' },
    { name: 'Pool', type: 'string', jsonPath: '.status.pool', description: 'Primary storage.', priority: 1 },
  ],
});

// Template --------------------------------------------------------------------------------

const DOWNLOAD_STATES = ['NOT_DOWNLOADED', 'DOWNLOAD_IN_PROGRESS', 'DOWNLOADED', 'DOWNLOAD_ERROR', 'ABANDONED'] as const;
/** Hex digits of each checksum algorithm a Template may name, with CloudStack's names. */
export const CHECKSUM_LENGTHS: Readonly<Record<string, number>> = { MD5: 32, 'SHA-1': 40, 'SHA-256': 64, 'SHA-384': 96, 'SHA-512': 128 };
const POOL_CACHE_STATES = ['Ready', 'Error'] as const;

/**
 * A Template is a disk image VMs boot from (format QCOW2 or RAW), or an ISO. It is registered
 * by URL and downloaded to each zone's secondary storage, checked against its checksum, then
 * copied to primary storage on first use. The platform's public templates live in namespace
 * kumulus-public; an account's template stays in its namespace, public (usable by all) or not.
 * status.zones holds the per-zone download state (written by the one agent of each zone that
 * holds the zone's download Lease), status.pools the copies cached on primary storage (written
 * by the agents that fill them); status.state is Active once registered, Inactive while a
 * deleted template waits for its last user (lib/agent-contract.ts).
 */
export const Template = defineKind({
  group: COMPUTE_GROUP,
  kind: 'Template',
  plural: 'templates',
  shortNames: ['cstmpl', 'cstemplate'],
  scope: 'Namespaced',
  description:
    'A CloudStack template or ISO: an image registered by URL, downloaded to each zone\'s secondary storage and verified by checksum. Per-zone download states: NOT_DOWNLOADED, DOWNLOAD_IN_PROGRESS, DOWNLOADED, DOWNLOAD_ERROR, ABANDONED. States: Active, Inactive.',
  spec: Obj(
    {
      displayName: Type.Optional(DisplayName('template')),
      displayText: Type.Optional(DisplayText('template')),
      url: Str({ description: 'Where to download the image: http://, https:// or file:// (single-host clouds).', minLength: 1, maxLength: 2048 }),
      format: StringEnum([...DISK_FORMATS, 'ISO'] as const, { description: 'Image format. ISO makes this an ISO rather than a template.' }),
      checksum: Type.Optional(
        Str({
          description: 'Expected checksum, prefixed with its algorithm: {SHA-256}<hex>, {SHA-512}<hex>, {SHA-384}<hex>, {SHA-1}<hex> or {MD5}<hex>; 32 hex digits alone are an MD5, as CloudStack reads them. Without one the agent records the SHA-256 of what it downloaded.',
          maxLength: 140,
          pattern: '^(\\{(MD5|SHA-1|SHA-256|SHA-384|SHA-512)\\})?[0-9a-fA-F]+$',
          validations: [
            rule(
              Object.entries(CHECKSUM_LENGTHS)
                .map(([algorithm, length]) => `(self.startsWith('{${algorithm}}') && size(self) == ${algorithm.length + 2 + length})`)
                .concat(["(!self.startsWith('{') && size(self) == 32)"])
                .join(' || '),
              'spec.checksum has the wrong length for its algorithm: MD5 is 32 hex digits, SHA-1 40, SHA-256 64, SHA-384 96, SHA-512 128 (digits without a {ALGORITHM} prefix are an MD5)',
            ),
          ],
        }),
      ),
      osType: Type.Optional(Str({ description: 'Guest OS type, as CloudStack names it (such as "Ubuntu 22.04 LTS" or "Other Linux (64-bit)").', minLength: 1, maxLength: 255, default: 'Other Linux (64-bit)' })),
      hypervisor: Type.Optional(Hypervisor('Hypervisor the image is for.', 'KVM')),
      arch: Type.Optional(StringEnum(ARCHITECTURES, { description: 'CPU architecture of the image.', default: 'x86_64' })),
      zoneRefs: Type.Optional(RefList('Zone', 'Zones to download the template to. Set this or crossZones.', 32)),
      crossZones: Type.Optional(Bool({ description: 'Available in every zone (CloudStack `crossZones`). Excludes zoneRefs.', default: false })),
      preparePools: Type.Optional(RefList('PrimaryStorage', 'Pools to cache the template on before a VM needs it (CloudStack prepareTemplate): the agents that mount each fill it from the zone\'s secondary copy once downloaded; status.pools reports it.', 256)),
      isPublic: Type.Optional(Bool({ description: 'Every account may use it and see it listed, wherever it lives.', default: false })),
      isFeatured: Type.Optional(Bool({ description: 'Listed among featured templates.', default: false })),
      isExtractable: Type.Optional(Bool({ description: 'May be downloaded back by its owner.', default: false })),
      passwordEnabled: Type.Optional(Bool({ description: 'The image resets the guest password at boot.', default: false })),
      sshKeyEnabled: Type.Optional(Bool({ description: 'The image installs an SSH key at boot.', default: true })),
      isDynamicallyScalable: Type.Optional(Bool({ description: 'The guest supports CPU and memory hot-plug.', default: false })),
      bootable: Type.Optional(Bool({ description: 'An ISO that can boot a VM (ISOs only; templates always boot).', default: true })),
      requiresHvm: Type.Optional(Bool({ description: 'Needs hardware virtualization.', default: true })),
      directDownload: Type.Optional(Bool({ description: 'Download straight to primary storage at first use, skipping secondary storage.', default: false })),
      templateType: Type.Optional(StringEnum(['USER', 'BUILTIN', 'SYSTEM', 'ROUTING'] as const, { description: 'CloudStack template type.', default: 'USER' })),
    },
    {
      description: 'The template to register.',
      validations: [
        rule("self.url.matches('^(https?|file)://.+')", 'spec.url must be an http://, https:// or file:// URL', '.url'),
        rule('!(has(self.zoneRefs) && self.crossZones)', 'spec.zoneRefs and spec.crossZones exclude each other: list zones or set crossZones, not both', '.zoneRefs'),
        rule('has(self.zoneRefs) || self.crossZones', 'set spec.zoneRefs (the zones to download to) or spec.crossZones: true', '.zoneRefs'),
        rule('self.url == oldSelf.url && self.format == oldSelf.format', 'spec.url and spec.format are immutable: register a new template', '.url'),
      ],
    },
  ),
  status: Status(StringEnum(ACTIVE_STATES, { description: 'Active once registered; Inactive when deleted while in use.' }), {
    isReady: Type.Optional(Bool({ description: 'Downloaded in at least one zone.' })),
    pools: Type.Optional(
      KeyedList(
        Obj(
          {
            pool: Str({ description: 'metadata.name of the PrimaryStorage holding a cached copy.', maxLength: 253 }),
            state: StringEnum(POOL_CACHE_STATES, { description: 'Ready: the verified copy is there. Error: filling it failed (message says why).' }),
            sizeBytes: Type.Optional(Count('Virtual size in bytes.')),
            physicalSizeBytes: Type.Optional(Count('Size of the cached file in bytes.')),
            message: Type.Optional(Str({ description: 'Why the copy could not be made.', maxLength: 4096 })),
          },
          { description: 'The template cached on one primary storage pool, which root volumes are made from.' },
        ),
        'pool',
        { description: 'Per-pool cache status.', maxItems: 256 },
      ),
    ),
    zones: Type.Optional(
      KeyedList(
        Obj(
          {
            zone: Str({ description: 'metadata.name of the Zone.', maxLength: 253 }),
            downloadState: StringEnum(DOWNLOAD_STATES, { description: 'Download state, with CloudStack\'s names.' }),
            downloadPercent: Int({ description: 'Percentage downloaded.', minimum: 0, maximum: 100 }),
            sizeBytes: Type.Optional(Count('Virtual size in bytes.')),
            physicalSizeBytes: Type.Optional(Count('Size of the image file in bytes.')),
            storage: Type.Optional(Str({ description: 'SecondaryStorage (or PrimaryStorage for direct download) holding the copy.', maxLength: 253 })),
            installPath: Type.Optional(Str({ description: 'Where the copy is, relative to the root of its storage.', maxLength: 1024 })),
            checksum: Type.Optional(Str({ description: 'SHA-256 of the stored copy, {SHA-256}<hex>: what pools verify their cached copies against.', maxLength: 80 })),
            message: Type.Optional(Str({ description: 'Error, when the download failed.', maxLength: 4096 })),
          },
          { description: 'The template in one zone.' },
        ),
        'zone',
        { description: 'Per-zone download status.', maxItems: 64 },
      ),
    ),
  }),
  columns: [
    { name: 'Format', type: 'string', jsonPath: '.spec.format', description: 'Image format.' },
    { name: 'OS', type: 'string', jsonPath: '.spec.osType', description: 'Guest OS type.' },
    { name: 'Ready', type: 'boolean', jsonPath: '.status.isReady', description: 'Downloaded somewhere.' },
    { name: 'Public', type: 'boolean', jsonPath: '.spec.isPublic', description: 'Public.', priority: 1 },
    { name: 'URL', type: 'string', jsonPath: '.spec.url', description: 'Source URL.', priority: 1 },
  ],
});

// SSHKeyPair ------------------------------------------------------------------------------

/**
 * An SSHKeyPair is a public key registered under a name; VMs that name it get it installed.
 * Kumulus stores only the public key; status.fingerprint is its MD5 fingerprint as CloudStack
 * shows it. The key is immutable: register a new pair to rotate. Created without a public key
 * (CloudStack's createSSHKeyPair), the operator generates a pair, writes the public key into
 * spec.publicKey and the private key into the Secret named by privateKeySecretName(): it is
 * handed out once, by whoever reads and deletes that Secret (the CloudStack API does).
 */
export const SSHKeyPair = defineKind({
  group: COMPUTE_GROUP,
  kind: 'SSHKeyPair',
  plural: 'sshkeypairs',
  shortNames: ['cskey', 'cssshkeypair'],
  scope: 'Namespaced',
  description:
    'A CloudStack SSH key pair: a named public key installed into the VMs that use it. Immutable. Created without spec.publicKey, the operator generates a pair and leaves the private key, once, in the Secret <name>-private-key. States: Pending, Ready, Error.',
  spec: Obj(
    {
      displayName: Type.Optional(DisplayName('key pair')),
      publicKey: Type.Optional(
        Str({
          description:
            'The OpenSSH public key, one line: ssh-ed25519, ssh-rsa or ecdsa-sha2-* followed by base64. Absent: the operator generates an RSA key pair, writes its public key here and its private key to the Secret <name>-private-key in this namespace; read the private key from there once and delete the Secret, Kumulus keeps no other copy.',
          minLength: 16,
          maxLength: 16384,
          validations: [
            rule("self.matches('^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh.com) [A-Za-z0-9+/]+=* ?.*$')", 'spec.publicKey must be one OpenSSH public key line, such as "ssh-ed25519 AAAA... user@host"'),
          ],
        }),
      ),
    },
    { description: 'The key pair.', validations: [immutableOnceSet('publicKey', 'spec.publicKey', 'register a new key pair to rotate keys')] },
  ),
  status: Status(ReadinessState('key pair'), {
    fingerprint: Type.Optional(Str({ description: 'MD5 fingerprint of the key, colon-separated hex, as CloudStack shows it.', maxLength: 64 })),
  }),
  columns: [{ name: 'Fingerprint', type: 'string', jsonPath: '.status.fingerprint', description: 'Key fingerprint.' }],
});

// AffinityGroup ---------------------------------------------------------------------------

/**
 * An AffinityGroup constrains where its member VMs run: host anti-affinity spreads them over
 * different hosts, host affinity keeps them on one; the non-strict variants are preferences
 * the planner may break. VMs join by naming the group in spec.affinityGroupRefs.
 */
export const AffinityGroup = defineKind({
  group: COMPUTE_GROUP,
  kind: 'AffinityGroup',
  plural: 'affinitygroups',
  shortNames: ['csag', 'csaffinitygroup'],
  scope: 'Namespaced',
  description:
    'A CloudStack affinity group: its VMs run on one host (host affinity) or on different hosts (host anti-affinity); non-strict types are preferences. States: Pending, Ready, Error.',
  spec: Obj(
    {
      displayName: Type.Optional(DisplayName('affinity group')),
      description: Type.Optional(DisplayText('affinity group')),
      type: StringEnum(['host anti-affinity', 'host affinity', 'non-strict host anti-affinity', 'non-strict host affinity'] as const, {
        description: 'The rule, with CloudStack\'s type names. Immutable.',
        validations: [immutableField('spec.type', 'create a new group with the other type')],
      }),
    },
    { description: 'The group.' },
  ),
  status: Status(ReadinessState('affinity group'), {
    vmCount: Type.Optional(Count('Member VMs.')),
    virtualMachines: Type.Optional(
      List(Str({ description: 'metadata.name of a member VM, in this namespace.', maxLength: 253 }), { description: 'Member VMs: those naming the group in spec.affinityGroupRefs, sorted.', maxItems: 10000 }),
    ),
  }),
  columns: [
    { name: 'Type', type: 'string', jsonPath: '.spec.type', description: 'Affinity type.' },
    { name: 'VMs', type: 'integer', jsonPath: '.status.vmCount', description: 'Members.' },
  ],
});

// InstanceGroup ---------------------------------------------------------------------------

/**
 * An InstanceGroup is a CloudStack instance group: a named set of VMs of one account, for
 * listing and ordering them. A VM is in the group whose displayName its spec.group holds;
 * renaming or deleting a group through the CloudStack API carries its members along.
 */
export const InstanceGroup = defineKind({
  group: COMPUTE_GROUP,
  kind: 'InstanceGroup',
  plural: 'instancegroups',
  shortNames: ['csig', 'csinstancegroup'],
  scope: 'Namespaced',
  description: 'A CloudStack instance group: the VMs of this namespace whose spec.group is its name. States: Pending, Ready, Error.',
  spec: Obj({ displayName: Type.Optional(DisplayName('instance group')) }, { description: 'The group.' }),
  status: Status(ReadinessState('instance group'), {
    vmCount: Type.Optional(Count('Member VMs.')),
  }),
  columns: [
    { name: 'Display-Name', type: 'string', jsonPath: '.spec.displayName', description: 'Group name.' },
    { name: 'VMs', type: 'integer', jsonPath: '.status.vmCount', description: 'Members.' },
  ],
});

// UserData --------------------------------------------------------------------------------

/**
 * A UserData is CloudStack's registered user data: a named cloud-init payload, base64, whose
 * `{{ name }}` placeholders (spec.params) are filled per VM. A VM gets a copy in spec.userData
 * when deployed or reset with it, as CloudStack copies it; the VM keeps that copy if the
 * UserData is deleted later.
 */
export const UserData = defineKind({
  group: COMPUTE_GROUP,
  kind: 'UserData',
  plural: 'userdata',
  shortNames: ['csud', 'csuserdata'],
  scope: 'Namespaced',
  description: 'CloudStack registered user data: a named, base64-encoded cloud-init payload with optional {{ param }} placeholders, copied into the VMs deployed with it. States: Pending, Ready, Error.',
  spec: Obj(
    {
      displayName: Type.Optional(DisplayName('user data')),
      userData: Str({ description: 'The payload, base64-encoded (CloudStack `userdata`).', minLength: 1, maxLength: 1048576, format: 'byte' }),
      params: Type.Optional(
        List(Str({ description: 'A placeholder name, used in the payload as {{ name }}.', minLength: 1, maxLength: 255, pattern: '^[A-Za-z0-9_.-]+$' }), { description: 'Placeholders a VM fills with its userdatadetails (CloudStack `params`).', maxItems: 64, set: true }),
      ),
    },
    { description: 'The user data.' },
  ),
  status: Status(ReadinessState('user data'), {}),
  columns: [{ name: 'Display-Name', type: 'string', jsonPath: '.spec.displayName', description: 'Name.' }],
});

export const computeKinds = [VirtualMachine, Volume, Template, SSHKeyPair, AffinityGroup, InstanceGroup, UserData] as const;
