/**
 * The hypervisor driver's contract with the agent's VirtualMachine reconciler. Inputs are
 * plain data (the reconciler maps VM, offering, Volume and Network objects onto them), so the
 * libvirt driver and the simulator are interchangeable.
 */

export interface DomainDisk {
  path: string;
  format: 'qcow2' | 'raw';
  /** The Volume uid: the guest sees it (shortened) as the disk serial, so it can find its disks. */
  volumeUid: string;
  /**
   * The Volume's deviceId: 0 is the boot disk (virtio-blk, vda); the others sit on the
   * virtio-scsi controller (sda for 1, sdb for 2...), where they plug and unplug live without
   * the guest's help. The target name follows from it, so it never moves when others come and go.
   */
  deviceId: number;
  readOnly?: boolean;
}

export interface DomainNic {
  /** From lib/guest-identity.ts nicMac, so the address survives redefinition and host moves. */
  mac: string;
  bridge: string;
  mtu?: number;
}

export interface DomainSpec {
  /** The VM's metadata.uid: the domain UUID; the domain name derives from it. */
  uid: string;
  /** Free text shown as the domain title (CloudStack's displayname). */
  title?: string;
  vcpus: number;
  memoryMiB: number;
  /** In boot order: the first is the root disk. */
  disks: DomainDisk[];
  nics: DomainNic[];
  /**
   * The VM's config drive (an ISO9660 image labelled config-2, see node-daemon/config-drive.ts),
   * attached read-only as an IDE CD-ROM as CloudStack does. The guest reads it at boot.
   */
  configDrive?: string;
  /**
   * The ISO in the VM's CD-ROM drive (spec.attachedIsoRef), read from the zone's secondary
   * storage as CloudStack's KVM agent reads it. The drive (IDE hdc) is always there, empty
   * without an ISO, since IDE devices cannot be hot-plugged: media change live (changeMedia).
   */
  iso?: string;
  /** Where the serial console is written (appended across restarts). */
  serialLogPath: string;
  /** The VNC console listens here (autoport); default 127.0.0.1. */
  vncListen?: string;
}

export type DomainState = 'running' | 'paused' | 'shutdown' | 'shutoff' | 'crashed' | 'suspended' | 'other';

export interface DomainObservation {
  uid: string;
  name: string;
  state: DomainState;
  /** The digest of the spec the domain was last defined from (undefined: not defined by Kumulus). */
  specDigest?: string;
  /** The QEMU process id while the domain runs (libvirt only). */
  pid?: number;
  /**
   * When the running domain started, read from the hypervisor itself, so every agent (a
   * restarted one too) reports the same instant.
   */
  startedAt?: Date;
  /** The disk images the domain uses: the running domain's (hot-plugged ones included), else its definition's. */
  diskPaths: string[];
  /** The media in the CD-ROM drive (hdc): the running domain's, else its definition's; undefined when empty. */
  isoPath?: string;
  /**
   * The domain has no ISO drive: one an earlier agent defined and started before every domain
   * had it. IDE drives cannot be hot-plugged, so its media cannot change live; the definition
   * brings the drive at the next start.
   */
  isoDriveMissing?: boolean;
  /**
   * The last ACPI shutdown sent to the running domain: who asked (a token: the VM generation)
   * and when. It is kept in the running domain's own (live) metadata, as KubeVirt keeps its
   * grace period: it survives an agent restart and is gone once the domain stops.
   */
  shutdownSent?: PowerRequest;
  /** The last ACPI reboot sent to the running domain: the request's token and when (live metadata too). */
  rebootSent?: PowerRequest;
}

export interface PowerRequest {
  token: string;
  at: Date;
}

/** What the agent did to a domain; each driver call below is one of them. */
export type DomainAction = 'define' | 'redefine' | 'start' | 'resume' | 'shutdown' | 'destroy' | 'reboot' | 'reset' | 'attach' | 'detach' | 'media' | 'undefine';

export interface DomainStats {
  uid: string;
  state: DomainState;
  cpuTimeNs: number;
  vcpus: number;
  /** Current balloon size and resident set, KiB. */
  memoryKiB: number;
  memoryRssKiB: number;
  nics: { name: string; rxBytes: number; txBytes: number; rxPackets: number; txPackets: number }[];
  disks: { name: string; readBytes: number; writeBytes: number; readOps: number; writeOps: number }[];
}

export type DomainEvent =
  | { type: 'lifecycle' | 'reboot' | 'other'; uid: string; detail: string; at: Date }
  /** Events may have been missed (the follower restarted): observe everything again. */
  | { type: 'resync'; at: Date };

export interface EventSubscription {
  stop(): Promise<void>;
}

/**
 * Every call returns at once: none waits for a guest. A reconciler sends an ACPI shutdown or
 * reboot, requeues, and destroys or resets once the recorded request is older than its timeout.
 */
export interface HypervisorDriver {
  /** Domains owned by Kumulus on this host, with their state and disk images, not CD-ROMs (no pid, start time or requests). */
  list(): Promise<DomainObservation[]>;
  observe(uid: string): Promise<DomainObservation | undefined>;
  /**
   * Defines the domain, or redefines it when its spec changed (a running domain keeps its
   * devices until its next start, but for disks, which attachDisk and detachDisk plug live).
   * Returns undefined when the definition was already right. `observed` is the caller's reading
   * of the domain just before (observe(); domain undefined: there was none): the driver then
   * does not read it again.
   */
  define(spec: DomainSpec, observed?: { domain: DomainObservation | undefined }): Promise<'define' | 'redefine' | undefined>;
  start(uid: string): Promise<void>;
  resume(uid: string): Promise<void>;
  /** Records the request in the running domain's metadata (shutdownSent), then presses the ACPI power button. */
  shutdown(uid: string, token: string, at: Date): Promise<void>;
  /** Records the request (rebootSent), then sends an ACPI reboot. The QEMU process stays. */
  reboot(uid: string, token: string, at: Date): Promise<void>;
  /** A hard reset, for a guest that ignored the ACPI reboot. The QEMU process stays. */
  reset(uid: string): Promise<void>;
  /** Powers the domain off at once. */
  destroy(uid: string): Promise<void>;
  /** Stops the domain if needed and removes its definition. Disks are the storage driver's. */
  undefine(uid: string): Promise<void>;
  /** Plugs a disk into the running domain (its definition is the caller's, through define). */
  attachDisk(uid: string, disk: DomainDisk): Promise<void>;
  /** Unplugs the disk at `path` from the running domain. */
  detachDisk(uid: string, path: string): Promise<void>;
  /** Inserts (`path`) or ejects (undefined) the media of the running domain's CD-ROM drive (its definition's is define's). */
  changeMedia(uid: string, path: string | undefined): Promise<void>;
  /** Grows a disk of the running domain, image file included (`virsh blockresize`). */
  resizeDisk(uid: string, path: string, sizeBytes: number): Promise<void>;
  stats(): Promise<DomainStats[]>;
  /** Where the running domain's VNC console listens; undefined when it does not run. */
  console(uid: string): Promise<{ host: string; port: number } | undefined>;
  followEvents(onEvent: (event: DomainEvent) => void): EventSubscription;
  /** The digest define() records for a spec: a domain whose specDigest equals it needs no define. */
  digest(spec: DomainSpec): string;
}
