import { Host, type HostObject } from '../../crds/index.ts';
import { clusterOvercommit } from '../../lib/settings.ts';
import { INDEX } from '../lists/indexes.ts';
import { byCreation, equalsIgnoringCase, findOptional, keywordMatches, mustFind } from '../lists/filters.ts';
import type { Fields } from '../protocol/envelope.ts';
import { internalError, invalidParameterValue } from '../protocol/errors.ts';
import { HYPERVISORS, unsupportedHypervisor } from './clusters.ts';
import { type Command, defineCommand } from './define.ts';
import { globalSettings, type Infra } from './context.ts';
import { failure } from './errors.ts';
import { createNamed, displayName, objectName } from './names.ts';
import { ancestryFields, apiDate, canonical, clusterAncestry, commaList } from './infra-views.ts';

/**
 * Hosts: addHost (a Host made ahead of the agent of the node named in `url`, which adopts
 * it), listHosts, updateHost, deleteHost, and maintenance as async jobs (step 7).
 */

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const HOST_PARAMS = { 'spec.clusterRef.name': 'clusterid', 'spec.nodeName': 'url', 'spec.hostTags': 'hosttags' };
const MAINTENANCE_STATES = ['PrepareForMaintenance', 'ErrorInPrepareForMaintenance', 'Maintenance', 'ErrorInMaintenance'];

function percent(part: number, whole: number): string {
  return `${whole > 0 ? ((part / whole) * 100).toFixed(2) : '0.00'}%`;
}

export function hostItem(infra: Infra, host: HostObject): Fields {
  const status = host.status;
  const a = clusterAncestry(infra, host.spec.clusterRef.name);
  const { cpu: cpuRatio, memory: memRatio } = clusterOvercommit(a.cluster, globalSettings(infra));
  const cap = status?.capacity;
  const cpuTotal = cap ? cap.cpuNumber * cap.cpuSpeed : 0;
  const cpuAllocated = status?.allocated?.cpuMhz ?? 0;
  const memTotal = cap?.memoryBytes ?? 0;
  const memAllocated = status?.allocated?.memoryBytes ?? 0;
  return {
    id: host.metadata.uid,
    // CloudStack names a host after its hostname: the node.
    name: host.spec.nodeName,
    type: 'Routing',
    state: status?.state ?? 'Connecting',
    resourcestate: status?.resourceState ?? host.spec.allocationState ?? 'Enabled',
    ipaddress: status?.ipAddress,
    hypervisor: a.cluster?.spec.hypervisor ?? 'KVM',
    hypervisorversion: status?.hypervisorVersion,
    version: status?.agentVersion,
    ...ancestryFields(a),
    clustertype: a.cluster?.spec.clusterType ?? 'CloudManaged',
    arch: status?.arch ?? a.cluster?.spec.arch,
    cpusockets: cap?.cpuSockets,
    cpunumber: cap?.cpuNumber,
    cpuspeed: cap?.cpuSpeed,
    cpuallocated: percent(cpuAllocated, cpuTotal * cpuRatio),
    cpuallocatedvalue: cpuAllocated,
    cpuallocatedpercentage: percent(cpuAllocated, cpuTotal * cpuRatio),
    cpuallocatedwithoverprovisioning: percent(cpuAllocated, cpuTotal * cpuRatio),
    cpuwithoverprovisioning: String(cpuTotal * cpuRatio),
    cpuused: status?.usage ? `${status.usage.cpuUsedPercent.toFixed(2)}%` : undefined,
    cpuloadaverage: status?.usage?.cpuLoadAverage,
    memorytotal: cap ? memTotal : undefined,
    memorywithoverprovisioning: cap ? String(memTotal * memRatio) : undefined,
    memoryallocated: memAllocated,
    memoryallocatedbytes: memAllocated,
    memoryallocatedpercentage: percent(memAllocated, memTotal * memRatio),
    memoryused: status?.usage?.memoryUsedBytes,
    hosttags: commaList(host.spec.hostTags),
    explicithosttags: commaList(host.spec.hostTags),
    ueficapability: status?.uefiCapable,
    lastpinged: apiDate(status?.lastHeartbeat),
    disconnected: apiDate(status?.disconnectedAt),
    created: apiDate(host.metadata.creationTimestamp),
    islocalstorageactive: false,
    hahost: false,
    hasannotations: false,
    istagarule: false,
  };
}

/** The node named by addHost's `url` (`http://node1`, `node1`, `kvm://10.0.0.5/`...). */
function nodeOf(url: string): string | undefined {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? url : `http://${url}`;
  try {
    const host = new URL(withScheme).hostname;
    return host === '' ? undefined : host.replace(/^\[|\]$/g, '');
  } catch {
    return undefined;
  }
}

export function hostCommands(infra: Infra): Command[] {
  const { cache } = infra;
  const hostOf = (job: { spec: { targetRef: { uid?: string; name: string } } }) =>
    job.spec.targetRef.uid !== undefined ? cache.hosts.byUid(job.spec.targetRef.uid) : cache.hosts.byName(job.spec.targetRef.name);
  infra.jobResults.set('prepareHostForMaintenance', (job) => {
    const host = hostOf(job);
    return host && hostItem(infra, host);
  });
  infra.jobResults.set('cancelHostMaintenance', (job) => {
    const host = hostOf(job);
    return host && hostItem(infra, host);
  });

  const addHost = defineCommand({
    name: 'addHost',
    kind: 'list',
    description: 'Adds a new host: a Host object the agent on the node named in url adopts.',
    params: {
      url: { type: 'string', description: 'the host URL: http://<node name or address>; the agent on that node adopts the host', required: true },
      hypervisor: { type: 'string', description: 'hypervisor type of the host', required: true },
      podid: { type: 'uuid', description: 'the Pod ID for the host', required: true, entity: 'pod' },
      zoneid: { type: 'uuid', description: 'the Zone ID for the host', required: true, entity: 'zone' },
      clusterid: { type: 'uuid', description: 'the cluster ID for the host', entity: 'cluster' },
      clustername: { type: 'string', description: 'the cluster name for the host' },
      hosttags: { type: 'list', description: 'list of tags to be added to the host' },
      allocationstate: { type: 'string', description: 'Allocation state of this Host for allocation of new resources', oneOf: ['Enabled', 'Disabled'] },
      username: { type: 'string', description: 'the username for the host; unused: the agent authenticates to Kubernetes' },
      password: { type: 'string', description: 'the password for the host; unused: the agent authenticates to Kubernetes' },
    },
    async handle(p, ctx) {
      const label = 'addhost';
      await infra.mayRead(ctx, Host);
      const zone = mustFind(cache.zones, p.zoneid, label, 'zoneid');
      const pod = mustFind(cache.pods, p.podid, label, 'podid');
      if (pod.spec.zoneRef.name !== zone.metadata.name) throw invalidParameterValue(`Pod ${p.podid} doesn't belong to the zone ${p.zoneid}`);
      const hypervisor = canonical(p.hypervisor, HYPERVISORS);
      if (hypervisor === undefined) throw unsupportedHypervisor(p.hypervisor);
      const node = nodeOf(p.url);
      if (node === undefined) throw invalidParameterValue(`Invalid parameter url value=${p.url}: give the node as http://<node name or address>`);
      let cluster = findOptional(cache.clusters, p.clusterid, label, 'clusterid');
      if (cluster === undefined && p.clustername !== undefined) {
        cluster = cache.clusters.byIndex(INDEX.pod, pod.metadata.name ?? '').find((c) => displayName(c) === p.clustername);
        if (cluster === undefined) throw invalidParameterValue(`Unable to find cluster ${p.clustername} in pod ${p.podid}: add it with addCluster first`);
      }
      if (cluster === undefined) throw invalidParameterValue('Please specify cluster id or cluster name for the host');
      if (cluster.spec.podRef.name !== pod.metadata.name) throw invalidParameterValue(`Cluster ${cluster.metadata.uid ?? ''} doesn't belong to the pod ${p.podid}`);
      if ((cluster.spec.hypervisor ?? 'KVM') !== hypervisor) {
        throw invalidParameterValue(`Hypervisor ${hypervisor} does not match cluster ${displayName(cluster)}'s hypervisor ${cluster.spec.hypervisor ?? 'KVM'}`);
      }
      const clusterName = cluster.metadata.name ?? '';
      // The agent may have created the Host of its node already: adding it to its cluster again is no error.
      const existing = cache.hosts.byIndex(INDEX.node, node)[0];
      if (existing) {
        if (existing.spec.clusterRef.name === clusterName) return [existing];
        throw invalidParameterValue(`Can't add host ${node}: it is already managed as host ${existing.metadata.name ?? ''} in cluster ${existing.spec.clusterRef.name}`);
      }
      // A node name is already a valid object name (and label value) unless longer than 63.
      const base = node.length <= 63 && DNS_SUBDOMAIN.test(node) ? node : objectName(node);
      const host = await createNamed(infra.resource<HostObject>(ctx, Host), base, (name) => ({
        apiVersion: Host.apiVersion,
        kind: Host.kind,
        metadata: { name },
        spec: {
          clusterRef: { name: clusterName },
          nodeName: node,
          url: p.url,
          ...(p.hosttags !== undefined ? { hostTags: p.hosttags } : {}),
          ...(p.allocationstate !== undefined ? { allocationState: p.allocationstate as 'Enabled' | 'Disabled' } : {}),
        },
      })).catch((err: unknown) => failure(err, ctx, { label, params: HOST_PARAMS }));
      return [host];
    },
    mapItem: (host) => hostItem(infra, host),
  });

  const listHosts = defineCommand({
    name: 'listHosts',
    kind: 'list',
    description: 'Lists hosts.',
    params: {
      id: { type: 'uuid', description: 'the id of the host', entity: 'host' },
      name: { type: 'string', description: 'the name of the host' },
      zoneid: { type: 'uuid', description: 'the Zone ID for the host', entity: 'zone' },
      podid: { type: 'uuid', description: 'the Pod ID for the host', entity: 'pod' },
      clusterid: { type: 'uuid', description: 'lists hosts existing in particular cluster', entity: 'cluster' },
      state: { type: 'string', description: 'the state of the host' },
      resourcestate: { type: 'string', description: 'list hosts by resource state. Resource state represents current state determined by admin of host, value can be one of [Enabled, Disabled, Unmanaged, PrepareForMaintenance, ErrorInMaintenance, Maintenance, Error]' },
      type: { type: 'string', description: 'the host type' },
      hypervisor: { type: 'string', description: 'hypervisor type of host: KVM, Simulator, KubeVirt' },
      arch: { type: 'string', description: 'CPU Arch of the host' },
      keyword: { type: 'string', description: 'List by keyword' },
      hahost: { type: 'boolean', description: 'if true, list only hosts dedicated to HA' },
      details: { type: 'list', description: 'comma separated list of host details requested, value can be a list of [ min, all, capacity, events, stats]' },
    },
    async handle(p, ctx) {
      const label = 'listhosts';
      await infra.mayRead(ctx, Host);
      const one = findOptional(cache.hosts, p.id, label, 'id');
      const zone = findOptional(cache.zones, p.zoneid, label, 'zoneid');
      const pod = findOptional(cache.pods, p.podid, label, 'podid');
      const cluster = findOptional(cache.clusters, p.clusterid, label, 'clusterid');
      const hypervisor = canonical(p.hypervisor, HYPERVISORS);
      if (p.hahost === true) return [];
      const hosts = one ? [one] : cluster ? cache.hosts.byIndex(INDEX.cluster, cluster.metadata.name ?? '').sort(byCreation) : cache.hosts.sorted();
      const filtered = [p.name, p.keyword, p.state, p.resourcestate, p.type, p.arch, zone, pod, hypervisor].some((f) => f !== undefined);
      if (!filtered) return hosts;
      // Ancestors are looked up only for the filters that need them: an unfiltered list of thousands stays cheap.
      const byAncestry = zone !== undefined || pod !== undefined || cluster !== undefined || hypervisor !== undefined || p.arch !== undefined;
      return hosts
        .filter((h) => {
          const a = byAncestry ? clusterAncestry(infra, h.spec.clusterRef.name) : {};
          return (
            (cluster === undefined || a.cluster === cluster) &&
            (pod === undefined || a.pod === pod) &&
            (zone === undefined || a.zone === zone) &&
            equalsIgnoringCase(p.name, h.spec.nodeName) &&
            keywordMatches(p.keyword, h.spec.nodeName) &&
            equalsIgnoringCase(p.state, h.status?.state ?? 'Connecting') &&
            equalsIgnoringCase(p.resourcestate, h.status?.resourceState ?? h.spec.allocationState ?? 'Enabled') &&
            equalsIgnoringCase(p.type, 'Routing') &&
            (hypervisor === undefined || hypervisor === (a.cluster?.spec.hypervisor ?? 'KVM')) &&
            equalsIgnoringCase(p.arch, h.status?.arch ?? a.cluster?.spec.arch ?? 'x86_64')
          );
        });
    },
    mapItem: (host) => hostItem(infra, host),
  });

  const updateHost = defineCommand({
    name: 'updateHost',
    kind: 'object',
    description: 'Updates a host.',
    params: {
      id: { type: 'uuid', description: 'the ID of the host to update', required: true, entity: 'host' },
      allocationstate: { type: 'string', description: 'Change resource state of host, valid values are [Enable, Disable]. Operation may failed if host in states not allowing Enable/Disable', oneOf: ['Enable', 'Disable'] },
      hosttags: { type: 'list', description: 'list of tags to be added to the host' },
      name: { type: 'string', description: 'the new name of the host' },
      url: { type: 'string', description: 'the new uri for the secondary storage: nfs://host/path' },
    },
    async handle(p, ctx) {
      const label = 'updatehost';
      await infra.mayRead(ctx, Host);
      const host = mustFind(cache.hosts, p.id, label, 'id');
      if (p.name !== undefined && p.name !== host.spec.nodeName) {
        throw invalidParameterValue(`A host is named after its node (${host.spec.nodeName}) and cannot be renamed`);
      }
      const state = host.status?.resourceState;
      if (p.allocationstate !== undefined && state !== undefined && MAINTENANCE_STATES.includes(state)) {
        throw invalidParameterValue(`Unable to ${p.allocationstate.toLowerCase()} host ${host.metadata.name ?? ''}: it is in resource state ${state}; cancel maintenance first`);
      }
      const spec = {
        allocationState: p.allocationstate === undefined ? undefined : p.allocationstate === 'Enable' ? 'Enabled' : 'Disabled',
        hostTags: p.hosttags,
        url: p.url,
      };
      return infra
        .resource<HostObject>(ctx, Host)
        .patch({ name: host.metadata.name ?? '' }, { spec }, 'merge')
        .catch((err: unknown) => failure(err, ctx, { label, id: p.id, params: HOST_PARAMS }));
    },
    map: (host) => hostItem(infra, host),
  });

  const deleteHost = defineCommand({
    name: 'deleteHost',
    kind: 'success',
    description: 'Deletes a host.',
    params: {
      id: { type: 'uuid', description: 'the host ID', required: true, entity: 'host' },
      forced: { type: 'boolean', description: 'Force delete the host. All HA enabled vms running on the host will be put to HA; HA disabled ones will be stopped' },
      forcedestroylocalstorage: { type: 'boolean', description: 'Force destroy local storage on this host. All VMs created on this local storage will be destroyed' },
    },
    async handle(p, ctx) {
      const label = 'deletehost';
      await infra.mayRead(ctx, Host);
      const host = mustFind(cache.hosts, p.id, label, 'id');
      const state = host.status?.resourceState;
      // A connected host must be drained first; one whose agent is not Up has nothing to drain.
      if (p.forced !== true && state !== 'Maintenance' && host.status?.state === 'Up') {
        throw internalError(`Host ${p.id} cannot be deleted as it is not in maintenance mode. Either put the host into maintenance or perform a forced deletion.`);
      }
      await infra
        .resource(ctx, Host)
        .delete({ name: host.metadata.name ?? '' }, { preconditions: { uid: p.id } })
        .catch((err: unknown) => failure(err, ctx, { label, id: p.id }));
      return undefined;
    },
  });

  const maintenance = (name: 'prepareHostForMaintenance' | 'cancelHostMaintenance', wanted: boolean) =>
    defineCommand({
      name,
      kind: 'async',
      description: wanted ? 'Prepares a host for maintenance.' : 'Cancels host maintenance.',
      params: { id: { type: 'uuid', description: 'the host ID', required: true, entity: 'host' } },
      async handle(p, ctx) {
        const label = name.toLowerCase();
        await infra.mayRead(ctx, Host);
        const host = mustFind(cache.hosts, p.id, label, 'id');
        const state = host.status?.resourceState ?? 'Enabled';
        const inMaintenance = host.spec.maintenance === true || MAINTENANCE_STATES.includes(state);
        if (wanted && inMaintenance) throw invalidParameterValue(`Host ${p.id} is already in ${state === 'Enabled' || state === 'Disabled' ? 'PrepareForMaintenance' : state}; cancel maintenance first`);
        if (!wanted && !inMaintenance) throw invalidParameterValue(`Cannot cancel maintenance: host ${p.id} is not in maintenance (resource state ${state})`);
        const updated = await infra
          .resource<HostObject>(ctx, Host)
          .patch({ name: host.metadata.name ?? '' }, { spec: { maintenance: wanted } }, 'merge')
          .catch((err: unknown) => failure(err, ctx, { label, id: p.id }));
        return { jobid: await infra.submitJob(ctx, { target: updated, kind: Host }) };
      },
    });

  return [addHost, listHosts, updateHost, deleteHost, maintenance('prepareHostForMaintenance', true), maintenance('cancelHostMaintenance', false)];
}
