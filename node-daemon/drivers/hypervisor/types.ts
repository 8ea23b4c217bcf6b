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
  /** Where the serial console is written (appended across restarts). */
  serialLogPath: string;
  /** The VNC console listens here (autoport); default 127.0.0.1. */
  vncListen?: string;
}

export type PowerState = 'Running' | 'Stopped';

export interface DesiredDomain {
  spec: DomainSpec;
  power: PowerState;
  /** How long an ACPI shutdown may take before the domain is destroyed. */
  shutdownTimeoutMs?: number;
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
}

/** What apply did; empty when everything was already right. */
export type DomainAction = 'define' | 'redefine' | 'start' | 'resume' | 'shutdown' | 'destroy';

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

export interface HypervisorDriver {
  /** Domains owned by Kumulus on this host. */
  list(): Promise<DomainObservation[]>;
  observe(uid: string): Promise<DomainObservation | undefined>;
  /** Makes the domain match: defines or redefines it, starts or stops it. Idempotent. */
  apply(desired: DesiredDomain): Promise<DomainAction[]>;
  /** ACPI reboot; a guest that ignores ACPI is reset after timeoutMs. The QEMU process stays. */
  reboot(uid: string, timeoutMs?: number): Promise<'acpi' | 'reset'>;
  destroy(uid: string): Promise<void>;
  /** Stops the domain if needed and removes its definition. Disks are the storage driver's. */
  undefine(uid: string): Promise<void>;
  stats(): Promise<DomainStats[]>;
  /** Where the running domain's VNC console listens; undefined when it does not run. */
  console(uid: string): Promise<{ host: string; port: number } | undefined>;
  followEvents(onEvent: (event: DomainEvent) => void): EventSubscription;
}
