import { Template, VirtualMachine, type TemplateObject, type VirtualMachineObject } from '../../crds/index.ts';
import { templateReadiness } from '../../lib/compute.ts';
import { MEDIA_SYNCED } from '../../lib/agent-contract.ts';
import { PUBLIC_NAMESPACE } from '../../lib/identity.ts';
import { resourceTypeOf } from '../../lib/kube-client.ts';
import { entityNotFound, invalidParameterValue } from '../protocol/errors.ts';
import type { Infra } from './context.ts';
import { type Command, type CommandContext, defineCommand } from './define.ts';
import type { JobResultMapper } from './job-support.ts';
import { stateOf, vmResult, vmSupport } from './vm-support.ts';

/**
 * attachIso and detachIso (compute.md §1.5): the ISO in a VM's CD-ROM drive is the VM's
 * spec.attachedIsoRef, one truth for kubectl and the API. Each command writes it as the caller
 * on a Running or Stopped VM; the agent inserts or ejects the media live in a running domain,
 * and puts it in a stopped one's definition. As CloudStack's, the job completes once the media
 * is really changed: on a placed VM, when the agent's MediaSynced (lib/agent-contract.ts) says
 * the drive holds what was asked at the generation written, or fails (530) with the agent's
 * cause when it could not change it; a VM never placed has no domain yet (its definition takes
 * the ISO at its first start), so its job completes on Ready at that generation. The result is
 * the VM (isoid, isoname, isodisplaytext).
 */

const TEMPLATES = resourceTypeOf(Template);

export function vmIsoJobResults(infra: Infra): [string, JobResultMapper][] {
  const current = vmResult(infra);
  return [
    ['attachIso', current],
    ['detachIso', current],
  ];
}

export function vmIsoCommands(infra: Infra): Command[] {
  const { cache } = infra;
  const { visibleVm, patchSpec, submit } = vmSupport(infra);

  /** The job of a media change: the agent's word on the drive where a host has the VM, else Ready. */
  function submitMedia(ctx: CommandContext, vm: VirtualMachineObject): Promise<string> {
    if (vm.status?.placement?.host === undefined) return submit(ctx, vm);
    return infra.submitJob(ctx, { target: vm, kind: VirtualMachine, condition: { type: MEDIA_SYNCED, status: 'True', failOnFalse: true } });
  }

  /** CloudStack's TemplateManagerImpl: either command wants a VM that is Stopped or Running. */
  function stoppedOrRunning(vm: VirtualMachineObject): void {
    const state = stateOf(vm);
    if (state !== 'Running' && state !== 'Stopped') throw invalidParameterValue('Please specify an instance that is either Stopped or Running.');
  }

  /** An ISO the caller may read and the VM's owner may use: its own, the platform's, or a public one. */
  async function usableIso(ctx: CommandContext, label: string, id: string, vm: VirtualMachineObject): Promise<TemplateObject> {
    const iso = cache.templates.byUid(id);
    if (!iso || iso.spec.format !== 'ISO' || iso.metadata.deletionTimestamp !== undefined) throw entityNotFound(label, 'id', id);
    const owned = iso.metadata.namespace === vm.metadata.namespace || iso.metadata.namespace === PUBLIC_NAMESPACE;
    if (!owned && !(iso.spec.isPublic ?? false)) throw entityNotFound(label, 'id', id);
    if (!(iso.spec.isPublic ?? false) && !(await infra.deps.mayList(ctx.caller, TEMPLATES, iso.metadata.namespace))) throw entityNotFound(label, 'id', id);
    return iso;
  }

  const attachIso = defineCommand({
    name: 'attachIso',
    kind: 'async',
    description: 'Attaches an ISO to a virtual machine.',
    params: {
      id: { type: 'uuid', description: 'the ID of the ISO file', required: true, entity: 'iso' },
      virtualmachineid: { type: 'uuid', description: 'the ID of the virtual machine', required: true, entity: 'virtualmachine' },
      forced: { type: 'boolean', description: 'If true, ejects existing ISO before attaching on VMware. Default: false (KVM never needs it: the media is changed live)' },
    },
    async handle(p, ctx) {
      const label = 'attachiso';
      await cache.synced();
      const vm = await visibleVm(ctx, label, p.virtualmachineid, 'virtualmachineid');
      const iso = await usableIso(ctx, label, p.id, vm);
      const zone = vm.spec.zoneRef.name;
      const readiness = templateReadiness(iso, zone);
      if (readiness.state === 'absent') throw invalidParameterValue('ISO is not available in the zone the instance is in.');
      if (readiness.state !== 'ready') throw invalidParameterValue(`ISO ${p.id} is not ready in zone ${zone}: ${readiness.message}; attach it once listIsos shows it ready`);
      stoppedOrRunning(vm);
      // One drive, one ISO: CloudStack's KVM agent would replace the media; asking for a detach first keeps a guest from losing a mounted disc unasked.
      if (vm.spec.attachedIsoRef) throw invalidParameterValue(`An ISO is already attached to the instance ${vm.metadata.uid ?? ''}: detach it first (detachIso)`);
      const updated = await patchSpec(ctx, label, vm, { attachedIsoRef: { namespace: iso.metadata.namespace, name: iso.metadata.name ?? '' } });
      return { jobid: await submitMedia(ctx, updated) };
    },
  });

  const detachIso = defineCommand({
    name: 'detachIso',
    kind: 'async',
    description: 'Detaches any ISO file (if any) currently attached to a virtual machine.',
    params: {
      virtualmachineid: { type: 'uuid', description: 'The ID of the virtual machine', required: true, entity: 'virtualmachine' },
      forced: { type: 'boolean', description: 'If true, ejects the ISO forcefully on VMware. Default: false (KVM ejects live)' },
    },
    async handle(p, ctx) {
      const label = 'detachiso';
      await cache.synced();
      const vm = await visibleVm(ctx, label, p.virtualmachineid, 'virtualmachineid');
      if (!vm.spec.attachedIsoRef) throw invalidParameterValue('The specified instance has no ISO attached to it.');
      stoppedOrRunning(vm);
      const updated = await patchSpec(ctx, label, vm, { attachedIsoRef: null });
      return { jobid: await submitMedia(ctx, updated) };
    },
  });

  return [attachIso, detachIso];
}
