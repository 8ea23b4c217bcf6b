import { AffinityGroup, type VirtualMachineObject } from '../../crds/index.ts';
import { resourceTypeOf } from '../../lib/kube-client.ts';
import type { Fields } from '../protocol/envelope.ts';
import { entityNotFound, invalidParameterValue } from '../protocol/errors.ts';
import { accountOfNamespace, USERDATA_ANNOTATION, vmFields, type UserDataLink } from './compute-views.ts';
import type { Infra } from './context.ts';
import { type Command, type CommandContext, defineCommand } from './define.ts';
import type { JobResultMapper } from './job-support.ts';
import { displayName } from './names.ts';
import { checkUserData, mergedDetails, stateOf, vmResult, vmSupport, vmText } from './vm-support.ts';

/**
 * What a VM is given besides its offering (compute.md §1.3): its SSH key, its user data (typed
 * in, or a registered UserData copied in as CloudStack copies it) and its affinity groups.
 * CloudStack changes these only on a Stopped VM; each command writes the VM's spec as the
 * caller, and the async ones complete once the VM's Ready reports the generation written.
 */

/** The user data a VM is given: typed in (`userdata`), or a registered UserData's copy (`userdataid`), with its provenance. */
export interface ResolvedUserData {
  readonly userData: string;
  readonly link?: UserDataLink;
}

/** A Java map's text, as CloudStack shows userdatadetails: `{a=1, b=2}`. */
function javaMapText(details: Record<string, string>): string {
  return `{${Object.entries(details)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ')}}`;
}

/** The user data of a deploy or reset (UserVmManagerImpl.finalizeUserData), or undefined when none is given. */
export function resolveUserData(infra: Infra, label: string, namespace: string, p: { userdata?: string; userdataid?: string; userdatadetails?: Record<string, string>[] }): ResolvedUserData | undefined {
  checkUserData(p.userdata);
  if (p.userdataid !== undefined && p.userdata !== undefined && p.userdata !== '') throw invalidParameterValue('Both userdata and userdata ID inputs are not allowed, please provide only one');
  if (p.userdataid === undefined) {
    if (p.userdatadetails !== undefined) throw invalidParameterValue('userdatadetails fill the parameters of registered user data: give userdataid too');
    return p.userdata === undefined ? undefined : { userData: p.userdata };
  }
  const registered = infra.cache.userData.byUid(p.userdataid);
  if (!registered || registered.metadata.namespace !== namespace) throw entityNotFound(label, 'userdataid', p.userdataid);
  const details = mergedDetails(p.userdatadetails);
  const declared = registered.spec.params ?? [];
  const unknown = Object.keys(details).filter((key) => !declared.includes(key));
  if (unknown.length > 0) throw invalidParameterValue(`userdatadetails names ${unknown.join(', ')}, which user data ${displayName(registered)} does not declare (its parameters: ${declared.join(', ') || 'none'})`);
  return {
    userData: registered.spec.userData,
    link: { id: registered.metadata.uid ?? '', name: displayName(registered), ...(Object.keys(details).length > 0 ? { details: javaMapText(details) } : {}) },
  };
}

/** The VM metadata recording where its user data came from (null removes a stale record). */
export function userDataAnnotation(resolved: ResolvedUserData): Record<string, string | null> {
  return { [USERDATA_ANNOTATION]: resolved.link ? JSON.stringify(resolved.link) : null };
}

export function vmGuestJobResults(infra: Infra): [string, JobResultMapper][] {
  const current = vmResult(infra);
  return [
    ['resetSSHKeyForVirtualMachine', current],
    ['updateVMAffinityGroup', current],
  ];
}

export function vmGuestCommands(infra: Infra): Command[] {
  const { cache } = infra;
  const { visibleVm, patchSpec, submit, keyPairNamed, affinityGroups } = vmSupport(infra);
  const GROUPS = resourceTypeOf(AffinityGroup);

  const scope = {
    account: { type: 'string', description: 'an optional account for the virtual machine. Must be used with domainId.' },
    domainid: { type: 'uuid', description: 'an optional domainId for the virtual machine. If the account parameter is used, domainId must also be used.', entity: 'domain' },
  } as const;

  /** The VM's own account: CloudStack's account and domainid name the owner, which for a VM the caller may see is the VM's. */
  async function stoppedVm(ctx: CommandContext, label: string, id: string, what: string, p: { account?: string; domainid?: string }): Promise<VirtualMachineObject> {
    const vm = await visibleVm(ctx, label, id);
    if (p.account !== undefined || p.domainid !== undefined) {
      const owner = accountOfNamespace(infra, vm.metadata.namespace);
      const domain = owner ? cache.domains.byName(owner.spec.domainRef.name) : undefined;
      if (p.account === undefined || p.domainid === undefined) throw invalidParameterValue('account and domainid must be given together');
      if (!owner || displayName(owner) !== p.account || domain?.metadata.uid !== p.domainid) throw invalidParameterValue(`${vmText(vm)} does not belong to account ${p.account} of domain ${p.domainid}`);
    }
    const state = stateOf(vm);
    if (state === 'Error' || state === 'Expunging') throw invalidParameterValue('Vm with specified id is not in the right state');
    if (state !== 'Stopped') throw invalidParameterValue(`Vm ${vmText(vm)} should be stopped to do ${what}`);
    return vm;
  }

  const resetSSHKeyForVirtualMachine = defineCommand({
    name: 'resetSSHKeyForVirtualMachine',
    kind: 'async',
    description: 'Resets the SSH Key for virtual machine. The virtual machine must be in a "Stopped" state.',
    params: {
      id: { type: 'uuid', description: 'The ID of the virtual machine', required: true, entity: 'virtualmachine' },
      keypair: { type: 'string', description: 'name of the ssh key pair used to login to the virtual machine' },
      keypairs: { type: 'list', description: 'names of the ssh key pairs to be used to login to the virtual machine (one is supported)' },
      ...scope,
    },
    async handle(p, ctx) {
      const label = 'resetsshkeyforvirtualmachine';
      const vm = await stoppedVm(ctx, label, p.id, 'SSH Key reset', p);
      const names = [...new Set([...(p.keypair !== undefined ? [p.keypair] : []), ...(p.keypairs ?? [])])];
      if (names.length === 0) throw invalidParameterValue('\'keypair\' or \'keyparis\' must be specified');
      if (names.length > 1) throw invalidParameterValue('One SSH key pair per VM is supported: give one name in keypair or keypairs');
      const pair = keyPairNamed(vm.metadata.namespace ?? '', names[0] ?? '');
      if (!pair) throw invalidParameterValue('Not all specified keyparis exist');
      const updated = await patchSpec(ctx, label, vm, { sshKeyPairRef: { name: pair.metadata.name ?? '' } });
      return { jobid: await submit(ctx, updated) };
    },
  });

  const resetUserDataForVirtualMachine = defineCommand({
    name: 'resetUserDataForVirtualMachine',
    kind: 'object',
    description: 'Resets the UserData for virtual machine. The virtual machine must be in a "Stopped" state.',
    params: {
      id: { type: 'uuid', description: 'The ID of the virtual machine', required: true, entity: 'virtualmachine' },
      userdata: { type: 'string', description: 'an optional binary data that can be sent to the virtual machine upon a successful deployment. This binary data must be base64 encoded before adding it to the request.', length: 1048576 },
      userdataid: { type: 'uuid', description: 'the ID of the userdata', entity: 'userdata' },
      userdatadetails: { type: 'map', description: 'used to specify the parameters values for the variables in userdata.' },
      ...scope,
    },
    async handle(p, ctx) {
      const label = 'resetuserdataforvirtualmachine';
      const vm = await stoppedVm(ctx, label, p.id, 'UserData reset', p);
      const resolved = resolveUserData(infra, label, vm.metadata.namespace ?? '', p) ?? { userData: '' };
      return patchSpec(ctx, label, vm, { userData: resolved.userData === '' ? null : resolved.userData }, { annotations: userDataAnnotation(resolved) });
    },
    map: (vm) => vmFields(infra, vm),
  });

  const getVirtualMachineUserData = defineCommand({
    name: 'getVirtualMachineUserData',
    kind: 'object',
    description: 'Returns user data associated with the VM',
    params: { virtualmachineid: { type: 'uuid', description: 'The ID of the virtual machine', required: true, entity: 'virtualmachine' } },
    handle: (p, ctx) => visibleVm(ctx, 'getvirtualmachineuserdata', p.virtualmachineid, 'virtualmachineid'),
    map: (vm): Fields => ({ virtualmachineid: vm.metadata.uid, userdata: vm.spec.userData }),
  });

  const updateVMAffinityGroup = defineCommand({
    name: 'updateVMAffinityGroup',
    kind: 'async',
    description: 'Updates the affinity/anti-affinity group associations of a virtual machine. The VM has to be stopped and restarted for the new properties to take effect.',
    params: {
      id: { type: 'uuid', description: 'The ID of the virtual machine', required: true, entity: 'virtualmachine' },
      affinitygroupids: { type: 'list', items: 'uuid', description: 'comma separated list of affinity groups id that are going to be applied to the virtual machine. Should be passed only when vm is created from a zone with Basic Network support. Mutually exclusive with securitygroupnames parameter' },
      affinitygroupnames: { type: 'list', description: 'comma separated list of affinity groups names that are going to be applied to the virtual machine. Should be passed only when vm is created from a zone with Basic Network support. Mutually exclusive with securitygroupids parameter' },
    },
    async handle(p, ctx) {
      const label = 'updatevirtualmachine';
      const vm = await visibleVm(ctx, label, p.id);
      if (stateOf(vm) !== 'Stopped') throw invalidParameterValue(`Unable to update affinity groups of the virtual machine ${vmText(vm)}: it is ${stateOf(vm)}; stop it first`);
      if (p.affinitygroupids === undefined && p.affinitygroupnames === undefined) throw invalidParameterValue('Either affinitygroupids or affinitygroupnames must be given (an empty list removes every group)');
      await infra.mayRead(ctx, GROUPS, vm.metadata.namespace);
      const groups = affinityGroups(label, vm.metadata.namespace ?? '', p.affinitygroupids, p.affinitygroupnames);
      const updated = await patchSpec(ctx, label, vm, { affinityGroupRefs: groups.length > 0 ? groups.map((g) => ({ name: g.metadata.name ?? '' })) : null });
      return { jobid: await submit(ctx, updated) };
    },
  });

  return [resetSSHKeyForVirtualMachine, resetUserDataForVirtualMachine, getVirtualMachineUserData, updateVMAffinityGroup];
}
