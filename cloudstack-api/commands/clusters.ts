import { Cluster, type ClusterObject } from '../../crds/index.ts';
import { clusterOvercommit } from '../../lib/settings.ts';
import { INDEX } from '../lists/indexes.ts';
import { byCreation, equalsIgnoringCase, findOptional, keywordMatches, mustFind } from '../lists/filters.ts';
import type { Fields } from '../protocol/envelope.ts';
import { internalError, invalidParameterValue } from '../protocol/errors.ts';
import { capacityFields } from './capacity.ts';
import { type Command, defineCommand } from './define.ts';
import { globalSettings, type Infra } from './context.ts';
import { failure } from './errors.ts';
import { createNamed, displayName, objectName } from './names.ts';
import { ancestryFields, canonical, podAncestry } from './infra-views.ts';

/** Clusters: addCluster, listClusters, updateCluster, deleteCluster (step 6 of the bring-up). */

const ALLOCATION = ['Enabled', 'Disabled'] as const;
export const HYPERVISORS = ['KVM', 'KubeVirt', 'Simulator'] as const;
const CLUSTER_TYPES = ['CloudManaged', 'ExternalManaged'] as const;
const ARCHITECTURES = ['x86_64', 'aarch64'] as const;
const CLUSTER_PARAMS = { 'spec.displayName': 'clustername', 'spec.hypervisor': 'hypervisor', 'spec.clusterType': 'clustertype' };

/** Java's Float.toString for a ratio: 1 → "1.0", 1.5 → "1.5". */
function ratio(value: number): string {
  return Number.isInteger(value) ? value.toFixed(1) : String(value);
}

export function unsupportedHypervisor(value: string): Error {
  return invalidParameterValue(`Unable to resolve ${value} to a supported hypervisor type; use one of: ${HYPERVISORS.join(', ')}`);
}

export function clusterItem(infra: Infra, cluster: ClusterObject, showCapacities = false): Fields {
  const spec = cluster.spec;
  const overcommit = clusterOvercommit(cluster, globalSettings(infra));
  return {
    id: cluster.metadata.uid,
    name: displayName(cluster),
    ...ancestryFields(podAncestry(infra, spec.podRef.name)),
    hypervisortype: spec.hypervisor ?? 'KVM',
    clustertype: spec.clusterType ?? 'CloudManaged',
    allocationstate: spec.allocationState ?? 'Enabled',
    managedstate: 'Managed',
    cpuovercommitratio: ratio(overcommit.cpu),
    memoryovercommitratio: ratio(overcommit.memory),
    arch: spec.arch ?? 'x86_64',
    hasannotations: false,
    capacity: showCapacities ? capacityFields(infra, { cluster }) : undefined,
  };
}

export function clusterCommands(infra: Infra): Command[] {
  const { cache } = infra;

  const addCluster = defineCommand({
    name: 'addCluster',
    kind: 'list',
    description: 'Adds a new cluster',
    params: {
      clustername: { type: 'string', description: 'the cluster name', required: true },
      clustertype: { type: 'string', description: 'type of the cluster: CloudManaged, ExternalManaged', required: true, oneOf: CLUSTER_TYPES },
      hypervisor: { type: 'string', description: 'hypervisor type of the cluster: KVM, Simulator, KubeVirt', required: true },
      podid: { type: 'uuid', description: 'the Pod ID for the host', required: true, entity: 'pod' },
      zoneid: { type: 'uuid', description: 'the Zone ID for the cluster', required: true, entity: 'zone' },
      allocationstate: { type: 'string', description: 'Allocation state of this cluster for allocation of new resources', oneOf: ALLOCATION },
      arch: { type: 'string', description: 'the CPU arch of the cluster. Valid options are: x86_64, aarch64', oneOf: ARCHITECTURES },
    },
    async handle(p, ctx) {
      const label = 'addcluster';
      await infra.mayRead(ctx, Cluster);
      const zone = mustFind(cache.zones, p.zoneid, label, 'zoneid');
      const pod = mustFind(cache.pods, p.podid, label, 'podid');
      if (pod.spec.zoneRef.name !== zone.metadata.name) throw invalidParameterValue(`Pod ${p.podid} doesn't belong to the zone ${p.zoneid}`);
      const hypervisor = canonical(p.hypervisor, HYPERVISORS);
      if (hypervisor === undefined) throw unsupportedHypervisor(p.hypervisor);
      const podName = pod.metadata.name ?? '';
      if (cache.clusters.byIndex(INDEX.pod, podName).some((c) => displayName(c) === p.clustername)) {
        throw invalidParameterValue(`Cluster with name ${p.clustername} already exists in pod ${p.podid}`);
      }
      const cluster = await createNamed(infra.resource<ClusterObject>(ctx, Cluster), objectName(p.clustername), (name) => ({
        apiVersion: Cluster.apiVersion,
        kind: Cluster.kind,
        metadata: { name },
        spec: {
          podRef: { name: podName },
          displayName: p.clustername,
          hypervisor,
          clusterType: p.clustertype as (typeof CLUSTER_TYPES)[number],
          ...(p.allocationstate !== undefined ? { allocationState: p.allocationstate as (typeof ALLOCATION)[number] } : {}),
          ...(p.arch !== undefined ? { arch: p.arch as (typeof ARCHITECTURES)[number] } : {}),
        },
      })).catch((err: unknown) => failure(err, ctx, { label, params: CLUSTER_PARAMS }));
      return [cluster];
    },
    mapItem: (cluster) => clusterItem(infra, cluster),
  });

  const listClusters = defineCommand({
    name: 'listClusters',
    kind: 'list',
    description: 'Lists clusters.',
    params: {
      id: { type: 'uuid', description: 'lists clusters by the cluster ID', entity: 'cluster' },
      name: { type: 'string', description: 'lists clusters by the cluster name' },
      zoneid: { type: 'uuid', description: 'lists clusters by Zone ID', entity: 'zone' },
      podid: { type: 'uuid', description: 'lists clusters by Pod ID', entity: 'pod' },
      hypervisor: { type: 'string', description: 'lists clusters by hypervisor type' },
      clustertype: { type: 'string', description: 'lists clusters by cluster type' },
      allocationstate: { type: 'string', description: 'lists clusters by allocation state' },
      managedstate: { type: 'string', description: 'whether this cluster is managed by cloudstack' },
      arch: { type: 'string', description: 'CPU arch of the clusters' },
      keyword: { type: 'string', description: 'List by keyword' },
      showcapacities: { type: 'boolean', description: 'flag to display the capacity of the clusters' },
    },
    async handle(p, ctx) {
      const label = 'listclusters';
      await infra.mayRead(ctx, Cluster);
      const one = findOptional(cache.clusters, p.id, label, 'id');
      const zone = findOptional(cache.zones, p.zoneid, label, 'zoneid');
      const pod = findOptional(cache.pods, p.podid, label, 'podid');
      const clusters = one ? [one] : pod ? cache.clusters.byIndex(INDEX.pod, pod.metadata.name ?? '') : cache.clusters.list();
      return clusters
        .filter((c) => {
          const a = podAncestry(infra, c.spec.podRef.name);
          return (
            (zone === undefined || a.zone === zone) &&
            (pod === undefined || a.pod === pod) &&
            equalsIgnoringCase(p.name, displayName(c)) &&
            keywordMatches(p.keyword, displayName(c)) &&
            // An unknown hypervisor is ignored, as CloudStack does (§7).
            (canonical(p.hypervisor, HYPERVISORS) === undefined || canonical(p.hypervisor, HYPERVISORS) === (c.spec.hypervisor ?? 'KVM')) &&
            equalsIgnoringCase(p.clustertype, c.spec.clusterType ?? 'CloudManaged') &&
            equalsIgnoringCase(p.allocationstate, c.spec.allocationState ?? 'Enabled') &&
            equalsIgnoringCase(p.managedstate, 'Managed') &&
            equalsIgnoringCase(p.arch, c.spec.arch ?? 'x86_64')
          );
        })
        .sort(byCreation)
        .map((cluster) => ({ cluster, showCapacities: p.showcapacities ?? false }));
    },
    mapItem: ({ cluster, showCapacities }) => clusterItem(infra, cluster, showCapacities),
  });

  const updateCluster = defineCommand({
    name: 'updateCluster',
    kind: 'object',
    description: 'Updates an existing cluster',
    params: {
      id: { type: 'uuid', description: 'the ID of the Cluster', required: true, entity: 'cluster' },
      clustername: { type: 'string', description: 'the cluster name' },
      allocationstate: { type: 'string', description: 'Allocation state of this cluster for allocation of new resources', oneOf: ALLOCATION },
      clustertype: { type: 'string', description: 'hypervisor type of the cluster', oneOf: CLUSTER_TYPES },
      hypervisor: { type: 'string', description: 'hypervisor type of the cluster' },
      managedstate: { type: 'string', description: 'whether this cluster is managed by cloudstack' },
      arch: { type: 'string', description: 'the CPU arch of the cluster. Valid options are: x86_64, aarch64', oneOf: ARCHITECTURES },
    },
    async handle(p, ctx) {
      const label = 'updatecluster';
      await infra.mayRead(ctx, Cluster);
      const cluster = mustFind(cache.clusters, p.id, label, 'id');
      if (p.hypervisor !== undefined && canonical(p.hypervisor, HYPERVISORS) !== (cluster.spec.hypervisor ?? 'KVM')) {
        throw invalidParameterValue(`hypervisor cannot be changed: cluster ${displayName(cluster)} runs ${cluster.spec.hypervisor ?? 'KVM'}; add a new cluster for another hypervisor`);
      }
      if (p.managedstate !== undefined && p.managedstate !== 'Managed') {
        throw invalidParameterValue(`Invalid value ${p.managedstate} for parameter managedstate; Kumulus clusters are always Managed`);
      }
      const spec = { displayName: p.clustername, allocationState: p.allocationstate, clusterType: p.clustertype, arch: p.arch };
      return infra
        .resource<ClusterObject>(ctx, Cluster)
        .patch({ name: cluster.metadata.name ?? '' }, { spec }, 'merge')
        .catch((err: unknown) => failure(err, ctx, { label, id: p.id, params: CLUSTER_PARAMS }));
    },
    map: (cluster) => clusterItem(infra, cluster),
  });

  const deleteCluster = defineCommand({
    name: 'deleteCluster',
    kind: 'success',
    description: 'Deletes a cluster.',
    params: { id: { type: 'uuid', description: 'the cluster ID', required: true, entity: 'cluster' } },
    async handle(p, ctx) {
      const label = 'deletecluster';
      await infra.mayRead(ctx, Cluster);
      const cluster = mustFind(cache.clusters, p.id, label, 'id');
      const name = cluster.metadata.name ?? '';
      if (cache.hosts.byIndex(INDEX.cluster, name).length > 0) throw internalError(`Cluster: ${p.id} cannot be deleted. Cluster still has hosts`);
      if (cache.primaryStorages.byIndex(INDEX.cluster, name).length > 0) throw internalError(`Cluster: ${p.id} cannot be deleted. Cluster still has storage pools`);
      await infra
        .resource(ctx, Cluster)
        .delete({ name }, { preconditions: { uid: p.id } })
        .catch((err: unknown) => failure(err, ctx, { label, id: p.id }));
      return undefined;
    },
  });

  return [addCluster, listClusters, updateCluster, deleteCluster];
}
