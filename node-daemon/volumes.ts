/**
 * Volumes (agent side). A Volume attached to a VM placed here carries this host's label; the
 * VM reconciler makes its disk (ensureDisk) before it starts the domain. This reconciler lets a
 * Volume go: once no live VM on this host uses it, the disk file is deleted (unless
 * deletionPolicy is Retain) and the agent's finalizer is removed.
 */
import { agentFieldManager } from '../lib/agent-contract.ts';
import type { DiskOfferingObject, PrimaryStorageObject, TemplateObject, VirtualMachineObject, VolumeObject } from '../crds/index.ts';
import type { Informer } from '../lib/informer.ts';
import { keyOf } from '../lib/kube-client.ts';
import type { Manager } from '../lib/manager.ts';
import { hasFinalizer } from '../lib/ownership.ts';
import type { FileStorageDriver } from './drivers/storage/driver.ts';
import type { ImageFormat, TemplateSource, VolumeSpec } from './drivers/storage/types.ts';
import type { HostPlacement } from './host-join.ts';
import { mountedHere, poolInScope, poolSpecOf } from './primary-storage.ts';
import {
  AGENT_FINALIZER,
  API_VERSIONS,
  RESOURCES,
  dropAgentFinalizer,
  ensureAgentFinalizer,
  parseQuantityBytes,
  timestamp,
} from './resources.ts';

export interface VolumeDeps {
  manager: Manager;
  storage: FileStorageDriver;
  at: HostPlacement;
  volumes: Informer<VolumeObject>;
  pools: Informer<PrimaryStorageObject>;
  templates: Informer<TemplateObject>;
  diskOfferings: Informer<DiskOfferingObject>;
  ownVms: Informer<VirtualMachineObject>;
  /** Where a root disk's template is copied from: the zone's secondary copy (templates.ts). */
  templateSource: (template: TemplateObject) => Promise<TemplateSource>;
}

export interface Disk {
  volume: VolumeObject;
  path: string;
  format: ImageFormat;
  deviceId: number;
}

export const VM_INDEX = 'vm';

/** `namespace/name` of the VM a Volume is attached to. */
export function vmOfVolume(volume: VolumeObject): string | undefined {
  return volume.spec.vmRef ? `${volume.metadata.namespace ?? ''}/${volume.spec.vmRef.name}` : undefined;
}

export function volumeHelpers(deps: VolumeDeps) {
  const { manager, storage, at, pools, templates, diskOfferings } = deps;
  const client = manager.client.resource<VolumeObject>(RESOURCES.volumes);
  const fieldManager = agentFieldManager(at.host);

  /** The pool a volume lives on: its recorded one, else the first pool in scope mounted here. */
  const poolOf = (volume: VolumeObject): PrimaryStorageObject => {
    const recorded = volume.status?.pool;
    if (recorded) {
      const pool = pools.get(recorded);
      if (!pool) throw new Error(`Volume ${keyOf(volume)} is on PrimaryStorage ${recorded}, which does not exist`);
      return pool;
    }
    const candidates = pools
      .list()
      .filter((p) => poolInScope(p, at) && mountedHere(p, at.host) && !p.spec.maintenance)
      .sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''));
    const pool = candidates[0];
    if (!pool) throw new Error(`no primary storage in the scope of host ${at.host} is mounted here for Volume ${keyOf(volume)}; add a PrimaryStorage for cluster ${at.cluster} or zone ${at.zone}`);
    return pool;
  };

  const writeStatus = async (volume: VolumeObject, status: Record<string, unknown>, signal: AbortSignal): Promise<void> => {
    await client.applyStatus(
      { apiVersion: API_VERSIONS.Volume, kind: 'Volume', metadata: { name: volume.metadata.name, namespace: volume.metadata.namespace }, status },
      { fieldManager, force: true, signal },
    );
  };

  const specOf = async (volume: VolumeObject): Promise<VolumeSpec> => {
    const uid = volume.metadata.uid ?? '';
    const name = keyOf(volume);
    const size = volume.spec.size !== undefined ? parseQuantityBytes(`Volume ${name} spec.size`, volume.spec.size) : undefined;
    if ((volume.spec.type ?? 'DATADISK') === 'ROOT') {
      const ref = volume.spec.templateRef;
      const templateKey = `${ref?.namespace ?? volume.metadata.namespace ?? ''}/${ref?.name ?? ''}`;
      const template = templates.get(templateKey);
      if (!template) throw new Error(`Volume ${name}: Template ${templateKey} does not exist`);
      return { kind: 'root', uid, template: await deps.templateSource(template), ...(size !== undefined ? { sizeBytes: size } : {}) };
    }
    const offering = volume.spec.diskOfferingRef ? diskOfferings.get(volume.spec.diskOfferingRef.name) : undefined;
    const sizeBytes = size ?? (offering?.spec.diskSize !== undefined ? parseQuantityBytes(`DiskOffering ${offering.metadata.name ?? ''} spec.diskSize`, offering.spec.diskSize) : undefined);
    if (sizeBytes === undefined) throw new Error(`Volume ${name}: no size: set spec.size or use a disk offering with spec.diskSize`);
    return { kind: 'data', uid, sizeBytes };
  };

  /** Makes the volume's disk (recording its pool and the agent's finalizer first) and reports it Ready. */
  const ensureDisk = async (volume: VolumeObject, signal: AbortSignal): Promise<Disk> => {
    const pool = poolOf(volume);
    const poolSpec = poolSpecOf(pool);
    const spec = await specOf(volume);
    // The finalizer first (the cached object's resourceVersion is still current), then the pool.
    const live = hasFinalizer(volume, AGENT_FINALIZER) ? volume : await ensureAgentFinalizer(client, volume, signal);
    if (!volume.status?.pool) await writeStatus(volume, { pool: pool.metadata.name, state: 'Creating' }, signal);
    const actions = await storage.applyVolume(poolSpec, spec);
    const observed = await storage.observeVolume(poolSpec, spec.uid);
    if (!observed) throw new Error(`Volume ${keyOf(volume)}: the disk was not found after it was created`);
    const format: ImageFormat = observed.format === 'raw' ? 'raw' : 'qcow2';
    const deviceId = volume.spec.deviceId ?? ((volume.spec.type ?? 'DATADISK') === 'ROOT' ? 0 : 1);
    const ready = volume.status?.state === 'Ready' && volume.status.sizeBytes === observed.virtualSizeBytes && volume.status.path === observed.path;
    if (!ready || actions.length > 0) {
      await writeStatus(
        volume,
        {
          state: 'Ready',
          pool: pool.metadata.name,
          ...(pool.spec.protocol === 'Local' ? { host: at.host } : {}),
          path: observed.path,
          format: format === 'raw' ? 'RAW' : 'QCOW2',
          sizeBytes: observed.virtualSizeBytes,
          physicalSizeBytes: observed.allocatedBytes,
          attachedAt: volume.status?.attachedAt ?? timestamp(),
          observedGeneration: volume.metadata.generation,
          conditions: [
            { type: 'Ready', status: 'True', reason: 'DiskReady', message: '', observedGeneration: volume.metadata.generation, lastTransitionTime: timestamp() },
          ],
        },
        signal,
      );
    }
    return { volume: live, path: observed.path, format, deviceId };
  };

  const deleteDisk = async (volume: VolumeObject): Promise<void> => {
    if (volume.spec.deletionPolicy === 'Retain') return;
    const recorded = volume.status?.pool ? pools.get(volume.status.pool) : undefined;
    if (recorded) await storage.deleteVolume(poolSpecOf(recorded), volume.metadata.uid ?? '');
  };

  return { ensureDisk, deleteDisk, writeStatus, client };
}

export function registerVolumeReconciler(deps: VolumeDeps, helpers: ReturnType<typeof volumeHelpers>): void {
  const { manager, volumes, ownVms } = deps;
  manager.addController({
    name: 'agent-volume',
    for: volumes,
    watches: [
      {
        informer: ownVms,
        map: (vm) => volumes.byIndex(VM_INDEX, keyOf(vm)).map((v) => ({ namespace: v.metadata.namespace, name: v.metadata.name ?? '' })),
      },
    ],
    reconcile: async (ctx, request) => {
      const volume = volumes.get(request);
      if (!volume?.metadata.deletionTimestamp || !hasFinalizer(volume, AGENT_FINALIZER)) return;
      const vmKey = vmOfVolume(volume);
      const user = vmKey ? ownVms.get(vmKey) : undefined;
      if (user && user.metadata.deletionTimestamp === undefined) {
        ctx.log.info('volume deletion waits for its VM to let it go', { vm: vmKey });
        return { requeueAfter: 10_000 };
      }
      // A deleting VM undefines its domain before it lets go of its finalizer; its volumes wait for that.
      if (user) return { requeueAfter: 2_000 };
      await helpers.deleteDisk(volume);
      await dropAgentFinalizer(helpers.client, volume, ctx.signal);
      ctx.log.info('disk deleted', { pool: volume.status?.pool, retained: volume.spec.deletionPolicy === 'Retain' });
    },
  });
}

