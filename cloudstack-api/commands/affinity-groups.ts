import { AffinityGroup, type AffinityGroupObject } from '../../crds/index.ts';
import { isAlreadyExists, resourceTypeOf } from '../../lib/kube-client.ts';
import { byCreation, equalsIgnoringCase, findOptional, keywordMatches } from '../lists/filters.ts';
import { inScope, SCOPE_PARAMS, scopedNamespaces } from '../lists/scope.ts';
import type { Fields } from '../protocol/envelope.ts';
import { invalidParameterValue, resourceInUse } from '../protocol/errors.ts';
import { ownerNamespace, READY, visibleById } from './compute-support.ts';
import { ownerFields } from './compute-views.ts';
import type { Infra } from './context.ts';
import { type Command, type CommandContext, defineCommand } from './define.ts';
import { failure } from './errors.ts';
import type { JobResultMapper } from './job-support.ts';
import { displayName, objectName } from './names.ts';

/**
 * Affinity groups (PROTOCOL.md §11, affinity-groups): AffinityGroup objects in the account's
 * namespace; VMs join by naming them (deployVirtualMachine affinitygroupids/names), and the
 * planner keeps the rule.
 */

const GROUPS = resourceTypeOf(AffinityGroup);
const TYPES = ['host anti-affinity', 'host affinity', 'non-strict host anti-affinity', 'non-strict host affinity'] as const;

export function affinityGroupFields(infra: Infra, group: AffinityGroupObject): Fields {
  const members = infra.cache.virtualMachines.list().filter((vm) => vm.metadata.namespace === group.metadata.namespace && (vm.spec.affinityGroupRefs ?? []).some((r) => r.name === group.metadata.name));
  return {
    id: group.metadata.uid,
    name: displayName(group),
    description: group.spec.description,
    type: group.spec.type,
    ...ownerFields(infra, group.metadata.namespace),
    virtualmachineIds: members.map((vm) => vm.metadata.uid),
    dedicatedresources: [],
  };
}

export function affinityGroupJobResults(infra: Infra): [string, JobResultMapper][] {
  return [
    [
      'createAffinityGroup',
      (job) => {
        const group = infra.cache.affinityGroups.byName(job.spec.targetRef.name, job.spec.targetRef.namespace);
        return group && group.metadata.uid === job.spec.targetRef.uid ? affinityGroupFields(infra, group) : undefined;
      },
    ],
  ];
}

export function affinityGroupCommands(infra: Infra): Command[] {
  const { cache } = infra;
  const named = (namespace: string, name: string) => cache.affinityGroups.list().find((g) => g.metadata.namespace === namespace && displayName(g) === name);
  const scope = {
    account: { type: 'string', description: 'an account for the affinity group. Must be used with domainId.' },
    domainid: { type: 'uuid', description: 'domainId of the account owning the affinity group', entity: 'domain' },
  } as const;

  const createAffinityGroup = defineCommand({
    name: 'createAffinityGroup',
    kind: 'async',
    description: 'Creates an affinity/anti-affinity group',
    params: {
      name: { type: 'string', description: 'name of the affinity group', required: true },
      type: { type: 'string', description: 'Type of the affinity group from the available affinity/anti-affinity group types', required: true },
      description: { type: 'string', description: 'optional description of the affinity group' },
      ...scope,
    },
    async handle(p, ctx) {
      const label = 'createaffinitygroup';
      await cache.synced();
      const type = TYPES.find((t) => t === p.type.toLowerCase());
      if (!type) throw invalidParameterValue(`Unable to create affinity group, invalid affinity group type: ${p.type}; use one of: ${TYPES.join(', ')}`);
      const namespace = ownerNamespace(infra, ctx, label, p);
      if (named(namespace, p.name)) throw invalidParameterValue(`Unable to create affinity group, a group with name ${p.name} already exists.`);
      const group = await infra
        .resource<AffinityGroupObject>(ctx, AffinityGroup)
        .create({ apiVersion: AffinityGroup.apiVersion, kind: AffinityGroup.kind, metadata: { namespace, name: objectName(p.name) }, spec: { displayName: p.name, type, ...(p.description !== undefined ? { description: p.description } : {}) } })
        .catch((err: unknown) => {
          if (isAlreadyExists(err)) throw invalidParameterValue(`Unable to create affinity group, a group with name ${p.name} already exists.`);
          return failure(err, ctx, { label, params: { 'spec.displayName': 'name', 'spec.description': 'description' } });
        });
      return { id: group.metadata.uid ?? '', jobid: await infra.submitJob(ctx, { target: group, kind: AffinityGroup, condition: READY }) };
    },
  });

  const listAffinityGroups = defineCommand({
    name: 'listAffinityGroups',
    kind: 'list',
    description: 'Lists affinity groups',
    params: {
      id: { type: 'uuid', description: 'list the affinity group by the ID provided', entity: 'affinitygroup' },
      name: { type: 'string', description: 'lists affinity groups by name' },
      type: { type: 'string', description: 'lists affinity groups by type' },
      virtualmachineid: { type: 'uuid', description: 'lists affinity groups by virtual machine ID', entity: 'virtualmachine' },
      keyword: { type: 'string', description: 'List by keyword' },
      ...SCOPE_PARAMS,
    },
    async handle(p, ctx) {
      const label = 'listaffinitygroups';
      await cache.synced();
      const one = findOptional(cache.affinityGroups, p.id, label, 'id');
      const vm = findOptional(cache.virtualMachines, p.virtualmachineid, label, 'virtualmachineid');
      const namespaces = await scopedNamespaces(cache, ctx.caller, p, GROUPS, label, infra.deps.mayList);
      return (one ? [one] : cache.affinityGroups.sorted())
        .filter(
          (g) =>
            inScope(namespaces, g.metadata.namespace) &&
            equalsIgnoringCase(p.name, displayName(g)) &&
            equalsIgnoringCase(p.type, g.spec.type) &&
            keywordMatches(p.keyword, displayName(g)) &&
            (vm === undefined || (vm.metadata.namespace === g.metadata.namespace && (vm.spec.affinityGroupRefs ?? []).some((r) => r.name === g.metadata.name))),
        )
        .sort(byCreation);
    },
    mapItem: (group) => affinityGroupFields(infra, group),
  });

  const deleteAffinityGroup = defineCommand({
    name: 'deleteAffinityGroup',
    kind: 'async',
    description: 'Deletes affinity group',
    params: {
      id: { type: 'uuid', description: 'The ID of the affinity group. Mutually exclusive with name parameter', entity: 'affinitygroup' },
      name: { type: 'string', description: 'The name of the affinity group. Mutually exclusive with ID parameter' },
      ...scope,
    },
    async handle(p, ctx: CommandContext) {
      const label = 'deleteaffinitygroup';
      if ((p.id === undefined) === (p.name === undefined)) throw invalidParameterValue('Either the affinity group id or name must be given, not both');
      let group: AffinityGroupObject | undefined;
      if (p.id !== undefined) group = await visibleById(infra, ctx, cache.affinityGroups, GROUPS, label, p.id);
      else {
        await cache.synced();
        group = named(ownerNamespace(infra, ctx, label, p), p.name ?? '');
        if (!group) throw invalidParameterValue(`Unable to find affinity group by name ${p.name}`);
      }
      const members = affinityGroupFields(infra, group)['virtualmachineIds'] as string[];
      if (members.length > 0) throw resourceInUse(`Cannot delete affinity group ${displayName(group)}: it still has ${members.length} VM(s); remove them from the group first`);
      await infra
        .resource(ctx, AffinityGroup)
        .delete({ namespace: group.metadata.namespace, name: group.metadata.name ?? '' }, { preconditions: { uid: group.metadata.uid } })
        .catch((err: unknown) => failure(err, ctx, { label, id: group.metadata.uid }));
      return { jobid: await infra.submitJob(ctx, { target: group, kind: AffinityGroup, deleted: true }) };
    },
  });

  const listAffinityGroupTypes = defineCommand({
    name: 'listAffinityGroupTypes',
    kind: 'list',
    description: 'Lists affinity group types available',
    params: { keyword: { type: 'string', description: 'List by keyword' } },
    handle: (p) => Promise.resolve(TYPES.filter((t) => keywordMatches(p.keyword, t))),
    mapItem: (type) => ({ type }),
  });

  return [createAffinityGroup, listAffinityGroups, deleteAffinityGroup, listAffinityGroupTypes];
}
