/**
 * The deployment planner the VM controller calls: a capacity index fed by the operator's
 * informers, the pure decision over it, and the claim.
 *
 *   const planner = createPlanner(manager, ctx);          // at registration, before start
 *   const result = planner.plan(vm, volumes, { avoidHosts });
 *   if (!result.scheduled) → Scheduled False, reason result.reason, message result.message; retry later
 *   else await planner.claim(vm, result, () => write status.placement = result.placement with
 *        metadata.resourceVersion = vm.metadata.resourceVersion (409: re-plan)),
 *        then label the VM kumulus.io/zone, /pod, /cluster, /host and give each volume its pool.
 *
 * plan() is synchronous and reads only the index, so a plan and the assumption that follows it
 * in claim() cannot interleave with another plan of the same process. Only the leader runs the
 * VM controller, so only it places; a standby's index is warm for a takeover. The agent is the
 * last guard (lib/agent-contract.ts): a host it would overfill refuses the VM, and the VM
 * controller plans again with that host in avoidHosts.
 */
import { AffinityGroup, Template, type AffinityGroupObject, type TemplateObject, type VirtualMachineObject, type VolumeObject } from '../../crds/index.ts';
import type { Informer } from '../../lib/informer.ts';
import { resourceTypeOf, type KubeObject } from '../../lib/kube-client.ts';
import type { Manager } from '../../lib/manager.ts';
import type { InfraContext } from '../infra-context.ts';
import { createCapacityIndex, type CapacityIndex, type FeedKind, type IndexFeed } from './capacity-index.ts';
import { plan, storageChooser, type Decision, type PlanResult, type Unschedulable } from './plan.ts';
import { planRequest, volumeRequest, type PlanOptions, type VolumeLike } from './request.ts';

export type { Decision, PlanResult, Unschedulable } from './plan.ts';
export type { PlanOptions, VolumeLike } from './request.ts';

export interface VolumeDecision {
  scheduled: true;
  pool: string;
  bytes: number;
}

export interface Planner {
  /** Where `vm` and its volumes (ROOT and data, created or about to be) go, or why nowhere. Reads only the index. */
  plan(vm: VirtualMachineObject, volumes: readonly VolumeLike[], options?: PlanOptions): PlanResult;
  /** The pool for a volume of a VM on `host` (a data volume attached later, a ROOT volume whose claim was lost), among the pools that host reaches. */
  poolForVolume(volume: VolumeLike, host: string): VolumeDecision | Unschedulable;
  /**
   * Records a decision: counts it at once (assume), runs `write` (the status write with the
   * resourceVersion read), and when that throws, forgets it and rethrows.
   */
  claim<T>(vm: VirtualMachineObject, decision: Decision, write: () => Promise<T>): Promise<T>;
  /** Records a data volume's pool the same way. */
  claimVolume<T>(volume: VolumeLike, decision: VolumeDecision, write: () => Promise<T>): Promise<T>;
  readonly index: CapacityIndex;
}

export interface PlannerOptions {
  /** Source of randomness for the random host allocator (default Math.random). */
  random?: () => number;
  /** How long an assumed decision counts without the informer confirming it (default 60 s). */
  assumeTtlMs?: number;
}

function feed<K extends FeedKind>(index: CapacityIndex, kind: K, informer: Informer<IndexFeed[K] & KubeObject>): void {
  informer.addHandler({
    onAdd: (obj) => index.upsert(kind, obj),
    onUpdate: (_old, obj) => index.upsert(kind, obj),
    onDelete: (obj) => index.remove(kind, obj),
  });
}

function keyOf(obj: { metadata: { namespace?: string; name?: string } }): string {
  return `${obj.metadata.namespace ?? ''}/${obj.metadata.name ?? ''}`;
}

export function createPlanner(manager: Manager, ctx: InfraContext, options: PlannerOptions = {}): Planner {
  const i = ctx.informers;
  const index = createCapacityIndex({ now: () => ctx.now().getTime(), ...(options.assumeTtlMs !== undefined ? { assumeTtlMs: options.assumeTtlMs } : {}) });
  const random = options.random ?? Math.random;
  feed(index, 'zones', i.zones);
  feed(index, 'pods', i.pods);
  feed(index, 'clusters', i.clusters);
  feed(index, 'hosts', i.hosts);
  feed(index, 'primaryStorages', i.primaryStorages);
  feed(index, 'serviceOfferings', i.serviceOfferings);
  feed(index, 'diskOfferings', i.diskOfferings);
  feed(index, 'configurations', i.configurations);
  feed(index, 'templates', manager.informer<TemplateObject>(resourceTypeOf(Template)));
  feed(index, 'affinityGroups', manager.informer<AffinityGroupObject>(resourceTypeOf(AffinityGroup)));
  feed(index, 'vms', i.vms);
  feed(index, 'volumes', i.volumes);

  const latestVolume = (volume: VolumeLike): VolumeObject | undefined => i.volumes.get({ namespace: volume.metadata.namespace, name: volume.metadata.name ?? '' });

  return {
    index,
    plan(vm, volumes, planOptions) {
      const request = planRequest(index, vm, volumes, planOptions);
      if ('scheduled' in request) return request;
      return plan(index, request, { now: index.now(), random });
    },
    poolForVolume(volume, hostName) {
      const slot = index.host(hostName);
      const cluster = slot?.host ? index.cluster(slot.host.spec.clusterRef.name) : undefined;
      if (!slot || !cluster) return { scheduled: false, reason: 'HostNotFound', message: `Host ${hostName} is not known to the planner` };
      // A ROOT volume's tags and storage type come from its VM's offering.
      const vm = volume.spec.vmRef ? i.vms.get({ namespace: volume.metadata.namespace, name: volume.spec.vmRef.name }) : undefined;
      const request = volumeRequest(index, volume, vm, vm ? index.serviceOffering(vm.spec.serviceOfferingRef.name) : undefined);
      const zone = index.pod(cluster.spec.podRef.name)?.spec.zoneRef.name ?? volume.spec.zoneRef.name;
      const result = storageChooser(index, zone, [request], index.now())(cluster, hostName);
      if ('stage' in result) return { scheduled: false, reason: result.stage, message: `no pool for volume ${request.key} on host ${hostName}: ${result.detail}` };
      return { scheduled: true, pool: result[0]!.pool, bytes: result[0]!.bytes };
    },
    async claim(vm, decision, write) {
      const uid = vm.metadata.uid ?? keyOf(vm);
      index.assumeVm(vm, decision.placement.host, decision.demand);
      for (const v of decision.volumes) index.assumeVolume(v.key, v.pool, v.bytes);
      try {
        const written = await write();
        // Unless the informer confirmed it meanwhile, the assumption's time to live starts again
        // once the write is done, as kube-scheduler's does after binding.
        index.refreshAssumptions(uid, decision.volumes.map((v) => v.key));
        return written;
      } catch (err) {
        index.forgetVm(uid, i.vms.get({ namespace: vm.metadata.namespace, name: vm.metadata.name ?? '' }));
        for (const v of decision.volumes) {
          const [namespace, name] = v.key.split('/');
          index.forgetVolume(v.key, i.volumes.get({ namespace, name: name ?? '' }));
        }
        throw err;
      }
    },
    async claimVolume(volume, decision, write) {
      const key = keyOf(volume);
      index.assumeVolume(key, decision.pool, decision.bytes);
      try {
        const written = await write();
        index.refreshAssumptions(undefined, [key]);
        return written;
      } catch (err) {
        index.forgetVolume(key, latestVolume(volume));
        throw err;
      }
    },
  };
}
