/**
 * The shape every infrastructure reconciler shares, so each kind's file says only what is
 * particular to it: read the object from the cache; while it is being deleted, hold it with
 * a finalizer until nothing depends on it (saying what remains); otherwise label it with its
 * ancestors, compute its status, write what changed, and record an event per state change.
 */
import type { KindInfo } from '../crds/index.ts';
import type { ConditionUpdate } from '../lib/conditions.ts';
import type { ControllerOptions, ReconcileContext, ReconcileResult, Request, WatchSource } from '../lib/controller.ts';
import type { EventInput, EventRecorder } from '../lib/events.ts';
import type { Informer } from '../lib/informer.ts';
import { isConflict, isNotFound, type KubeClient, type KubeObject } from '../lib/kube-client.ts';
import type { Manager } from '../lib/manager.ts';
import { addFinalizer, hasFinalizer, isBeingDeleted, removeFinalizer } from '../lib/ownership.ts';
import { commitFailure, commitStatus, type DesiredStatus } from '../lib/status.ts';
import { clientFor, ensureLabels, listNames, operatorStatus, type StatusOwnership } from './infra-context.ts';

/** What the kind reconciler needs of a group of controllers' shared context (infra, tenancy). */
export interface ReconcilerContext {
  client: KubeClient;
  events: EventRecorder;
  now(): Date;
}

export interface Outcome extends DesiredStatus {
  /** Events beyond the state change (which `stateEvents` covers). */
  events?: EventInput[];
  /** Reconcile again after this long even if nothing changes (time-driven states). */
  requeueAfterMs?: number;
}

type WithStatus = KubeObject & { status?: { state?: string; conditions?: { type: string; status: string }[] } };

export interface KindReconciler<T extends WithStatus> {
  name: string;
  kind: KindInfo;
  informer: Informer<T>;
  ownership: StatusOwnership;
  watches?: WatchSource[];
  /** Ancestor labels to keep on the object. */
  labels?: (obj: T) => Record<string, string | undefined>;
  /** With a finalizer, deletion waits until `remaining` is empty. */
  finalizer?: string;
  /** What still depends on the object, as "Kind name" phrases. */
  remaining?: (obj: T) => string[];
  /**
   * Of what remains, what blocks the deletion (DeletionBlocked, on which an async delete
   * fails at once); by default all of it. A kind whose dependents may be deleted along with
   * it names only those that are not going, read from the apiserver: a cache a moment behind
   * would still show one deleted just before.
   */
  blocking?: (obj: T, signal: AbortSignal) => Promise<string[]>;
  /**
   * What the kind keeps true besides its status (a namespace, RBAC bindings), done after the
   * finalizer and labels and before `observe`. It does nothing while a precondition is
   * missing; `observe` then says so in the status.
   */
  apply?: (obj: T, rctx: ReconcileContext) => Promise<void>;
  observe: (obj: T) => Outcome;
  /** Events for a change of status.state (from undefined on first sight). */
  stateEvents?: (from: string | undefined, to: string, obj: T) => EventInput[];
  /** Event recorded when the finalizer lets the object go. */
  deletedEvent?: (obj: T) => EventInput;
}

export const DELETION_BLOCKED = 'DeletionBlocked';

/** Maps every object of an informer to a request for each object of `target` (a settings change). */
export function everyObject(source: Informer, target: Informer): WatchSource {
  return { informer: source, map: () => target.list().map((o) => ({ name: o.metadata.name ?? '', namespace: o.metadata.namespace })) };
}

/** A watch mapping an object to cluster-scoped requests by name. */
export function watchNames<S extends KubeObject>(informer: Informer<S>, names: (obj: S) => (string | undefined)[]): WatchSource {
  return {
    informer,
    map: (obj) => [...new Set(names(obj as S).filter((n): n is string => !!n))].map((name) => ({ name })),
  };
}

function waitsFor(dependents: string[]): string {
  return `deletion waits for ${dependents.length} dependent object(s) to be deleted first: ${listNames(dependents, 10)}`;
}

function deletingOutcome(outcome: Outcome, remaining: string[], blocking: string[]): Outcome {
  const conditions: ConditionUpdate[] = outcome.conditions.map((c) => (c.type === 'Ready' ? { type: 'Ready', status: 'False', reason: 'Deleting', message: waitsFor(remaining) } : c));
  if (blocking.length > 0) conditions.push({ type: DELETION_BLOCKED, status: 'True', reason: 'DependentsRemain', message: waitsFor(blocking) });
  return { ...outcome, conditions, events: [] };
}

export function registerKindReconciler<T extends WithStatus>(manager: Manager, ctx: ReconcilerContext, spec: KindReconciler<T>): void {
  const client = clientFor<T>(ctx, spec.kind);
  const writer = operatorStatus(spec.finalizer ? { ...spec.ownership, conditions: [...spec.ownership.conditions, DELETION_BLOCKED] } : spec.ownership);

  async function reconcile(rctx: ReconcileContext, request: Request): Promise<ReconcileResult | void> {
    let obj = spec.informer.get(request);
    if (!obj) return;
    try {
      if (isBeingDeleted(obj)) {
        if (!spec.finalizer || !hasFinalizer(obj, spec.finalizer)) return;
        const remaining = spec.remaining?.(obj) ?? [];
        if (remaining.length === 0) {
          await removeFinalizer(client, obj, spec.finalizer, rctx.signal);
          if (spec.deletedEvent) ctx.events.event(obj, spec.deletedEvent(obj));
          rctx.log.info('dependents gone; deletion proceeds');
          return;
        }
        const blocking = spec.blocking ? await spec.blocking(obj, rctx.signal) : remaining;
        const outcome = deletingOutcome(spec.observe(obj), remaining, blocking);
        const wasBlocked = obj.status?.conditions?.some((c) => c.type === DELETION_BLOCKED && c.status === 'True') ?? false;
        await commitStatus(client, obj, writer, outcome, rctx.signal, ctx.now());
        if (!wasBlocked && blocking.length > 0) ctx.events.event(obj, { type: 'Warning', reason: 'DeletionBlocked', note: outcome.conditions.find((c) => c.type === DELETION_BLOCKED)?.message });
        return;
      }
      if (spec.finalizer) obj = await addFinalizer(client, obj, spec.finalizer, rctx.signal);
      if (spec.labels) await ensureLabels(client, obj, spec.labels(obj), rctx.signal);
      if (spec.apply) await spec.apply(obj, rctx);
      const outcome = spec.observe(obj);
      const from = obj.status?.state;
      const wrote = await commitStatus(client, obj, writer, outcome, rctx.signal, ctx.now());
      if (wrote) {
        if (outcome.state !== undefined && outcome.state !== from && spec.stateEvents) {
          for (const event of spec.stateEvents(from, outcome.state, obj)) ctx.events.event(obj, event);
        }
        for (const event of outcome.events ?? []) ctx.events.event(obj, event);
      }
      return outcome.requeueAfterMs !== undefined ? { requeueAfter: outcome.requeueAfterMs } : undefined;
    } catch (err) {
      // The cache was behind: the object is gone (a finalizer removed by the previous pass) or
      // changed under us. Neither is a failure to report; a conflict is simply tried again.
      if (isNotFound(err)) return;
      if (isConflict(err)) return { requeue: true };
      await commitFailure(client, obj, writer, err, rctx.signal).catch(() => undefined);
      throw err;
    }
  }

  const options: ControllerOptions<T> = { name: spec.name, for: spec.informer, watches: spec.watches, reconcile };
  manager.addController(options);
}

type WithConditions = KubeObject & { status?: { conditions?: { type: string; status: string; reason: string; message: string }[] } };

function readyOf(obj: WithConditions): { ready: boolean; why: string } {
  const c = obj.status?.conditions?.find((x) => x.type === 'Ready');
  if (!c) return { ready: false, why: 'not reconciled yet' };
  return { ready: c.status === 'True', why: c.message || c.reason };
}

/**
 * Whether at least one of `children` is Ready; if none is, a message naming each (up to
 * three) and its reason, e.g. `no Pod is Ready: Pod pod1: no Cluster is Ready: ...`.
 */
export function someChildReady(kind: string, children: readonly WithConditions[], emptyHint: string): { ok: boolean; message: string; ready: number } {
  if (children.length === 0) return { ok: false, message: emptyHint, ready: 0 };
  const states = children.map((c) => ({ name: c.metadata.name ?? '', ...readyOf(c) }));
  const ready = states.filter((s) => s.ready).length;
  if (ready > 0) {
    const notReady = states.filter((s) => !s.ready);
    const degraded = notReady.length ? `${ready} of ${children.length} ${kind}(s) Ready; not Ready: ${notReady.slice(0, 3).map((s) => `${kind} ${s.name}: ${s.why}`).join('; ')}` : '';
    return { ok: true, message: degraded, ready };
  }
  return { ok: false, message: `no ${kind} is Ready: ${states.slice(0, 3).map((s) => `${kind} ${s.name}: ${s.why}`).join('; ')}`, ready: 0 };
}

/** Whether the named parent's Allocatable condition is True, and if not, a sentence saying why. */
export function parentAllocatable(kind: string, name: string, parent: WithConditions | undefined): { ok: boolean; message: string } {
  if (!parent) return { ok: false, message: `${kind} ${name} does not exist` };
  const c = parent.status?.conditions?.find((x) => x.type === 'Allocatable');
  if (c?.status === 'True') return { ok: true, message: '' };
  return { ok: false, message: `${kind} ${name} is not allocatable: ${c ? c.message || c.reason : 'not reconciled yet'}` };
}
