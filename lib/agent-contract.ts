/**
 * What the host agent (node-daemon) and the operator agree on. It lives in lib/ because
 * neither side may import the other.
 *
 * - Heartbeat: a coordination.k8s.io/v1 Lease named hostLeaseName(<Host metadata.name>) in
 *   HOST_LEASE_NAMESPACE (which the installation creates), with spec.holderIdentity the Host's
 *   spec.nodeName and spec.renewTime renewed every HEARTBEAT_PERIOD_SECONDS. The agent adopts
 *   the Host whose spec.nodeName is its node (one made ahead of it, as addHost does, waits in
 *   state Connecting), or creates one named after its node. The operator derives Host
 *   status.state from spec.renewTime and the ping.interval and ping.timeout settings.
 * - Facts: the agent writes Host status with server-side apply, field manager
 *   agentFieldManager(<host>) (one per host, so agents never remove each other's entries), owning only capacity, usage, bridges, ipAddress, hypervisorVersion, agentVersion, cpuModel,
 *   arch and the AGENT_HEALTHY condition (agentHostStatus). The operator owns state, resourceState, allocated,
 *   lastHeartbeat, disconnectedAt, observedGeneration and its own conditions.
 * - Trouble: the agent sets condition AGENT_HEALTHY to False with a reason and message when it
 *   cannot do its job (libvirtd unreachable, a storage or network driver failing); the Host is
 *   then Alert. True (or absent) means healthy.
 * - Storage: per PrimaryStorage in scope, the agent applies one status.mounts entry keyed by its
 *   host name (mounted, capacityBytes, usedBytes, message), with its own field manager: one
 *   shared by every agent would make each apply drop the other hosts' entries (agentMountStatus).
 * - VMs: the operator places a VM by writing status.placement (optimistic concurrency) and,
 *   once the disks of the Volumes the VM declares are made there (Provisioned), labelling it
 *   kumulus.io/host=<host> (with the zone, pod and cluster labels): the agent then defines and
 *   starts the domain in one pass and reports once. The agent runs
 *   the VMs labelled with its host whose status.placement.host is the same. Each status field
 *   has one writer, so neither side ever overwrites the other:
 *   - the operator (OPERATOR_FIELD_MANAGER) owns state, placement, nics, destroyedAt,
 *     lastRestoreAt, serviceOffering (the size it accepted), observedGeneration and the Ready,
 *     Synced and Scheduled conditions. It derives state from spec and from what the agent reports;
 *   - the agent (agentFieldManager(<host>), agentVmStatus) owns powerState, instanceName, volumes, console,
 *     attachedIso, lastRebootAt, startedAt and the Running condition, whose observedGeneration is the
 *     generation it acted on: True when the domain runs, False with reason Stopped, Starting,
 *     Stopping, PoweredOff (the domain went off while spec.state is Running and it was reported
 *     on: its guest shut down, or it was powered off on the host; the operator reports the VM
 *     Stopped, as CloudStack's power-state sync, until the agent starts it again),
 *     WaitingForVolumes, WaitingForIso, WaitingForNetwork, InsufficientCapacity or DomainError, and
 *     a message saying why. An InsufficientCapacity message starts with `host <host>`, so the
 *     operator, which then places the VM again elsewhere, never takes a refusal left behind by
 *     a previous host for the current one's.
 *   spec.state Running wants a running domain; Stopped and Destroyed want it powered off (ACPI
 *   shutdown, destroyed after the shutdown timeout) and still defined. A destroy waits for the
 *   guest at most half of expunge.delay (none when it is 0): the operator expunges a destroyed
 *   VM only once powerState is no longer PowerOn, so the VM is Destroyed, off and recoverable
 *   for at least the other half. The agent undefines the
 *   domain when the VM object is deleted, before it removes its finalizer kumulus.io/agent
 *   (which the operator sets with the host's labels, and the agent if it is missing).
 *   Capacity is the last guard against a double-booked host (two operator replicas during a
 *   leader change, a stale cache): the agent starts a VM only if it fits beside the VMs that
 *   hold the host by lib/usage.ts (vmUsage and holdsAt: running ones, and stopped ones within
 *   capacity.skipcounting.hours), counting those placed before it (Scheduled condition's
 *   lastTransitionTime, then uid) and those already running, against status.capacity ×
 *   clusterOvercommit (lib/settings.ts). Otherwise Running is False with reason
 *   InsufficientCapacity, and the operator places the VM again with that host avoided.
 *   The agent renders status.nics (macAddress, ipAddress, network) into the domain and into
 *   its DHCP entries; it waits (WaitingForNetwork) until every network of spec.networks has a
 *   NIC there and its Network has status.broadcastUri.
 *   The ISO of spec.attachedIsoRef is read from the zone's secondary storage, mounted on the
 *   host: a domain waits to start (WaitingForIso) until that copy is DOWNLOADED; a running one
 *   gets the media inserted or ejected live (and in its definition), a stopped one in its
 *   definition. status.attachedIso says which ISO the drive holds. The agent's condition
 *   MEDIA_SYNCED (observedGeneration: the generation acted on) is True once the drive (the
 *   running domain's, else the definition's) holds spec.attachedIsoRef, or nothing when it is
 *   unset, and when no domain is defined yet (its definition will); False with reason
 *   WaitingForIso (this host cannot read the ISO's copy), MediaError (change-media failed; tried
 *   again, with a Warning event ISO.ATTACH or ISO.DETACH) or NoDrive (a running domain without
 *   a CD-ROM drive); Unknown while something else comes first.
 * - Volumes: the operator creates a VM's ROOT and data Volumes (owner reference to the VM),
 *   chooses their pool among those the VM's host reaches and labels them with that host.
 *   - the operator owns state, pool, destroyedAt (spec.destroyed: deleted expunge.delay later),
 *     observedGeneration and the Ready and Synced conditions;
 *   - the agent (agentVolumeStatus) owns host, path, format, sizeBytes, physicalSizeBytes, attachedAt and the
 *     conditions Provisioned (the disk exists on status.pool at spec.size, or False with the
 *     reason) and Attached (the disk is in its VM's domain, plugged live when it runs).
 *   The agent makes the disk of each Volume labelled with its host once status.pool is set,
 *   and starts a VM once all its Volumes are Provisioned. A labelled Volume carries the
 *   finalizer kumulus.io/agent (set by the operator with the labels, by the agent if missing);
 *   the agent deletes the disk (unless deletionPolicy is Retain) once no domain
 *   uses it.
 * - Templates: a Template belongs to a zone when spec.zoneRefs names it or spec.crossZones is
 *   true (templateInZone).
 *   - Download: per zone, exactly one agent downloads, the holder of the Lease
 *     templateDownloadLeaseName(<zone>) in HOST_LEASE_NAMESPACE (lib/leader-election.ts, held by
 *     the Host's name). It mounts the zone's secondary storage (the first SecondaryStorage of the
 *     zone by name that is not readOnly: Local is a directory, NFS is mounted under the agent's
 *     state dir), downloads spec.url into <store>/template/tmpl/<uid>/<uid>.<qcow2|raw|iso>
 *     through a temporary name, verifies spec.checksum ({ALGORITHM}<hex>, or 32 hex digits of an
 *     MD5; lib/template-checksum.ts) and the format (`qemu-img info`), and renames it into
 *     place: no half-written file is ever visible. It writes the zone's entry of status.zones
 *     (templateZoneStatus): downloadState DOWNLOAD_IN_PROGRESS with downloadPercent, then
 *     DOWNLOADED with sizeBytes (virtual), physicalSizeBytes, storage, installPath and checksum
 *     ({SHA-256} of the stored file, which every later copy is verified against), or
 *     DOWNLOAD_ERROR with a message that starts with the cause: "unreachable URL", "bad
 *     checksum", "format mismatch" or "download interrupted". A failed download is tried
 *     again after TEMPLATE_DOWNLOAD_RETRY_SECONDS or when the Template's generation changes.
 *   - Pool caches: each agent fills its pools' caches from the zone's secondary copy (never
 *     from the URL) when it first makes a root volume there, or once downloaded for a pool
 *     spec.preparePools lists (prepareTemplate), and writes the pool's entry of
 *     status.pools (templatePoolStatus): state Ready with the sizes, or Error with the message.
 *   - The operator owns state (Active; Inactive once deleted), isReady (DOWNLOADED in some
 *     zone), observedGeneration and the conditions Ready (DOWNLOADED in every zone it belongs
 *     to), Synced and TEMPLATE_IN_USE (True while a VirtualMachine or Volume refers to it).
 *     A deleted Template keeps the operator's finalizer while it is in use. Once
 *     TEMPLATE_IN_USE is False on a deleted Template, the zone's download agent removes the
 *     secondary copy and its status.zones entry, and every agent removes its pools' cached
 *     copies and their status.pools entries; the operator lets the Template go when both
 *     lists are empty.
 * - Events: each CloudStack event type of a VM or Volume has exactly one emitter, the writer
 *   of the fact it marks, so `listEvents` shows each fact once:
 *   - the operator: VM.CREATE (it accepted the VM: its first state), VM.UPGRADE (a new size
 *     recorded in status.serviceOffering), VM.DESTROY, VM.RECOVER, VM.EXPUNGE (state
 *     Expunging), VOLUME.CREATE (its first state; a Warning when the agent's
 *     Provisioned turns False with reason PROVISIONING_FAILED), VOLUME.ATTACH and VOLUME.DETACH
 *     (the agent's Attached condition flipping, plugged live or at a define), VOLUME.DESTROY,
 *     VOLUME.RECOVER and VOLUME.DELETE;
 *   - the agent: VM.START, VM.STOP and VM.REBOOT (what it did to the domain, or a Warning when
 *     that failed) and VOLUME.RESIZE (it grew the disk). VM.STOP goes with the status write that
 *     takes powerState from PowerOn to off, against the version read, however the domain went
 *     off (ACPI obeyed, powered off after the timeout, by its guest or on the host): one per stop.
 *     A reboot is one VM.REBOOT, reset after the timeout or not.
 * Each side writes its part with lib/status.ts (commitStatus, commitFailure), which applies
 * only the writer's own fields and conditions.
 */
import type { StatusWriter } from './status.ts';

export const HOST_LEASE_NAMESPACE = 'kumulus-node-lease';

export function hostLeaseName(hostName: string): string {
  return hostName;
}

export const HEARTBEAT_PERIOD_SECONDS = 10;

export function agentFieldManager(hostName: string): string {
  return `kumulus-agent.${hostName}`;
}

export const AGENT_HEALTHY = 'AgentHealthy';

/** The agent's part of Host status (lib/status.ts). */
export function agentHostStatus(hostName: string): StatusWriter {
  return {
    fieldManager: agentFieldManager(hostName),
    fields: ['capacity', 'usage', 'bridges', 'ipAddress', 'hypervisorVersion', 'agentVersion', 'cpuModel', 'arch'],
    conditions: [AGENT_HEALTHY],
  };
}

/** The agent's part of a PrimaryStorage's status: its own host's entry of status.mounts. */
export function agentMountStatus(hostName: string): StatusWriter {
  return { fieldManager: agentFieldManager(hostName), fields: ['mounts'], conditions: [], entries: { mounts: { key: 'host', value: hostName } } };
}

/** The agent's part of a VirtualMachine's status; the operator owns the rest. */
export function agentVmStatus(hostName: string): StatusWriter {
  return {
    fieldManager: agentFieldManager(hostName),
    fields: ['powerState', 'instanceName', 'volumes', 'console', 'attachedIso', 'lastRebootAt', 'startedAt'],
    conditions: ['Running', MEDIA_SYNCED],
  };
}

/**
 * The agent's VM condition saying whether the CD-ROM drive holds what spec.attachedIsoRef asks
 * (node-daemon/vm-media.ts), at the generation it acted on; attachIso and detachIso complete on it.
 */
export const MEDIA_SYNCED = 'MediaSynced';

/** The agent's part of a Volume's status; the operator owns the rest. */
export function agentVolumeStatus(hostName: string): StatusWriter {
  return {
    fieldManager: agentFieldManager(hostName),
    fields: ['host', 'path', 'format', 'sizeBytes', 'physicalSizeBytes', 'attachedAt'],
    conditions: ['Provisioned', 'Attached'],
  };
}

/** The agent's Provisioned reason for a disk it failed to make (rather than one it waits to make). */
export const PROVISIONING_FAILED = 'ProvisioningFailed';

/** The agent's finalizer on VMs and Volumes: the domain or the disk is removed before the object goes. */
export const AGENT_FINALIZER = 'kumulus.io/agent';

/** A Template's condition, owned by the operator: True while a VirtualMachine or Volume refers to it. */
export const TEMPLATE_IN_USE = 'InUse';

/** Seconds before the download agent tries a failed template download again. */
export const TEMPLATE_DOWNLOAD_RETRY_SECONDS = 300;

/** The Lease (in HOST_LEASE_NAMESPACE) whose holder downloads the zone's templates. */
export function templateDownloadLeaseName(zone: string): string {
  return `template-download.${zone}`;
}

/** Whether a Template belongs to the zone (its spec.zoneRefs, or spec.crossZones). */
export function templateInZone(template: { spec: { zoneRefs?: { name: string }[]; crossZones?: boolean } }, zone: string): boolean {
  return template.spec.crossZones === true || (template.spec.zoneRefs ?? []).some((z) => z.name === zone);
}

/**
 * The download agent's part of a Template's status: the zone's entry of status.zones, under a
 * field manager of the zone (not of the host), so a new Lease holder takes the entry over.
 */
export function templateZoneStatus(zone: string): StatusWriter {
  return { fieldManager: `kumulus-agent.zone.${zone}`, fields: ['zones'], conditions: [], entries: { zones: { key: 'zone', value: zone } } };
}

/** The part of a Template's status for one pool's cached copy, under a field manager of the pool (shared pools have several agents). */
export function templatePoolStatus(pool: string): StatusWriter {
  return { fieldManager: `kumulus-agent.pool.${pool}`, fields: ['pools'], conditions: [], entries: { pools: { key: 'pool', value: pool } } };
}
