/**
 * Pod: labelled with its zone, counts its clusters and hosts, rolls up their capacity plus its
 * management addresses, is Ready when its zone exists and one of its clusters is Ready, and
 * Allocatable when it is Enabled, Ready and its zone is Allocatable. Held while it has clusters.
 */
import { Pod, type PodObject } from '../crds/index.ts';
import type { Manager } from '../lib/manager.ts';
import { ALLOCATABLE, CAPACITY_ALERT, allocatableCondition, allocationLifecycleEvents, capacityAlert, disabledBlocker, readyFromChildren, thresholdRules } from './allocation.ts';
import { capacityStatus, type CapacityType } from './capacity.ts';
import { hostsOfPod, podRollup } from './hierarchy.ts';
import { CHILDREN_FINALIZER, INDEX, LABEL_ZONE, isTrue, type InfraContext } from './infra-context.ts';
import { everyObject, parentAllocatable, registerKindReconciler, someChildReady, watchNames } from './reconciler.ts';

const POD_CAPACITY_TYPES: CapacityType[] = ['MEMORY', 'CPU', 'CPU_CORE', 'STORAGE', 'STORAGE_ALLOCATED', 'LOCAL_STORAGE', 'PRIVATE_IP'];

export function registerPodController(manager: Manager, ctx: InfraContext): void {
  const i = ctx.informers;
  const podOfCluster = (name: string | undefined) => (name ? i.clusters.get(name)?.spec.podRef.name : undefined);
  const podOfHost = (name: string | undefined) => podOfCluster(name ? i.hosts.get(name)?.spec.clusterRef.name : undefined);

  registerKindReconciler<PodObject>(manager, ctx, {
    name: 'pod',
    kind: Pod,
    informer: i.pods,
    ownership: { fields: ['capacity', 'clusterCount', 'hostCount'], conditions: ['Ready', ALLOCATABLE, CAPACITY_ALERT] },
    labels: (pod) => ({ [LABEL_ZONE]: pod.spec.zoneRef.name }),
    finalizer: CHILDREN_FINALIZER,
    remaining(pod) {
      const name = pod.metadata.name ?? '';
      return [...i.clusters.byIndex(INDEX.pod, name).map((o) => `Cluster ${o.metadata.name}`), ...i.ipRanges.byIndex(INDEX.pod, name).map((o) => `IPRange ${o.metadata.name}`)];
    },
    observe(pod) {
      const name = pod.metadata.name ?? '';
      const zoneName = pod.spec.zoneRef.name;
      const zone = i.zones.get(zoneName);
      const clusters = i.clusters.byIndex(INDEX.pod, name);
      const health = zone
        ? someChildReady('Cluster', clusters, `the pod has no clusters: create a Cluster with spec.podRef.name ${name}`)
        : { ok: false, message: `Zone ${zoneName} does not exist: create it or fix spec.zoneRef.name`, ready: 0 };
      const state = pod.spec.allocationState ?? 'Enabled';
      const zoneAllocatable = parentAllocatable('Zone', zoneName, zone);
      const rollup = podRollup(ctx, pod);
      const alert = capacityAlert(rollup, thresholdRules(ctx.settings(), [['PRIVATE_IP', 'used', 'pod.privateip.capacity.notificationthreshold']]), isTrue(pod, CAPACITY_ALERT));
      const blockers = [
        disabledBlocker('pod', state),
        health.ok ? undefined : { reason: 'NotReady', message: `the pod is not Ready: ${health.message}` },
        zoneAllocatable.ok ? undefined : { reason: 'ZoneNotAllocatable', message: zoneAllocatable.message },
      ].filter((b) => b !== undefined);
      return {
        state,
        fields: { capacity: capacityStatus(rollup, POD_CAPACITY_TYPES), clusterCount: clusters.length, hostCount: hostsOfPod(ctx, name).length },
        conditions: [
          readyFromChildren(health, 'PodReady'),
          allocatableCondition(blockers),
          alert.condition,
        ],
        events: alert.events,
      };
    },
    ...allocationLifecycleEvents('POD'),
    watches: [
      watchNames(i.zones, (z) => i.pods.byIndex(INDEX.zone, z.metadata.name ?? '').map((p) => p.metadata.name)),
      watchNames(i.clusters, (o) => [o.spec.podRef.name]),
      watchNames(i.hosts, (o) => [podOfCluster(o.spec.clusterRef.name)]),
      watchNames(i.primaryStorages, (o) => [podOfCluster(o.spec.clusterRef?.name), podOfHost(o.spec.hostRef?.name)]),
      watchNames(i.ipRanges, (o) => [o.spec.podRef?.name]),
      watchNames(i.ipAddresses, (o) => [o.spec.ipRangeRef ? i.ipRanges.get(o.spec.ipRangeRef.name)?.spec.podRef?.name : undefined]),
      watchNames(i.vms, (o) => [o.status?.placement?.pod, podOfHost(o.status?.placement?.host)]),
      everyObject(i.configurations, i.pods),
    ],
  });
}
