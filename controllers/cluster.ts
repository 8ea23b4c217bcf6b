/**
 * Cluster: labelled with its zone and pod, counts its hosts, rolls up their CPU and memory
 * (each host's report × the overcommit ratios) and its pools, is Ready when one of its hosts
 * is, and Allocatable when it is Enabled, Ready, its pod is Allocatable and allocated CPU and
 * memory stay below cluster.*.allocated.capacity.disablethreshold. Held while it has hosts.
 */
import { Cluster, type ClusterObject } from '../crds/index.ts';
import type { Manager } from '../lib/manager.ts';
import { ALLOCATABLE, CAPACITY_ALERT, allocatableCondition, allocationLifecycleEvents, capacityAlert, disabledBlocker, readyFromChildren, thresholdRules, type RuleSpec } from './allocation.ts';
import { capacityStatus, thresholdBreaches, type CapacityType } from './capacity.ts';
import { clusterRollup, hostsOfCluster } from './hierarchy.ts';
import { CHILDREN_FINALIZER, INDEX, LABEL_POD, LABEL_ZONE, isTrue, type InfraContext } from './infra-context.ts';
import { everyObject, parentAllocatable, registerKindReconciler, someChildReady, watchNames } from './reconciler.ts';

const CLUSTER_CAPACITY_TYPES: CapacityType[] = ['MEMORY', 'CPU', 'CPU_CORE', 'STORAGE', 'STORAGE_ALLOCATED', 'LOCAL_STORAGE'];
/** Past these the cluster is no placement target. */
const DISABLE_RULES: RuleSpec[] = [
  ['CPU', 'allocated', 'cluster.cpu.allocated.capacity.disablethreshold'],
  ['MEMORY', 'allocated', 'cluster.memory.allocated.capacity.disablethreshold'],
];
/** Past these the cluster raises CapacityAlert. */
const NOTIFICATION_RULES: RuleSpec[] = [
  ['CPU', 'allocated', 'cluster.cpu.allocated.capacity.notificationthreshold'],
  ['MEMORY', 'allocated', 'cluster.memory.allocated.capacity.notificationthreshold'],
  ['STORAGE_ALLOCATED', 'allocated', 'cluster.storage.allocated.capacity.notificationthreshold'],
  ['STORAGE', 'used', 'cluster.storage.capacity.notificationthreshold'],
];

export function registerClusterController(manager: Manager, ctx: InfraContext): void {
  const i = ctx.informers;
  const clusterOfHost = (name: string | undefined) => (name ? i.hosts.get(name)?.spec.clusterRef.name : undefined);

  registerKindReconciler<ClusterObject>(manager, ctx, {
    name: 'cluster',
    kind: Cluster,
    informer: i.clusters,
    ownership: { fields: ['capacity', 'hostCount'], conditions: ['Ready', ALLOCATABLE, CAPACITY_ALERT] },
    labels: (cluster) => ({ [LABEL_ZONE]: i.pods.get(cluster.spec.podRef.name)?.spec.zoneRef.name, [LABEL_POD]: cluster.spec.podRef.name }),
    finalizer: CHILDREN_FINALIZER,
    remaining(cluster) {
      const name = cluster.metadata.name ?? '';
      return [...hostsOfCluster(ctx, name).map((o) => `Host ${o.metadata.name}`), ...i.primaryStorages.byIndex(INDEX.cluster, name).map((o) => `PrimaryStorage ${o.metadata.name}`)];
    },
    observe(cluster) {
      const name = cluster.metadata.name ?? '';
      const podName = cluster.spec.podRef.name;
      const pod = i.pods.get(podName);
      const settings = ctx.settings();
      const hosts = hostsOfCluster(ctx, name);
      const health = pod
        ? someChildReady('Host', hosts, `the cluster has no hosts: start the agent on a node of this cluster or create a Host with spec.clusterRef.name ${name}`)
        : { ok: false, message: `Pod ${podName} does not exist: create it or fix spec.podRef.name`, ready: 0 };
      const state = cluster.spec.allocationState ?? 'Enabled';
      const rollup = clusterRollup(ctx, cluster);
      const full = thresholdBreaches(rollup, thresholdRules(settings, DISABLE_RULES));
      const alert = capacityAlert(rollup, thresholdRules(settings, NOTIFICATION_RULES), isTrue(cluster, CAPACITY_ALERT));
      const podAllocatable = parentAllocatable('Pod', podName, pod);
      const blockers = [
        disabledBlocker('cluster', state),
        health.ok ? undefined : { reason: 'NotReady', message: `the cluster is not Ready: ${health.message}` },
        podAllocatable.ok ? undefined : { reason: 'PodNotAllocatable', message: podAllocatable.message },
        full.length ? { reason: 'CapacityThresholdReached', message: `capacity disable threshold reached: ${full.join('; ')}` } : undefined,
      ].filter((b) => b !== undefined);
      return {
        state,
        fields: { capacity: capacityStatus(rollup, CLUSTER_CAPACITY_TYPES), hostCount: hosts.length },
        conditions: [
          readyFromChildren(health, 'ClusterReady'),
          allocatableCondition(blockers),
          alert.condition,
        ],
        events: alert.events,
      };
    },
    ...allocationLifecycleEvents('CLUSTER'),
    watches: [
      watchNames(i.pods, (p) => i.clusters.byIndex(INDEX.pod, p.metadata.name ?? '').map((c) => c.metadata.name)),
      watchNames(i.hosts, (o) => [o.spec.clusterRef.name]),
      watchNames(i.primaryStorages, (o) => [o.spec.clusterRef?.name, clusterOfHost(o.spec.hostRef?.name)]),
      watchNames(i.vms, (o) => [o.status?.placement?.cluster, clusterOfHost(o.status?.placement?.host)]),
      everyObject(i.configurations, i.clusters),
    ],
  });
}
