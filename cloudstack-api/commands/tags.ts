import type { KubeObject } from '../../lib/kube-client.ts';
import { keywordMatches } from '../lists/filters.ts';
import { inScope, SCOPE_PARAMS, scopedNamespaces } from '../lists/scope.ts';
import { isRootAdmin } from '../protocol/auth.ts';
import type { Fields } from '../protocol/envelope.ts';
import { invalidParameterValue } from '../protocol/errors.ts';
import { TAG_PREFIX, tagFields } from './compute-views.ts';
import type { Infra } from './context.ts';
import { type Command, type CommandContext, defineCommand } from './define.ts';
import { failure } from './errors.ts';
import { type ResourceKind, resourceKindNamed, resourceKinds, visibleResource } from './resource-types.ts';

/**
 * Resource tags (PROTOCOL.md §11, tags-details): each tag is an annotation of the tagged
 * object, `tags.cloudstack.kumulus.io/<key>: <value>`, so kubectl shows it and both doors
 * agree. createTags and deleteTags write the annotations as the caller inside the request;
 * CloudStack runs them as jobs, so each records an AsyncJob that completes once the target
 * carries what was written (lib/async-job.ts).
 */

/** The name part of an annotation key: what a tag key must be to be kept as one. */
const ANNOTATION_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;

const resourceTypes = (kinds: readonly ResourceKind[]) => kinds.map((k) => k.type).join(', ');

/** `tags[i].key=…&tags[i].value=…`, each index one tag (a missing value: undefined). */
function tagEntries(entries: readonly Record<string, string>[] | undefined): { key: string; value: string | undefined }[] {
  return (entries ?? []).map((entry) => ({ key: entry['key'] ?? '', value: entry['value'] }));
}

function checkKey(key: string): void {
  if (key === '') throw invalidParameterValue('A tag needs a key: send tags[0].key=<key>&tags[0].value=<value>');
  if (!ANNOTATION_NAME.test(key)) {
    throw invalidParameterValue(`Tag key ${key} cannot be kept: a key is 1 to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit (it becomes the annotation ${TAG_PREFIX}<key>)`);
  }
}

export function tagCommands(infra: Infra): Command[] {
  const kinds = resourceKinds(infra);

  /** The objects named by `resourceids` of `resourcetype`, as the caller may see them. */
  async function targets(ctx: CommandContext, p: { resourceids: string[]; resourcetype: string }): Promise<{ type: ResourceKind; objects: KubeObject[] }> {
    const type = resourceKindNamed(kinds, p.resourcetype, 'tags');
    if (p.resourceids.length === 0) throw invalidParameterValue('resourceids names no resource: give one id or more, comma separated');
    const objects: KubeObject[] = [];
    for (const id of p.resourceids) objects.push(await visibleResource(infra, ctx, type, id));
    return { type, objects };
  }

  /** Writes `annotations` (null removes) on each object as the caller, then records one job that completes once the last one shows them. */
  async function write(ctx: CommandContext, label: string, type: ResourceKind, changes: { object: KubeObject; annotations: Record<string, string | null> }[]): Promise<string> {
    let last: { object: KubeObject; annotations: Record<string, string | null> } | undefined;
    for (const change of changes) {
      const written = await infra
        .resource(ctx, type.kind)
        .patch({ namespace: change.object.metadata.namespace, name: change.object.metadata.name ?? '' }, { metadata: { annotations: change.annotations } }, 'merge')
        .catch((err: unknown) => failure(err, ctx, { label, id: change.object.metadata.uid, action: `tag ${type.type} ${change.object.metadata.uid ?? ''}` }));
      last = { object: written, annotations: change.annotations };
    }
    if (!last) throw invalidParameterValue('resourceids names no resource: give one id or more, comma separated');
    return infra.submitJob(ctx, { target: last.object, kind: type.kind, annotations: last.annotations });
  }

  const createTags = defineCommand({
    name: 'createTags',
    kind: 'async',
    description: 'Creates resource tag(s)',
    params: {
      resourceids: { type: 'list', description: 'list of resources to create the tags for', required: true },
      resourcetype: { type: 'string', description: `type of the resource: ${resourceTypes(kinds)}`, required: true },
      tags: { type: 'map', description: 'Map of tags (key/value pairs)', required: true },
    },
    async handle(p, ctx) {
      const label = 'createtags';
      const tags = tagEntries(p.tags);
      if (tags.length === 0) throw invalidParameterValue('tags names no tag: send tags[0].key=<key>&tags[0].value=<value>');
      for (const tag of tags) {
        checkKey(tag.key);
        if (tag.value === undefined || tag.value === '') throw invalidParameterValue(`Value for the key ${tag.key} is either null or empty`);
      }
      const { type, objects } = await targets(ctx, p);
      for (const object of objects) {
        for (const tag of tags) {
          if (object.metadata.annotations?.[`${TAG_PREFIX}${tag.key}`] !== undefined) {
            throw invalidParameterValue(`A tag with key ${tag.key} already exists on ${type.type} ${object.metadata.uid ?? ''}: delete it first (deleteTags), then create it with the new value`);
          }
        }
      }
      const annotations = Object.fromEntries(tags.map((t) => [`${TAG_PREFIX}${t.key}`, t.value ?? '']));
      return { jobid: await write(ctx, label, type, objects.map((object) => ({ object, annotations }))) };
    },
  });

  const deleteTags = defineCommand({
    name: 'deleteTags',
    kind: 'async',
    description: 'Deleting resource tag(s)',
    params: {
      resourceids: { type: 'list', description: 'Delete tags for resource id(s)', required: true },
      resourcetype: { type: 'string', description: 'Delete tag by resource type', required: true },
      tags: { type: 'map', description: 'Delete tags matching key/value pairs (a key alone: whatever its value; none: every tag)' },
    },
    async handle(p, ctx) {
      const label = 'deletetags';
      const asked = tagEntries(p.tags);
      for (const tag of asked) checkKey(tag.key);
      const { type, objects } = await targets(ctx, p);
      const changes = objects.map((object) => {
        const have = object.metadata.annotations ?? {};
        const keys = Object.keys(have).filter((key) => key.startsWith(TAG_PREFIX));
        const removed = asked.length === 0 ? keys : asked.filter((t) => t.value === undefined || have[`${TAG_PREFIX}${t.key}`] === t.value).map((t) => `${TAG_PREFIX}${t.key}`).filter((key) => key in have);
        return { object, annotations: Object.fromEntries(removed.map((key) => [key, null])) };
      });
      // CloudStack refuses a delete that matches nothing, rather than reporting success for it.
      if (changes.every((c) => Object.keys(c.annotations).length === 0)) {
        throw invalidParameterValue(`Unable to find any tags which conform to specified delete parameters on ${type.type} ${p.resourceids.join(',')}`);
      }
      return { jobid: await write(ctx, label, type, changes) };
    },
  });

  const listTags = defineCommand({
    name: 'listTags',
    kind: 'list',
    description: 'List resource tag(s)',
    params: {
      resourcetype: { type: 'string', description: 'list by resource type' },
      resourceid: { type: 'string', description: 'list by resource id' },
      key: { type: 'string', description: 'list by key' },
      value: { type: 'string', description: 'list by value' },
      customer: { type: 'string', description: 'list by customer name' },
      keyword: { type: 'string', description: 'List by keyword' },
      ...SCOPE_PARAMS,
    },
    async handle(p, ctx) {
      const label = 'listtags';
      await infra.cache.synced();
      const types = p.resourcetype === undefined ? kinds : [resourceKindNamed(kinds, p.resourcetype, 'tags')];
      const rows: Fields[] = [];
      for (const type of types) {
        const namespaces = await scopedNamespaces(infra.cache, ctx.caller, p, type.cached.type, label, infra.deps.mayList);
        // Cluster-scoped objects (zones) are the administrators': their tags are listed to root admins.
        const objects = type.cached.sorted().filter((o) => type.holds(o) && (o.metadata.namespace === undefined ? isRootAdmin(ctx.caller) : inScope(namespaces, o.metadata.namespace)));
        for (const object of objects) {
          if (p.resourceid !== undefined && object.metadata.uid !== p.resourceid) continue;
          rows.push(...tagFields(infra, object, type.type));
        }
      }
      // Tags carry no customer here, so asking for one matches none.
      return rows.filter((t) => (p.key === undefined || t['key'] === p.key) && (p.value === undefined || t['value'] === p.value) && p.customer === undefined && keywordMatches(p.keyword, t['key'] as string, t['value'] as string));
    },
    mapItem: (tag) => tag,
  });

  return [createTags, deleteTags, listTags];
}
