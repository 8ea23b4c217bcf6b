/**
 * Schema fragments shared by every API group: references, the status contract, states,
 * addresses, ranges and quantities. Each is written once here so that `kubectl explain`
 * reads the same everywhere and the CRDs stay structural (every node typed, no `$ref`,
 * no `const`, no `patternProperties`), which is what the apiserver accepts.
 */
import Type, { type TObject, type TProperties, type TSchema, type TUnsafe } from 'typebox';

export const API_VERSION = 'v1alpha1';
export const CATEGORY = 'kumulus';

/** One CEL `x-kubernetes-validations` entry. `fieldPath` points the error at a child field. */
export interface CelRule {
  rule: string;
  message: string;
  fieldPath?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
}

export function rule(celRule: string, message: string, fieldPath?: string): CelRule {
  return fieldPath === undefined ? { rule: celRule, message } : { rule: celRule, message, fieldPath };
}

/** Options every field takes: the description is mandatory because it is the user's manual. */
export interface FieldOptions {
  description: string;
  default?: unknown;
  validations?: CelRule[];
}

/** kubectl explain does not show defaults, so the description states them. */
function describeDefault(value: unknown): string {
  return ` Default: ${typeof value === 'string' ? value : JSON.stringify(value)}.`;
}

function options(opts: FieldOptions, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const out: Record<string, unknown> = { ...extra, description: opts.description };
  if (opts.default !== undefined) {
    out.default = opts.default;
    out.description = opts.description + describeDefault(opts.default);
  }
  if (opts.validations?.length) out['x-kubernetes-validations'] = opts.validations;
  return out;
}

// Scalars ---------------------------------------------------------------------------------

export function Str(opts: FieldOptions & { minLength?: number; maxLength?: number; pattern?: string; format?: string }) {
  const { minLength, maxLength, pattern, format, ...rest } = opts;
  const extra: Record<string, unknown> = {};
  if (minLength !== undefined) extra.minLength = minLength;
  extra.maxLength = maxLength ?? 256;
  if (pattern !== undefined) extra.pattern = pattern;
  if (format !== undefined) extra.format = format;
  return Type.String(options(rest, extra));
}

export function Int(opts: FieldOptions & { minimum?: number; maximum?: number; int64?: boolean }) {
  const { minimum, maximum, int64, ...rest } = opts;
  const extra: Record<string, unknown> = {};
  if (int64) extra.format = 'int64';
  if (minimum !== undefined) extra.minimum = minimum;
  if (maximum !== undefined) extra.maximum = maximum;
  return Type.Integer(options(rest, extra));
}

export function Num(opts: FieldOptions & { minimum?: number; maximum?: number }) {
  const { minimum, maximum, ...rest } = opts;
  const extra: Record<string, unknown> = {};
  if (minimum !== undefined) extra.minimum = minimum;
  if (maximum !== undefined) extra.maximum = maximum;
  return Type.Number(options(rest, extra));
}

export function Bool(opts: FieldOptions) {
  return Type.Boolean(options(opts));
}

/** A string limited to `values`, spelled as CloudStack spells them. */
export function StringEnum<const V extends readonly string[]>(values: V, opts: FieldOptions): TUnsafe<V[number]> {
  return Type.Unsafe<V[number]>({ type: 'string', enum: [...values], ...options(opts) });
}

/** A non-negative byte or count figure reported in status. */
export function Count(description: string) {
  return Int({ description, minimum: 0, int64: true });
}

/** An RFC 3339 timestamp. */
export function Timestamp(description: string) {
  return Str({ description, format: 'date-time', maxLength: 64 });
}

/** A string-to-string map (labels, settings). */
export function StringMap(opts: FieldOptions & { maxProperties: number }): TUnsafe<Record<string, string>> {
  const { maxProperties, ...rest } = opts;
  return Type.Unsafe<Record<string, string>>({
    type: 'object',
    additionalProperties: { type: 'string', maxLength: 4096 },
    maxProperties,
    ...options(rest),
  });
}

/** Arbitrary JSON kept as written (the apiserver does not prune it). */
export function PreservedJson(description: string): TUnsafe<Record<string, unknown>> {
  return Type.Unsafe<Record<string, unknown>>({ type: 'object', 'x-kubernetes-preserve-unknown-fields': true, description });
}

export function List<T extends TSchema>(items: T, opts: FieldOptions & { maxItems: number; minItems?: number; set?: boolean }) {
  const { maxItems, minItems, set, ...rest } = opts;
  const extra: Record<string, unknown> = { maxItems };
  if (minItems !== undefined) extra.minItems = minItems;
  if (set) extra['x-kubernetes-list-type'] = 'set';
  return Type.Array(items, options(rest, extra));
}

/** A list of objects keyed by one of their fields, so server-side apply merges by that key. */
export function KeyedList<T extends TObject>(items: T, key: string, opts: FieldOptions & { maxItems: number; minItems?: number }) {
  const { maxItems, minItems, ...rest } = opts;
  const extra: Record<string, unknown> = { maxItems, 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': [key] };
  if (minItems !== undefined) extra.minItems = minItems;
  return Type.Array(items, options(rest, extra));
}

export function Obj<P extends TProperties>(properties: P, opts: FieldOptions) {
  return Type.Object(properties, options(opts));
}

/** Tags are free-form words matched by the placement planner (host tags, storage tags). */
export function Tags(description: string) {
  return List(Str({ description: 'One tag.', minLength: 1, maxLength: 255 }), { description, maxItems: 32, set: true });
}

/** CloudStack's free-text `name`; metadata.name stays the DNS-1123 identifier. */
export function DisplayName(what: string) {
  return Str({ description: `Free-text name of the ${what}, as CloudStack shows it (its \`name\`). Defaults to metadata.name.`, maxLength: 255 });
}

export function DisplayText(what: string) {
  return Str({ description: `Free-text description of the ${what} (CloudStack \`displaytext\`). Defaults to the name.`, maxLength: 4096 });
}

// References ------------------------------------------------------------------------------

const DNS_SUBDOMAIN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';
const DNS_LABEL = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';

function ObjectName(kind: string) {
  return Str({ description: `metadata.name of the ${kind}.`, minLength: 1, maxLength: 253, pattern: DNS_SUBDOMAIN });
}

/** A parent or peer referenced by name: `{name}`. */
export function Ref(kind: string, description: string) {
  return Obj({ name: ObjectName(kind) }, { description });
}

/**
 * A namespaced object referenced from elsewhere: `{name, namespace}`. The namespace may be
 * left out (it is then the referrer's) unless the referrer is cluster-scoped.
 */
export function NamespacedRef<const Required extends boolean = false>(kind: string, description: string, namespaceRequired?: Required) {
  const namespace = Str({
    description: namespaceRequired ? `Namespace of the ${kind}.` : `Namespace of the ${kind}. Defaults to the namespace of the object that refers to it.`,
    minLength: 1,
    maxLength: 63,
    pattern: DNS_LABEL,
  });
  return Obj(
    { name: ObjectName(kind), namespace: (namespaceRequired ? namespace : Type.Optional(namespace)) as Required extends true ? typeof namespace : ReturnType<typeof Type.Optional<typeof namespace>> },
    { description },
  );
}

const UID = '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';

/**
 * A namespaced object that a cluster-scoped record belongs to, pinned by uid: `{namespace,
 * name, uid}` plus `extra`. An owner reference would not do: the garbage collector ignores a
 * namespaced owner of a cluster-scoped object, so whoever frees the record compares uids, and
 * an object created later under the same name is another one.
 */
export function UidRef<P extends TProperties>(kind: string, description: string, extra: P) {
  return Obj(
    {
      namespace: Str({ description: `Namespace of the ${kind}.`, minLength: 1, maxLength: 63, pattern: DNS_LABEL }),
      name: ObjectName(kind),
      uid: Str({ description: `metadata.uid of the ${kind}.`, maxLength: 36, pattern: UID }),
      ...extra,
    },
    { description },
  );
}

export function RefList(kind: string, description: string, maxItems = 64) {
  return KeyedList(Ref(kind, `A ${kind}.`), 'name', { description, maxItems });
}

/** A Kubernetes namespace name. */
export function NamespaceName(description: string) {
  return Str({ description, minLength: 1, maxLength: 63, pattern: DNS_LABEL });
}

/** Dedication of a resource to one domain, optionally one account in it (CloudStack `dedicate*`). */
export function Dedication(what: string) {
  return Obj(
    {
      domainRef: Ref('Domain', `The domain the ${what} is dedicated to; only its accounts may use it.`),
      accountRef: Type.Optional(Ref('Account', `Narrows the dedication to one account of that domain.`)),
    },
    { description: `Dedicates the ${what} to a domain or an account. Absent: shared by everyone.` },
  );
}

// The status contract ---------------------------------------------------------------------

export const ObservedGeneration = Int({
  description: 'The metadata.generation this status reflects. Older than metadata.generation: the controller has not caught up yet.',
  minimum: 0,
  int64: true,
});

export const Condition = Obj(
  {
    type: Str({
      description:
        'Condition type. Every kind has Ready (usable) and Synced (the last reconcile succeeded); some add their own, such as Scheduled, Running or Mounted.',
      minLength: 1,
      maxLength: 316,
    }),
    status: StringEnum(['True', 'False', 'Unknown'] as const, { description: 'True, False or Unknown.' }),
    reason: Str({ description: 'A CamelCase word a program can match, such as NotFound or PrimaryStorageInMaintenance.', minLength: 1, maxLength: 1024 }),
    message: Str({ description: 'A sentence for people: what is wrong and what to do. A parent not Ready names the child and the cause.', maxLength: 32768 }),
    lastTransitionTime: Timestamp('When status last changed.'),
    observedGeneration: Type.Optional(
      Int({ description: 'The metadata.generation this condition was computed from.', minimum: 0, int64: true }),
    ),
  },
  { description: 'One observation about the object, in the Kubernetes condition format (kstatus compatible).' },
);

export const Conditions = KeyedList(Condition, 'type', {
  description: 'Observations, one per type. Ready and Synced are always present once the controller has seen the object.',
  maxItems: 16,
});

/**
 * The status every kind carries: observedGeneration, conditions and the one human `state`
 * with CloudStack's name for it, plus the kind's own observations.
 */
export function Status<S extends TSchema, P extends TProperties>(state: S, properties: P) {
  return Type.Object(
    {
      observedGeneration: Type.Optional(ObservedGeneration),
      conditions: Type.Optional(Conditions),
      state: Type.Optional(state),
      ...properties,
    },
    { description: 'Observed state, written only by controllers and the agent through the status subresource.' },
  );
}

// States ----------------------------------------------------------------------------------

export const ALLOCATION_STATES = ['Enabled', 'Disabled'] as const;

/** Zone, pod, cluster and host allocation state: Disabled receives no new placements. */
export function AllocationState(what: string, defaultState: (typeof ALLOCATION_STATES)[number]) {
  return StringEnum(ALLOCATION_STATES, {
    description: `Enabled ${what}s receive new virtual machines and volumes; Disabled ones keep what runs on them but get nothing new. CloudStack \`allocationstate\`.`,
    default: defaultState,
  });
}

/** The state of kinds CloudStack gives no state of their own. */
export const READINESS_STATES = ['Pending', 'Ready', 'Error'] as const;
export function ReadinessState(what: string) {
  return StringEnum(READINESS_STATES, { description: `Pending until the ${what} has been processed, then Ready, or Error (see the Ready condition).` });
}

/** Allocation records (addresses, VLAN ids): the record exists while the resource is held. */
export const ALLOCATION_RECORD_STATES = ['Allocating', 'Allocated', 'Releasing'] as const;

/** Offerings, templates and domains: Active, or Inactive once deleted while still in use. */
export const ACTIVE_STATES = ['Active', 'Inactive'] as const;
export function OfferingState(what: string) {
  return StringEnum(ACTIVE_STATES, {
    description: `Active: new resources may use this ${what}. Inactive: it was deleted while in use and is hidden until its users are gone.`,
  });
}

/** CloudStack account and user states, spelled in lower case as CloudStack does. */
export const ACCOUNT_STATES = ['enabled', 'disabled', 'locked'] as const;

/** The traffic a physical network, an IP range or an address carries. */
export const TRAFFIC_TYPES = ['Guest', 'Management', 'Public', 'Storage'] as const;

/** How guest networks are kept apart on a physical network. */
export const ISOLATION_METHODS = ['VLAN', 'VXLAN'] as const;

export const VOLUME_TYPES = ['ROOT', 'DATADISK'] as const;
export const DISK_FORMATS = ['QCOW2', 'RAW'] as const;

export const HYPERVISORS = ['KVM', 'KubeVirt', 'Simulator'] as const;
export function Hypervisor(description: string, defaultValue?: (typeof HYPERVISORS)[number]) {
  return StringEnum(HYPERVISORS, defaultValue === undefined ? { description } : { description, default: defaultValue });
}

export const ARCHITECTURES = ['x86_64', 'aarch64'] as const;

export const STORAGE_TYPES = ['shared', 'local'] as const;
export function StorageType(what: string) {
  return StringEnum(STORAGE_TYPES, {
    description: `Where the ${what}'s volumes live: shared (primary storage every host of the cluster or zone reaches) or local (the host's own disk).`,
    default: 'shared',
  });
}

export const PROVISIONING_TYPES = ['thin', 'sparse', 'fat'] as const;
export function ProvisioningType() {
  return StringEnum(PROVISIONING_TYPES, {
    description: 'How disk space is reserved: thin (qcow2 grows on write), sparse (sparse file) or fat (fully preallocated).',
    default: 'thin',
  });
}

// Addresses and ranges --------------------------------------------------------------------

export function Ipv4(description: string) {
  return Str({ description: `${description} An IPv4 address in dotted form, such as 10.1.1.1.`, format: 'ipv4', maxLength: 15 });
}

export function Ipv6(description: string) {
  return Str({ description: `${description} An IPv6 address.`, format: 'ipv6', maxLength: 45 });
}

export function MacAddress(description: string) {
  return Str({ description: `${description} Lower-case colon form, such as 52:54:00:12:34:56.`, maxLength: 17, pattern: '^([0-9a-f]{2}:){5}[0-9a-f]{2}$' });
}

export function Cidr(description: string) {
  return Str({ description: `${description} An IPv4 CIDR such as 10.1.1.0/24.`, format: 'cidr', maxLength: 18 });
}

/** Every valid dotted netmask; the index of a mask is its prefix length. */
export const NETMASKS: readonly string[] = Array.from({ length: 33 }, (_, prefix) => {
  const bits = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return [24, 16, 8, 0].map((shift) => (bits >>> shift) & 255).join('.');
});

export function Netmask(description: string) {
  return Type.Unsafe<string>({ type: 'string', enum: [...NETMASKS], maxLength: 15, description: `${description} A dotted netmask such as 255.255.255.0.` });
}

/** CEL: the IPv4 address in `expr` as one integer, so two addresses compare with `<=`. */
export function celIpToInt(expr: string): string {
  const octet = (i: number) => `int(${expr}.split('.')[${i}])`;
  return `(${octet(0)} * 16777216 + ${octet(1)} * 65536 + ${octet(2)} * 256 + ${octet(3)})`;
}

/**
 * CEL: `ipExpr` is in the subnet of self.gateway and self.netmask. Octet by octet, the block
 * size of a valid mask octet is 256 - octet, so two addresses share the network part when
 * their octets fall in the same block. (List literals and indexOf would be simpler, but the
 * apiserver's cost estimator cannot bound them.)
 */
function celInSubnet(ipExpr: string): string {
  const octet = (expr: string, i: number) => `int(${expr}.split('.')[${i}])`;
  return [0, 1, 2, 3]
    .map((i) => `${octet(ipExpr, i)} / (256 - ${octet('self.netmask', i)}) == ${octet('self.gateway', i)} / (256 - ${octet('self.netmask', i)})`)
    .join(' && ');
}

/** CEL guard: every named field holds a well-formed IPv4 address (format errors are reported separately). */
function celAllIpv4(fields: string[]): string {
  return fields.map((f) => `isIP(self.${f}) && ip(self.${f}).family() == 4`).join(' && ');
}

/**
 * The rules of an address range in a subnet (`gateway`, `netmask`, `startIp`, `endIp`), as
 * CloudStack checks a pod's reserved range or a VLAN IP range. `endIpOptional` lets the range
 * be a single address when endIp is absent.
 */
export function subnetRangeRules(endIpOptional: boolean): CelRule[] {
  const withEnd = (body: string) => (endIpOptional ? `!has(self.endIp) || !(${celAllIpv4(['endIp', 'gateway'])}) || ${body}` : `!(${celAllIpv4(['endIp', 'gateway'])}) || ${body}`);
  return [
    rule(
      withEnd(`!(${celAllIpv4(['startIp'])}) || ${celIpToInt('self.startIp')} <= ${celIpToInt('self.endIp')}`),
      'spec.startIp must not be greater than spec.endIp: swap them or fix the range',
      '.startIp',
    ),
    rule(
      `!(${celAllIpv4(['startIp', 'gateway'])}) || ${celInSubnet('self.startIp')}`,
      'spec.startIp must be inside the subnet of spec.gateway and spec.netmask: fix the address or widen the netmask',
      '.startIp',
    ),
    rule(withEnd(celInSubnet('self.endIp')), 'spec.endIp must be inside the subnet of spec.gateway and spec.netmask: fix the address or widen the netmask', '.endIp'),
    rule(
      withEnd(
        `!(${celAllIpv4(['startIp'])}) || ${celIpToInt('self.gateway')} < ${celIpToInt('self.startIp')} || ${celIpToInt('self.gateway')} > ${celIpToInt('self.endIp')}`,
      ),
      'spec.gateway must not be inside spec.startIp..spec.endIp: move the gateway out of the range or shrink the range',
      '.gateway',
    ),
  ];
}

/** CEL rules for an object with `cidr` and an optional `gateway`. */
export function cidrGatewayRules(prefix: string): CelRule[] {
  return [
    rule(
      `!has(self.cidr) || !isCIDR(self.cidr) || cidr(self.cidr) == cidr(self.cidr).masked()`,
      `${prefix}.cidr must be a network address with no host bits set, such as 10.1.1.0/24`,
      '.cidr',
    ),
    rule(
      `!has(self.cidr) || !isCIDR(self.cidr) || cidr(self.cidr).prefixLength() <= 29`,
      `${prefix}.cidr is too small: use a prefix of /29 or shorter so it has room for guests`,
      '.cidr',
    ),
    rule(
      `!has(self.gateway) || (has(self.cidr) && (!isCIDR(self.cidr) || !isIP(self.gateway) || cidr(self.cidr).containsIP(self.gateway)))`,
      `${prefix}.gateway must be inside ${prefix}.cidr: fix the gateway, or set a cidr that contains it`,
      '.gateway',
    ),
  ];
}

/** An inclusive range of ids with bounds, such as VLAN 100-199; start ≤ end is checked in CEL. */
export function IdRange(what: string, min: number, max: number) {
  return Type.Object(
    {
      start: Int({ description: `First ${what} of the range (${min}–${max}).`, minimum: min, maximum: max }),
      end: Int({ description: `Last ${what} of the range, inclusive (${min}–${max}).`, minimum: min, maximum: max }),
    },
    {
      description: `An inclusive range of ${what}s.`,
      'x-kubernetes-validations': [rule('self.start <= self.end', `start must not be greater than end in a ${what} range: swap them`)],
    },
  );
}

/** CEL: the ranges of the list at `self` do not overlap. */
export function noOverlapRule(field: string): CelRule {
  return rule(
    'self.all(a, self.all(b, a == b || a.end < b.start || b.end < a.start))',
    `${field} must not overlap: merge the overlapping ranges into one`,
  );
}

export const VLAN_MAX = 4094;
export const VNI_MAX = 16777214;

// Quantities ------------------------------------------------------------------------------

const QUANTITY_PATTERN = '^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$';

/**
 * A Kubernetes quantity (`512Mi`, `20Gi`, or a plain number of bytes). `minimum` is a quantity
 * too, checked in CEL so a bare `512` (bytes, not MiB) gets a message that says so.
 */
export function Quantity(opts: FieldOptions & { minimum?: string }): TUnsafe<string | number> {
  const { minimum, ...rest } = opts;
  const validations = [...(rest.validations ?? [])];
  if (minimum !== undefined) {
    validations.push(
      rule(
        `!isQuantity(string(self)) || quantity(string(self)).compareTo(quantity('${minimum}')) >= 0`,
        `must be at least ${minimum}; write a quantity with a unit, such as 512Mi or 20Gi (a bare number means bytes)`,
      ),
    );
  }
  return Type.Unsafe<string | number>({
    anyOf: [{ type: 'integer' }, { type: 'string' }],
    'x-kubernetes-int-or-string': true,
    pattern: QUANTITY_PATTERN,
    maxLength: 64,
    ...options({ ...rest, validations }),
  });
}

const QUANTITY_UNITS: Record<string, number> = {
  n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};

/**
 * The one parser of the quantities Quantity admits (`512Mi`, `20Gi`, `1.5G`, `500m`, `1e9`, or
 * a number) into a number. The schema has vetted the syntax; a value that still does not parse
 * is an error naming `field` and the value, never a silent zero.
 */
export function parseQuantity(value: string | number, field?: string): number {
  if (typeof value === 'number') return value;
  const match = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))([KMGTPE]i|[numkMGTPE]|[eE][+-]?(?:\d+(?:\.\d*)?|\.\d+))?$/.exec(value.trim());
  const where = field === undefined ? '' : `${field}: `;
  if (!match) throw new Error(`${where}"${value}" is not a quantity: write a number with an optional unit, such as 512Mi or 20Gi`);
  const number = Number(match[1]);
  const suffix = match[2] ?? '';
  if (/^[eE]/.test(suffix)) return number * 10 ** Number(suffix.slice(1));
  return number * QUANTITY_UNITS[suffix]!;
}

/**
 * A quantity of bytes (or any whole unit), rounded up as Kubernetes' Quantity.Value() does;
 * an absent quantity stays absent.
 */
export function parseBytes(value: string | number, field?: string): number;
export function parseBytes(value: string | number | undefined, field?: string): number | undefined;
export function parseBytes(value: string | number | undefined, field?: string): number | undefined {
  return value === undefined ? undefined : Math.ceil(parseQuantity(value, field));
}

/** CEL: quantity `a` ≤ quantity `b`, for fields that may be absent. */
export function quantityOrderRule(a: string, b: string, message: string, fieldPath?: string): CelRule {
  return rule(
    `!has(self.${a}) || !has(self.${b}) || !isQuantity(string(self.${a})) || !isQuantity(string(self.${b})) || quantity(string(self.${a})).compareTo(quantity(string(self.${b}))) <= 0`,
    message,
    fieldPath,
  );
}

/** Disk throughput limits, shared by service offerings (root disk) and disk offerings. */
export function DiskIoLimits() {
  const rate = (what: string) => Type.Optional(Int({ description: `${what}. Absent: unlimited.`, minimum: 1, int64: true }));
  return {
    bytesReadRate: rate('Disk read limit in bytes per second (CloudStack `bytesreadrate`)'),
    bytesWriteRate: rate('Disk write limit in bytes per second (CloudStack `byteswriterate`)'),
    iopsReadRate: rate('Disk read limit in I/O operations per second (CloudStack `iopsreadrate`)'),
    iopsWriteRate: rate('Disk write limit in I/O operations per second (CloudStack `iopswriterate`)'),
    cacheMode: Type.Optional(
      StringEnum(['none', 'writeback', 'writethrough'] as const, { description: 'The disk cache mode given to the hypervisor.', default: 'none' }),
    ),
  };
}

/** The `self == oldSelf` rule that makes a whole spec immutable. */
export function immutableSpec(kind: string, fix: string): CelRule {
  return rule('self == oldSelf', `spec is immutable: a ${kind} cannot change once created; ${fix}`);
}

/**
 * Rules that keep a spec immutable except the `mutable` fields: one transition rule for each
 * other field of `properties`, so a refusal names the field that changed and the fix. An
 * immutable field may neither change, appear nor vanish.
 */
export function immutableSpecExcept<P extends TProperties>(kind: string, properties: P, mutable: readonly (keyof P & string)[], fix: string): CelRule[] {
  const may = mutable.map((f) => `spec.${f}`).join(', ');
  return Object.keys(properties)
    .filter((field) => !(mutable as readonly string[]).includes(field))
    .map((field) =>
      rule(
        `has(self.${field}) == has(oldSelf.${field}) && (!has(self.${field}) || self.${field} == oldSelf.${field})`,
        `spec.${field} is immutable: a ${kind} keeps it once created; ${fix} (only ${may} may change)`,
        `.${field}`,
      ),
    );
}

/** The rule that makes one field immutable once set. */
export function immutableField(field: string, fix: string): CelRule {
  return rule('self == oldSelf', `${field} is immutable: ${fix}`);
}

/** A spec-level rule: `field` once set cannot change or be removed. */
export function immutableOnceSet(field: string, path: string, fix: string): CelRule {
  return rule(
    `!has(oldSelf.${field}) || (has(self.${field}) && self.${field} == oldSelf.${field})`,
    `${path} is immutable once set: ${fix}`,
    `.${field}`,
  );
}

export function DomainName(description: string) {
  return Str({ description, maxLength: 253, pattern: DNS_SUBDOMAIN });
}

export function HostName(description: string) {
  return Str({ description, minLength: 1, maxLength: 63, pattern: '^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?$' });
}

export { DNS_LABEL, DNS_SUBDOMAIN };
