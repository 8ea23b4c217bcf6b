import { parseBytes, Volume, VirtualMachine, type VirtualMachineObject, type VolumeObject } from '../../crds/index.ts';
import { resourceTypeOf } from '../../lib/kube-client.ts';
import { byCreation, equalsIgnoringCase, findOptional, inIds, keywordMatches, mustFind } from '../lists/filters.ts';
import { INDEX } from '../lists/indexes.ts';
import { inScope, SCOPE_PARAMS, scopedNamespaces } from '../lists/scope.ts';
import type { Fields } from '../protocol/envelope.ts';
import { entityNotFound, invalidParameterValue, permissionDenied } from '../protocol/errors.ts';
import { ownerNamespace, READY, visibleById } from './compute-support.ts';
import { allowedToCaller } from './vm-support.ts';
import { hasTags, ownerFields, tagFields } from './compute-views.ts';
import type { Infra } from './context.ts';
import { type Command, type CommandContext, defineCommand } from './define.ts';
import { failure } from './errors.ts';
import { apiDate } from './infra-views.ts';
import type { JobResultMapper } from './job-support.ts';
import { displayName } from './names.ts';

/**
 * Volumes (PROTOCOL.md §11, volumes): Volume objects in the account's namespace. Attaching and
 * detaching set spec.vmRef; the operator places and the agent plugs the disk, and a job
 * completes once the volume's Ready condition reports the generation the command wrote.
 */

const VOLUMES = resourceTypeOf(Volume);
const VMS = resourceTypeOf(VirtualMachine);
const GiB = 2 ** 30;

/**
 * The state CloudStack shows: status.state, except that spec.destroyed (destroyVolume,
 * recoverVolume) shows at once as Destroy, or as what the volume was before, while the
 * controller catches up.
 */
function volumeState(volume: VolumeObject): string {
  const reported = volume.status?.state ?? 'Allocated';
  if (volume.spec.destroyed === true) return volume.metadata.deletionTimestamp === undefined ? 'Destroy' : reported;
  if (reported !== 'Destroy') return reported;
  return volume.status?.pool ? 'Ready' : 'Allocated';
}

export function volumeFields(infra: Infra, volume: VolumeObject): Fields {
  const { cache } = infra;
  const spec = volume.spec;
  const zone = cache.zones.byName(spec.zoneRef.name);
  const vm = spec.vmRef ? cache.virtualMachines.byName(spec.vmRef.name, volume.metadata.namespace) : undefined;
  const offering = spec.diskOfferingRef ? cache.diskOfferings.byName(spec.diskOfferingRef.name) : undefined;
  const template = spec.templateRef ? cache.templates.byName(spec.templateRef.name, spec.templateRef.namespace ?? volume.metadata.namespace) : undefined;
  const pool = volume.status?.pool ? cache.primaryStorages.byName(volume.status.pool) : undefined;
  const size = volume.status?.sizeBytes ?? parseBytes(spec.size) ?? parseBytes(offering?.spec.diskSize);
  const type = spec.type ?? 'DATADISK';
  return {
    id: volume.metadata.uid,
    name: spec.displayName ?? volume.metadata.name,
    type,
    state: volumeState(volume),
    // Delete protection (4.20) is not offered: every volume may be deleted.
    deleteprotection: false,
    ...ownerFields(infra, volume.metadata.namespace),
    created: apiDate(volume.metadata.creationTimestamp),
    zoneid: zone?.metadata.uid,
    zonename: zone ? displayName(zone) : spec.zoneRef.name,
    size,
    virtualsize: size,
    physicalsize: volume.status?.physicalSizeBytes,
    diskofferingid: offering?.metadata.uid,
    diskofferingname: offering ? displayName(offering) : undefined,
    diskofferingdisplaytext: offering ? (offering.spec.displayText ?? displayName(offering)) : undefined,
    templateid: template?.metadata.uid,
    templatename: template ? displayName(template) : undefined,
    virtualmachineid: vm?.metadata.uid,
    vmname: vm ? (vm.spec.hostName ?? vm.metadata.name) : undefined,
    vmdisplayname: vm ? (vm.spec.displayName ?? vm.spec.hostName ?? vm.metadata.name) : undefined,
    vmstate: vm?.status?.state,
    vmtype: vm ? 'User' : undefined,
    deviceid: vm ? (spec.deviceId ?? (type === 'ROOT' ? 0 : undefined)) : undefined,
    attached: vm ? apiDate(volume.status?.attachedAt) : undefined,
    storage: pool ? displayName(pool) : undefined,
    storageid: pool?.metadata.uid,
    storagetype: pool?.spec.scope === 'Host' ? 'local' : 'shared',
    path: volume.status?.path,
    hypervisor: 'KVM',
    provisioningtype: offering?.spec.provisioningType ?? 'thin',
    destroyed: volume.spec.destroyed === true || volume.metadata.deletionTimestamp !== undefined,
    isextractable: false,
    displayvolume: true,
    hasannotations: false,
    quiescevm: false,
    supportsstoragesnapshot: false,
    tags: tagFields(infra, volume, 'Volume'),
  };
}

export function volumeJobResults(infra: Infra): [string, JobResultMapper][] {
  const current: JobResultMapper = (job) => {
    const volume = infra.cache.volumes.byName(job.spec.targetRef.name, job.spec.targetRef.namespace);
    return volume && volume.metadata.uid === job.spec.targetRef.uid ? volumeFields(infra, volume) : undefined;
  };
  // destroyVolume with expunge=true: the volume is gone; CloudStack answers it Expunged.
  const expunged: JobResultMapper = (job, ctx) => current(job, ctx) ?? { id: job.spec.targetRef.uid, state: 'Expunged', destroyed: true, tags: [] };
  return [
    ['createVolume', current],
    ['attachVolume', current],
    ['detachVolume', current],
    ['resizeVolume', current],
    ['updateVolume', current],
    ['destroyVolume', expunged],
  ];
}

export function volumeCommands(infra: Infra): Command[] {
  const { cache } = infra;
  const volumes = (ctx: CommandContext) => infra.resource<VolumeObject>(ctx, Volume);
  const visibleVolume = (ctx: CommandContext, label: string, id: string, param = 'id') => visibleById(infra, ctx, cache.volumes, VOLUMES, label, id, param);

  async function patchSpec(ctx: CommandContext, label: string, volume: VolumeObject, spec: Record<string, unknown>): Promise<VolumeObject> {
    return volumes(ctx)
      .patch({ namespace: volume.metadata.namespace, name: volume.metadata.name ?? '' }, { spec }, 'merge')
      .catch((err: unknown) => failure(err, ctx, { label, id: volume.metadata.uid, params: { 'spec.size': 'size', 'spec.vmRef.name': 'virtualmachineid', 'spec.deviceId': 'deviceid' } }));
  }

  const submit = (ctx: CommandContext, volume: VolumeObject) => infra.submitJob(ctx, { target: volume, kind: Volume, condition: READY });

  /** The next free data-disk device id on a VM (CloudStack hands out 1, 2, ... skipping 3, the CD-ROM on some hypervisors; KVM has none). */
  function nextDeviceId(vm: VirtualMachineObject): number {
    const used = new Set(cache.volumes.byIndex(INDEX.vm, `${vm.metadata.namespace ?? ''}/${vm.metadata.name ?? ''}`).map((v) => v.spec.deviceId ?? 0));
    let id = 1;
    while (used.has(id)) id++;
    return id;
  }

  const createVolume = defineCommand({
    name: 'createVolume',
    kind: 'async',
    description: 'Creates a disk volume from a disk offering. This disk volume must still be attached to a virtual machine to make use of it.',
    params: {
      name: { type: 'string', description: 'the name of the disk volume' },
      zoneid: { type: 'uuid', description: 'the ID of the availability zone', entity: 'zone' },
      diskofferingid: { type: 'uuid', description: 'the ID of the disk offering. Either diskOfferingId or snapshotId must be passed in.', entity: 'diskoffering' },
      size: { type: 'long', description: 'Arbitrary volume size, in GB, for a customized disk offering' },
      virtualmachineid: { type: 'uuid', description: 'the ID of the virtual machine; to be used with snapshot Id, VM to which the volume gets attached after creation', entity: 'virtualmachine' },
      account: { type: 'string', description: 'the account associated with the disk volume. Must be used with the domainId parameter.' },
      domainid: { type: 'uuid', description: 'the domain ID associated with the disk offering. If used with the account parameter returns the disk volume associated with the account for the specified domain.', entity: 'domain' },
    },
    async handle(p, ctx) {
      const label = 'createvolume';
      await cache.synced();
      if (p.diskofferingid === undefined) throw invalidParameterValue('Either disk Offering Id or snapshot Id must be passed whilst creating volume');
      const offering = mustFind(cache.diskOfferings, p.diskofferingid, label, 'diskofferingid');
      const vm = p.virtualmachineid === undefined ? undefined : await visibleById(infra, ctx, cache.virtualMachines, VMS, label, p.virtualmachineid, 'virtualmachineid');
      const zone = findOptional(cache.zones, p.zoneid, label, 'zoneid') ?? (vm ? cache.zones.byName(vm.spec.zoneRef.name) : undefined);
      if (!zone) throw invalidParameterValue('zoneid is required: name the zone of the volume (or a VM to attach it to)');
      const namespace = vm?.metadata.namespace ?? ownerNamespace(infra, ctx, label, p);
      const volume = await volumes(ctx)
        .create({
          apiVersion: Volume.apiVersion,
          kind: Volume.kind,
          metadata: { namespace, generateName: 'vol-' },
          spec: {
            ...(p.name !== undefined ? { displayName: p.name } : {}),
            type: 'DATADISK',
            zoneRef: { name: zone.metadata.name ?? '' },
            diskOfferingRef: { name: offering.metadata.name ?? '' },
            ...(p.size !== undefined ? { size: `${p.size}Gi` } : {}),
            ...(vm ? { vmRef: { name: vm.metadata.name ?? '' }, deviceId: nextDeviceId(vm) } : {}),
          },
        })
        .catch((err: unknown) => failure(err, ctx, { label, params: { 'spec.size': 'size', 'spec.diskOfferingRef.name': 'diskofferingid', 'spec.displayName': 'name' } }));
      return { id: volume.metadata.uid ?? '', jobid: await submit(ctx, volume) };
    },
  });

  /** listVolumes, and its Metrics twin (the same rows with the size in GB the UI shows). */
  const volumeList = (name: 'listVolumes' | 'listVolumesMetrics', description: string, metrics: boolean) => defineCommand({
    name,
    kind: 'list',
    description,
    params: {
      id: { type: 'uuid', description: 'the ID of the disk volume', entity: 'volume' },
      ids: { type: 'list', items: 'uuid', description: 'the IDs of the volumes, mutually exclusive with id' },
      name: { type: 'string', description: 'the name of the disk volume' },
      keyword: { type: 'string', description: 'List by keyword' },
      type: { type: 'string', description: 'the type of disk volume' },
      state: { type: 'string', description: 'state of the volume. Possible values are: Ready, Allocated, Destroy, Expunging, Expunged.' },
      virtualmachineid: { type: 'uuid', description: 'the ID of the virtual machine', entity: 'virtualmachine' },
      zoneid: { type: 'uuid', description: 'the ID of the availability zone', entity: 'zone' },
      diskofferingid: { type: 'uuid', description: 'list volumes by disk offering', entity: 'diskoffering' },
      storageid: { type: 'string', description: 'the ID of the storage pool, available to ROOT admin only' },
      tags: { type: 'map', description: 'List resources by tags (key/value pairs)' },
      ...SCOPE_PARAMS,
    },
    async handle(p, ctx) {
      const label = 'listvolumes';
      await cache.synced();
      const one = findOptional(cache.volumes, p.id, label, 'id');
      const vm = findOptional(cache.virtualMachines, p.virtualmachineid, label, 'virtualmachineid');
      const zone = findOptional(cache.zones, p.zoneid, label, 'zoneid');
      const offering = findOptional(cache.diskOfferings, p.diskofferingid, label, 'diskofferingid');
      const namespaces = await scopedNamespaces(cache, ctx.caller, p, VOLUMES, label, infra.deps.mayList);
      const candidates = one ? [one] : vm ? cache.volumes.byIndex(INDEX.vm, `${vm.metadata.namespace ?? ''}/${vm.metadata.name ?? ''}`) : cache.volumes.sorted();
      return candidates
        .filter(
          (v) =>
            inScope(namespaces, v.metadata.namespace) &&
            inIds(p.ids, v.metadata.uid) &&
            equalsIgnoringCase(p.name, v.spec.displayName ?? v.metadata.name) &&
            keywordMatches(p.keyword, v.spec.displayName ?? v.metadata.name) &&
            equalsIgnoringCase(p.type, v.spec.type ?? 'DATADISK') &&
            equalsIgnoringCase(p.state, volumeState(v)) &&
            (zone === undefined || v.spec.zoneRef.name === zone.metadata.name) &&
            (offering === undefined || v.spec.diskOfferingRef?.name === offering.metadata.name) &&
            (p.storageid === undefined || cache.primaryStorages.byName(v.status?.pool ?? '')?.metadata.uid === p.storageid) &&
            hasTags(v, p.tags),
        )
        .sort(byCreation);
    },
    mapItem: (volume) => {
      const fields = volumeFields(infra, volume);
      return metrics && typeof fields['size'] === 'number' ? { ...fields, sizegb: `${(fields['size'] / GiB).toFixed(2)} GB` } : fields;
    },
  });
  const listVolumes = volumeList('listVolumes', 'Lists all volumes.', false);
  const listVolumesMetrics = volumeList('listVolumesMetrics', 'Lists volume metrics', true);

  const attachVolume = defineCommand({
    name: 'attachVolume',
    kind: 'async',
    description: 'Attaches a disk volume to a virtual machine.',
    params: {
      id: { type: 'uuid', description: 'the ID of the disk volume', required: true, entity: 'volume' },
      virtualmachineid: { type: 'uuid', description: '    the ID of the virtual machine', required: true, entity: 'virtualmachine' },
      deviceid: { type: 'long', description: 'The ID of the device to map the volume to the guest OS. If no deviceID is informed, the next available deviceID will be chosen. Use 0 when volume needs to be attached as ROOT.' },
    },
    async handle(p, ctx) {
      const label = 'attachvolume';
      const volume = await visibleVolume(ctx, label, p.id);
      const vm = await visibleById(infra, ctx, cache.virtualMachines, VMS, label, p.virtualmachineid, 'virtualmachineid');
      if (volume.metadata.namespace !== vm.metadata.namespace) throw invalidParameterValue(`Volume ${p.id} and VM ${p.virtualmachineid} belong to different accounts`);
      if (volume.spec.destroyed === true) throw invalidParameterValue('Volume state must be in Allocated, Ready or in Uploaded state');
      if (volume.spec.vmRef) throw invalidParameterValue(`Volume ${p.id} is already attached to a VM; detach it first`);
      if ((volume.spec.type ?? 'DATADISK') === 'ROOT') throw invalidParameterValue(`Volume ${p.id} is a ROOT volume; only data volumes can be attached`);
      if (volume.spec.zoneRef.name !== vm.spec.zoneRef.name) throw invalidParameterValue(`Volume ${p.id} is in zone ${volume.spec.zoneRef.name} and VM ${p.virtualmachineid} in zone ${vm.spec.zoneRef.name}: a volume attaches to a VM of its own zone`);
      if (p.deviceid === 0) throw invalidParameterValue('deviceid 0 is the ROOT disk; give 1 or more, or leave it out');
      const updated = await patchSpec(ctx, label, volume, { vmRef: { name: vm.metadata.name ?? '' }, deviceId: p.deviceid ?? nextDeviceId(vm) });
      return { jobid: await submit(ctx, updated) };
    },
  });

  const detachVolume = defineCommand({
    name: 'detachVolume',
    kind: 'async',
    description: 'Detaches a disk volume from a virtual machine.',
    params: {
      id: { type: 'uuid', description: 'the ID of the disk volume', entity: 'volume' },
      virtualmachineid: { type: 'uuid', description: 'the ID of the virtual machine where the volume is detached from', entity: 'virtualmachine' },
      deviceid: { type: 'long', description: 'the device ID on the virtual machine where volume is detached from' },
    },
    async handle(p, ctx) {
      const label = 'detachvolume';
      let volume: VolumeObject | undefined;
      if (p.id !== undefined) volume = await visibleVolume(ctx, label, p.id);
      else if (p.virtualmachineid !== undefined && p.deviceid !== undefined) {
        const vm = await visibleById(infra, ctx, cache.virtualMachines, VMS, label, p.virtualmachineid, 'virtualmachineid');
        volume = cache.volumes.byIndex(INDEX.vm, `${vm.metadata.namespace ?? ''}/${vm.metadata.name ?? ''}`).find((v) => v.spec.deviceId === p.deviceid);
        if (!volume) throw entityNotFound(label, 'deviceid', String(p.deviceid));
      } else throw invalidParameterValue('Please provide either a volume id, or a tuple(device id, instance id)');
      if (!volume.spec.vmRef) throw invalidParameterValue(`Volume ${volume.metadata.uid} is not attached to a VM`);
      if ((volume.spec.type ?? 'DATADISK') === 'ROOT') throw invalidParameterValue('Please specify a VM that is either Stopped or Running; the ROOT volume cannot be detached');
      const updated = await patchSpec(ctx, label, volume, { vmRef: null, deviceId: null });
      return { jobid: await submit(ctx, updated) };
    },
  });

  const resizeVolume = defineCommand({
    name: 'resizeVolume',
    kind: 'async',
    description: 'Resizes a volume',
    params: {
      id: { type: 'uuid', description: 'the ID of the disk volume', required: true, entity: 'volume' },
      size: { type: 'long', description: 'New volume size in GB' },
      diskofferingid: { type: 'uuid', description: 'new disk offering id (the size of a fixed offering)', entity: 'diskoffering' },
      shrinkok: { type: 'boolean', description: 'Verify OK to Shrink' },
    },
    async handle(p, ctx) {
      const label = 'resizevolume';
      const volume = await visibleVolume(ctx, label, p.id);
      const offering = findOptional(cache.diskOfferings, p.diskofferingid, label, 'diskofferingid');
      const bytes = p.size !== undefined ? p.size * GiB : parseBytes(offering?.spec.diskSize);
      if (bytes === undefined) throw invalidParameterValue('Give the new size (size, in GB) or a disk offering with a fixed size');
      const current = volume.status?.sizeBytes ?? parseBytes(volume.spec.size) ?? parseBytes(cache.diskOfferings.byName(volume.spec.diskOfferingRef?.name ?? '')?.spec.diskSize);
      if (current !== undefined && bytes < current) throw invalidParameterValue(`Shrinking volume ${p.id} from ${current} to ${bytes} bytes is not supported: a volume only grows`);
      const updated = await patchSpec(ctx, label, volume, { size: `${Math.ceil(bytes / GiB)}Gi`, ...(offering ? { diskOfferingRef: { name: offering.metadata.name ?? '' } } : {}) });
      return { jobid: await submit(ctx, updated) };
    },
  });

  const deleteVolume = defineCommand({
    name: 'deleteVolume',
    kind: 'success',
    description: 'Deletes a detached disk volume.',
    params: { id: { type: 'uuid', description: 'The ID of the disk volume', required: true, entity: 'volume' } },
    async handle(p, ctx) {
      const label = 'deletevolume';
      const volume = await visibleVolume(ctx, label, p.id);
      if (volume.spec.vmRef) throw invalidParameterValue('Please specify a volume that is not attached to any VM.');
      await volumes(ctx)
        .delete({ namespace: volume.metadata.namespace, name: volume.metadata.name ?? '' }, { preconditions: { uid: volume.metadata.uid } })
        .catch((err: unknown) => failure(err, ctx, { label, id: p.id }));
      return undefined;
    },
  });

  /**
   * updateVolume: the name, in spec.displayName. The rest of CloudStack's parameters repair its
   * database by hand (path, state, storageid, chaininfo) or hide a volume (displayvolume); here
   * the agent reports path, pool and state, so those are refused, naming what to do instead.
   */
  const updateVolume = defineCommand({
    name: 'updateVolume',
    kind: 'async',
    description: 'Updates the volume.',
    params: {
      id: { type: 'uuid', description: 'The ID of the disk volume', entity: 'volume' },
      name: { type: 'string', description: 'new name of the volume' },
      displayvolume: { type: 'boolean', description: 'an optional field, whether to the display the volume to the end user or not (every volume is shown here)' },
      path: { type: 'string', description: 'The path of the volume (reported by the agent here)' },
      state: { type: 'string', description: 'The state of the volume (reported by the operator here)' },
      storageid: { type: 'uuid', description: 'Destination storage pool UUID for the volume (chosen by the operator here)', entity: 'storagepool' },
      chaininfo: { type: 'string', description: 'The chain info of the volume (not used by KVM)' },
    },
    async handle(p, ctx) {
      const label = 'updatevolume';
      if (p.id === undefined) throw invalidParameterValue('The id of the volume to update is required: give id');
      const volume = await visibleVolume(ctx, label, p.id);
      const reported = (['path', 'state', 'storageid', 'chaininfo'] as const).find((param) => p[param] !== undefined);
      if (reported !== undefined) throw invalidParameterValue(`${reported} of volume ${p.id} is what the operator and agent report, not a setting: leave it out`);
      if (p.displayvolume === false) throw invalidParameterValue('Every volume is shown to its owner here: leave displayvolume out or true');
      if (p.name === undefined || p.name === '') throw invalidParameterValue('Nothing to update: give the new name of the volume (name)');
      const updated = await patchSpec(ctx, label, volume, { displayName: p.name });
      return { jobid: await submit(ctx, updated) };
    },
  });

  /** allow.user.expunge.recover.volume (CloudStack's default true): whether a user may expunge or recover a volume. */
  const userMayExpungeRecover = (ctx: CommandContext) => allowedToCaller(infra, ctx, 'allow.user.expunge.recover.volume');

  /**
   * destroyVolume: a detached volume goes to Destroy (spec.destroyed; the operator deletes it
   * expunge.delay later unless recovered), or with expunge=true is deleted at once.
   */
  const destroyVolume = defineCommand({
    name: 'destroyVolume',
    kind: 'async',
    description: 'Destroys a Volume.',
    params: {
      id: { type: 'uuid', description: 'The ID of the volume', required: true, entity: 'volume' },
      expunge: { type: 'boolean', description: 'If true is passed, the volume is expunged immediately. False by default.' },
    },
    async handle(p, ctx) {
      const label = 'destroyvolume';
      const volume = await visibleVolume(ctx, label, p.id);
      if (volume.spec.vmRef) throw invalidParameterValue('Please specify a volume that is not attached to any VM.');
      if (p.expunge === true) {
        if (!userMayExpungeRecover(ctx)) throw permissionDenied('Expunging a volume can only be done by an Admin. Or when the allow.user.expunge.recover.volume key is set.');
        await volumes(ctx)
          .delete({ namespace: volume.metadata.namespace, name: volume.metadata.name ?? '' }, { preconditions: { uid: volume.metadata.uid } })
          .catch((err: unknown) => failure(err, ctx, { label, id: p.id }));
        return { jobid: await infra.submitJob(ctx, { target: volume, kind: Volume, deleted: true }) };
      }
      if (volumeState(volume) === 'Allocated') throw invalidParameterValue('The volume in Allocated/Uploaded state can only be expunged not destroyed/recovered');
      const updated = volume.spec.destroyed === true ? volume : await patchSpec(ctx, label, volume, { destroyed: true });
      return { jobid: await submit(ctx, updated) };
    },
  });

  const recoverVolume = defineCommand({
    name: 'recoverVolume',
    kind: 'object',
    description: 'Recovers a Destroy volume.',
    params: { id: { type: 'uuid', description: 'The ID of the volume', required: true, entity: 'volume' } },
    async handle(p, ctx) {
      const label = 'recovervolume';
      const volume = await visibleVolume(ctx, label, p.id);
      if (!userMayExpungeRecover(ctx)) throw permissionDenied('Recovering a volume can only be done by an Admin. Or when the allow.user.expunge.recover.volume key is set.');
      if (volume.spec.destroyed !== true) throw invalidParameterValue('Please specify a volume in Destroy state.');
      return patchSpec(ctx, label, volume, { destroyed: null });
    },
    map: (volume) => volumeFields(infra, volume),
  });

  return [createVolume, listVolumes, listVolumesMetrics, attachVolume, detachVolume, resizeVolume, updateVolume, deleteVolume, destroyVolume, recoverVolume];
}
