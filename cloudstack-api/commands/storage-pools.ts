import { PrimaryStorage, type PrimaryStorageObject } from '../../crds/index.ts';
import { poolOverprovision } from '../../lib/settings.ts';
import { INDEX } from '../lists/indexes.ts';
import { byCreation, equalsIgnoringCase, findOptional, keywordMatches, mustFind } from '../lists/filters.ts';
import type { Fields } from '../protocol/envelope.ts';
import { internalError, invalidParameterValue } from '../protocol/errors.ts';
import { HYPERVISORS } from './clusters.ts';
import { type Command, defineCommand } from './define.ts';
import { globalSettings, type Infra } from './context.ts';
import { failure } from './errors.ts';
import { createNamed, displayName, objectName } from './names.ts';
import { ancestryFields, apiDate, canonical, clusterAncestry, commaList, zoneNamed } from './infra-views.ts';

/** Primary storage: createStoragePool, listStoragePools, updateStoragePool, deleteStoragePool and maintenance (step 8). */

const POOL_PARAMS = { 'spec.displayName': 'name', 'spec.path': 'url', 'spec.server': 'url', 'spec.clusterRef.name': 'clusterid', 'spec.scope': 'scope' };
type Protocol = PrimaryStorageObject['spec']['protocol'];

/** CloudStack's StoragePoolType names for each protocol. */
const POOL_TYPES: Record<Protocol, string> = { NFS: 'NetworkFilesystem', SharedMountPoint: 'SharedMountPoint', Local: 'Filesystem', RBD: 'RBD' };

export function poolItem(infra: Infra, pool: PrimaryStorageObject): Fields {
  const spec = pool.spec;
  const a = spec.clusterRef ? clusterAncestry(infra, spec.clusterRef.name) : { zone: zoneNamed(infra, spec.zoneRef.name) };
  const factor = poolOverprovision(pool, globalSettings(infra));
  return {
    id: pool.metadata.uid,
    name: displayName(pool),
    ...ancestryFields(a),
    type: POOL_TYPES[spec.protocol],
    scope: (spec.scope ?? 'Cluster').toUpperCase(),
    ipaddress: spec.server ?? 'localhost',
    path: spec.path,
    state: pool.status?.state ?? 'Initialized',
    hypervisor: spec.hypervisor ?? (a.cluster?.spec.hypervisor ?? 'KVM'),
    tags: commaList(spec.tags),
    disksizetotal: pool.status?.capacityBytes ?? spec.capacityBytes ?? 0,
    disksizeallocated: pool.status?.allocatedBytes ?? 0,
    disksizeused: pool.status?.usedBytes ?? 0,
    capacitybytes: spec.capacityBytes,
    capacityiops: spec.capacityIops,
    usediops: pool.status?.usedIops,
    overprovisionfactor: Number.isInteger(factor) ? String(factor) : String(factor),
    nfsmountopts: spec.nfsMountOptions,
    provider: 'DefaultPrimary',
    created: apiDate(pool.metadata.creationTimestamp),
    istagarule: false,
    managed: false,
    hasannotations: false,
  };
}

interface Location {
  protocol: Protocol;
  server?: string;
  path: string;
}

/** createStoragePool's url: nfs://server/export, SharedMountPoint:///path, rbd://monitor/pool, file:///path. */
function locationOf(url: string): Location | undefined {
  const match = /^([a-z][a-z0-9+.-]*):\/\/([^/]*)(\/.*)?$/i.exec(url);
  if (!match) return undefined;
  const [, scheme = '', host = '', path = ''] = match;
  switch (scheme.toLowerCase()) {
    case 'nfs':
      return host && path.length > 1 ? { protocol: 'NFS', server: host, path } : undefined;
    case 'sharedmountpoint':
      return path.length > 1 ? { protocol: 'SharedMountPoint', path } : undefined;
    case 'rbd':
      return host && path.length > 1 ? { protocol: 'RBD', server: host, path: path.slice(1) } : undefined;
    case 'file':
      return path.length > 1 ? { protocol: 'Local', path } : undefined;
    default:
      return undefined;
  }
}

export function storagePoolCommands(infra: Infra): Command[] {
  const { cache } = infra;
  const poolOf = (job: { spec: { targetRef: { uid?: string; name: string } } }) =>
    job.spec.targetRef.uid !== undefined ? cache.primaryStorages.byUid(job.spec.targetRef.uid) : cache.primaryStorages.byName(job.spec.targetRef.name);
  for (const command of ['enableStorageMaintenance', 'cancelStorageMaintenance']) {
    infra.jobResults.set(command, (job) => {
      const pool = poolOf(job);
      return pool && poolItem(infra, pool);
    });
  }

  const createStoragePool = defineCommand({
    name: 'createStoragePool',
    kind: 'object',
    description: 'Creates a storage pool.',
    params: {
      name: { type: 'string', description: 'the name for the storage pool', required: true },
      url: { type: 'string', description: 'the URL of the storage pool: nfs://server/export, SharedMountPoint:///path or rbd://monitor/pool', required: true, length: 2048 },
      zoneid: { type: 'uuid', description: 'the Zone ID for the storage pool', required: true, entity: 'zone' },
      podid: { type: 'uuid', description: 'the Pod ID for the storage pool', entity: 'pod' },
      clusterid: { type: 'uuid', description: 'the cluster ID for the storage pool', entity: 'cluster' },
      scope: { type: 'string', description: 'the scope of the storage: cluster or zone' },
      hypervisor: { type: 'string', description: 'hypervisor type of the hosts in zone that will be attached to this storage pool. KVM, Simulator supported as of now.' },
      tags: { type: 'string', description: 'the tags for the storage pool' },
      capacitybytes: { type: 'long', description: 'bytes CloudStack can provision from this storage pool' },
      capacityiops: { type: 'long', description: 'IOPS CloudStack can provision from this storage pool' },
      provider: { type: 'string', description: 'the storage provider name' },
      managed: { type: 'boolean', description: 'whether the storage should be managed by CloudStack' },
      details: { type: 'map', description: 'the details for the storage pool' },
    },
    async handle(p, ctx) {
      const label = 'createstoragepool';
      await infra.mayRead(ctx, PrimaryStorage);
      const zone = mustFind(cache.zones, p.zoneid, label, 'zoneid');
      const pod = findOptional(cache.pods, p.podid, label, 'podid');
      const cluster = findOptional(cache.clusters, p.clusterid, label, 'clusterid');
      const location = locationOf(p.url);
      if (!location || location.protocol === 'Local') {
        throw invalidParameterValue(`Invalid parameter url value=${p.url}: give nfs://server/export, SharedMountPoint:///path or rbd://monitor/pool (local pools are added by the agent of their host)`);
      }
      const scope = p.scope === undefined ? (cluster ? 'Cluster' : 'Zone') : canonical(p.scope, ['Cluster', 'Zone'] as const);
      if (scope === undefined) throw invalidParameterValue(`Invalid parameter scope value=${p.scope}: use cluster or zone`);
      if (scope === 'Cluster' && cluster === undefined) throw invalidParameterValue('Cluster id requires pod id: give clusterid (and podid) for a cluster-wide pool, or scope=zone');
      if (cluster && pod && cluster.spec.podRef.name !== pod.metadata.name) throw invalidParameterValue(`Cluster ${p.clusterid ?? ''} doesn't belong to the pod ${p.podid ?? ''}`);
      const hypervisor = p.hypervisor === undefined ? undefined : canonical(p.hypervisor, HYPERVISORS);
      if (p.hypervisor !== undefined && hypervisor === undefined) throw invalidParameterValue(`Unable to resolve ${p.hypervisor} to a supported hypervisor type; use one of: ${HYPERVISORS.join(', ')}`);
      if (p.managed === true) throw invalidParameterValue('managed storage is not supported: leave managed unset or false');
      const tags = p.tags?.split(',').map((t) => t.trim()).filter((t) => t !== '');
      return createNamed(infra.resource<PrimaryStorageObject>(ctx, PrimaryStorage), objectName(p.name), (name) => ({
        apiVersion: PrimaryStorage.apiVersion,
        kind: PrimaryStorage.kind,
        metadata: { name },
        spec: {
          displayName: p.name,
          zoneRef: { name: zone.metadata.name ?? '' },
          scope,
          ...(scope === 'Cluster' && cluster ? { clusterRef: { name: cluster.metadata.name ?? '' } } : {}),
          protocol: location.protocol,
          ...(location.server !== undefined ? { server: location.server } : {}),
          path: location.path,
          ...(scope === 'Zone' && hypervisor !== undefined ? { hypervisor } : {}),
          ...(tags?.length ? { tags } : {}),
          ...(p.capacitybytes !== undefined ? { capacityBytes: p.capacitybytes } : {}),
          ...(p.capacityiops !== undefined ? { capacityIops: p.capacityiops } : {}),
        },
      })).catch((err: unknown) => failure(err, ctx, { label, params: POOL_PARAMS }));
    },
    map: (pool) => poolItem(infra, pool),
  });

  const listStoragePools = defineCommand({
    name: 'listStoragePools',
    kind: 'list',
    description: 'Lists storage pools.',
    params: {
      id: { type: 'uuid', description: 'the ID of the storage pool', entity: 'storagepool' },
      name: { type: 'string', description: 'the name of the storage pool' },
      zoneid: { type: 'uuid', description: 'the Zone ID for the storage pool', entity: 'zone' },
      podid: { type: 'uuid', description: 'the Pod ID for the storage pool', entity: 'pod' },
      clusterid: { type: 'uuid', description: 'list storage pools belongig to the specific cluster', entity: 'cluster' },
      ipaddress: { type: 'string', description: 'the IP address for the storage pool' },
      path: { type: 'string', description: 'the storage pool path' },
      scope: { type: 'string', description: 'the scope of the storage pool' },
      status: { type: 'string', description: 'the status of the storage pool' },
      keyword: { type: 'string', description: 'List by keyword' },
    },
    async handle(p, ctx) {
      const label = 'liststoragepools';
      await infra.mayRead(ctx, PrimaryStorage);
      const one = findOptional(cache.primaryStorages, p.id, label, 'id');
      const zone = findOptional(cache.zones, p.zoneid, label, 'zoneid');
      const pod = findOptional(cache.pods, p.podid, label, 'podid');
      const cluster = findOptional(cache.clusters, p.clusterid, label, 'clusterid');
      const pools = one ? [one] : zone ? cache.primaryStorages.byIndex(INDEX.zone, zone.metadata.name ?? '') : cache.primaryStorages.list();
      return pools
        .filter((pool) => {
          const a = pool.spec.clusterRef ? clusterAncestry(infra, pool.spec.clusterRef.name) : {};
          return (
            (zone === undefined || pool.spec.zoneRef.name === zone.metadata.name) &&
            (pod === undefined || a.pod === pod) &&
            (cluster === undefined || a.cluster === cluster) &&
            equalsIgnoringCase(p.name, displayName(pool)) &&
            keywordMatches(p.keyword, displayName(pool)) &&
            equalsIgnoringCase(p.ipaddress, pool.spec.server ?? 'localhost') &&
            (p.path === undefined || p.path === pool.spec.path) &&
            equalsIgnoringCase(p.scope, pool.spec.scope ?? 'Cluster') &&
            equalsIgnoringCase(p.status, pool.status?.state ?? 'Initialized')
          );
        })
        .sort(byCreation);
    },
    mapItem: (pool) => poolItem(infra, pool),
  });

  const updateStoragePool = defineCommand({
    name: 'updateStoragePool',
    kind: 'object',
    description: 'Updates a storage pool.',
    params: {
      id: { type: 'uuid', description: 'the Id of the storage pool', required: true, entity: 'storagepool' },
      name: { type: 'string', description: 'Change the name of the storage pool' },
      tags: { type: 'list', description: 'comma-separated list of tags for the storage pool' },
      capacitybytes: { type: 'long', description: 'bytes CloudStack can provision from this storage pool' },
      capacityiops: { type: 'long', description: 'IOPS CloudStack can provision from this storage pool' },
      enabled: { type: 'boolean', description: 'false to disable the pool for allocation of new volumes, true to enable it back.' },
    },
    async handle(p, ctx) {
      const label = 'updatestoragepool';
      await infra.mayRead(ctx, PrimaryStorage);
      const pool = mustFind(cache.primaryStorages, p.id, label, 'id');
      if (p.enabled !== undefined) throw invalidParameterValue('enabled is not supported: use enableStorageMaintenance and cancelStorageMaintenance to take a pool out of allocation');
      const spec = { displayName: p.name, tags: p.tags, capacityBytes: p.capacitybytes, capacityIops: p.capacityiops };
      return infra
        .resource<PrimaryStorageObject>(ctx, PrimaryStorage)
        .patch({ name: pool.metadata.name ?? '' }, { spec }, 'merge')
        .catch((err: unknown) => failure(err, ctx, { label, id: p.id, params: POOL_PARAMS }));
    },
    map: (pool) => poolItem(infra, pool),
  });

  const deleteStoragePool = defineCommand({
    name: 'deleteStoragePool',
    kind: 'success',
    description: 'Deletes a storage pool.',
    params: {
      id: { type: 'uuid', description: 'Storage pool id', required: true, entity: 'storagepool' },
      forced: { type: 'boolean', description: 'Force destroy storage pool (force expunge volumes in Destroyed state as a part of pool removal)' },
    },
    async handle(p, ctx) {
      const label = 'deletestoragepool';
      await infra.mayRead(ctx, PrimaryStorage);
      const pool = mustFind(cache.primaryStorages, p.id, label, 'id');
      const state = pool.status?.state;
      if (p.forced !== true && state !== undefined && state !== 'Maintenance' && state !== 'Initialized' && state !== 'Down' && state !== 'Disabled') {
        throw internalError(`Unable to delete storage pool ${p.id}: it is ${state}; put it in maintenance first (enableStorageMaintenance) or use forced=true`);
      }
      await infra
        .resource(ctx, PrimaryStorage)
        .delete({ name: pool.metadata.name ?? '' }, { preconditions: { uid: p.id } })
        .catch((err: unknown) => failure(err, ctx, { label, id: p.id }));
      return undefined;
    },
  });

  const maintenance = (name: 'enableStorageMaintenance' | 'cancelStorageMaintenance', wanted: boolean) =>
    defineCommand({
      name,
      kind: 'async',
      description: wanted ? 'Puts storage pool into maintenance state' : 'Cancels maintenance for primary storage',
      params: { id: { type: 'uuid', description: 'Primary storage ID', required: true, entity: 'storagepool' } },
      async handle(p, ctx) {
        const label = wanted ? 'prepareprimarystorageformaintenance' : 'cancelprimarystoragemaintenance';
        await infra.mayRead(ctx, PrimaryStorage);
        const pool = mustFind(cache.primaryStorages, p.id, label, 'id');
        const state = pool.status?.state ?? 'Initialized';
        const inMaintenance = pool.spec.maintenance === true;
        if (wanted && inMaintenance) throw invalidParameterValue(`Primary storage ${p.id} is already in ${state === 'Up' ? 'PrepareForMaintenance' : state}`);
        if (!wanted && !inMaintenance) throw invalidParameterValue(`Primary storage with id ${p.id} is not ready to complete cancel maintenance: it is ${state}, not in maintenance`);
        const updated = await infra
          .resource<PrimaryStorageObject>(ctx, PrimaryStorage)
          .patch({ name: pool.metadata.name ?? '' }, { spec: { maintenance: wanted } }, 'merge')
          .catch((err: unknown) => failure(err, ctx, { label, id: p.id }));
        // CloudStack's maintenance job ends with the pool in Maintenance; the controller passes PrepareForMaintenance first.
        return { jobid: await infra.submitJob(ctx, { target: updated, kind: PrimaryStorage, ...(wanted ? { state: 'Maintenance' } : {}) }) };
      },
    });

  return [createStoragePool, listStoragePools, updateStoragePool, deleteStoragePool, maintenance('enableStorageMaintenance', true), maintenance('cancelStorageMaintenance', false)];
}
