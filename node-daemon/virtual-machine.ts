/**
 * VirtualMachine (agent side), for the VMs placed on this host (label kumulus.io/host and
 * status.placement.host). It makes their disks (template cache fill, root overlay, data
 * volumes), plumbs their networks, applies the libvirt domain with the power state of
 * spec.state, carries out a reboot when spec.rebootRequestedAt is newer than
 * status.lastRebootAt, and reports the VM's state with CloudStack's names. On deletion the
 * domain is destroyed and undefined before the agent's finalizer goes; the Volumes' own
 * finalizers then delete their disks. libvirt's domain events re-queue the VM, so a guest
 * that powers itself off is seen at once, without polling.
 */
import { mkdir } from 'node:fs/promises';
import type { NetworkObject, ServiceOfferingObject, TemplateObject, VirtualMachineObject, VolumeObject } from '../crds/index.ts';
import { join } from 'node:path';
import { agentFieldManager } from '../lib/agent-contract.ts';
import { setCondition, type Condition } from '../lib/conditions.ts';
import type { Controller } from '../lib/controller.ts';
import type { Informer } from '../lib/informer.ts';
import { keyOf } from '../lib/kube-client.ts';
import type { Manager } from '../lib/manager.ts';
import { hasFinalizer } from '../lib/ownership.ts';
import { byField } from '../lib/store.ts';
import { domainName } from './drivers/identity.ts';
import type { DomainAction, DomainNic, DomainObservation, HypervisorDriver, PowerState } from './drivers/hypervisor/types.ts';
import { networkKey, nicMacOf, type GuestNetworks } from './guest-networks.ts';
import type { HostPlacement } from './host-join.ts';
import {
  AGENT_FINALIZER,
  API_VERSIONS,
  RESOURCES,
  dropAgentFinalizer,
  ensureAgentFinalizer,
  errorMessage,
  parseQuantityBytes,
  timestamp,
} from './resources.ts';
import { VM_INDEX, type Disk, type volumeHelpers } from './volumes.ts';

export const UID_INDEX = 'uid';

type VmStatus = NonNullable<VirtualMachineObject['status']>;
type VmState = NonNullable<VmStatus['state']>;

export interface VirtualMachineDeps {
  manager: Manager;
  at: HostPlacement;
  hypervisor: HypervisorDriver;
  networksOfHost: GuestNetworks;
  volumeHelpers: ReturnType<typeof volumeHelpers>;
  ownVms: Informer<VirtualMachineObject>;
  volumes: Informer<VolumeObject>;
  networks: Informer<NetworkObject>;
  templates: Informer<TemplateObject>;
  serviceOfferings: Informer<ServiceOfferingObject>;
  consoleDir: string;
  /** Address the VNC console listens on (this host's management address). */
  vncListen: string;
  shutdownTimeoutMs: number;
  rebootTimeoutMs: number;
}

/** Work that cannot proceed yet (a volume or network not made by the operator): Starting, not Error. */
class NotYet extends Error {}

function sizing(vm: VirtualMachineObject, offering: ServiceOfferingObject | undefined): { vcpus: number; memoryMiB: number } {
  const name = keyOf(vm);
  if (!offering) throw new NotYet(`ServiceOffering ${vm.spec.serviceOfferingRef.name} does not exist`);
  const vcpus = vm.spec.cpuNumber ?? offering.spec.cpuNumber;
  const memory = vm.spec.memory ?? offering.spec.memory;
  if (vcpus === undefined || memory === undefined) {
    throw new Error(`VirtualMachine ${name}: offering ${offering.metadata.name ?? ''} is customized: set spec.cpuNumber and spec.memory`);
  }
  return { vcpus, memoryMiB: Math.floor(parseQuantityBytes(`VirtualMachine ${name} memory`, memory) / 2 ** 20) };
}

function stateOf(power: PowerState, observed: DomainObservation | undefined): VmState {
  const running = observed?.state === 'running' || observed?.state === 'paused';
  if (observed?.state === 'crashed') return 'Error';
  if (power === 'Running') return running ? 'Running' : 'Starting';
  return running || observed?.state === 'shutdown' ? 'Stopping' : 'Stopped';
}

const actionEvents: Partial<Record<DomainAction, { reason: string; note: string }>> = {
  define: { reason: 'VM.CREATE', note: 'domain defined' },
  start: { reason: 'VM.START', note: 'domain started' },
  resume: { reason: 'VM.START', note: 'domain resumed' },
  shutdown: { reason: 'VM.STOP', note: 'domain shut down (ACPI)' },
  destroy: { reason: 'VM.STOP', note: 'domain powered off after the ACPI shutdown timed out' },
};

export function registerVirtualMachineReconciler(deps: VirtualMachineDeps): Controller {
  const { manager, at, hypervisor, ownVms, volumes, networks, serviceOfferings } = deps;
  const client = manager.client.resource<VirtualMachineObject>(RESOURCES.vms);
  const fieldManager = agentFieldManager(at.host);
  ownVms.addIndex(UID_INDEX, byField((vm: VirtualMachineObject) => vm.metadata.uid));
  volumes.addIndex(VM_INDEX, byField((v: VolumeObject) => (v.spec.vmRef ? `${v.metadata.namespace ?? ''}/${v.spec.vmRef.name}` : undefined)));

  const disksOf = async (vm: VirtualMachineObject, signal: AbortSignal): Promise<Disk[]> => {
    const attached = volumes.byIndex(VM_INDEX, keyOf(vm)).filter((v) => v.metadata.deletionTimestamp === undefined);
    if (!attached.some((v) => v.spec.type === 'ROOT')) {
      throw new NotYet(`no ROOT Volume with spec.vmRef ${vm.metadata.name ?? ''} labelled kumulus.io/host=${at.host} in namespace ${vm.metadata.namespace ?? ''}`);
    }
    const disks: Disk[] = [];
    for (const volume of attached) disks.push(await deps.volumeHelpers.ensureDisk(volume, signal));
    // Root first (the boot disk), then data disks in device order, ties by name.
    return disks.sort((a, b) => a.deviceId - b.deviceId || (a.volume.metadata.name ?? '').localeCompare(b.volume.metadata.name ?? ''));
  };

  const nicsOf = async (vm: VirtualMachineObject): Promise<{ nics: DomainNic[]; status: NonNullable<VmStatus['nics']> }> => {
    const wanted = vm.spec.networks ?? [];
    if (wanted.length === 0) return { nics: [], status: [] };
    const { attached, problems } = await deps.networksOfHost.sync();
    const nics: DomainNic[] = [];
    const status: NonNullable<VmStatus['nics']> = [];
    const defaultIndex = Math.max(0, wanted.findIndex((n) => n.default === true));
    wanted.forEach((nic, deviceId) => {
      const key = networkKey(vm.metadata.namespace ?? '', nic.name);
      const network = networks.get(key);
      const attachment = attached.get(key);
      if (!network || !attachment) throw new NotYet(problems.get(key) ?? `Network ${key} is not plumbed on this host yet`);
      const mac = nicMacOf(vm, nic, network);
      nics.push({ mac, bridge: attachment.bridge });
      const ip = vm.status?.nics?.find((n) => n.network === nic.name)?.ipAddress ?? nic.ipAddress;
      const uri = network.status?.broadcastUri;
      status.push({
        network: nic.name,
        deviceId,
        isDefault: deviceId === defaultIndex,
        macAddress: mac,
        ...(ip !== undefined ? { ipAddress: ip } : {}),
        ...(network.status?.netmask !== undefined ? { netmask: network.status.netmask } : {}),
        ...((network.status?.gateway ?? network.spec.gateway) !== undefined ? { gateway: network.status?.gateway ?? network.spec.gateway } : {}),
        ...(uri !== undefined ? { broadcastUri: uri, isolationUri: uri } : {}),
      });
    });
    return { nics, status };
  };

  const writeStatus = async (vm: VirtualMachineObject, status: VmStatus, signal: AbortSignal): Promise<void> => {
    await client.applyStatus(
      { apiVersion: API_VERSIONS.VirtualMachine, kind: 'VirtualMachine', metadata: { name: vm.metadata.name, namespace: vm.metadata.namespace }, status },
      { fieldManager, force: true, signal },
    );
  };

  /** The status the agent owns, with conditions whose transition times move only on flips. */
  const nextStatus = (vm: VirtualMachineObject, fields: VmStatus, conditions: { type: string; ok: boolean; reason: string; message?: string }[]): VmStatus => {
    const holder = { conditions: (vm.status?.conditions ?? []).map((c) => ({ ...c })) as Condition[] };
    for (const c of conditions) setCondition(holder, { type: c.type, status: c.ok ? 'True' : 'False', reason: c.reason, message: c.message ?? '' }, vm.metadata.generation);
    const owned = new Set(conditions.map((c) => c.type));
    return { ...fields, observedGeneration: vm.metadata.generation, conditions: holder.conditions.filter((c) => owned.has(c.type)) };
  };

  const controller = manager.addController({
    name: 'agent-virtualmachine',
    for: ownVms,
    maxConcurrentReconciles: 4,
    watches: [
      {
        informer: volumes,
        map: (obj) => {
          const ref = (obj as VolumeObject).spec.vmRef;
          return ref ? [{ namespace: obj.metadata.namespace, name: ref.name }] : [];
        },
      },
      {
        // A template that appears (or gets its checksum fixed) unblocks the VMs waiting for it.
        informer: deps.templates,
        map: (t) =>
          ownVms
            .list()
            .filter((vm) => vm.spec.templateRef?.name === t.metadata.name && (vm.spec.templateRef?.namespace ?? vm.metadata.namespace) === t.metadata.namespace)
            .map((vm) => ({ namespace: vm.metadata.namespace, name: vm.metadata.name ?? '' })),
      },
      {
        informer: networks,
        map: (n) => ownVms.list(n.metadata.namespace).filter((vm) => vm.spec.networks?.some((x) => x.name === n.metadata.name)).map((vm) => ({ namespace: vm.metadata.namespace, name: vm.metadata.name ?? '' })),
      },
    ],
    reconcile: async (ctx, request) => {
      const vm = ownVms.get(request);
      if (!vm) return;
      const uid = vm.metadata.uid ?? '';
      const placedOn = vm.status?.placement?.host;
      if (placedOn !== undefined && placedOn !== at.host) return;

      if (vm.metadata.deletionTimestamp !== undefined) {
        if (!hasFinalizer(vm, AGENT_FINALIZER)) return;
        const existed = (await hypervisor.observe(uid)) !== undefined;
        await hypervisor.undefine(uid);
        if ((vm.spec.networks ?? []).length > 0) await deps.networksOfHost.sync();
        if (existed) manager.events.event(vm, { reason: 'VM.DESTROY', note: `domain ${domainName(uid)} destroyed and undefined on ${at.host}` });
        await dropAgentFinalizer(client, vm, ctx.signal);
        return;
      }
      const live = await ensureAgentFinalizer(client, vm, ctx.signal);
      const power: PowerState = (vm.spec.state ?? 'Running') === 'Running' ? 'Running' : 'Stopped';
      const previous = vm.status ?? {};
      let actions: DomainAction[];
      let rebooted: string | undefined;
      let nicStatus: VmStatus['nics'];
      try {
        const { vcpus, memoryMiB } = sizing(vm, serviceOfferings.get(vm.spec.serviceOfferingRef.name));
        const disks = await disksOf(live, ctx.signal);
        const { nics, status } = await nicsOf(vm);
        nicStatus = status;
        await mkdir(deps.consoleDir, { recursive: true });
        actions = await hypervisor.apply({
          spec: {
            uid,
            title: vm.spec.displayName ?? keyOf(vm),
            vcpus,
            memoryMiB,
            disks: disks.map((d) => ({ path: d.path, format: d.format, volumeUid: d.volume.metadata.uid ?? '' })),
            nics,
            serialLogPath: join(deps.consoleDir, `${uid}.log`),
            vncListen: deps.vncListen,
          },
          power,
          shutdownTimeoutMs: deps.shutdownTimeoutMs,
        });
        for (const action of actions) {
          const event = actionEvents[action];
          if (event) manager.events.event(vm, { ...event, note: `${event.note} on ${at.host}` });
        }
        const requested = vm.spec.rebootRequestedAt;
        const done = previous.lastRebootAt;
        if (requested !== undefined && (done === undefined || Date.parse(requested) > Date.parse(done))) {
          // A VM that was stopped, or has just been started, has nothing left to reboot.
          if (power === 'Running' && !actions.includes('start')) {
            const how = await hypervisor.reboot(uid, deps.rebootTimeoutMs);
            manager.events.event(vm, { reason: 'VM.REBOOT', note: how === 'acpi' ? 'rebooted (ACPI)' : 'reset: the guest ignored the ACPI reboot' });
          }
          rebooted = requested;
        }
      } catch (err) {
        const waiting = err instanceof NotYet;
        const observed = await hypervisor.observe(uid).catch(() => undefined);
        const state: VmState = observed ? stateOf(power, observed) : waiting ? 'Starting' : 'Error';
        await writeStatus(
          vm,
          nextStatus(vm, { ...previous, state, instanceName: domainName(uid) }, [
            { type: 'Synced', ok: false, reason: waiting ? 'Waiting' : 'ReconcileError', message: errorMessage(err) },
            { type: 'Ready', ok: false, reason: waiting ? 'Waiting' : 'DomainError', message: errorMessage(err) },
            { type: 'Running', ok: observed?.state === 'running', reason: observed?.state === 'running' ? 'DomainRunning' : 'DomainNotRunning' },
          ]),
          ctx.signal,
        );
        if (!waiting) manager.events.event(vm, { type: 'Warning', reason: power === 'Running' ? 'VM.START' : 'VM.STOP', note: errorMessage(err) });
        if (waiting) {
          ctx.log.info('waiting', { reason: errorMessage(err) });
          return { requeueAfter: 15_000 };
        }
        throw err;
      }

      const observed = await hypervisor.observe(uid);
      const state = stateOf(power, observed);
      const running = observed?.state === 'running';
      const console = running ? await hypervisor.console(uid) : undefined;
      // From the domain itself when the hypervisor can tell (a stale cache cannot skew it).
      const startedAt = running
        ? observed.startedAt
          ? timestamp(observed.startedAt)
          : actions.includes('start') || !previous.startedAt
            ? timestamp()
            : previous.startedAt
        : previous.startedAt;
      const settled = (power === 'Running' && state === 'Running') || (power === 'Stopped' && state === 'Stopped');
      const fields = {
        state,
        powerState: running ? 'PowerOn' : observed ? 'PowerOff' : 'PowerReportMissing',
        instanceName: domainName(uid),
        ...(nicStatus && nicStatus.length > 0 ? { nics: nicStatus } : {}),
        volumes: volumes
          .byIndex(VM_INDEX, keyOf(vm))
          .filter((v) => v.metadata.deletionTimestamp === undefined)
          .map((v) => ({ name: v.metadata.name ?? '', type: v.spec.type ?? 'DATADISK', deviceId: v.spec.deviceId ?? (v.spec.type === 'ROOT' ? 0 : 1) })),
        ...(console ? { console } : {}),
        ...((rebooted ?? previous.lastRebootAt) !== undefined ? { lastRebootAt: rebooted ?? previous.lastRebootAt } : {}),
        ...(startedAt !== undefined ? { startedAt } : {}),
      } as VmStatus;
      const status = nextStatus(vm, fields, [
        { type: 'Running', ok: running, reason: running ? 'DomainRunning' : 'DomainNotRunning', message: running ? '' : `domain is ${observed?.state ?? 'not defined'}` },
        { type: 'Ready', ok: settled, reason: settled ? state : 'Converging', message: settled ? '' : `wanted ${power}, the domain is ${observed?.state ?? 'not defined'}` },
        { type: 'Synced', ok: true, reason: 'ReconcileSuccess' },
      ]);
      const before = JSON.stringify(previous);
      const after = JSON.stringify({ ...previous, ...status });
      if (before !== after) await writeStatus(vm, status, ctx.signal);
      // A domain that has not settled (starting, or shutting down on its own) is looked at again soon;
      // settled ones wait for the next domain event.
      return settled ? undefined : { requeueAfter: 2_000 };
    },
  });

  return controller;
}
