import { isConflict, type KubeObject } from '../../lib/kube-client.ts';
import { keywordMatches } from '../lists/filters.ts';
import { inScope, SCOPE_PARAMS, scopedNamespaces } from '../lists/scope.ts';
import type { Fields } from '../protocol/envelope.ts';
import { invalidParameterValue } from '../protocol/errors.ts';
import { DETAILS_ANNOTATION, detailsOf, ownerFields } from './compute-views.ts';
import type { Infra } from './context.ts';
import { type Command, type CommandContext, defineCommand } from './define.ts';
import { failure } from './errors.ts';
import { type ResourceKind, resourceKindNamed, resourceKinds, visibleResource } from './resource-types.ts';

/**
 * Resource details (PROTOCOL.md §11, tags-details): the `details` object CloudStack shows on a
 * VM, volume, template or network, kept as one annotation of the object
 * (cloudstack.kumulus.io/details, a JSON object of strings) that deploy and updateVirtualMachine
 * write too. The commands change it as the caller, against the version read, and record a job
 * that completes once the object carries the new value.
 */

/** Zones keep their CloudStack details in spec (updateZone), not here. */
const WITH_DETAILS = new Set(['UserVm', 'Volume', 'Template', 'ISO', 'Network']);

export function resourceDetailCommands(infra: Infra): Command[] {
  const kinds = resourceKinds(infra).filter((k) => WITH_DETAILS.has(k.type));

  /** Rewrites the details of `object` with `change` applied, retrying on a concurrent write; returns the job id. */
  async function rewrite(ctx: CommandContext, label: string, type: ResourceKind, object: KubeObject, change: (details: Record<string, string>) => Record<string, string>): Promise<string> {
    const client = infra.resource(ctx, type.kind);
    const key = { namespace: object.metadata.namespace, name: object.metadata.name ?? '' };
    for (let attempt = 1; ; attempt++) {
      const current = await client.get(key).catch((err: unknown) => failure(err, ctx, { label, id: object.metadata.uid }));
      const details = change(detailsOf(current));
      const value = Object.keys(details).length > 0 ? JSON.stringify(details) : null;
      try {
        const written = await client.patch(key, { metadata: { resourceVersion: current.metadata.resourceVersion, annotations: { [DETAILS_ANNOTATION]: value } } }, 'merge');
        return await infra.submitJob(ctx, { target: written, kind: type.kind, annotations: { [DETAILS_ANNOTATION]: value } });
      } catch (err) {
        if (isConflict(err) && attempt < 5) continue;
        return failure(err, ctx, { label, id: object.metadata.uid, action: `change the details of ${type.type} ${object.metadata.uid ?? ''}` });
      }
    }
  }

  const addResourceDetail = defineCommand({
    name: 'addResourceDetail',
    kind: 'async',
    description: 'Adds detail for the Resource.',
    params: {
      resourceid: { type: 'string', description: 'resource id to create the details for', required: true },
      resourcetype: { type: 'string', description: `type of the resource: ${kinds.map((k) => k.type).join(', ')}`, required: true },
      details: { type: 'map', description: 'Map of (key/value pairs): details[0].key=<key>&details[0].value=<value>', required: true },
      fordisplay: { type: 'boolean', description: 'pass false if you want this detail to be disabled for the regular user. True by default (every detail is shown here)' },
    },
    async handle(p, ctx) {
      const label = 'addresourcedetail';
      const type = resourceKindNamed(kinds, p.resourcetype, 'details');
      const object = await visibleResource(infra, ctx, type, p.resourceid);
      const added: Record<string, string> = {};
      for (const entry of p.details) {
        const key = entry['key'];
        const value = entry['value'];
        if (key === undefined || key === '' || value === undefined) throw invalidParameterValue('Each detail needs a key and a value: details[0].key=<key>&details[0].value=<value>');
        added[key] = value;
      }
      if (Object.keys(added).length === 0) throw invalidParameterValue('details names no detail: send details[0].key=<key>&details[0].value=<value>');
      return { jobid: await rewrite(ctx, label, type, object, (details) => ({ ...details, ...added })) };
    },
  });

  const removeResourceDetail = defineCommand({
    name: 'removeResourceDetail',
    kind: 'async',
    description: 'Removes detail for the Resource.',
    params: {
      resourceid: { type: 'string', description: 'Resource id', required: true },
      resourcetype: { type: 'string', description: 'Delete details for resource type', required: true },
      key: { type: 'string', description: 'Delete details matching key (every detail when absent)' },
    },
    async handle(p, ctx) {
      const label = 'removeresourcedetail';
      const type = resourceKindNamed(kinds, p.resourcetype, 'details');
      const object = await visibleResource(infra, ctx, type, p.resourceid);
      if (p.key !== undefined && !(p.key in detailsOf(object))) throw invalidParameterValue(`${type.type} ${p.resourceid} has no detail ${p.key}`);
      return { jobid: await rewrite(ctx, label, type, object, (details) => (p.key === undefined ? {} : Object.fromEntries(Object.entries(details).filter(([k]) => k !== p.key)))) };
    },
  });

  const listResourceDetails = defineCommand({
    name: 'listResourceDetails',
    kind: 'list',
    description: 'List resource detail(s)',
    params: {
      resourcetype: { type: 'string', description: 'list by resource type', required: true },
      resourceid: { type: 'string', description: 'list by resource id' },
      key: { type: 'string', description: 'list by key' },
      value: { type: 'string', description: 'list by key, value. Needs to be passed only along with key' },
      fordisplay: { type: 'boolean', description: 'if set to true, only details marked with display=true, are returned. False by default (every detail is for display here)' },
      keyword: { type: 'string', description: 'List by keyword' },
      ...SCOPE_PARAMS,
    },
    async handle(p, ctx) {
      const label = 'listresourcedetails';
      await infra.cache.synced();
      const type = resourceKindNamed(kinds, p.resourcetype, 'details');
      if (p.value !== undefined && p.key === undefined) throw invalidParameterValue('Key has to be specified along with value');
      if (p.resourceid !== undefined) await visibleResource(infra, ctx, type, p.resourceid);
      const namespaces = await scopedNamespaces(infra.cache, ctx.caller, p, type.cached.type, label, infra.deps.mayList);
      const rows: Fields[] = [];
      for (const object of type.cached.sorted()) {
        if (!type.holds(object) || !inScope(namespaces, object.metadata.namespace) || (p.resourceid !== undefined && object.metadata.uid !== p.resourceid)) continue;
        const owner = ownerFields(infra, object.metadata.namespace);
        for (const [key, value] of Object.entries(detailsOf(object)).sort(([a], [b]) => (a < b ? -1 : 1))) {
          if ((p.key !== undefined && key !== p.key) || (p.value !== undefined && value !== p.value) || !keywordMatches(p.keyword, key, value)) continue;
          rows.push({ key, value, resourceid: object.metadata.uid, resourcetype: type.type, ...owner });
        }
      }
      return rows;
    },
    mapItem: (row) => row,
  });

  return [addResourceDetail, removeResourceDetail, listResourceDetails];
}
