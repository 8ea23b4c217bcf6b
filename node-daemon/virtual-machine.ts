/**
 * VirtualMachine (agent side), for the VMs placed on this host (label kumulus.io/host and
 * status.placement.host). Each reconcile observes (the VM, its Volumes and NICs, the domain,
 * the host's room), plans (vm-plan.ts, pure) and acts on libvirt, then reports the agent's part
 * of status (lib/agent-contract.ts): powerState, instanceName, volumes, console, attachedIso,
 * lastRebootAt, startedAt and the Running condition. The operator derives state from it.
 *
 * A domain starts once every Volume of the VM is Provisioned (the Volume reconciler makes the
 * disks), every NIC the operator wrote in status.nics has its network plumbed here, and the
 * host admits it (admission.ts). Its config drive (config-drive.ts: SSH key, user data,
 * hostname, NICs) is built before the domain is defined and attached as a CD-ROM; it is
 * removed with the domain. Data volumes attached to or detached from a running VM are
 * plugged live; a new root disk (a restore) is taken at a power-off and start again. The ISO
 * in the CD-ROM drive (spec.attachedIsoRef) is read from the zone's
 * secondary storage, as CloudStack's KVM agent reads it: in the definition, and inserted into
 * or ejected from a running domain with `change-media`; a VM waits to start (WaitingForIso)
 * until the zone's copy is downloaded. Shutdown and reboot never block a worker: the ACPI
 * request is recorded in the running domain and the VM requeued for its deadline. libvirt's domain events re-queue the
 * VM, so a guest that powers itself off or reboots is seen at once, without polling. A domain
 * that went off while spec.state is Running (its guest shut down, or a power-off on the host) is
 * reported off first (PoweredOff, one VM.STOP: the host's report wins) and started again in the
 * next pass: spec.state is the desired state, as CloudStack restarts an HA VM. On
 * deletion the domain is destroyed and undefined before the agent's finalizer goes; the
 * Volumes' own finalizers then delete their disks.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ClusterObject, ConfigurationObject, HostObject, NetworkObject, ServiceOfferingObject, SSHKeyPairObject, TemplateObject, VirtualMachineObject, VolumeObject } from '../crds/index.ts';
import { AGENT_FINALIZER, agentVmStatus } from '../lib/agent-contract.ts';
import { isReplacedRoot } from '../lib/compute.ts';
import type { Condition } from '../lib/conditions.ts';
import { errorMessage } from '../lib/error-message.ts';
import type { Controller, Request } from '../lib/controller.ts';
import type { Informer } from '../lib/informer.ts';
import { isConflict, keyOf } from '../lib/kube-client.ts';
import type { Manager } from '../lib/manager.ts';
import { hasFinalizer } from '../lib/ownership.ts';
import { clusterOvercommit, GLOBAL_CONFIGURATION, resolveSettings } from '../lib/settings.ts';
import { commitStatus, ownedStatus } from '../lib/status.ts';
import { byField } from '../lib/store.ts';
import { holdsAt, vmDemand, vmUsage, type VmDemand } from '../lib/usage.ts';
import { admit, type Holder } from './admission.ts';
import type { ConfigDrives } from './config-drive.ts';
import { domainName } from './drivers/identity.ts';
import type { DomainDisk, DomainEvent, DomainNic, DomainObservation, DomainSpec, HypervisorDriver } from './drivers/hypervisor/types.ts';
import { networkKey, type GuestNetworks } from './guest-networks.ts';
import type { HostPlacement } from './host-join.ts';
import { dropAgentFinalizer, ensureAgentFinalizer, RESOURCES } from './resources.ts';
import { isActive, planVm, reportedStartedAt, RUNNING, type Blocker, type Step, type VmFacts } from './vm-plan.ts';
import { mediaCondition } from './vm-media.ts';
import { VM_INDEX } from './volumes.ts';

export const UID_INDEX = 'uid';

type VmStatus = NonNullable<VirtualMachineObject['status']>;

export interface VirtualMachineDeps {
  manager: Manager;
  at: HostPlacement;
  hypervisor: HypervisorDriver;
  networksOfHost: GuestNetworks;
  ownVms: Informer<VirtualMachineObject>;
  volumes: Informer<VolumeObject>;
  networks: Informer<NetworkObject>;
  serviceOfferings: Informer<ServiceOfferingObject>;
  hosts: Informer<HostObject>;
  clusters: Informer<ClusterObject>;
  configurations: Informer<ConfigurationObject>;
  sshKeyPairs: Informer<SSHKeyPairObject>;
  templates: Informer<TemplateObject>;
  /** Where this host reads an ISO for a CD-ROM drive (templates.ts isoFor); throws, saying what is awaited, until it can. */
  isoFor: (template: TemplateObject) => Promise<string>;
  /** The VMs' config drives (config-drive.ts): built from the objects before the domain is defined, removed with it. */
  configDrives: ConfigDrives;
  consoleDir: string;
  /** Address the VNC console listens on (this host's management address). */
  vncListen: string;
  shutdownTimeoutMs: number;
  rebootTimeoutMs: number;
}

export interface VirtualMachineReconciler {
  controller: Controller;
  /** libvirt's domain events: each re-queues its VM, and reboots are remembered for the reboot in progress. */
  onDomainEvent(event: DomainEvent): void;
}

/**
 * The domain's facts, which the agent reports as events; the operator reports the rest (lib/agent-contract.ts, "Events").
 * One event per fact: a reboot is VM.REBOOT when asked (a reset after the guest ignored it is
 * the same reboot), and VM.STOP is reported with the status write that takes powerState from
 * PowerOn to off, however the domain went off: the guest obeying the ACPI
 * shutdown, powered off after the timeout, or by itself.
 */
const stepEvents: Partial<Record<Step['do'], { reason: string; note: string }>> = {
  start: { reason: 'VM.START', note: 'domain started' },
  resume: { reason: 'VM.START', note: 'domain resumed' },
  reboot: { reason: 'VM.REBOOT', note: 'ACPI reboot sent' },
};

/** VM.STOP's note: how the domain the agent last reported on went off. */
function stopNote(steps: readonly Step[], why: string | undefined, wantRunning: boolean, host: string): string {
  if (steps.some((s) => s.do === 'destroy')) return `domain on ${host} ${why ?? 'powered off'}`;
  if (wantRunning) return `domain powered off on ${host} by its guest, or on the host; it starts again: spec.state is Running`;
  return `domain shut down on ${host}`;
}

function condition(obj: { status?: { conditions?: Condition[] } }, type: string): Condition | undefined {
  return obj.status?.conditions?.find((c) => c.type === type);
}

const isProvisioned = (v: VolumeObject) => condition(v, 'Provisioned')?.status === 'True' && v.status?.path !== undefined;

/** The domain's disks from the VM's Volumes: the Provisioned ones, and what the others wait for. */
export function disksOf(vm: VirtualMachineObject, volumes: readonly VolumeObject[], host: string): { disks: { disk: DomainDisk; volume: VolumeObject }[]; blocker?: Blocker } {
  // A root a restore replaced is not the VM's any more (lib/compute.ts): the domain leaves it at its next power-off.
  const attached = volumes.filter((v) => v.metadata.deletionTimestamp === undefined && !isReplacedRoot(v, vm)).sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''));
  const roots = attached.filter((v) => v.spec.type === 'ROOT');
  if (roots.length !== 1) {
    return {
      disks: [],
      blocker:
        roots.length === 0
          ? { reason: 'WaitingForVolumes', message: `no ROOT Volume with spec.vmRef ${vm.metadata.name ?? ''} labelled kumulus.io/host=${host} yet` }
          : { reason: 'DomainError', message: `${roots.length} ROOT Volumes name this VM (${roots.map((v) => v.metadata.name).join(', ')}): keep one` },
    };
  }
  // Data disks without a deviceId take the free ones, in name order.
  const taken = new Set(attached.flatMap((v) => (v.spec.deviceId !== undefined ? [v.spec.deviceId] : [])));
  let next = 1;
  const disks: { disk: DomainDisk; volume: VolumeObject }[] = [];
  const waiting: string[] = [];
  for (const volume of attached) {
    let deviceId = volume.spec.type === 'ROOT' ? 0 : volume.spec.deviceId;
    if (deviceId === undefined) {
      while (taken.has(next)) next++;
      deviceId = next++;
    }
    if (!isProvisioned(volume)) {
      const why = condition(volume, 'Provisioned')?.message || (volume.status?.pool ? 'its disk is being made' : 'it has no status.pool yet');
      waiting.push(`Volume ${volume.metadata.name ?? ''} is not Provisioned: ${why}`);
      continue;
    }
    disks.push({
      volume,
      disk: { path: volume.status?.path ?? '', format: volume.status?.format === 'RAW' ? 'raw' : 'qcow2', volumeUid: volume.metadata.uid ?? '', deviceId },
    });
  }
  disks.sort((a, b) => a.disk.deviceId - b.disk.deviceId);
  return { disks, ...(waiting.length > 0 ? { blocker: { reason: 'WaitingForVolumes', message: waiting.join('; ') } } : {}) };
}

/**
 * status.volumes: the VM's Volumes whose disks are in the domain, and those it listed before
 * whose disks the domain still holds though they are no longer its (an unplug libvirt has not
 * completed yet). A Volume leaves the list only when its disk leaves the domain: that change of
 * status is what re-queues the Volume to report Detached (volumes.ts).
 */
export function domainVolumes(
  vm: VirtualMachineObject,
  wanted: readonly { disk: DomainDisk; volume: VolumeObject }[],
  domain: DomainObservation | undefined,
  volumeNamed: (key: string) => VolumeObject | undefined,
): NonNullable<VmStatus['volumes']> {
  const inDomain = (path: string | undefined) => path !== undefined && (domain?.diskPaths.includes(path) ?? false);
  const listed = wanted.filter((d) => inDomain(d.disk.path)).map(({ disk, volume }) => ({ name: volume.metadata.name ?? '', type: volume.spec.type ?? 'DATADISK', deviceId: disk.deviceId }));
  const leaving = (vm.status?.volumes ?? []).filter((v) => !wanted.some((d) => d.volume.metadata.name === v.name) && inDomain(volumeNamed(`${vm.metadata.namespace ?? ''}/${v.name}`)?.status?.path));
  return [...listed, ...leaving].sort((a, b) => a.deviceId - b.deviceId);
}

/** change-media refused by the hypervisor: reported in MediaSynced, and tried again. */
class MediaChangeError extends Error {}

/** spec.attachedIsoRef with its namespace: the VM's own when the ref leaves it out. */
export function attachedIsoOf(vm: VirtualMachineObject): { name: string; namespace: string } | undefined {
  const ref = vm.spec.attachedIsoRef;
  return ref ? { name: ref.name, namespace: ref.namespace ?? vm.metadata.namespace ?? '' } : undefined;
}

/**
 * status.attachedIso: the ISO the domain's drive holds. That is spec.attachedIsoRef once its
 * file (`wanted`) is in the drive; an ISO still in the drive that is no longer wanted (an eject
 * or a change not done yet, or its file unknown until its copy is back) stays as last reported.
 */
export function isoInDrive(
  vm: VirtualMachineObject,
  drivePath: string | undefined,
  wanted: string | undefined,
): VmStatus['attachedIso'] {
  if (drivePath === undefined) return undefined;
  const ref = attachedIsoOf(vm);
  if (ref && drivePath === wanted) return ref;
  return vm.status?.attachedIso;
}

/** What the VM asks of the host (lib/usage.ts), or why it cannot be sized. */
export function demandOf(vm: VirtualMachineObject, offering: ServiceOfferingObject | undefined): VmDemand | { problem: string } {
  if (!offering) return { problem: `ServiceOffering ${vm.spec.serviceOfferingRef.name} does not exist` };
  const demand = vmDemand(vm, offering.spec);
  if (demand.cores === 0 || demand.memoryBytes === 0) {
    return { problem: `offering ${offering.metadata.name ?? ''} is customized: set spec.cpuNumber and spec.memory on VirtualMachine ${keyOf(vm)}` };
  }
  return demand;
}

/** When the operator placed the VM: its Scheduled condition's transition, else its creation. */
function placedAt(vm: VirtualMachineObject): string {
  return condition(vm, 'Scheduled')?.lastTransitionTime ?? vm.metadata.creationTimestamp ?? '';
}

function enqueueAll(vms: readonly VirtualMachineObject[]): Request[] {
  return vms.map((vm) => ({ namespace: vm.metadata.namespace, name: vm.metadata.name ?? '' }));
}

export function registerVirtualMachineReconciler(deps: VirtualMachineDeps): VirtualMachineReconciler {
  const { manager, at, hypervisor, ownVms, volumes, networks, serviceOfferings } = deps;
  const client = manager.client.resource<VirtualMachineObject>(RESOURCES.vms);
  const writer = agentVmStatus(at.host);
  const rebootsSeen = new Map<string, Date>();
  ownVms.addIndex(UID_INDEX, byField((vm: VirtualMachineObject) => vm.metadata.uid));
  volumes.addIndex(VM_INDEX, byField((v: VolumeObject) => (v.spec.vmRef ? `${v.metadata.namespace ?? ''}/${v.spec.vmRef.name}` : undefined)));

  const placedHere = (vm: VirtualMachineObject) => vm.status?.placement?.host === at.host && vm.metadata.deletionTimestamp === undefined;
  const wantsRunning = (vm: VirtualMachineObject) => (vm.spec.state ?? 'Running') === 'Running';


  const nicsOf = async (vm: VirtualMachineObject): Promise<{ nics: DomainNic[] } | { blocker: Blocker }> => {
    const wanted = vm.spec.networks ?? [];
    const waiting = (message: string) => ({ blocker: { reason: 'WaitingForNetwork' as const, message } });
    for (const nic of wanted) {
      const key = networkKey(vm.metadata.namespace ?? '', nic.name);
      const network = networks.get(key);
      if (!network) return waiting(`Network ${key} does not exist`);
      if (!network.status?.broadcastUri) return waiting(`Network ${key} is not implemented yet: it has no status.broadcastUri`);
      if (!vm.status?.nics?.some((n) => n.network === nic.name)) return waiting(`status.nics has no NIC on network ${nic.name} yet: the operator writes its MAC and address there`);
    }
    if (wanted.length === 0) return { nics: [] };
    const { attached, problems } = await deps.networksOfHost.sync();
    const nics: DomainNic[] = [];
    for (const nic of wanted) {
      const key = networkKey(vm.metadata.namespace ?? '', nic.name);
      const attachment = attached.get(key);
      if (!attachment) return waiting(problems.get(key) ?? `Network ${key} is not plumbed on this host yet`);
      const mac = vm.status?.nics?.find((n) => n.network === nic.name)?.macAddress ?? '';
      nics.push({ mac: mac.toLowerCase(), bridge: attachment.bridge });
    }
    return { nics };
  };

  /** Whether the host has room for the VM beside those that hold it (lib/usage.ts), in admission order. */
  const admission = (vm: VirtualMachineObject): Blocker | undefined => {
    const capacity = deps.hosts.get(at.host)?.status?.capacity;
    // No facts yet (the host reporter writes them before the reconcilers run): nothing to judge by.
    if (!capacity) return undefined;
    const settings = resolveSettings(deps.configurations.get(GLOBAL_CONFIGURATION)?.spec.settings).settings;
    const overcommit = clusterOvercommit(deps.clusters.get(at.cluster), settings);
    const now = Date.now();
    const holders: Holder[] = [];
    for (const other of ownVms.list()) {
      if (!placedHere(other)) continue;
      const offering = serviceOfferings.get(other.spec.serviceOfferingRef.name)?.spec;
      const usage = vmUsage(other, offering, settings);
      const self = other.metadata.uid === vm.metadata.uid;
      if (!self && (!usage || !holdsAt(usage, now))) continue;
      const demand = usage ?? vmDemand(other, offering);
      holders.push({
        uid: other.metadata.uid ?? '',
        name: keyOf(other),
        cores: demand.cores,
        cpuMhz: demand.cpuMhz,
        memoryBytes: demand.memoryBytes,
        running: other.status?.powerState === 'PowerOn',
        placedAt: placedAt(other),
      });
    }
    const verdict = admit(
      { host: at.host, cores: capacity.cpuNumber, cpuSpeedMhz: capacity.cpuSpeed, memoryBytes: capacity.memoryBytes, cpuOvercommit: overcommit.cpu, memoryOvercommit: overcommit.memory },
      holders,
      vm.metadata.uid ?? '',
    );
    return verdict.admitted ? undefined : { reason: 'InsufficientCapacity', message: verdict.message };
  };

  /** Everything the plan needs, read from the caches, the host's networks and libvirt; and why this host cannot read the ISO, if it cannot. */
  const observe = async (vm: VirtualMachineObject): Promise<VmFacts & { isoProblem?: string }> => {
    const uid = vm.metadata.uid ?? '';
    const domain = await hypervisor.observe(uid);
    const requested = vm.spec.rebootRequestedAt;
    const done = vm.status?.lastRebootAt;
    const rebootToken = requested !== undefined && (done === undefined || Date.parse(requested) > Date.parse(done)) ? requested : undefined;
    const base = {
      wantRunning: wantsRunning(vm),
      destroyed: vm.spec.state === 'Destroyed',
      deleting: vm.metadata.deletionTimestamp !== undefined,
      generation: vm.metadata.generation ?? 0,
      domain,
      // As this agent last wrote it (over this very version), else as read: a write not back from the watch yet counts.
      reportedOn: ownedStatus(vm, writer)?.powerState === 'PowerOn',
      now: new Date(),
      shutdownTimeoutMs: deps.shutdownTimeoutMs,
      rebootTimeoutMs: deps.rebootTimeoutMs,
      expungeDelayMs: resolveSettings(deps.configurations.get(GLOBAL_CONFIGURATION)?.spec.settings).settings.number('expunge.delay') * 1000,
      ...(rebootToken !== undefined ? { rebootToken } : {}),
      ...(rebootsSeen.has(uid) ? { rebootSeenAt: rebootsSeen.get(uid) } : {}),
    };
    if (base.deleting) return base;
    const { disks, blocker: volumeBlocker } = disksOf(vm, volumes.byIndex(VM_INDEX, keyOf(vm)), at.host);
    const demand = demandOf(vm, serviceOfferings.get(vm.spec.serviceOfferingRef.name));
    if ('problem' in demand) return { ...base, blocker: { reason: 'DomainError', message: demand.problem } };
    if (disks[0]?.disk.deviceId !== 0) return { ...base, blocker: volumeBlocker ?? { reason: 'WaitingForVolumes', message: 'the ROOT Volume is not Provisioned' } };
    const nics = await nicsOf(vm);
    if ('blocker' in nics) return { ...base, blocker: volumeBlocker ?? nics.blocker };
    // The drive's file is part of the desired state: rebuilt here when its inputs changed (a
    // key pair, user data, the NICs), it reaches a running guest at its next start.
    let configDrive: string;
    try {
      configDrive = await deps.configDrives.ensure(vm);
    } catch (err) {
      return { ...base, blocker: { reason: 'DomainError', message: `the config drive cannot be built: ${errorMessage(err)}` } };
    }
    // The ISO in the drive, once the zone's copy is there: a VM installing from it waits for it.
    const isoRef = attachedIsoOf(vm);
    let iso: string | undefined;
    if (isoRef) {
      const key = `${isoRef.namespace}/${isoRef.name}`;
      const template = deps.templates.get(key);
      try {
        if (!template) throw new Error(`Template ${key} does not exist`);
        iso = await deps.isoFor(template);
      } catch (err) {
        const message = `the ISO for the CD-ROM drive (spec.attachedIsoRef): ${errorMessage(err)}`;
        return { ...base, blocker: volumeBlocker ?? { reason: 'WaitingForIso', message }, isoProblem: message };
      }
    }
    const spec: DomainSpec = {
      uid,
      title: vm.spec.displayName ?? keyOf(vm),
      vcpus: demand.cores,
      memoryMiB: Math.floor(demand.memoryBytes / 2 ** 20),
      disks: disks.map((d) => d.disk),
      nics: nics.nics,
      configDrive,
      ...(iso !== undefined ? { iso } : {}),
      serialLogPath: join(deps.consoleDir, `${uid}.log`),
      vncListen: deps.vncListen,
    };
    let desired: VmFacts['desired'];
    try {
      desired = { spec, digest: hypervisor.digest(spec) };
    } catch (err) {
      return { ...base, blocker: { reason: 'DomainError', message: errorMessage(err) } };
    }
    const blocker = volumeBlocker ?? (base.wantRunning && !isActive(domain) ? admission(vm) : undefined);
    return { ...base, desired, ...(blocker ? { blocker } : {}) };
  };

  /** Takes the steps in order; `domain` is the domain as observed for the plan, which the first step may rely on. */
  const act = async (vm: VirtualMachineObject, steps: Step[], domain: DomainObservation | undefined): Promise<void> => {
    const uid = vm.metadata.uid ?? '';
    let observed: { domain: DomainObservation | undefined } | undefined = { domain };
    for (const step of steps) {
      const known = observed;
      // Once a step has run, the domain is no longer as observed.
      observed = undefined;
      switch (step.do) {
        case 'define': {
          await mkdir(deps.consoleDir, { recursive: true });
          await hypervisor.define(step.spec, known);
          break;
        }
        case 'start':
          await mkdir(deps.consoleDir, { recursive: true });
          await hypervisor.start(uid);
          break;
        case 'resume':
          await hypervisor.resume(uid);
          break;
        case 'shutdown':
          await hypervisor.shutdown(uid, String(vm.metadata.generation ?? 0), new Date());
          break;
        case 'destroy':
          await hypervisor.destroy(uid);
          break;
        case 'reboot':
          await hypervisor.reboot(uid, step.token, new Date());
          break;
        case 'reset':
          await hypervisor.reset(uid);
          break;
        case 'attach':
          await hypervisor.attachDisk(uid, step.disk);
          break;
        case 'detach':
          await hypervisor.detachDisk(uid, step.path);
          break;
        case 'media': {
          await hypervisor.changeMedia(uid, step.path).catch((err: unknown) => Promise.reject(new MediaChangeError(errorMessage(err), { cause: err })));
          const ref = attachedIsoOf(vm);
          manager.events.event(
            vm,
            step.path !== undefined
              ? { reason: 'ISO.ATTACH', note: `ISO ${ref ? `${ref.namespace}/${ref.name} ` : ''}(${step.path}) inserted into the running domain on ${at.host}` }
              : { reason: 'ISO.DETACH', note: `ISO ejected from the running domain on ${at.host}` },
          );
          break;
        }
        case 'undefine':
          await hypervisor.undefine(uid);
          break;
      }
      const event = stepEvents[step.do];
      if (event) manager.events.event(vm, { reason: event.reason, note: `${event.note} on ${at.host}` });
    }
  };

  /** The agent's status fields, from the domain as it is now. */
  const reported = async (
    vm: VirtualMachineObject,
    domain: DomainObservation | undefined,
    volumesStatus: VmStatus['volumes'],
    attachedIso: VmStatus['attachedIso'],
    lastRebootAt: string | undefined,
  ): Promise<Record<string, unknown>> => {
    const previous = vm.status ?? {};
    const running = domain?.state === 'running';
    const console = running ? await hypervisor.console(vm.metadata.uid ?? '') : undefined;
    // From the domain itself when the hypervisor can tell (a stale cache cannot skew it).
    const startedAt = running ? reportedStartedAt(previous.startedAt, domain.startedAt) : previous.startedAt;
    return {
      powerState: isActive(domain) ? 'PowerOn' : domain ? 'PowerOff' : 'PowerReportMissing',
      instanceName: domainName(vm.metadata.uid ?? ''),
      volumes: volumesStatus && volumesStatus.length > 0 ? volumesStatus : undefined,
      console,
      attachedIso,
      lastRebootAt,
      startedAt,
    };
  };

  const controller = manager.addController({
    name: 'agent-virtualmachine',
    for: ownVms,
    maxConcurrentReconciles: 4,
    watches: [
      {
        // A Volume made, attached, detached or going: its VM looks again, and on a detach (no
        // spec.vmRef any more) the VM whose domain still has it, by its status.volumes.
        informer: volumes,
        map: (obj) => {
          const ref = (obj as VolumeObject).spec.vmRef;
          const holders = ownVms.list(obj.metadata.namespace).filter((vm) => vm.metadata.name !== ref?.name && vm.status?.volumes?.some((v) => v.name === obj.metadata.name));
          return [...(ref ? [{ namespace: obj.metadata.namespace, name: ref.name }] : []), ...enqueueAll(holders)];
        },
      },
      {
        informer: networks,
        map: (n) => enqueueAll(ownVms.list(n.metadata.namespace).filter((vm) => vm.spec.networks?.some((x) => x.name === n.metadata.name))),
      },
      {
        informer: deps.sshKeyPairs,
        map: (k) => enqueueAll(ownVms.list(k.metadata.namespace).filter((vm) => vm.spec.sshKeyPairRef?.name === k.metadata.name)),
      },
      {
        // An ISO in a drive downloaded (or gone): the VMs that have it in their drive look again.
        informer: deps.templates,
        map: (t) => enqueueAll(ownVms.list().filter((vm) => attachedIsoOf(vm)?.name === t.metadata.name && attachedIsoOf(vm)?.namespace === t.metadata.namespace)),
      },
      {
        informer: serviceOfferings,
        map: (o) => enqueueAll(ownVms.list().filter((vm) => vm.spec.serviceOfferingRef.name === o.metadata.name)),
      },
      // Room on the host: a VM stopping or going, or more capacity, lets a refused one in.
      {
        informer: ownVms,
        changed: (a, b) =>
          (a as VirtualMachineObject).status?.powerState !== (b as VirtualMachineObject).status?.powerState ||
          (a as VirtualMachineObject).spec.state !== (b as VirtualMachineObject).spec.state ||
          a.metadata.deletionTimestamp !== b.metadata.deletionTimestamp,
        map: () => refusedForCapacity(),
      },
      { informer: deps.hosts, map: (h) => (h.metadata.name === at.host ? refusedForCapacity() : []) },
      { informer: deps.clusters, map: (c) => (c.metadata.name === at.cluster ? refusedForCapacity() : []) },
      // Settings: more room by overcommit, or a shorter expunge.delay for a destroy under way.
      { informer: deps.configurations, map: () => [...refusedForCapacity(), ...enqueueAll(ownVms.list().filter((vm) => vm.spec.state === 'Destroyed' && vm.status?.powerState === 'PowerOn'))] },
    ],
    reconcile: async (ctx, request) => {
      const vm = ownVms.get(request);
      if (!vm) return;
      const uid = vm.metadata.uid ?? '';
      const deleting = vm.metadata.deletionTimestamp !== undefined;
      if (deleting ? !hasFinalizer(vm, AGENT_FINALIZER) : vm.status?.placement?.host !== at.host) return;

      if (deleting) {
        const facts = await observe(vm);
        await act(vm, planVm(facts).steps, facts.domain);
        await deps.configDrives.remove(uid);
        rebootsSeen.delete(uid);
        if ((vm.spec.networks ?? []).length > 0) await deps.networksOfHost.sync();
        await dropAgentFinalizer(client, vm, ctx.signal);
        return;
      }
      await ensureAgentFinalizer(client, vm, ctx.signal);
      const facts = await observe(vm);
      const plan = planVm(facts);
      let failure: Error | undefined;
      try {
        await act(vm, plan.steps, facts.domain);
      } catch (err) {
        failure = err instanceof Error ? err : new Error(String(err));
      }
      // What the domain is now decides the report: one status write for what was just done.
      const domain = await hypervisor.observe(uid);
      const rebootDone = plan.rebootDone ?? vm.status?.lastRebootAt;
      const { rebootToken: asked, rebootSeenAt: _seen, ...rest } = facts;
      const seen = rebootsSeen.get(uid);
      const now = planVm({
        ...rest,
        domain,
        now: new Date(),
        ...(plan.rebootDone === undefined && asked !== undefined ? { rebootToken: asked } : {}),
        ...(seen !== undefined ? { rebootSeenAt: seen } : {}),
      });
      const running = failure !== undefined && !isActive(domain) ? { type: RUNNING, status: 'False' as const, reason: 'DomainError', message: errorMessage(failure) } : now.running;
      // The deviceId the disk has in the domain: a data volume without spec.deviceId takes a free one (disksOf).
      const inDomain = domainVolumes(vm, disksOf(vm, volumes.byIndex(VM_INDEX, keyOf(vm)), at.host).disks, domain, (key) => volumes.get(key));
      const iso = isoInDrive(vm, domain?.isoPath, facts.desired?.spec.iso);
      const mediaError = failure instanceof MediaChangeError ? failure.message : undefined;
      const media = mediaCondition({
        host: at.host,
        wanted: attachedIsoOf(vm),
        inDrive: iso,
        domain,
        ...(facts.isoProblem !== undefined ? { isoProblem: facts.isoProblem } : {}),
        ...(mediaError !== undefined ? { mediaError } : {}),
        ...(facts.desired === undefined && facts.blocker ? { notBuilt: facts.blocker.message } : {}),
      });
      const fields = await reported(vm, domain, inDomain, iso, rebootDone);
      // The power-off of a domain reported on is VM.STOP, written against the version read: a
      // stale cache (or a second pass before the watch brings this write back) never reports it twice.
      const stopped = facts.reportedOn === true && fields.powerState !== 'PowerOn';
      try {
        if ((await commitStatus(client, vm, writer, { fields, conditions: [running, media] }, ctx.signal, new Date(), stopped)) && stopped) {
          manager.events.event(vm, { reason: 'VM.STOP', note: stopNote(plan.steps, plan.running.message, facts.wantRunning, at.host) });
        }
      } catch (err) {
        // Someone wrote since the cache was read: look again at the object as it is.
        if (stopped && failure === undefined && isConflict(err)) return { requeue: true };
        throw err;
      }
      if (failure !== undefined) {
        const reason = mediaError !== undefined ? (attachedIsoOf(vm) ? 'ISO.ATTACH' : 'ISO.DETACH') : facts.wantRunning ? 'VM.START' : 'VM.STOP';
        manager.events.event(vm, { type: 'Warning', reason, note: errorMessage(failure) });
        throw failure;
      }
      if (now.running.status === 'False' && facts.blocker) ctx.log.info('waiting', { reason: facts.blocker.reason, message: facts.blocker.message });
      // Anything left to do (the domain moved meanwhile) is done at once, with backoff.
      if (now.steps.length > 0) return { requeue: true };
      return now.requeueAfterMs !== undefined ? { requeueAfter: Math.max(now.requeueAfterMs, 100) } : undefined;
    },
  });

  const refusedForCapacity = (): Request[] => enqueueAll(ownVms.list().filter((vm) => condition(vm, RUNNING)?.reason === 'InsufficientCapacity'));

  return {
    controller,
    onDomainEvent(event) {
      if (event.type === 'resync') {
        for (const request of enqueueAll(ownVms.list())) controller.enqueue(request);
        return;
      }
      if (event.type === 'reboot') rebootsSeen.set(event.uid, event.at);
      for (const request of enqueueAll(ownVms.byIndex(UID_INDEX, event.uid))) controller.enqueue(request);
    },
  };
}
