import { InstanceGroup, VirtualMachine, type InstanceGroupObject } from '../../crds/index.ts';
import { isAlreadyExists, resourceTypeOf } from '../../lib/kube-client.ts';
import { byCreation, equalsIgnoringCase, findOptional, keywordMatches } from '../lists/filters.ts';
import { INDEX } from '../lists/indexes.ts';
import { inScope, SCOPE_PARAMS, scopedNamespaces } from '../lists/scope.ts';
import type { Fields } from '../protocol/envelope.ts';
import { invalidParameterValue } from '../protocol/errors.ts';
import { ownerNamespace, visibleById } from './compute-support.ts';
import { accountOfNamespace, ownerFields } from './compute-views.ts';
import type { Infra } from './context.ts';
import { type Command, type CommandContext, defineCommand } from './define.ts';
import { failure } from './errors.ts';
import { apiDate } from './infra-views.ts';
import { createNamed, displayName, objectName } from './names.ts';

/**
 * Instance groups (PROTOCOL.md §11, virtual-machines): InstanceGroup objects in the account's
 * namespace. A VM is in the group its spec.group names, so kubectl and the API agree; renaming
 * a group renames it on its members, and deleting one takes its members out, as CloudStack does.
 */

const GROUPS = resourceTypeOf(InstanceGroup);

export function instanceGroupFields(infra: Infra, group: InstanceGroupObject): Fields {
  return {
    id: group.metadata.uid,
    name: displayName(group),
    created: apiDate(group.metadata.creationTimestamp),
    ...ownerFields(infra, group.metadata.namespace),
    hasannotations: false,
  };
}

/** The group named `name` in `namespace`, if any. */
export function instanceGroupNamed(infra: Infra, namespace: string, name: string): InstanceGroupObject | undefined {
  return infra.cache.instanceGroups.byIndex(INDEX.shownName, `${namespace}/${name}`)[0];
}

/** The group a deploy or update names (`group`): found, or created as the caller, as CloudStack creates it on first use. */
export async function ensureInstanceGroup(infra: Infra, ctx: CommandContext, label: string, namespace: string, name: string): Promise<InstanceGroupObject> {
  const found = instanceGroupNamed(infra, namespace, name);
  if (found) return found;
  return createNamed(infra.resource<InstanceGroupObject>(ctx, InstanceGroup), objectName(name), (metadataName) => ({
    apiVersion: InstanceGroup.apiVersion,
    kind: InstanceGroup.kind,
    metadata: { namespace, name: metadataName },
    spec: { displayName: name },
  })).catch((err: unknown) => failure(err, ctx, { label, params: { 'spec.displayName': 'group' } }));
}

export function instanceGroupCommands(infra: Infra): Command[] {
  const { cache } = infra;
  const visibleGroup = (ctx: CommandContext, label: string, id: string) => visibleById(infra, ctx, cache.instanceGroups, GROUPS, label, id);
  const members = (group: InstanceGroupObject) => cache.virtualMachines.list().filter((vm) => vm.metadata.namespace === group.metadata.namespace && vm.spec.group === displayName(group));

  /** Sets spec.group on each member VM as the caller (null takes it out). */
  async function moveMembers(ctx: CommandContext, label: string, group: InstanceGroupObject, to: string | null): Promise<void> {
    for (const vm of members(group)) {
      await infra
        .resource(ctx, VirtualMachine)
        .patch({ namespace: vm.metadata.namespace, name: vm.metadata.name ?? '' }, { spec: { group: to } }, 'merge')
        .catch((err: unknown) => failure(err, ctx, { label, id: vm.metadata.uid }));
    }
  }

  const createInstanceGroup = defineCommand({
    name: 'createInstanceGroup',
    kind: 'object',
    description: 'Creates a vm group',
    params: {
      name: { type: 'string', description: 'the name of the instance group', required: true },
      account: { type: 'string', description: 'the account of the instance group. The account parameter must be used with the domainId parameter.' },
      domainid: { type: 'uuid', description: 'the domain ID of account owning the instance group', entity: 'domain' },
    },
    async handle(p, ctx) {
      const label = 'createinstancegroup';
      await cache.synced();
      const namespace = ownerNamespace(infra, ctx, label, p);
      const account = accountOfNamespace(infra, namespace);
      if (instanceGroupNamed(infra, namespace, p.name)) throw invalidParameterValue(`Unable to create vm group, a group with name ${p.name} already exists for account ${account ? displayName(account) : namespace}`);
      return infra
        .resource<InstanceGroupObject>(ctx, InstanceGroup)
        .create({ apiVersion: InstanceGroup.apiVersion, kind: InstanceGroup.kind, metadata: { namespace, name: objectName(p.name) }, spec: { displayName: p.name } })
        .catch((err: unknown) => {
          if (isAlreadyExists(err)) throw invalidParameterValue(`Unable to create vm group, a group with name ${p.name} already exists for account ${account ? displayName(account) : namespace}`);
          return failure(err, ctx, { label, params: { 'spec.displayName': 'name' } });
        });
    },
    map: (group) => instanceGroupFields(infra, group),
  });

  const listInstanceGroups = defineCommand({
    name: 'listInstanceGroups',
    kind: 'list',
    description: 'Lists vm groups',
    params: {
      id: { type: 'uuid', description: 'list instance groups by ID', entity: 'instancegroup' },
      name: { type: 'string', description: 'list instance groups by name' },
      keyword: { type: 'string', description: 'List by keyword' },
      ...SCOPE_PARAMS,
    },
    async handle(p, ctx) {
      const label = 'listinstancegroups';
      await cache.synced();
      const one = findOptional(cache.instanceGroups, p.id, label, 'id');
      const namespaces = await scopedNamespaces(cache, ctx.caller, p, GROUPS, label, infra.deps.mayList);
      return (one ? [one] : cache.instanceGroups.sorted())
        .filter((g) => inScope(namespaces, g.metadata.namespace) && equalsIgnoringCase(p.name, displayName(g)) && keywordMatches(p.keyword, displayName(g)))
        .sort(byCreation);
    },
    mapItem: (group) => instanceGroupFields(infra, group),
  });

  const updateInstanceGroup = defineCommand({
    name: 'updateInstanceGroup',
    kind: 'object',
    description: 'Updates a vm group',
    params: {
      id: { type: 'uuid', description: 'Instance group ID', required: true, entity: 'instancegroup' },
      name: { type: 'string', description: 'new instance group name' },
    },
    async handle(p, ctx) {
      const label = 'updateinstancegroup';
      const group = await visibleGroup(ctx, label, p.id);
      if (p.name === undefined || p.name === displayName(group)) return group;
      const account = accountOfNamespace(infra, group.metadata.namespace);
      if (instanceGroupNamed(infra, group.metadata.namespace ?? '', p.name)) throw invalidParameterValue(`Unable to update vm group, a group with name ${p.name} already exists for account ${account ? displayName(account) : (group.metadata.namespace ?? '')}`);
      const renamed = await infra
        .resource<InstanceGroupObject>(ctx, InstanceGroup)
        .patch({ namespace: group.metadata.namespace, name: group.metadata.name ?? '' }, { spec: { displayName: p.name } }, 'merge')
        .catch((err: unknown) => failure(err, ctx, { label, id: p.id, params: { 'spec.displayName': 'name' } }));
      await moveMembers(ctx, label, group, p.name);
      return renamed;
    },
    map: (group) => instanceGroupFields(infra, group),
  });

  const deleteInstanceGroup = defineCommand({
    name: 'deleteInstanceGroup',
    kind: 'success',
    description: 'Deletes a vm group',
    params: { id: { type: 'uuid', description: 'the ID of the instance group', required: true, entity: 'instancegroup' } },
    async handle(p, ctx) {
      const label = 'deleteinstancegroup';
      const group = await visibleGroup(ctx, label, p.id);
      await moveMembers(ctx, label, group, null);
      await infra
        .resource(ctx, InstanceGroup)
        .delete({ namespace: group.metadata.namespace, name: group.metadata.name ?? '' }, { preconditions: { uid: group.metadata.uid } })
        .catch((err: unknown) => failure(err, ctx, { label, id: p.id }));
      return undefined;
    },
  });

  return [createInstanceGroup, listInstanceGroups, updateInstanceGroup, deleteInstanceGroup];
}
