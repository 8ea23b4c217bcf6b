import type { KindInfo } from '../../crds/index.ts';
import type { KubeObject } from '../../lib/kube-client.ts';
import type { Cached } from '../lists/cache.ts';
import { invalidParameterValue } from '../protocol/errors.ts';
import type { Infra } from './context.ts';
import type { CommandContext } from './define.ts';

/**
 * CloudStack's resource types (`resourcetype` of createTags, addResourceDetail and their
 * lists) as the kinds that hold them: the types whose responses carry tags. A Template of
 * format ISO is an ISO, any other a Template, as CloudStack keeps them apart.
 */

export interface ResourceKind {
  /** CloudStack's name, as responses spell it. */
  readonly type: string;
  readonly kind: KindInfo;
  readonly cached: Cached<KubeObject>;
  /** Which objects of the kind are of this type. */
  readonly holds: (obj: KubeObject) => boolean;
}

const isIso = (obj: KubeObject) => (obj as { spec?: { format?: string } }).spec?.format === 'ISO';

export function resourceKinds(infra: Infra): readonly ResourceKind[] {
  const { cache } = infra;
  const all = () => true;
  const entry = (type: string, cached: Cached<KubeObject>, holds: (obj: KubeObject) => boolean = all): ResourceKind => ({ type, kind: cached.kind, cached, holds });
  return [
    entry('UserVm', cache.virtualMachines),
    entry('Volume', cache.volumes),
    entry('Template', cache.templates, (o) => !isIso(o)),
    entry('ISO', cache.templates, isIso),
    entry('Network', cache.networks),
    entry('Zone', cache.zones),
  ];
}

/** The resource type named by a request (case-insensitive, as CloudStack matches it), or CloudStack's refusal naming the types kept here. */
export function resourceKindNamed(kinds: readonly ResourceKind[], name: string, what: string): ResourceKind {
  const found = kinds.find((k) => k.type.toLowerCase() === name.toLowerCase());
  if (!found) throw invalidParameterValue(`Invalid resource type ${name}; ${what} are kept on: ${kinds.map((k) => k.type).join(', ')}`);
  return found;
}

/**
 * The object of `type` with this id that the caller may see: in a namespace it may list, or
 * cluster-scoped (whose writes RBAC then judges). Otherwise CloudStack's text, the same for an
 * unknown id and another account's.
 */
export async function visibleResource(infra: Infra, ctx: CommandContext, type: ResourceKind, id: string): Promise<KubeObject> {
  await infra.cache.synced();
  const found = type.cached.byUid(id);
  const visible = found !== undefined && type.holds(found) && (found.metadata.namespace === undefined || (await infra.deps.mayList(ctx.caller, type.cached.type, found.metadata.namespace)));
  if (!visible) throw invalidParameterValue(`Unable to find resource by id ${id} and type ${type.type}`);
  return found;
}
