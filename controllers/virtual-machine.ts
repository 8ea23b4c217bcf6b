/**
 * VirtualMachine (operator side). For each VM it allocates the NICs (as CloudStack does at
 * deploy), asks the planner for a host when spec.state is Running and records the decision
 * as a claim (status.placement written with the resourceVersion read: a conflict means
 * re-plan), creates the ROOT and data Volumes on the decision's pools, and labels the VM and
 * its Volumes with the host so that host's agent takes them. It derives status.state and
 * Ready from spec and from what the agent reports (vm-state.ts), expunges a destroyed VM
 * after expunge.delay by deleting it, and, on deletion, releases the NICs once the agent has
 * undefined the domain. Each pass acts, records and returns; watches bring it back.
 */
import { VirtualMachine, Volume, type VirtualMachineObject, type VolumeObject } from '../crds/index.ts';
import { AGENT_FINALIZER } from '../lib/agent-contract.ts';
import { restorePending, rootVolumeName, templateReadiness, VM_FINALIZER } from '../lib/compute.ts';
import type { Condition } from '../lib/conditions.ts';
import { metav1Time } from '../lib/time.ts';
import type { Controller, ReconcileContext, ReconcileResult, Request, WatchSource } from '../lib/controller.ts';
import { isAlreadyExists, isConflict, isNotFound, keyOf, type KubeObject } from '../lib/kube-client.ts';
import type { Manager } from '../lib/manager.ts';
import { hasFinalizer, removeFinalizer } from '../lib/ownership.ts';
import { COMPUTE_INDEX, templateKeyOf, type ComputeContext, type Nic, type Placement } from './compute-context.ts';
import { INDEX, OPERATOR_FIELD_MANAGER, clientFor, operatorStatus } from './infra-context.ts';
import { commitFailure, commitStatus, statusCommittedOver } from '../lib/status.ts';
import { UNSCHEDULABLE } from '../lib/async-job.ts';
import type { Decision } from './planner/planner.ts';
import { deriveVmStatus, expungeDueAt, INSUFFICIENT_CAPACITY, isPoweredOn, sizingEvents, sizingOf, vmStateEvents, type DesiredVmState, type VmView } from './vm-state.ts';
import { desiredVolumes, missingLabels, ownedBy, replacedRoots } from './vm-volumes.ts';

/**
 * The agent's finalizer, for an object the operator hands to a host's agent (its labels): the
 * agent releases what it made there before the object goes. Set with the labels, it saves the
 * agent a write of its own (it adds the finalizer itself when it is missing).
 */
function withAgentFinalizer(obj: KubeObject): { finalizers?: string[] } {
  return hasFinalizer(obj, AGENT_FINALIZER) ? {} : { finalizers: [...(obj.metadata.finalizers ?? []), AGENT_FINALIZER] };
}

const WRITER = operatorStatus({ fields: ['placement', 'nics', 'destroyedAt', 'lastRestoreAt', 'serviceOffering'], conditions: ['Ready', 'Scheduled'] });

type VmStatus = NonNullable<VirtualMachineObject['status']>;

function runningCondition(vm: VirtualMachineObject): Condition | undefined {
  return vm.status?.conditions?.find((c) => c.type === 'Running');
}

/**
 * The host that refused the VM for lack of capacity, if the agent of its current host did:
 * the agent's message starts with `host <name>` (lib/agent-contract.ts), so a refusal left
 * behind by a previous host is not taken for the new one's.
 */
export function refusingHost(vm: VirtualMachineObject): string | undefined {
  const host = vm.status?.placement?.host;
  const running = runningCondition(vm);
  if (!host || running?.status !== 'False' || running.reason !== INSUFFICIENT_CAPACITY) return undefined;
  const prefix = `host ${host}`;
  return running.message.startsWith(prefix) && !/^[-a-z0-9.]/.test(running.message.slice(prefix.length)) ? host : undefined;
}

interface Prerequisites {
  /** What keeps the VM from being placed, if anything. */
  blocker?: { reason: string; message: string };
  /** What the VM waits for that does not keep it from being placed (a template still downloading). */
  waiting?: string;
}

export function registerVirtualMachineController(manager: Manager, ctx: ComputeContext): Controller {
  const i = ctx.informers;
  const c = ctx.compute;
  const vmClient = clientFor<VirtualMachineObject>(ctx, VirtualMachine);
  const volumeClient = clientFor<VolumeObject>(ctx, Volume);
  /** Hosts that refused a VM (by uid) since it was last placed: the planner avoids them. Lost on restart: a host then refuses once more. */
  const refusedBy = new Map<string, Set<string>>();

  const prerequisites = (vm: VirtualMachineObject): Prerequisites => {
    const ns = vm.metadata.namespace ?? '';
    const offering = i.serviceOfferings.get(vm.spec.serviceOfferingRef.name);
    if (!offering) return { blocker: { reason: 'OfferingMissing', message: `ServiceOffering ${vm.spec.serviceOfferingRef.name} does not exist` } };
    const templateKey = templateKeyOf(vm);
    const template = templateKey ? c.templates.get(templateKey) : undefined;
    if (!template) return { blocker: { reason: 'TemplateMissing', message: `Template ${templateKey ?? '(none)'} does not exist` } };
    const readiness = templateReadiness(template, vm.spec.zoneRef.name);
    if (readiness.state === 'failed' || readiness.state === 'absent') return { blocker: { reason: 'TemplateNotUsable', message: readiness.message } };
    if (vm.spec.sshKeyPairRef) {
      const key = c.sshKeyPairs.get(`${ns}/${vm.spec.sshKeyPairRef.name}`);
      if (!key) return { blocker: { reason: 'KeyPairMissing', message: `SSHKeyPair ${ns}/${vm.spec.sshKeyPairRef.name} does not exist` } };
      if (!key.spec.publicKey) return { blocker: { reason: 'KeyPairPending', message: `SSHKeyPair ${ns}/${vm.spec.sshKeyPairRef.name} has no public key yet` } };
    }
    for (const group of vm.spec.affinityGroupRefs ?? []) {
      if (!c.affinityGroups.get(`${ns}/${group.name}`)) return { blocker: { reason: 'AffinityGroupMissing', message: `AffinityGroup ${ns}/${group.name} does not exist` } };
    }
    return readiness.state === 'pending' ? { waiting: readiness.message } : {};
  };

  const offeringOf = (vm: VirtualMachineObject) => i.serviceOfferings.get(vm.spec.serviceOfferingRef.name);

  /** The VM's volumes as the planner should see them: cached ones (with their pools) where they exist. */
  const volumesFor = (vm: VirtualMachineObject): VolumeObject[] =>
    desiredVolumes(vm, undefined, offeringOf(vm)).map((want) => {
      const have = i.volumes.get(keyOf(want));
      return have && ownedBy(have, vm) ? have : want;
    });

  /**
   * Creates the VM's missing volumes (labelled with the placement, if any), labels and puts on
   * a pool those of a placed VM. Returns what is still in the way (a leftover of an earlier VM
   * of the same name), if anything.
   */
  const ensureVolumes = async (vm: VirtualMachineObject, placement: Placement | undefined, pools: Record<string, string>, signal: AbortSignal): Promise<string | undefined> => {
    for (const want of desiredVolumes(vm, placement, offeringOf(vm))) {
      const name = want.metadata.name ?? '';
      let volume = i.volumes.get(keyOf(want));
      if (volume && !ownedBy(volume, vm)) return `Volume ${keyOf(want)} belongs to another VM of the same name and is being deleted; the VM's own is created after it`;
      if (!volume) {
        try {
          volume = await volumeClient.create(want, { fieldManager: OPERATOR_FIELD_MANAGER, signal });
        } catch (err) {
          if (!isAlreadyExists(err)) throw err;
          volume = await volumeClient.get({ namespace: want.metadata.namespace, name }, { signal });
          if (!ownedBy(volume, vm)) return `Volume ${keyOf(want)} belongs to another VM of the same name and is being deleted; the VM's own is created after it`;
        }
      }
      if (!placement) continue;
      const labels = missingLabels(volume, placement);
      if (Object.keys(labels).length > 0) {
        volume = await volumeClient.patch(
          { namespace: volume.metadata.namespace, name },
          { metadata: { resourceVersion: volume.metadata.resourceVersion, labels, ...withAgentFinalizer(volume) } },
          'merge',
          { fieldManager: OPERATOR_FIELD_MANAGER, signal },
        );
      }
      if (volume.status?.pool) continue;
      // The pool is a claim on the storage's capacity, written against the version read, like the VM's placement.
      const key = { namespace: volume.metadata.namespace, name };
      const write = (pool: string) => () => volumeClient.patchStatus(key, { metadata: { resourceVersion: volume.metadata.resourceVersion }, status: { pool } }, { fieldManager: OPERATOR_FIELD_MANAGER, signal });
      const decided = pools[keyOf(volume)];
      if (decided) {
        // Counted by the VM's claim already.
        await write(decided)();
        continue;
      }
      // The decision was made before a crash: the host's pools are chosen again.
      const decision = ctx.planner.poolForVolume(volume, placement.host);
      if (!decision.scheduled) return `Volume ${name}: ${decision.message}`;
      await ctx.planner.claimVolume(volume, decision, write(decision.pool));
    }
    return undefined;
  };

  /** Whether every Volume the VM declares is its own and Provisioned (the agent made its disk). */
  const disksMade = (vm: VirtualMachineObject): boolean =>
    desiredVolumes(vm, undefined, offeringOf(vm)).every((want) => {
      const have = i.volumes.get(keyOf(want));
      return have !== undefined && ownedBy(have, vm) && have.status?.conditions?.some((c) => c.type === 'Provisioned' && c.status === 'True') === true;
    });

  /** A declared Volume whose disk the agent cannot make, as the agent says (its Provisioned condition), if any. */
  const diskProblem = (vm: VirtualMachineObject): string | undefined => {
    for (const want of desiredVolumes(vm, undefined, offeringOf(vm))) {
      const have = i.volumes.get(keyOf(want));
      const provisioned = have && ownedBy(have, vm) ? have.status?.conditions?.find((c) => c.type === 'Provisioned') : undefined;
      if (provisioned?.status === 'False') return `Volume ${want.metadata.name ?? ''} is not Provisioned: ${provisioned.message}`;
    }
    return undefined;
  };

  const isProvisioned = (volume: VolumeObject) => volume.status?.conditions?.some((c) => c.type === 'Provisioned' && c.status === 'True') === true;

  /**
   * A restore (spec.restoreRequestedAt) as it stands: the new ROOT Volume (rootVolumeName) is
   * made like any other; once its disk exists (or, for a VM with no host, once the Volume
   * does: no disk is made before placement), the replaced roots are deleted, and their disks go
   * once the domain lets them go (the agent powers a running domain off and starts it on the new
   * disk). It is done when no replaced root is left and, for a VM that should run on its host,
   * the agent reports the domain running on the new disk.
   */
  const restoreProgress = (vm: VirtualMachineObject, desired: DesiredVmState, placed: boolean, handedOver: boolean): { replaced: VolumeObject[]; newRootReady: boolean; done: boolean } => {
    const root = i.volumes.get({ namespace: vm.metadata.namespace, name: rootVolumeName(vm) });
    const replaced = replacedRoots(vm, i.volumes.byIndex(INDEX.vm, keyOf(vm)));
    const newRootReady = root !== undefined && ownedBy(root, vm) && (!placed || isProvisioned(root));
    const onNewDisk = !handedOver || desired !== 'Running' || (runningCondition(vm)?.status === 'True' && (vm.status?.volumes ?? []).some((v) => v.name === root?.metadata.name));
    return { replaced, newRootReady, done: newRootReady && replaced.length === 0 && onNewDisk };
  };

  const viewOf = (vm: VirtualMachineObject, desired: DesiredVmState, placement: Placement | undefined, extra: Partial<VmView>): VmView => ({
    generation: vm.metadata.generation,
    desired,
    deleting: false,
    placement,
    powerState: vm.status?.powerState,
    running: runningCondition(vm),
    rebootRequestedAt: vm.spec.rebootRequestedAt,
    lastRebootAt: vm.status?.lastRebootAt,
    ...extra,
  });

  const expunge = async (rctx: ReconcileContext, vm: VirtualMachineObject): Promise<ReconcileResult | void> => {
    if (!hasFinalizer(vm, VM_FINALIZER)) return;
    const view = viewOf(vm, 'Destroyed', undefined, {});
    const verdict = deriveVmStatus({ ...view, deleting: true });
    const from = vm.status?.state;
    const fields = { placement: vm.status?.placement, nics: vm.status?.nics, destroyedAt: vm.status?.destroyedAt, serviceOffering: vm.status?.serviceOffering };
    // Against the version read: a stale cache never writes Expunging (and reports VM.EXPUNGE) a second time.
    if (await commitStatus(vmClient, vm, WRITER, { state: verdict.state, fields, conditions: verdict.conditions }, rctx.signal, ctx.now(), true)) {
      for (const event of vmStateEvents(from, verdict.state)) ctx.events.event(vm, event);
    }
    // The agent undefines the domain and then lets go; the addresses are freed only after that.
    if (hasFinalizer(vm, AGENT_FINALIZER)) return;
    await ctx.nics.releaseNics(vm, rctx.signal);
    await removeFinalizer(vmClient, vm, VM_FINALIZER, rctx.signal);
    refusedBy.delete(vm.metadata.uid ?? '');
    rctx.log.info('expunged');
  };

  const reconcile = async (rctx: ReconcileContext, request: Request): Promise<ReconcileResult | void> => {
    const cached = i.vms.get(request);
    if (!cached) return;
    const vm = cached;
    try {
      if (vm.metadata.deletionTimestamp !== undefined) return await expunge(rctx, vm);
      const uid = vm.metadata.uid ?? '';
      const desired: DesiredVmState = vm.spec.state ?? 'Running';
      const now = ctx.now();

      // Destroyed: recoverable until expunge.delay has passed, then expunged by deleting the object.
      const destroyedAt = desired === 'Destroyed' ? (vm.status?.destroyedAt ?? metav1Time(now)) : undefined;
      let requeueAfter: number | undefined;
      if (destroyedAt !== undefined) {
        const due = expungeDueAt(destroyedAt, ctx.settings().number('expunge.delay'));
        if (due <= now.getTime() && !isPoweredOn({ powerState: vm.status?.powerState, running: runningCondition(vm) }) && vm.status?.destroyedAt !== undefined) {
          // Against the version read: a VM recovered since (spec.state changed) is not expunged from a stale cache.
          await vmClient.delete({ namespace: vm.metadata.namespace, name: vm.metadata.name ?? '' }, { preconditions: { uid, resourceVersion: vm.metadata.resourceVersion }, propagationPolicy: 'Background', signal: rctx.signal });
          rctx.log.info('destroyed VM expunged after expunge.delay', { destroyedAt });
          return;
        }
        requeueAfter = Math.max(1000, due - now.getTime());
      }

      const pre = prerequisites(vm);
      let nics: Nic[] | undefined = vm.status?.nics;
      let nicsWaiting: { reason: string; message: string } | undefined;
      if (!pre.blocker) {
        const outcome = await ctx.nics.ensureNics(vm, rctx.signal);
        if (outcome.result === 'ready') nics = outcome.nics.length > 0 ? outcome.nics : undefined;
        // No free address is CloudStack's InsufficientAddressCapacityException: the deploy fails with 533, as when no host fits.
        else if (outcome.result === 'refused' && outcome.insufficientCapacity) nicsWaiting = { reason: UNSCHEDULABLE, message: `${outcome.reason}: ${outcome.message}` };
        else nicsWaiting = { reason: outcome.reason, message: outcome.result === 'refused' ? `${outcome.field}: ${outcome.message}` : outcome.message };
      }

      // Placement: kept once made, re-planned when its host refuses the VM for lack of capacity.
      let placement = vm.status?.placement;
      const refused = refusingHost(vm);
      if (refused) {
        const hosts = refusedBy.get(uid) ?? new Set<string>();
        hosts.add(refused);
        refusedBy.set(uid, hosts);
        placement = undefined;
      }
      let pools: Record<string, string> = {};
      let unscheduled: { reason: string; message: string } | undefined;
      let decision: Decision | undefined;
      if (!placement && desired === 'Running') {
        if (pre.blocker) unscheduled = pre.blocker;
        else if (nicsWaiting !== undefined) unscheduled = nicsWaiting;
        else {
          const result = ctx.planner.plan(vm, volumesFor(vm), { avoidHosts: refusedBy.get(uid) ?? [] });
          // Unschedulable is what the AsyncJob controller fails a deploy with (533); the message starts with the constraint.
          if (!result.scheduled) unscheduled = { reason: UNSCHEDULABLE, message: `${result.reason}: ${result.message}` };
          else {
            decision = result;
            placement = result.placement;
            pools = Object.fromEntries(result.volumes.map((v) => [v.key, v.pool]));
          }
        }
      }

      // Until its host's agent has the VM (its labels), what keeps the disks from being made is the operator's to say.
      const handedOver = placement !== undefined && Object.keys(missingLabels(vm, placement)).length === 0;
      const waiting = pre.blocker?.message ?? nicsWaiting?.message ?? pre.waiting ?? (placement && !handedOver ? diskProblem(vm) : undefined);
      const restore = restorePending(vm) ? restoreProgress(vm, desired, placement !== undefined, handedOver) : undefined;
      const restoring = restore && !restore.done ? { restoring: restore.newRootReady ? 'the replaced root disk is being removed and the VM returned to its state' : `the new root Volume ${rootVolumeName(vm)} is being made` } : {};
      const verdict = deriveVmStatus(viewOf(vm, desired, placement, { ...(unscheduled ? { unscheduled } : {}), ...(waiting !== undefined ? { waiting } : {}), ...restoring }));
      if (verdict.state === 'Running') refusedBy.delete(uid);
      const from = vm.status?.state;
      const lastRestoreAt = restore?.done ? vm.spec.restoreRequestedAt : vm.status?.lastRestoreAt;
      // The size asked is accepted as it is written: a change of it (a scale, allowed while Stopped) is VM.UPGRADE, once.
      const serviceOffering = sizingOf(vm.spec);
      const fields: Partial<VmStatus> = { placement, nics, destroyedAt, lastRestoreAt, serviceOffering };
      // Every write carries the version read: a stale cache can neither drop a placement nor double-book a host.
      const commit = () => commitStatus(vmClient, vm, WRITER, { state: verdict.state, fields, conditions: verdict.conditions }, rctx.signal, now, true);
      const wrote = decision ? await ctx.planner.claim(vm, decision, commit) : await commit();
      if (decision) {
        // A placement again after a refusal is part of the start, whose VM.START the agent of the new host reports.
        rctx.log.info('placed', { host: decision.placement.host, cluster: decision.placement.cluster, strategy: decision.strategy, ...(refused ? { refusedBy: refused } : {}) });
      }
      if (wrote) for (const event of [...vmStateEvents(from, verdict.state), ...sizingEvents(vm.status?.serviceOffering, serviceOffering)]) ctx.events.event(vm, event);
      if (wrote && restore?.done) ctx.events.event(vm, { reason: 'VM.RESTORE', note: `root disk replaced by Volume ${rootVolumeName(vm)} from template ${templateKeyOf(vm) ?? ''}` });

      // Volumes before the VM's labels: its agent then finds their disks made, or in the making.
      const volumesWaiting = await ensureVolumes(vm, placement, pools, rctx.signal);
      if (volumesWaiting !== undefined) {
        rctx.log.info('waiting', { reason: volumesWaiting });
        return { requeueAfter: 10_000 };
      }
      if (restore?.newRootReady) {
        for (const old of restore.replaced.filter((v) => v.metadata.deletionTimestamp === undefined)) {
          await volumeClient.delete({ namespace: old.metadata.namespace, name: old.metadata.name ?? '' }, { preconditions: { uid: old.metadata.uid }, signal: rctx.signal }).catch((err: unknown) => {
            if (!isNotFound(err)) throw err;
          });
          rctx.log.info('replaced root volume deleted', { volume: old.metadata.name });
        }
      }
      // The finalizers and the host's labels in one write, against the version read. After a
      // status write that version is gone: the write's own event brings the next pass, which
      // does it. The labels hand the VM to its host's agent once the disks it declares are made:
      // the agent then defines and starts the domain in one pass and reports once, instead of
      // reporting its wait for each disk (and the operator echoing it). The operator's finalizer
      // is wanted once there is something to release after the agent lets go: addresses, or a
      // host. A VM deleted before either simply goes (its Volumes with it).
      const labels = placement && disksMade(vm) ? missingLabels(vm, placement) : {};
      const handing = Object.keys(labels).length > 0;
      const holds = (vm.status?.nics?.length ?? 0) > 0 || handedOver || handing;
      if (!wrote && !statusCommittedOver(vm) && ((holds && !hasFinalizer(vm, VM_FINALIZER)) || handing)) {
        const wanted = [VM_FINALIZER, ...(handing ? [AGENT_FINALIZER] : [])].filter((f) => !hasFinalizer(vm, f));
        const finalizers = wanted.length > 0 ? { finalizers: [...(vm.metadata.finalizers ?? []), ...wanted] } : {};
        await vmClient.patch(
          { namespace: vm.metadata.namespace, name: vm.metadata.name ?? '' },
          { metadata: { resourceVersion: vm.metadata.resourceVersion, ...finalizers, ...(handing ? { labels } : {}) } },
          'merge',
          { fieldManager: OPERATOR_FIELD_MANAGER, signal: rctx.signal },
        );
      }
      return requeueAfter !== undefined ? { requeueAfter } : undefined;
    } catch (err) {
      if (isNotFound(err)) return;
      // Someone wrote since the cache was read (the agent, another replica): read again and decide again.
      if (isConflict(err)) return { requeue: true };
      await commitFailure(vmClient, vm, WRITER, err, rctx.signal).catch(() => undefined);
      throw err;
    }
  };

  const vmsOf = (index: string, key: string): Request[] => i.vms.byIndex(index, key).map((vm) => ({ namespace: vm.metadata.namespace, name: vm.metadata.name ?? '' }));
  const unscheduled = (): Request[] => vmsOf(COMPUTE_INDEX.unscheduled, 'yes');
  const capacityRelevant = (a: KubeObject, b: KubeObject) => JSON.stringify((a as { status?: unknown }).status) !== JSON.stringify((b as { status?: unknown }).status);
  const watches: WatchSource[] = [
    {
      informer: i.volumes,
      map: (obj) => {
        const volume = obj as VolumeObject;
        return volume.spec.vmRef ? [{ namespace: volume.metadata.namespace, name: volume.spec.vmRef.name }] : [];
      },
    },
    // Capacity appearing (a host joining or freed, a pool growing, something re-enabled) retries the VMs that did not fit.
    { informer: i.hosts, map: unscheduled },
    { informer: i.primaryStorages, map: unscheduled, changed: capacityRelevant },
    { informer: i.clusters, map: unscheduled },
    { informer: i.pods, map: unscheduled },
    { informer: i.zones, map: unscheduled, changed: capacityRelevant },
    {
      informer: i.vms,
      map: unscheduled,
      changed: (a, b) => {
        const [x, y] = [a as VirtualMachineObject, b as VirtualMachineObject];
        return x.status?.placement?.host !== y.status?.placement?.host || x.status?.state !== y.status?.state || x.spec.serviceOfferingRef.name !== y.spec.serviceOfferingRef.name;
      },
    },
    { informer: c.templates, map: (t) => vmsOf(COMPUTE_INDEX.template, keyOf(t)) },
    { informer: c.sshKeyPairs, map: (k) => vmsOf(COMPUTE_INDEX.keyPair, keyOf(k)) },
    { informer: c.affinityGroups, map: (g) => vmsOf(COMPUTE_INDEX.affinityGroup, keyOf(g)) },
    { informer: i.serviceOfferings, map: (o) => vmsOf(INDEX.serviceOffering, o.metadata.name ?? '') },
    { informer: i.networks, map: (n) => vmsOf(INDEX.network, keyOf(n)) },
    ...(ctx.nics.watches ?? []),
    // expunge.delay may have changed: destroyed VMs recompute when they are due.
    { informer: i.configurations, map: () => i.vms.list().filter((vm) => vm.spec.state === 'Destroyed').map((vm) => ({ namespace: vm.metadata.namespace, name: vm.metadata.name ?? '' })) },
  ];

  return manager.addController<VirtualMachineObject>({ name: 'virtualmachine', for: i.vms, watches, reconcile, maxConcurrentReconciles: 4 });
}
