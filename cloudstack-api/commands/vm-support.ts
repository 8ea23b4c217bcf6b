import { Template, VirtualMachine, type AffinityGroupObject, type SSHKeyPairObject, type TemplateObject, type VirtualMachineObject } from '../../crds/index.ts';
import { resourceTypeOf } from '../../lib/kube-client.ts';
import type { SettingName } from '../../lib/settings.ts';
import { AccountType, type Caller } from '../protocol/auth.ts';
import { entityNotFound, invalidParameterValue } from '../protocol/errors.ts';
import { READY, visibleById } from './compute-support.ts';
import { vmFields } from './compute-views.ts';
import { globalSettings, type Infra } from './context.ts';
import type { CommandContext } from './define.ts';
import { failure } from './errors.ts';
import type { JobResultMapper } from './job-support.ts';
import { displayName } from './names.ts';

/**
 * What the VM command modules share (vms.ts, vm-nics.ts, vm-guest.ts): finding a VM the caller
 * may see, changing its spec as the caller, tracking the change in a job, and CloudStack's
 * rules and texts for names, user data, key pairs and affinity groups.
 */

export const VMS = resourceTypeOf(VirtualMachine);
const TEMPLATES = resourceTypeOf(Template);

/** CloudStack's hostname rule and text (UserVmManagerImpl). */
export const HOST_NAME = /^[a-zA-Z]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?$/;
export const INVALID_NAME = 'Invalid name. Vm name can contain ASCII letters \'a\' through \'z\', the digits \'0\' through \'9\', and the hyphen (\'-\'), must be between 1 and 63 characters long, and can\'t start or end with "-" and can\'t start with digit';

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Throws unless `userData` is base64, as CloudStack requires of `userdata`. */
export function checkUserData(userData: string | undefined): void {
  if (userData !== undefined && (!BASE64.test(userData) || userData.length % 4 !== 0)) throw invalidParameterValue('User data is not base64 encoded: encode it (base64) before sending it');
}

export function isUser(caller: Caller): boolean {
  return caller.accountType === AccountType.user;
}

/** Whether the caller may do what CloudStack keeps for administrators unless a boolean global setting lets users do it too. */
export function allowedToCaller(infra: Infra, ctx: CommandContext, setting: SettingName): boolean {
  return !isUser(ctx.caller) || globalSettings(infra).value(setting) === 'true';
}

/** The `details[i].key=value` entries of a map parameter, merged across indices (Ansible sends one index, the Go SDK one per key). */
export function mergedDetails(entries: readonly Record<string, string>[] | undefined): Record<string, string> {
  return Object.assign({}, ...(entries ?? [])) as Record<string, string>;
}

/** The state CloudStack shows: the operator's, or the one asked for before the operator has seen the VM. */
export function stateOf(vm: VirtualMachineObject): string {
  return vm.status?.state ?? vm.spec.state ?? 'Running';
}

/** A VM as CloudStack's error texts name it (VMInstanceVO.toString). */
export function vmText(vm: VirtualMachineObject): string {
  return `VM instance {"instanceName":"${vm.status?.instanceName ?? `i-${(vm.metadata.uid ?? '').slice(0, 8)}`}","type":"User","uuid":"${vm.metadata.uid ?? ''}"}`;
}

/** The job results of the VM commands: the VM as it is now, under `virtualmachine`. */
export function vmResult(infra: Infra): JobResultMapper {
  return (job) => {
    const vm = infra.cache.virtualMachines.byName(job.spec.targetRef.name, job.spec.targetRef.namespace);
    return vm && vm.metadata.uid === job.spec.targetRef.uid ? vmFields(infra, vm) : undefined;
  };
}

export interface VmSupport {
  readonly visibleVm: (ctx: CommandContext, label: string, id: string, param?: string) => Promise<VirtualMachineObject>;
  /** Changes a VM's spec (and metadata) as the caller; returns the VM as written. */
  readonly patchSpec: (ctx: CommandContext, label: string, vm: VirtualMachineObject, spec: Record<string, unknown>, metadata?: Record<string, unknown>) => Promise<VirtualMachineObject>;
  /** Records a job that completes once the VM's Ready condition reports the generation written. */
  readonly submit: (ctx: CommandContext, vm: VirtualMachineObject) => Promise<string>;
  readonly keyPairNamed: (namespace: string, name: string) => SSHKeyPairObject | undefined;
  /** A template or ISO the caller may use: one it may read (its own, kumulus-public's), or a public one of any account. */
  readonly usableTemplate: (ctx: CommandContext, label: string, id: string, param: string) => Promise<TemplateObject>;
  /** The groups named by affinitygroupids or affinitygroupnames, in the VM's namespace. */
  readonly affinityGroups: (label: string, namespace: string, ids: readonly string[] | undefined, names: readonly string[] | undefined) => AffinityGroupObject[];
}

export function vmSupport(infra: Infra): VmSupport {
  const { cache } = infra;
  const vms = (ctx: CommandContext) => infra.resource<VirtualMachineObject>(ctx, VirtualMachine);
  return {
    visibleVm: (ctx, label, id, param = 'id') => visibleById(infra, ctx, cache.virtualMachines, VMS, label, id, param),
    patchSpec: (ctx, label, vm, spec, metadata) =>
      vms(ctx)
        .patch({ namespace: vm.metadata.namespace, name: vm.metadata.name ?? '' }, { ...(metadata ? { metadata } : {}), spec }, 'merge')
        .catch((err: unknown) => failure(err, ctx, { label, id: vm.metadata.uid })),
    submit: (ctx, vm) => infra.submitJob(ctx, { target: vm, kind: VirtualMachine, condition: READY }),
    usableTemplate: async (ctx, label, id, param) => {
      const template = cache.templates.byUid(id);
      if (!template || !((template.spec.isPublic ?? false) || (await infra.deps.mayList(ctx.caller, TEMPLATES, template.metadata.namespace)))) throw entityNotFound(label, param, id);
      return template;
    },
    keyPairNamed: (namespace, name) => cache.sshKeyPairs.list().find((k) => k.metadata.namespace === namespace && (displayName(k) === name || k.metadata.name === name)),
    affinityGroups: (label, namespace, ids, names) => {
      if (ids !== undefined && names !== undefined) throw invalidParameterValue('affinityGroupIds parameter is mutually exclusive with affinityGroupNames parameter');
      const byId = (ids ?? []).map((id) => {
        const group = cache.affinityGroups.byUid(id);
        if (!group || group.metadata.namespace !== namespace) throw entityNotFound(label, 'affinitygroupids', id);
        return group;
      });
      const byName = (names ?? []).map((name) => {
        const group = cache.affinityGroups.list().find((g) => g.metadata.namespace === namespace && (displayName(g) === name || g.metadata.name === name));
        if (!group) throw invalidParameterValue(`Unable to find affinity group by name ${name}`);
        return group;
      });
      return [...byId, ...byName];
    },
  };
}
