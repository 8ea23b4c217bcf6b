/**
 * The one way status is written, by the operator and the agent alike: server-side apply of
 * only the fields and condition types the writer owns, under its own field manager, and only
 * when something changed. Several writers share one object's status (the operator owns a
 * VM's state and Ready, the agent its powerState and Running; see agent-contract.ts), so a
 * writer never sends, and so never takes or drops, another's fields. A condition's
 * lastTransitionTime moves only when its status flips.
 *
 * Observe → plan → apply: `planStatus` and `planFailure` are pure (unit-tested), the commit
 * functions send what they plan.
 */
import { setCondition, SYNCED, type Condition, type ConditionUpdate } from './conditions.ts';
import { errorMessage } from './error-message.ts';
import type { KubeObject, ResourceClient } from './kube-client.ts';

/** Who writes a part of a kind's status, and which part. */
export interface StatusWriter {
  /** Its server-side apply field manager (the operator's, or agentFieldManager(host)). */
  fieldManager: string;
  /**
   * The top-level status fields it owns. `observedGeneration`, when listed, is set to
   * metadata.generation on every write; `state` is owned like any other field.
   */
  fields: readonly string[];
  /** The condition types it owns. Owning Synced means each successful commit sets it True. */
  conditions: readonly string[];
  /**
   * Fields that are lists keyed by one member (x-kubernetes-list-type map), of which it owns
   * only the entries whose `key` is `value`: the agents' PrimaryStorage mounts, one per host.
   */
  entries?: Readonly<Record<string, { key: string; value: string }>>;
}

export interface DesiredStatus {
  /** status.state; the writer must own `state`. */
  state?: string;
  /** Owned fields (other than state, conditions and observedGeneration); undefined drops one. */
  fields?: Record<string, unknown>;
  /** The writer's conditions, in the order they are written (Synced True is added when owned). */
  conditions: ConditionUpdate[];
}

/** How a failure is recorded: Synced False with reason ReconcileError, unless the writer says otherwise. */
export interface FailureCondition {
  type: string;
  reason: string;
}

export const RECONCILE_ERROR: FailureCondition = { type: SYNCED, reason: 'ReconcileError' };

export type StatusBag = Record<string, unknown> & { conditions?: Condition[]; observedGeneration?: number };

interface WithStatus extends KubeObject {
  status?: unknown;
}

/** JSON with object keys sorted, so two statuses compare by content. */
function stable(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b))) : v,
  );
}

function ownedValue(writer: StatusWriter, field: string, value: unknown): unknown {
  const entry = writer.entries?.[field];
  if (!entry || !Array.isArray(value)) return value;
  const mine = value.filter((e: unknown) => (e as Record<string, unknown> | null)?.[entry.key] === entry.value);
  return mine.length > 0 ? mine : undefined;
}

/** The part of `status` the writer owns, conditions in `order`. */
function project(status: StatusBag | undefined, writer: StatusWriter, order: readonly string[]): StatusBag {
  const out: StatusBag = {};
  for (const field of writer.fields) {
    const value = ownedValue(writer, field, status?.[field]);
    if (value !== undefined) out[field] = value;
  }
  const conditions = order.map((type) => status?.conditions?.find((c) => c.type === type)).filter((c): c is Condition => c !== undefined);
  if (conditions.length > 0) out.conditions = conditions.map((c) => ({ ...c }));
  return out;
}

function refuse(writer: StatusWriter, what: string): never {
  throw new Error(`${what} is not owned by field manager ${writer.fieldManager}: add it to its StatusWriter, or leave it to its owner`);
}

/**
 * The writer's part of status as it should be, or undefined when the object already shows
 * it. Conditions keep their lastTransitionTime unless their status flips; owned conditions
 * not in `desired` are dropped (apply then removes them).
 */
export function planStatus(current: StatusBag | undefined, generation: number | undefined, writer: StatusWriter, desired: DesiredStatus, now: Date = new Date()): StatusBag | undefined {
  const updates = [...desired.conditions];
  if (writer.conditions.includes(SYNCED) && !updates.some((u) => u.type === SYNCED)) updates.push({ type: SYNCED, status: 'True', reason: 'ReconcileSuccess', message: '' });
  for (const u of updates) if (!writer.conditions.includes(u.type)) refuse(writer, `condition ${u.type}`);
  const values: Record<string, unknown> = { ...desired.fields, ...(desired.state !== undefined ? { state: desired.state } : {}) };
  for (const field of Object.keys(values)) if (field === 'observedGeneration' || !writer.fields.includes(field)) refuse(writer, `status.${field}`);

  const order = updates.map((u) => u.type);
  const work: { conditions: Condition[] } = { conditions: (current?.conditions ?? []).filter((c) => order.includes(c.type)).map((c) => ({ ...c })) };
  for (const update of updates) setCondition(work, update, generation, now);
  const next: StatusBag = {};
  for (const field of writer.fields) {
    const value = field === 'observedGeneration' ? generation : values[field];
    if (value !== undefined) next[field] = value;
  }
  if (order.length > 0) next.conditions = order.map((type) => work.conditions.find((c) => c.type === type)!);
  const before = project(current, writer, [...order, ...writer.conditions.filter((t) => !order.includes(t))]);
  return stable(before) === stable(next) ? undefined : next;
}

/**
 * The writer's part of status with the failure recorded in its failure condition, every other
 * owned field and condition kept as stored (observedGeneration included: the new generation
 * was not achieved); undefined when it already says so.
 */
export function planFailure(current: StatusBag | undefined, generation: number | undefined, writer: StatusWriter, error: unknown, failure: FailureCondition = RECONCILE_ERROR, now: Date = new Date()): StatusBag | undefined {
  if (!writer.conditions.includes(failure.type)) refuse(writer, `condition ${failure.type}`);
  const order = [...writer.conditions.filter((t) => t !== failure.type), failure.type];
  const kept = project(current, writer, order);
  const work: { conditions: Condition[] } = { conditions: [...(kept.conditions ?? [])] };
  if (!setCondition(work, { type: failure.type, status: 'False', reason: failure.reason, message: errorMessage(error) }, generation, now)) return undefined;
  return { ...kept, conditions: order.map((t) => work.conditions.find((c) => c.type === t)).filter((c): c is Condition => c !== undefined) };
}

/**
 * What each writer last applied on top of a cached version of an object, keyed by that very
 * object. A reconcile queued again before the watch has brought its own write back (another
 * object's event did it) then plans against what it wrote, not against the stale copy, and
 * does not send the same status again with a new lastTransitionTime. A newer version in the
 * cache is another key; the memo of the old one goes with it.
 */
const applied = new WeakMap<object, Map<string, StatusBag>>();

/** The writer's part of `obj`'s status: as it last applied it over this very version, else as read. */
export function ownedStatus(obj: WithStatus, writer: StatusWriter): StatusBag | undefined {
  return applied.get(obj)?.get(writer.fieldManager) ?? (obj.status as StatusBag | undefined);
}

/**
 * Whether a status was committed on top of this very version of the object: the cache is one
 * write behind, and a write against the version read would only fail with 409. The write's own
 * watch event brings the object back.
 */
export function statusCommittedOver(obj: KubeObject): boolean {
  return applied.has(obj);
}

function remember(obj: WithStatus, writer: StatusWriter, status: StatusBag): void {
  const byWriter = applied.get(obj) ?? new Map<string, StatusBag>();
  byWriter.set(writer.fieldManager, status);
  applied.set(obj, byWriter);
}

/** With `precondition`, the object's resourceVersion goes along: the apply fails with 409 if anyone wrote since it was read. */
async function applyOwned<T extends KubeObject>(client: ResourceClient<T>, obj: KubeObject, writer: StatusWriter, status: StatusBag, signal: AbortSignal | undefined, precondition = false): Promise<void> {
  const metadata = { name: obj.metadata.name, namespace: obj.metadata.namespace, ...(precondition ? { resourceVersion: obj.metadata.resourceVersion } : {}) };
  await client.applyStatus({ metadata, status } as unknown as Partial<T> & KubeObject, {
    fieldManager: writer.fieldManager,
    force: true,
    signal,
  });
}

/**
 * Writes the writer's part of `obj`'s status (as read from the cache or the apiserver) when it
 * differs from `desired`. Returns whether it wrote. With `precondition` the write is a claim on
 * the version read (a VM's placement): it fails with 409 when the object changed since, so a
 * stale cache can neither drop a field nor decide on an old picture.
 */
export async function commitStatus<T extends KubeObject>(
  client: ResourceClient<T>,
  obj: WithStatus,
  writer: StatusWriter,
  desired: DesiredStatus,
  signal?: AbortSignal,
  now: Date = new Date(),
  precondition = false,
): Promise<boolean> {
  const next = planStatus(ownedStatus(obj, writer), obj.metadata.generation, writer, desired, now);
  if (!next) return false;
  await applyOwned(client, obj, writer, next, signal, precondition);
  remember(obj, writer, next);
  return true;
}

/**
 * Records a failure in the writer's failure condition (Synced False by default), re-applying
 * only its own fields as they are. Returns whether it wrote.
 */
export async function commitFailure<T extends KubeObject>(
  client: ResourceClient<T>,
  obj: WithStatus,
  writer: StatusWriter,
  error: unknown,
  signal?: AbortSignal,
  failure: FailureCondition = RECONCILE_ERROR,
  now: Date = new Date(),
): Promise<boolean> {
  const next = planFailure(ownedStatus(obj, writer), obj.metadata.generation, writer, error, failure, now);
  if (!next) return false;
  await applyOwned(client, obj, writer, next, signal);
  remember(obj, writer, next);
  return true;
}
