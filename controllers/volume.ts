/**
 * Volume (operator side). Its state, with CloudStack's names, follows what has happened:
 * Allocated while it has no pool (a data volume is created on primary storage when first
 * attached; a volume a VM declares gets the pool chosen with the VM's placement, and no state
 * before it), Creating until the agent says the disk is Provisioned, Resizing while the disk is
 * smaller than spec.size, Attaching until the disk is in its VM's domain, Ready, and Expunging
 * once deleted. A destroyed volume (spec.destroyed, detached) is Destroy: recoverable until
 * expunge.delay has passed since status.destroyedAt, then deleted. A data volume attached to a placed VM later gets a pool the VM's host reaches
 * (the planner's pool function) and the host's labels, so that host's agent makes its disk.
 * The VM controller does both for the volumes a VM declares itself.
 */
import { parseBytes, Volume, type VirtualMachineObject, type VolumeObject } from '../crds/index.ts';
import { PROVISIONING_FAILED } from '../lib/agent-contract.ts';
import { LABEL_HOST } from '../lib/hierarchy-labels.ts';
import type { Condition, ConditionUpdate } from '../lib/conditions.ts';
import type { ReconcileContext, ReconcileResult, Request } from '../lib/controller.ts';
import type { EventInput } from '../lib/events.ts';
import { isConflict, isNotFound, keyOf, objectKey } from '../lib/kube-client.ts';
import type { Manager } from '../lib/manager.ts';
import type { ComputeContext } from './compute-context.ts';
import { INDEX, OPERATOR_FIELD_MANAGER, clientFor, ensureLabels, operatorStatus } from './infra-context.ts';
import { commitFailure, commitStatus } from '../lib/status.ts';
import { metav1Time } from '../lib/time.ts';
import { missingLabels, ownedBy, placementLabels } from './vm-volumes.ts';

const WRITER = operatorStatus({ fields: ['destroyedAt'], conditions: ['Ready'] });

export type VolumeState = 'Allocated' | 'Creating' | 'Ready' | 'Attaching' | 'Resizing' | 'Destroy' | 'Expunging';

export interface VolumeView {
  name: string;
  deleting: boolean;
  /** spec.destroyed (admission keeps it to detached volumes). */
  destroyed: boolean;
  pool: string | undefined;
  /** The agent's conditions. */
  provisioned: Condition | undefined;
  attached: Condition | undefined;
  /** spec.size and status.sizeBytes, in bytes. */
  wantBytes: number | undefined;
  haveBytes: number | undefined;
  /** The VM named by spec.vmRef, if it exists and is not being expunged. */
  vm: { name: string; host: string | undefined } | undefined;
  vmRef: string | undefined;
}

export function deriveVolumeStatus(v: VolumeView): { state: VolumeState; ready: ConditionUpdate } {
  const ready = (ok: boolean, reason: string, message = ''): ConditionUpdate => ({ type: 'Ready', status: ok ? 'True' : 'False', reason, message });
  if (v.deleting) return { state: 'Expunging', ready: ready(false, 'Expunging', 'the disk is deleted once no domain uses it') };
  if (v.destroyed) return { state: 'Destroy', ready: ready(true, 'Destroyed', 'recover it by setting spec.destroyed to false before expunge.delay has passed') };
  if (!v.pool) {
    // CloudStack's Allocated: the volume exists, its disk does not, on no pool yet.
    if (v.vm?.host) return { state: 'Allocated', ready: ready(false, 'Allocating', `no primary storage pool yet: choosing one that host ${v.vm.host} reaches`) };
    if (v.vm) return { state: 'Allocated', ready: ready(true, 'Allocated', `no primary storage pool yet: the disk is created on one when VM ${v.vm.name} is placed`) };
    return { state: 'Allocated', ready: ready(true, 'Allocated', 'no primary storage pool yet: the disk is created on one when the volume is first attached to a VM') };
  }
  if (v.provisioned?.status !== 'True') {
    const why = v.provisioned?.message ? `: ${v.provisioned.message}` : '';
    return { state: 'Creating', ready: ready(false, v.provisioned?.reason ?? 'Creating', `the disk is being created on PrimaryStorage ${v.pool}${why}`) };
  }
  if (v.wantBytes !== undefined && v.haveBytes !== undefined && v.wantBytes > v.haveBytes) {
    return { state: 'Resizing', ready: ready(false, 'Resizing', `growing the disk from ${v.haveBytes} to ${v.wantBytes} bytes`) };
  }
  if (v.vm?.host && v.attached?.status !== 'True') {
    // The agent's plain "not in the domain yet" adds nothing and changes as it learns of the VM: only a reason of its own is told.
    const why = v.attached?.message && v.attached.reason !== 'Detached' ? `: ${v.attached.message}` : '';
    return { state: 'Attaching', ready: ready(false, 'Attaching', `attaching to VM ${v.vm.name} on host ${v.vm.host}${why}`) };
  }
  if (!v.vm && v.attached?.status === 'True') {
    return { state: 'Ready', ready: ready(false, 'Detaching', `detaching from the domain${v.vmRef ? ` of VM ${v.vmRef}` : ''}`) };
  }
  return { state: 'Ready', ready: ready(true, 'Ready') };
}

function condition(volume: VolumeObject, type: string): Condition | undefined {
  return volume.status?.conditions?.find((c) => c.type === type);
}

export function registerVolumeController(manager: Manager, ctx: ComputeContext): void {
  const i = ctx.informers;
  const client = clientFor<VolumeObject>(ctx, Volume);
  /** Whether each volume (by key) was last seen attached, for VOLUME.ATTACH and VOLUME.DETACH; rebuilt silently after a restart. */
  const attachedBefore = new Map<string, boolean>();

  const vmOf = (volume: VolumeObject): VirtualMachineObject | undefined => {
    const ref = volume.spec.vmRef;
    const vm = ref ? i.vms.get(`${volume.metadata.namespace ?? ''}/${ref.name}`) : undefined;
    return vm && vm.metadata.deletionTimestamp === undefined ? vm : undefined;
  };

  /**
   * The pool of a volume attached to a VM. One the VM declares gets its host's labels and then
   * the pool chosen with the VM's placement from the VM controller: labelled without a pool, it
   * is pending (that write brings it back). A data volume attached later to a placed VM gets the
   * VM's host's labels and a pool that host reaches here. Returns what keeps it from a pool, if anything.
   */
  const place = async (volume: VolumeObject, vm: VirtualMachineObject, signal: AbortSignal): Promise<{ pending: true } | { noPool: string } | undefined> => {
    const owned = ownedBy(volume, vm);
    const placement = vm.status?.placement;
    if (placement && !owned && Object.keys(missingLabels(volume, placement)).length > 0) await ensureLabels(client, volume, placementLabels(placement), signal);
    const host = owned ? volume.metadata.labels?.[LABEL_HOST] : placement?.host;
    if (!host || volume.status?.pool) return undefined;
    const decision = ctx.planner.poolForVolume(volume, host);
    if (!decision.scheduled) return { noPool: decision.message };
    if (owned) return { pending: true };
    await ctx.planner.claimVolume(volume, decision, () =>
      client.patchStatus(
        { namespace: volume.metadata.namespace, name: volume.metadata.name ?? '' },
        { metadata: { resourceVersion: volume.metadata.resourceVersion }, status: { pool: decision.pool } },
        { fieldManager: OPERATOR_FIELD_MANAGER, signal },
      ),
    );
    return undefined;
  };

  const reconcile = async (rctx: ReconcileContext, request: Request): Promise<ReconcileResult | void> => {
    const volume = i.volumes.get(request);
    if (!volume) {
      attachedBefore.delete(objectKey(request));
      return;
    }
    // Seen unattached, whatever this pass then does (its pool pending, a conflict): an attach the
    // agent makes before the next pass is still a transition, VOLUME.ATTACH. Seen attached first
    // (after a restart) records nothing here, so no event is made up.
    if (!attachedBefore.has(keyOf(volume)) && condition(volume, 'Attached')?.status !== 'True') attachedBefore.set(keyOf(volume), false);
    try {
      const deleting = volume.metadata.deletionTimestamp !== undefined;
      const now = ctx.now();
      // Destroyed: recoverable until expunge.delay has passed, then deleted (the agent removes the disk).
      const destroyed = volume.spec.destroyed === true && !deleting;
      const destroyedAt = destroyed ? (volume.status?.destroyedAt ?? metav1Time(now)) : undefined;
      let requeueAfter: number | undefined;
      if (destroyedAt !== undefined) {
        const due = Date.parse(destroyedAt) + ctx.settings().number('expunge.delay') * 1000;
        if (due <= now.getTime() && volume.status?.destroyedAt !== undefined) {
          // Against the version read: a volume recovered since is not deleted from a stale cache.
          await client.delete({ namespace: volume.metadata.namespace, name: volume.metadata.name ?? '' }, { preconditions: { uid: volume.metadata.uid, resourceVersion: volume.metadata.resourceVersion }, signal: rctx.signal });
          rctx.log.info('destroyed volume expunged after expunge.delay', { destroyedAt });
          return;
        }
        requeueAfter = Math.max(1000, due - now.getTime());
      }
      const vm = vmOf(volume);
      const pooling = !deleting && vm ? await place(volume, vm, rctx.signal) : undefined;
      // No state before the pool chosen with the VM's placement is written: it would say the volume has none.
      if (pooling && 'pending' in pooling) return;
      const unplaceable = pooling?.noPool;
      const view: VolumeView = {
        name: keyOf(volume),
        deleting,
        destroyed,
        pool: volume.status?.pool,
        provisioned: condition(volume, 'Provisioned'),
        attached: condition(volume, 'Attached'),
        wantBytes: volume.spec.size !== undefined ? parseBytes(volume.spec.size) : undefined,
        haveBytes: volume.status?.sizeBytes,
        vm: vm ? { name: vm.metadata.name ?? '', host: vm.status?.placement?.host } : undefined,
        vmRef: volume.spec.vmRef?.name,
      };
      const verdict = deriveVolumeStatus(view);
      const readyCondition: ConditionUpdate = unplaceable ? { type: 'Ready', status: 'False', reason: 'NoPool', message: unplaceable } : verdict.ready;
      const from = volume.status?.state;
      // Against the version read: a stale cache (a pool or the agent's report since) never writes an old state, nor a first one twice.
      const wrote = await commitStatus(client, volume, WRITER, { state: verdict.state, fields: { destroyedAt }, conditions: [readyCondition] }, rctx.signal, now, true);
      // The operator's events (lib/agent-contract.ts, "Events"); the agent reports the disk's resizes itself.
      const events: EventInput[] = [];
      if (wrote && readyCondition.reason === PROVISIONING_FAILED && condition(volume, 'Ready')?.reason !== PROVISIONING_FAILED) {
        events.push({ type: 'Warning', reason: 'VOLUME.CREATE', note: readyCondition.message });
      }
      if (wrote && from !== verdict.state) {
        if (from === undefined) events.push({ reason: 'VOLUME.CREATE', note: `volume ${verdict.state}` });
        if (verdict.state === 'Expunging') events.push({ reason: 'VOLUME.DELETE', note: 'volume deleted' });
        if (verdict.state === 'Destroy') events.push({ reason: 'VOLUME.DESTROY', note: 'volume destroyed: recoverable until it is expunged' });
        if (from === 'Destroy') events.push({ reason: 'VOLUME.RECOVER', note: `volume recovered, ${verdict.state}` });
      }
      const attached = view.attached?.status === 'True';
      const before = attachedBefore.get(view.name);
      if (before !== undefined && before !== attached) {
        events.push(attached ? { reason: 'VOLUME.ATTACH', note: `attached to VM ${view.vmRef ?? ''}` } : { reason: 'VOLUME.DETACH', note: 'detached' });
      }
      attachedBefore.set(view.name, attached);
      for (const event of events) ctx.events.event(volume, event);
      if (unplaceable) return { requeueAfter: 30_000 };
      return requeueAfter !== undefined ? { requeueAfter } : undefined;
    } catch (err) {
      if (isNotFound(err)) return;
      if (isConflict(err)) return { requeue: true };
      await commitFailure(client, volume, WRITER, err, rctx.signal).catch(() => undefined);
      throw err;
    }
  };

  manager.addController<VolumeObject>({
    name: 'volume',
    for: i.volumes,
    watches: [
      {
        informer: i.vms,
        map: (vm) => i.volumes.byIndex(INDEX.vm, keyOf(vm)).map((v) => ({ namespace: v.metadata.namespace, name: v.metadata.name ?? '' })),
        changed: (a, b) => (a as VirtualMachineObject).status?.placement?.host !== (b as VirtualMachineObject).status?.placement?.host || a.metadata.deletionTimestamp !== b.metadata.deletionTimestamp,
      },
      // expunge.delay may have changed: destroyed volumes recompute when they are due.
      { informer: i.configurations, map: () => i.volumes.list().filter((v) => v.spec.destroyed === true).map((v) => ({ namespace: v.metadata.namespace, name: v.metadata.name ?? '' })) },
    ],
    reconcile,
    maxConcurrentReconciles: 4,
  });
}
