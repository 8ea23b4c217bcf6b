import { Pod, type PodObject } from '../../crds/index.ts';
import { INDEX } from '../lists/indexes.ts';
import { byCreation, equalsIgnoringCase, findOptional, keywordMatches, mustFind } from '../lists/filters.ts';
import type { Fields } from '../protocol/envelope.ts';
import { internalError, invalidParameterValue, missingParameter } from '../protocol/errors.ts';
import { capacityFields } from './capacity.ts';
import { type Command, defineCommand } from './define.ts';
import type { Infra } from './context.ts';
import { failure } from './errors.ts';
import { createNamed, displayName, objectName } from './names.ts';
import { zoneFields, zoneNamed } from './infra-views.ts';

/** Pods: createPod, listPods, updatePod, deletePod (step 4 of the bring-up). */

const ALLOCATION = ['Enabled', 'Disabled'] as const;
const POD_PARAMS = { 'spec.displayName': 'name' };

export function podItem(infra: Infra, pod: PodObject, showCapacities = false): Fields {
  const spec = pod.spec;
  const endIp = spec.endIp ?? spec.startIp;
  return {
    id: pod.metadata.uid,
    name: displayName(pod),
    ...zoneFields(zoneNamed(infra, spec.zoneRef.name)),
    gateway: spec.gateway,
    netmask: spec.netmask,
    startip: [spec.startIp],
    endip: [endIp],
    forsystemvms: ['0'],
    vlanid: ['untagged'],
    ipranges: [{ startip: spec.startIp, endip: endIp, forsystemvms: '0', vlanid: 'untagged' }],
    allocationstate: spec.allocationState ?? 'Enabled',
    hasannotations: false,
    capacity: showCapacities ? capacityFields(infra, { pod }) : undefined,
  };
}

function sameNameInZone(infra: Infra, zone: string, name: string, except?: PodObject): boolean {
  return infra.cache.pods.byIndex(INDEX.zone, zone).some((p) => p !== except && displayName(p) === name);
}

export function podCommands(infra: Infra): Command[] {
  const { cache } = infra;

  const createPod = defineCommand({
    name: 'createPod',
    kind: 'object',
    description: 'Creates a new Pod.',
    params: {
      name: { type: 'string', description: 'the name of the Pod', required: true },
      zoneid: { type: 'uuid', description: 'the Zone ID in which the Pod will be created', required: true, entity: 'zone' },
      gateway: { type: 'string', description: 'the gateway for the Pod' },
      netmask: { type: 'string', description: 'the netmask for the Pod' },
      startip: { type: 'string', description: 'the starting IP address for the Pod' },
      endip: { type: 'string', description: 'the ending IP address for the Pod' },
      allocationstate: { type: 'string', description: 'Allocation state of this Pod for allocation of new resources', oneOf: ALLOCATION },
    },
    async handle(p, ctx) {
      const label = 'createpod';
      await infra.mayRead(ctx, Pod);
      const zone = mustFind(cache.zones, p.zoneid, label, 'zoneid');
      for (const required of ['gateway', 'netmask', 'startip'] as const) {
        if (p[required] === undefined) throw missingParameter(label, required);
      }
      const zoneName = zone.metadata.name ?? '';
      if (sameNameInZone(infra, zoneName, p.name)) {
        throw invalidParameterValue(`A pod with name: ${p.name} already exists in zone ${p.zoneid}. Please specify a different pod name.`);
      }
      return createNamed(infra.resource<PodObject>(ctx, Pod), objectName(p.name), (name) => ({
        apiVersion: Pod.apiVersion,
        kind: Pod.kind,
        metadata: { name },
        spec: {
          zoneRef: { name: zoneName },
          displayName: p.name,
          gateway: p.gateway ?? '',
          netmask: p.netmask ?? '',
          startIp: p.startip ?? '',
          ...(p.endip !== undefined ? { endIp: p.endip } : {}),
          ...(p.allocationstate !== undefined ? { allocationState: p.allocationstate as (typeof ALLOCATION)[number] } : {}),
        },
      })).catch((err: unknown) => failure(err, ctx, { label, params: POD_PARAMS }));
    },
    map: (pod) => podItem(infra, pod),
  });

  const listPods = defineCommand({
    name: 'listPods',
    kind: 'list',
    description: 'Lists all Pods.',
    params: {
      id: { type: 'uuid', description: 'list Pods by ID', entity: 'pod' },
      name: { type: 'string', description: 'list Pods by name' },
      zoneid: { type: 'uuid', description: 'list Pods by Zone ID', entity: 'zone' },
      allocationstate: { type: 'string', description: 'list pods by allocation state' },
      keyword: { type: 'string', description: 'List by keyword' },
      showcapacities: { type: 'boolean', description: 'flag to display the capacity of the pods' },
    },
    async handle(p, ctx) {
      const label = 'listpods';
      await infra.mayRead(ctx, Pod);
      const one = findOptional(cache.pods, p.id, label, 'id');
      const zone = findOptional(cache.zones, p.zoneid, label, 'zoneid');
      const pods = one ? [one] : zone ? cache.pods.byIndex(INDEX.zone, zone.metadata.name ?? '') : cache.pods.list();
      return pods
        .filter(
          (pod) =>
            (zone === undefined || pod.spec.zoneRef.name === zone.metadata.name) &&
            equalsIgnoringCase(p.name, displayName(pod)) &&
            keywordMatches(p.keyword, displayName(pod)) &&
            equalsIgnoringCase(p.allocationstate, pod.spec.allocationState ?? 'Enabled'),
        )
        .sort(byCreation)
        .map((pod) => ({ pod, showCapacities: p.showcapacities ?? false }));
    },
    mapItem: ({ pod, showCapacities }) => podItem(infra, pod, showCapacities),
  });

  const updatePod = defineCommand({
    name: 'updatePod',
    kind: 'object',
    description: 'Updates a Pod.',
    params: {
      id: { type: 'uuid', description: 'the ID of the Pod', required: true, entity: 'pod' },
      name: { type: 'string', description: 'the name of the Pod' },
      gateway: { type: 'string', description: 'the gateway for the Pod' },
      netmask: { type: 'string', description: 'the netmask of the Pod' },
      startip: { type: 'string', description: 'the starting IP address for the Pod' },
      endip: { type: 'string', description: 'the ending IP address for the Pod' },
      allocationstate: { type: 'string', description: 'Allocation state of this cluster for allocation of new resources', oneOf: ALLOCATION },
    },
    async handle(p, ctx) {
      const label = 'updatepod';
      await infra.mayRead(ctx, Pod);
      const pod = mustFind(cache.pods, p.id, label, 'id');
      if (p.name !== undefined && sameNameInZone(infra, pod.spec.zoneRef.name, p.name, pod)) {
        throw invalidParameterValue(`A pod with name: ${p.name} already exists in zone ${zoneNamed(infra, pod.spec.zoneRef.name)?.metadata.uid ?? pod.spec.zoneRef.name}. Please specify a different pod name.`);
      }
      const spec = { displayName: p.name, gateway: p.gateway, netmask: p.netmask, startIp: p.startip, endIp: p.endip, allocationState: p.allocationstate };
      return infra
        .resource<PodObject>(ctx, Pod)
        .patch({ name: pod.metadata.name ?? '' }, { spec }, 'merge')
        .catch((err: unknown) => failure(err, ctx, { label, id: p.id, params: POD_PARAMS }));
    },
    map: (pod) => podItem(infra, pod),
  });

  const deletePod = defineCommand({
    name: 'deletePod',
    kind: 'success',
    description: 'Deletes a Pod.',
    params: { id: { type: 'uuid', description: 'the ID of the Pod', required: true, entity: 'pod' } },
    async handle(p, ctx) {
      const label = 'deletepod';
      await infra.mayRead(ctx, Pod);
      const pod = mustFind(cache.pods, p.id, label, 'id');
      const name = pod.metadata.name ?? '';
      const clusters = cache.clusters.byIndex(INDEX.pod, name);
      const hosts = clusters.flatMap((c) => cache.hosts.byIndex(INDEX.cluster, c.metadata.name ?? ''));
      if (hosts.length > 0) throw internalError('The pod cannot be deleted because there are servers in this pod');
      if (clusters.length > 0) throw internalError('The pod cannot be deleted because there are clusters in this pod');
      if (cache.ipRanges.byIndex(INDEX.pod, name).length > 0) throw internalError('The pod cannot be deleted because there are IP ranges in this pod');
      await infra
        .resource(ctx, Pod)
        .delete({ name }, { preconditions: { uid: p.id } })
        .catch((err: unknown) => failure(err, ctx, { label, id: p.id }));
      return undefined;
    },
  });

  return [createPod, listPods, updatePod, deletePod];
}
