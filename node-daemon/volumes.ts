/**
 * Volumes (agent side), for the Volumes labelled with this host. Once the operator has chosen
 * status.pool, the agent makes the disk there (a copy-on-write overlay on the pool's cached
 * template for a ROOT volume, a blank image for a data disk), grows it when spec.size grows
 * (live, through the hypervisor, while a running domain uses it), and reports its part of
 * status (lib/agent-contract.ts): host, path, format, sizes, attachedAt and the conditions
 * Provisioned and Attached. The VM reconciler starts a domain once its Volumes are
 * Provisioned, and plugs or unplugs data disks of a running one. A deleted Volume's disk is
 * removed (unless deletionPolicy is Retain) once no domain on this host uses it.
 */
import type { DiskOfferingObject, PrimaryStorageObject, TemplateObject, VirtualMachineObject, VolumeObject } from '../crds/index.ts';
import { AGENT_FINALIZER, agentVolumeStatus, PROVISIONING_FAILED } from '../lib/agent-contract.ts';
import type { ConditionUpdate } from '../lib/conditions.ts';
import { errorMessage } from '../lib/error-message.ts';
import type { Controller } from '../lib/controller.ts';
import type { Informer } from '../lib/informer.ts';
import type { Logger } from '../lib/log.ts';
import { keyOf } from '../lib/kube-client.ts';
import type { Manager } from '../lib/manager.ts';
import { hasFinalizer } from '../lib/ownership.ts';
import { commitFailure, commitStatus } from '../lib/status.ts';
import { metav1Time } from '../lib/time.ts';
import { parseBytes } from '../crds/index.ts';
import type { DomainObservation, HypervisorDriver } from './drivers/hypervisor/types.ts';
import type { FileStorageDriver } from './drivers/storage/driver.ts';
import type { TemplateSource, VolumeObservation, VolumeSpec } from './drivers/storage/types.ts';
import type { HostPlacement } from './host-join.ts';
import { mountedHere, poolSpecOf } from './primary-storage.ts';
import { RESOURCES, dropAgentFinalizer, ensureAgentFinalizer } from './resources.ts';
import { planDisk } from './volume-plan.ts';

export interface VolumeDeps {
  manager: Manager;
  storage: FileStorageDriver;
  hypervisor: HypervisorDriver;
  at: HostPlacement;
  volumes: Informer<VolumeObject>;
  pools: Informer<PrimaryStorageObject>;
  templates: Informer<TemplateObject>;
  diskOfferings: Informer<DiskOfferingObject>;
  ownVms: Informer<VirtualMachineObject>;
  /** Where a root disk's template is copied from: the zone's secondary copy (templates.ts). */
  templateSource: (template: TemplateObject) => Promise<TemplateSource>;
}

/** Volumes by `namespace/name` of the VM in their spec.vmRef (added by the VM reconciler). */
export const VM_INDEX = 'vm';

/** `namespace/name` of the VM a Volume is attached to. */
export function vmOfVolume(volume: VolumeObject): string | undefined {
  return volume.spec.vmRef ? `${volume.metadata.namespace ?? ''}/${volume.spec.vmRef.name}` : undefined;
}

/** Why a Volume cannot be provisioned yet (Provisioned False), as opposed to a failure worth retrying. */
class NotProvisionable extends Error {
  readonly reason: string;
  constructor(reason: string, message: string) {
    super(message);
    this.reason = reason;
  }
}

function provisioned(ok: boolean, reason: string, message = ''): ConditionUpdate {
  return { type: 'Provisioned', status: ok ? 'True' : 'False', reason, message };
}

export function registerVolumeReconciler(deps: VolumeDeps): Controller {
  const { manager, storage, hypervisor, at, volumes, pools, templates, diskOfferings, ownVms } = deps;
  const client = manager.client.resource<VolumeObject>(RESOURCES.volumes);
  const writer = agentVolumeStatus(at.host);

  const specOf = async (volume: VolumeObject): Promise<VolumeSpec> => {
    const uid = volume.metadata.uid ?? '';
    const name = keyOf(volume);
    const size = volume.spec.size !== undefined ? parseBytes(volume.spec.size, `Volume ${name} spec.size`) : undefined;
    if ((volume.spec.type ?? 'DATADISK') === 'ROOT') {
      const ref = volume.spec.templateRef;
      const templateKey = `${ref?.namespace ?? volume.metadata.namespace ?? ''}/${ref?.name ?? ''}`;
      const template = templates.get(templateKey);
      if (!template) throw new NotProvisionable('TemplateNotFound', `Template ${templateKey} does not exist`);
      try {
        return { kind: 'root', uid, template: await deps.templateSource(template), ...(size !== undefined ? { sizeBytes: size } : {}) };
      } catch (err) {
        throw new NotProvisionable('TemplateNotReady', errorMessage(err));
      }
    }
    const offering = volume.spec.diskOfferingRef ? diskOfferings.get(volume.spec.diskOfferingRef.name) : undefined;
    const sizeBytes = size ?? (offering?.spec.diskSize !== undefined ? parseBytes(offering.spec.diskSize, `DiskOffering ${offering.metadata.name ?? ''} spec.diskSize`) : undefined);
    if (sizeBytes === undefined) throw new NotProvisionable('NoSize', `Volume ${name} has no size: set spec.size or use a disk offering with spec.diskSize`);
    return { kind: 'data', uid, sizeBytes };
  };

  /** What a Volume's reconcile reads of its pool's status: this host's mount, and why it is not mounted. */
  const mountHere = (pool: PrimaryStorageObject) => {
    const mount = pool.status?.mounts?.find((m) => m.host === at.host);
    return `${String(mount?.mounted)}:${mount?.message ?? ''}`;
  };

  /** The pool's driver spec, when the pool exists and is mounted here. */
  const poolOf = (volume: VolumeObject, name: string) => {
    const pool = pools.get(name);
    if (!pool) throw new NotProvisionable('PoolNotFound', `PrimaryStorage ${name} (status.pool) does not exist`);
    if (!mountedHere(pool, at.host)) {
      const why = pool.status?.mounts?.find((m) => m.host === at.host)?.message;
      throw new NotProvisionable('PoolNotMounted', `PrimaryStorage ${name} is not mounted on host ${at.host}${why ? `: ${why}` : ''}`);
    }
    try {
      return { pool, spec: poolSpecOf(pool) };
    } catch (err) {
      throw new NotProvisionable('PoolNotSupported', `Volume ${keyOf(volume)}: ${errorMessage(err)}`);
    }
  };

  /**
   * Observes the disk, plans (volume-plan.ts) and applies only what the Volume asks that the
   * disk lacks: a disk as it should be costs a stat (the driver reads an unchanged image once).
   */
  const ensureDisk = async (volume: VolumeObject, poolName: string, domains: () => Promise<DomainObservation[]>, logger: Logger): Promise<{ observed: VolumeObservation; made: boolean }> => {
    const { spec: pool } = poolOf(volume, poolName);
    const spec = await specOf(volume);
    const current = await storage.observeVolume(pool, spec.uid);
    const runningUser = current && (await domains()).find((d) => (d.state === 'running' || d.state === 'paused') && d.diskPaths.includes(current.path));
    const plan = planDisk({ volumeName: keyOf(volume), ...(spec.sizeBytes !== undefined ? { wantedBytes: spec.sizeBytes } : {}), ...(current ? { observed: current } : {}), ...(runningUser ? { runningUser } : {}) });
    if ('problem' in plan) throw new Error(plan.problem);
    if (current && plan.steps.length === 0) return { observed: current, made: false };
    const started = Date.now();
    for (const step of plan.steps) {
      if (step.do === 'grow-live') {
        await hypervisor.resizeDisk(step.domainUid, current?.path ?? '', step.sizeBytes);
        manager.events.event(volume, { reason: 'VOLUME.RESIZE', note: `grown live to ${step.sizeBytes} bytes in domain ${runningUser?.name ?? ''} on ${at.host}` });
        continue;
      }
      // VOLUME.CREATE, and its Warning when the disk cannot be made, are the operator's (lib/agent-contract.ts, "Events").
      const actions = await storage.applyVolume(pool, spec);
      if (actions.includes('resize')) manager.events.event(volume, { reason: 'VOLUME.RESIZE', note: `grown to ${spec.sizeBytes ?? 0} bytes on ${at.host}` });
    }
    const observed = await storage.observeVolume(pool, spec.uid);
    if (!observed) throw new Error(`Volume ${keyOf(volume)}: the disk was not found on ${poolName} after it was made`);
    logger.info('disk applied', { steps: plan.steps.map((s) => s.do), ms: Date.now() - started });
    return { observed, made: current === undefined };
  };

  const report = async (volume: VolumeObject, observed: VolumeObservation, domains: DomainObservation[], signal: AbortSignal): Promise<void> => {
    const previous = volume.status ?? {};
    const vmKey = vmOfVolume(volume);
    const vm = vmKey ? ownVms.get(vmKey) : undefined;
    // Attached while any domain here has the disk: a detached Volume stays so until its old VM's domain lets it go.
    const users = domains.filter((d) => d.diskPaths.includes(observed.path));
    const attached = users.length > 0;
    const where = vm && users.some((d) => d.uid === vm.metadata.uid) ? `in the domain of VirtualMachine ${vm.metadata.name ?? ''}` : `in domain ${users.map((d) => d.name).join(', ')}`;
    const wasAttached = volume.status?.conditions?.find((c) => c.type === 'Attached')?.status === 'True';
    const pool = pools.get(volume.status?.pool ?? '');
    const unchanged = previous.path === observed.path && previous.sizeBytes === observed.virtualSizeBytes && wasAttached === attached;
    await commitStatus(
      client,
      volume,
      writer,
      {
        fields: {
          host: pool?.spec.protocol === 'Local' ? at.host : undefined,
          path: observed.path,
          format: observed.format === 'raw' ? 'RAW' : 'QCOW2',
          sizeBytes: observed.virtualSizeBytes,
          // Refreshed with any other change: the bytes a guest writes are not worth a write of their own.
          physicalSizeBytes: unchanged && previous.physicalSizeBytes !== undefined ? previous.physicalSizeBytes : observed.allocatedBytes,
          attachedAt: attached && !wasAttached ? metav1Time() : previous.attachedAt,
        },
        conditions: [
          provisioned(true, 'Provisioned'),
          attached
            ? { type: 'Attached', status: 'True', reason: 'Attached', message: where }
            : { type: 'Attached', status: 'False', reason: 'Detached', message: vm ? `not in the domain of VirtualMachine ${vm.metadata.name ?? ''} yet` : 'no domain on this host uses it' },
        ],
      },
      signal,
    );
  };

  return manager.addController({
    name: 'agent-volume',
    for: volumes,
    // A VM's disks (a Volume each) are made side by side, for as many VMs as start at once (virtual-machine.ts).
    maxConcurrentReconciles: 4,
    watches: [
      {
        // A VM's domain changed, as its status.volumes (the disks in it) tells: its Volumes, and
        // those its domain had or has that no longer name it (an update maps the old VM and the
        // new, so a disk just unplugged is among them). Other writes to the VM (the operator's
        // state and conditions) change no disk, and each Volume's reconcile reads the domains.
        informer: ownVms,
        changed: (a, b) => JSON.stringify((a as VirtualMachineObject).status?.volumes) !== JSON.stringify((b as VirtualMachineObject).status?.volumes),
        map: (vm) => [
          ...volumes.byIndex(VM_INDEX, keyOf(vm)).map((v) => ({ namespace: v.metadata.namespace, name: v.metadata.name ?? '' })),
          ...((vm as VirtualMachineObject).status?.volumes ?? []).map((v) => ({ namespace: vm.metadata.namespace, name: v.name })),
        ],
      },
      {
        // Mounted here, or not any more, or a changed spec: not its usage or heartbeat, which
        // change all the time and mean nothing to a disk.
        informer: pools,
        changed: (a, b) => a.metadata.generation !== b.metadata.generation || mountHere(a as PrimaryStorageObject) !== mountHere(b as PrimaryStorageObject),
        map: (p) => volumes.list().filter((v) => v.status?.pool === p.metadata.name).map((v) => ({ namespace: v.metadata.namespace, name: v.metadata.name ?? '' })),
      },
      {
        // A template matters to a root disk not made yet: one made has its own copy-on-write file.
        informer: templates,
        map: (t) =>
          volumes
            .list()
            .filter((v) => v.spec.templateRef?.name === t.metadata.name && (v.spec.templateRef?.namespace ?? v.metadata.namespace) === t.metadata.namespace)
            .filter((v) => v.status?.conditions?.find((c) => c.type === 'Provisioned')?.status !== 'True')
            .map((v) => ({ namespace: v.metadata.namespace, name: v.metadata.name ?? '' })),
      },
      {
        informer: diskOfferings,
        map: (o) => volumes.list().filter((v) => v.spec.diskOfferingRef?.name === o.metadata.name).map((v) => ({ namespace: v.metadata.namespace, name: v.metadata.name ?? '' })),
      },
    ],
    reconcile: async (ctx, request) => {
      const volume = volumes.get(request);
      if (!volume) return;
      if (volume.metadata.deletionTimestamp !== undefined) {
        if (!hasFinalizer(volume, AGENT_FINALIZER)) return;
        const path = volume.status?.path;
        const users = path ? (await hypervisor.list()).filter((d) => d.diskPaths.includes(path)) : [];
        if (users.length > 0) {
          // The VM reconciler takes it out of its domain; a domain no VM here owns needs a person.
          ctx.log.info('the disk is still in use; deleting it waits', { domains: users.map((d) => d.name) });
          return { requeueAfter: 5_000 };
        }
        const pool = volume.status?.pool ? pools.get(volume.status.pool) : undefined;
        if (volume.spec.deletionPolicy !== 'Retain' && pool) await storage.deleteVolume(poolSpecOf(pool), volume.metadata.uid ?? '');
        await dropAgentFinalizer(client, volume, ctx.signal);
        ctx.log.info('disk deleted', { pool: volume.status?.pool, retained: volume.spec.deletionPolicy === 'Retain' });
        return;
      }
      const poolName = volume.status?.pool;
      // The operator chooses the pool; its write re-queues the Volume.
      if (!poolName) return;
      try {
        await ensureAgentFinalizer(client, volume, ctx.signal);
        // The domains are listed (a virsh call) only when a disk's users matter.
        let listed: Promise<DomainObservation[]> | undefined;
        const domains = () => (listed ??= hypervisor.list());
        const { observed, made } = await ensureDisk(volume, poolName, domains, ctx.log);
        // A disk made just now, of a Volume that never reported its path, is in no domain: the
        // VM reconciler puts a disk in a domain only by the path its Volume reported.
        await report(volume, observed, made && volume.status?.path === undefined ? [] : await domains(), ctx.signal);
      } catch (err) {
        const waiting = err instanceof NotProvisionable;
        // Only Provisioned changes: the other owned fields and Attached stay as they are.
        await commitFailure(client, volume, writer, err, ctx.signal, { type: 'Provisioned', reason: waiting ? err.reason : PROVISIONING_FAILED });
        if (waiting) {
          ctx.log.info('volume not provisioned', { reason: err.reason, message: err.message });
          return;
        }
        throw err;
      }
    },
  });
}
