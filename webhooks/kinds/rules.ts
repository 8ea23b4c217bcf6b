import { isDeepStrictEqual } from 'node:util';
import type { KindInfo } from '../../crds/index.ts';
import { intToIp, ipToInt, subnetOf } from '../../lib/ipv4.ts';
import type { KubeObject } from '../../lib/kube-client.ts';
import type { AdmissionRequest, FieldError, KindAdmission, Operation } from '../admission.ts';
import type { Lookup } from '../lookup.ts';

/**
 * The frame every kind's admission shares: the ajv schema check first (so the CloudStack API
 * layer, calling the same functions, reports the same errors as kubectl), then the kind's
 * rules over other objects. Updates that leave spec alone (labels, finalizers, owner
 * references written by controllers) and updates of an object being deleted are admitted
 * unchecked: a rule about a parent must never keep a controller from letting a child go.
 */

/** A kind's whole object as the webhook sees it: our schema's spec and status, Kubernetes metadata. */
export type Admitted<O> = Omit<O, 'metadata'> & KubeObject;

export interface RuleContext<T extends KubeObject> {
  object: T;
  oldObject: T | undefined;
  operation: Operation;
  lookup: Lookup;
  /** Who asks, as the apiserver authenticated them (the CloudStack API's callers arrive impersonated). */
  requester: { username?: string; groups: readonly string[] };
}

export type Rule<T extends KubeObject> = (ctx: RuleContext<T>) => FieldError[] | Promise<FieldError[]>;

export interface KindRules<T extends KubeObject> {
  /** Derived defaults the CRD's own `default` cannot express: on CREATE, and on UPDATE of an object that already carries them. */
  defaults?: (object: T) => void | Promise<void>;
  rules?: Rule<T>[];
  /** Checked only once every rule passed, as CloudStack checks resource limits after the parameters. */
  limits?: Rule<T>;
}

const specOf = (obj: KubeObject | null | undefined): unknown => (obj as { spec?: unknown } | null | undefined)?.spec;

export function kindAdmission<T extends KubeObject>(kind: KindInfo, lookup: Lookup, parts: KindRules<T>): KindAdmission<T> {
  const { defaults, rules = [], limits } = parts;
  return {
    group: kind.group,
    version: kind.version,
    kind: kind.kind,
    plural: kind.plural,
    ...(defaults
      ? {
          applyDefaults: async (object: T, request: AdmissionRequest<T>) => {
            if (request.operation === 'CREATE') return defaults(object);
            // On update, keep derived defaults the stored object already carries (a server-side
            // apply that leaves them out would otherwise drop them), but never start adding them
            // to an object stored without them: that could edit an immutable spec.
            const stored = request.oldObject;
            if (!stored) return;
            const restored = structuredClone(stored);
            await defaults(restored);
            if (isDeepStrictEqual(specOf(restored), specOf(stored))) await defaults(object);
          },
        }
      : {}),
    validate: async (request: AdmissionRequest<T>) => {
      const { object, oldObject, operation } = request;
      if (!object) return [];
      if (operation === 'UPDATE' && (object.metadata.deletionTimestamp || isDeepStrictEqual(specOf(object), specOf(oldObject)))) return [];
      const schema = kind.validate(object);
      if (!schema.valid) return schema.errors.map((e) => ({ field: e.field, message: `${e.message}; see \`kubectl explain ${kind.plural}.${e.field.replace(/\[\d+\]/g, '')}\`` }));
      const ctx: RuleContext<T> = { object, oldObject: oldObject ?? undefined, operation, lookup, requester: { ...request.userInfo, groups: request.userInfo.groups ?? [] } };
      const errors: FieldError[] = [];
      for (const rule of rules) errors.push(...(await rule(ctx)));
      return errors.length === 0 && limits ? limits(ctx) : errors;
    },
  };
}

// References ------------------------------------------------------------------------------

export interface NameRef {
  name: string;
  namespace?: string;
}

const lower = (kind: KindInfo) => kind.kind.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();

/** True when what `read` picks (a reference, a size) is new: on CREATE, or when an UPDATE changed it. */
export function refChanged<T extends KubeObject>(ctx: RuleContext<T>, read: (obj: T) => unknown): boolean {
  if (ctx.operation === 'CREATE' || !ctx.oldObject) return true;
  return !isDeepStrictEqual(read(ctx.object), read(ctx.oldObject));
}

export interface Resolved<P> {
  parent: P | undefined;
  errors: FieldError[];
}

/**
 * Reads the object a reference names and says what is wrong with it: it does not exist, or
 * it is being deleted. `check` is false for an UPDATE that kept the reference: the parent's
 * state then no longer concerns this object (its finalizer holds the parent, not us).
 */
export async function resolveRef<P extends KubeObject>(lookup: Lookup, kind: KindInfo, path: string, ref: NameRef | undefined, check = true): Promise<Resolved<P>> {
  if (!ref) return { parent: undefined, errors: [] };
  const namespace = kind.scope === 'Namespaced' ? ref.namespace : undefined;
  if (kind.scope === 'Namespaced' && !namespace) return { parent: undefined, errors: [{ field: path, message: `names a ${kind.kind} without its namespace; add the namespace` }] };
  const parent = await lookup.get<P>(kind, ref.name, namespace);
  if (!check) return { parent, errors: [] };
  const where = namespace ? ` in namespace ${namespace}` : '';
  if (!parent) {
    return { parent, errors: [{ field: path, message: `${kind.kind} ${ref.name}${where} does not exist; create it first, or name an existing ${lower(kind)}` }] };
  }
  if (parent.metadata.deletionTimestamp) {
    return {
      parent,
      errors: [{ field: path, message: `${kind.kind} ${ref.name}${where} is being deleted; name another ${lower(kind)}, or create this one again once its deletion completes` }],
    };
  }
  return { parent, errors: [] };
}

/** An offering deleted while in use is Inactive: hidden from new users (CloudStack defers the deletion). */
export function inactiveOffering(kind: KindInfo, path: string, offering: KubeObject | undefined): FieldError[] {
  if (!offering) return [];
  const state = (offering as { status?: { state?: string } } | undefined)?.status?.state;
  if (state !== 'Inactive') return [];
  return [{ field: path, message: `${kind.kind} ${offering.metadata.name} is Inactive (deleted while in use); choose an Active ${lower(kind)}` }];
}

// IPv4 ------------------------------------------------------------------------------------

export interface IpInterval {
  start: number;
  end: number;
}

export const overlaps = (a: IpInterval, b: IpInterval): boolean => a.start <= b.end && b.start <= a.end;

export const showInterval = (r: IpInterval): string => (r.start === r.end ? intToIp(r.start) : `${intToIp(r.start)}-${intToIp(r.end)}`);

/**
 * The checks CloudStack makes on a range in a subnet (a pod's reserved system range, a VLAN IP
 * range), with the values in each message: start ≤ end, both inside the subnet and neither
 * its network nor its broadcast address, and the gateway a usable address outside the range.
 */
export function subnetRangeErrors(spec: { gateway: string; netmask: string; startIp: string; endIp?: string }): FieldError[] {
  const net = subnetOf(spec.gateway, spec.netmask);
  const start = ipToInt(spec.startIp);
  const end = spec.endIp === undefined ? start : ipToInt(spec.endIp);
  if (!net || start === undefined || end === undefined) return [];
  const errors: FieldError[] = [];
  const endIp = spec.endIp ?? spec.startIp;
  if (start > end) errors.push({ field: 'spec.startIp', message: `${spec.startIp} is after spec.endIp (${endIp}); swap them` });
  const usable = `${intToIp(net.network + 1)}-${intToIp(net.broadcast - 1)}`;
  const gateway = ipToInt(spec.gateway)!;
  if (net.prefix < 31 && (gateway === net.network || gateway === net.broadcast)) {
    errors.push({ field: 'spec.gateway', message: `${spec.gateway} is the ${gateway === net.network ? 'network' : 'broadcast'} address of ${net.cidr}; use a host address in ${usable}` });
  }
  for (const [field, ip, value] of [['spec.startIp', spec.startIp, start], ['spec.endIp', endIp, end]] as const) {
    if (field === 'spec.endIp' && spec.endIp === undefined) continue;
    if (value < net.network || value > net.broadcast) {
      errors.push({ field, message: `${ip} is outside ${net.cidr} (spec.gateway ${spec.gateway}, spec.netmask ${spec.netmask}); use an address in ${usable} or widen the netmask` });
    } else if (net.prefix < 31 && (value === net.network || value === net.broadcast)) {
      errors.push({ field, message: `${ip} is the ${value === net.network ? 'network' : 'broadcast'} address of ${net.cidr}; use an address in ${usable}` });
    }
  }
  if (start <= end && gateway >= start && gateway <= end) {
    errors.push({ field: 'spec.gateway', message: `${spec.gateway} is inside the range ${showInterval({ start, end })}; move the gateway out of the range or shrink the range` });
  }
  return errors;
}

// Quantities ------------------------------------------------------------------------------

/** Display names default to metadata.name, as the CRD descriptions say (the CloudStack `name`). */
export function defaultDisplayName(object: { metadata: { name?: string }; spec: { displayName?: string } }): void {
  if (object.metadata.name) object.spec.displayName ??= object.metadata.name;
}

/** Offerings' and templates' displayText defaults to their name, as CloudStack's does. */
export function defaultDisplayText(object: { metadata: { name?: string }; spec: { displayName?: string; displayText?: string } }): void {
  defaultDisplayName(object);
  if (object.spec.displayName) object.spec.displayText ??= object.spec.displayName;
}

// Tenancy ---------------------------------------------------------------------------------

interface TenantDomain {
  /** The account owning the namespace, and its domain with every ancestor up to ROOT. */
  account: string;
  domains: string[];
}

/** The account that owns `namespace` and its domain path, or undefined for a namespace no account owns (administrators'). */
export async function tenantOf(lookup: Lookup, accountKind: KindInfo, domainKind: KindInfo, namespace: string | undefined): Promise<TenantDomain | undefined> {
  if (!namespace) return undefined;
  const account = lookup.list<KubeObject & { spec: { namespace: string; domainRef: NameRef } }>(accountKind).find((a) => a.spec.namespace === namespace);
  if (!account) return undefined;
  const domains: string[] = [];
  let next: string | undefined = account.spec.domainRef.name;
  while (next && !domains.includes(next)) {
    domains.push(next);
    next = (await lookup.get<KubeObject & { spec: { parentRef?: NameRef } }>(domainKind, next))?.spec.parentRef?.name;
  }
  return { account: account.metadata.name ?? '', domains };
}

/**
 * CloudStack's domain scoping: an offering limited to domains, or a zone dedicated to one, serves
 * those domains and their subdomains only. `restrictedTo` empty or absent means everyone.
 */
export function domainScopeErrors(path: string, what: string, restrictedTo: string[] | undefined, tenant: TenantDomain | undefined): FieldError[] {
  if (!tenant || !restrictedTo?.length || restrictedTo.some((d) => tenant.domains.includes(d))) return [];
  return [
    {
      field: path,
      message: `${what} is reserved for domain${restrictedTo.length > 1 ? 's' : ''} ${restrictedTo.join(', ')}, and account ${tenant.account} is in domain ${tenant.domains[0]}; choose one open to that domain`,
    },
  ];
}

/** An offering limited to zones must list the zone it is used in. */
export function zoneScopeErrors(path: string, what: string, zoneRefs: NameRef[] | undefined, zone: string): FieldError[] {
  const zones = zoneRefs?.map((z) => z.name);
  if (!zones?.length || zones.includes(zone)) return [];
  return [{ field: path, message: `${what} is available in zone${zones.length > 1 ? 's' : ''} ${zones.join(', ')} only, not ${zone}; choose one offered in zone ${zone}` }];
}

/**
 * resolveRef for a reference that is new (CREATE, or changed by an UPDATE), and nothing for one
 * an update kept: the checks that follow it then have already been made when it was set.
 */
export async function resolveNew<P extends KubeObject, T extends KubeObject>(ctx: RuleContext<T>, kind: KindInfo, path: string, read: (obj: T) => NameRef | undefined): Promise<Resolved<P>> {
  if (!refChanged(ctx, read)) return { parent: undefined, errors: [] };
  return resolveRef<P>(ctx.lookup, kind, path, read(ctx.object));
}

/** Runs `rule` on CREATE, and on UPDATE only when what `read` picks changed, so an untouched legacy conflict never blocks an unrelated edit. */
export function whenChanged<T extends KubeObject>(read: (obj: T) => unknown, rule: Rule<T>): Rule<T> {
  return (ctx) => (refChanged(ctx, read) ? rule(ctx) : []);
}
