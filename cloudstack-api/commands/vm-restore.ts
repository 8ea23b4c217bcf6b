import { templateReadiness } from '../../lib/compute.ts';
import { metav1MicroTime } from '../../lib/time.ts';
import { mustFind } from '../lists/filters.ts';
import { invalidParameterValue } from '../protocol/errors.ts';
import type { Infra } from './context.ts';
import { type Command, defineCommand } from './define.ts';
import type { JobResultMapper } from './job-support.ts';
import { mergedDetails, stateOf, vmResult, vmSupport } from './vm-support.ts';

/**
 * restoreVirtualMachine (compute.md §1.3): the VM's root disk is made again from its template,
 * or from `templateid`, which becomes the VM's template. It sets spec.restoreRequestedAt (with
 * the new templateRef, root size or root offering) in one update: the operator makes a new ROOT
 * Volume and deletes the old one (always expunged, whatever `expunge` says), the agent powers a
 * running domain off and starts it on the new disk, and the job completes when the operator
 * records status.lastRestoreAt (Ready at the generation written). The VM keeps its id, NICs and
 * addresses.
 */

export function vmRestoreJobResults(infra: Infra): [string, JobResultMapper][] {
  return [['restoreVirtualMachine', vmResult(infra)]];
}

export function vmRestoreCommands(infra: Infra): Command[] {
  const { cache } = infra;
  const { visibleVm, patchSpec, submit, usableTemplate } = vmSupport(infra);

  const restoreVirtualMachine = defineCommand({
    name: 'restoreVirtualMachine',
    kind: 'async',
    description: 'Restore a VM to original template/ISO or new template/ISO',
    params: {
      virtualmachineid: { type: 'uuid', description: 'Virtual Machine ID', required: true, entity: 'virtualmachine' },
      templateid: { type: 'uuid', description: 'an optional template Id to restore vm from the new template. It becomes the VM\'s template.', entity: 'template' },
      diskofferingid: { type: 'string', description: 'Override root volume\'s diskoffering.' },
      rootdisksize: { type: 'long', description: 'Override root volume\'s size (in GB).' },
      details: { type: 'map', description: 'used to specify the custom parameters: rootdisksize' },
      expunge: { type: 'boolean', description: 'Make true if you want to expunge the old root volume (Kumulus always expunges it: its disk is deleted once the domain lets it go)' },
    },
    async handle(p, ctx) {
      // CloudStack's label: its legacy envelope restorevmresponse minus "response" (protocol/errors.ts commandLabel).
      const label = 'restorevm';
      const vm = await visibleVm(ctx, label, p.virtualmachineid, 'virtualmachineid');
      // CloudStack's text (UserVmManagerImpl.restoreVMInternal); a destroy asked for counts, as the VM is on its way there.
      const state = vm.spec.state === 'Destroyed' ? 'Destroyed' : stateOf(vm);
      if (state !== 'Running' && state !== 'Stopped') throw invalidParameterValue(`Vm ${vm.metadata.uid ?? ''} currently in ${state} state, restore vm can only execute when VM in Running or Stopped`);
      const template = p.templateid !== undefined ? await usableTemplate(ctx, label, p.templateid, 'templateid') : undefined;
      if (!template && !vm.spec.templateRef) throw invalidParameterValue(`VM ${vm.metadata.uid} was booted from an ISO and has no template: pass templateid to restore it onto a template`);
      if (template?.spec.format === 'ISO') throw invalidParameterValue(`templateid ${p.templateid}: template ${template.metadata.name} is an ISO; restore the VM from a QCOW2 or RAW template`);
      const ref = template ? { namespace: template.metadata.namespace, name: template.metadata.name ?? '' } : vm.spec.templateRef!;
      const chosen = template ?? cache.templates.byName(ref.name, ref.namespace ?? vm.metadata.namespace);
      if (chosen) {
        const readiness = templateReadiness(chosen, vm.spec.zoneRef.name);
        if (readiness.state !== 'ready') throw invalidParameterValue(`${p.templateid !== undefined ? 'templateid' : 'the VM\'s template'}: ${readiness.message}; a restore needs a template that is Ready in the VM's zone`);
      }
      const disk = p.diskofferingid !== undefined ? mustFind(cache.diskOfferings, p.diskofferingid, label, 'diskofferingid') : undefined;
      const details = mergedDetails(p.details);
      const unknown = Object.keys(details).filter((key) => key !== 'rootdisksize');
      if (unknown.length > 0) throw invalidParameterValue(`details[${unknown[0]}] is not supported by restoreVirtualMachine: only details[rootdisksize] is`);
      const rootDiskGb = details['rootdisksize'] ?? (p.rootdisksize !== undefined ? String(p.rootdisksize) : undefined);
      if (rootDiskGb !== undefined && !/^[1-9]\d*$/.test(rootDiskGb)) throw invalidParameterValue(`rootdisksize must be a whole number of GB from 1, not ${rootDiskGb}`);
      // A new request each time (the token names the new root Volume): to the microsecond, so two
      // calls in one second, even against a cache that has not seen the first yet, differ.
      const at = Date.now();
      const restoreRequestedAt = metav1MicroTime(at) === vm.spec.restoreRequestedAt ? metav1MicroTime(at + 1) : metav1MicroTime(at);
      const updated = await patchSpec(
        ctx,
        label,
        vm,
        {
          restoreRequestedAt,
          ...(template ? { templateRef: ref, isoRef: null } : {}),
          ...(disk ? { rootDiskOfferingRef: { name: disk.metadata.name ?? '' } } : {}),
          ...(rootDiskGb !== undefined ? { rootDiskSize: `${rootDiskGb}Gi` } : {}),
        },
      );
      return { jobid: await submit(ctx, updated) };
    },
  });

  return [restoreVirtualMachine];
}
