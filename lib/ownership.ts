import { type KubeObject, type OwnerReference, type ResourceClient } from './kube-client.ts';

/**
 * Owner references and finalizers: who goes with whom when something is deleted, and what
 * must be cleaned up before an object may go.
 */

export function ownerReference(owner: KubeObject, options: { controller?: boolean; blockOwnerDeletion?: boolean } = {}): OwnerReference {
  const { apiVersion, kind } = owner;
  const { name, uid } = owner.metadata;
  if (!apiVersion || !kind || !name || !uid) {
    throw new Error(`owner reference: the owner needs apiVersion, kind, metadata.name and metadata.uid (got ${apiVersion ?? '?'}/${kind ?? '?'} ${name ?? '?'}, uid ${uid ?? 'missing'}); use the object as read from the API`);
  }
  return { apiVersion, kind, name, uid, controller: options.controller, blockOwnerDeletion: options.blockOwnerDeletion };
}

/**
 * Makes `owner` the controller of `child` (in place), as controller-runtime's
 * SetControllerReference: the garbage collector then deletes the child with its owner.
 */
export function setControllerReference(owner: KubeObject, child: KubeObject): void {
  const ref = ownerReference(owner, { controller: true, blockOwnerDeletion: true });
  const ownerNs = owner.metadata.namespace;
  const childNs = child.metadata.namespace;
  if (ownerNs && ownerNs !== childNs) {
    throw new Error(`${child.kind ?? 'object'} ${child.metadata.name ?? ''}: a namespaced owner (${ref.kind} ${ownerNs}/${ref.name}) must be in the same namespace as its child (${childNs ?? 'cluster-scoped'})`);
  }
  const refs = (child.metadata.ownerReferences ??= []);
  const other = refs.find((r) => r.controller && r.uid !== ref.uid);
  if (other) throw new Error(`${child.kind ?? 'object'} ${child.metadata.name ?? ''} is already controlled by ${other.kind} ${other.name}; an object has one controller`);
  const index = refs.findIndex((r) => r.uid === ref.uid);
  if (index >= 0) refs[index] = ref;
  else refs.push(ref);
}

/** The controller owner reference, if any. */
export function controllerOf(obj: KubeObject): OwnerReference | undefined {
  return obj.metadata.ownerReferences?.find((r) => r.controller === true);
}

export function isOwnedBy(obj: KubeObject, owner: KubeObject): boolean {
  return (obj.metadata.ownerReferences ?? []).some((r) => r.uid === owner.metadata.uid);
}

export function hasFinalizer(obj: KubeObject, finalizer: string): boolean {
  return obj.metadata.finalizers?.includes(finalizer) ?? false;
}

export function isBeingDeleted(obj: KubeObject): boolean {
  return obj.metadata.deletionTimestamp !== undefined;
}

/**
 * Writes the finalizer list with the object's resourceVersion as a precondition, so a
 * concurrent change (someone else's finalizer) fails with 409 instead of being overwritten.
 */
function writeFinalizers<T extends KubeObject>(client: ResourceClient<T>, obj: T, finalizers: string[], signal?: AbortSignal): Promise<T> {
  return client.patch(
    { namespace: obj.metadata.namespace, name: obj.metadata.name ?? '' },
    { metadata: { resourceVersion: obj.metadata.resourceVersion, finalizers } },
    'merge',
    { signal },
  );
}

/** Adds the finalizer if missing; returns the object as written (or unchanged). */
export async function addFinalizer<T extends KubeObject>(client: ResourceClient<T>, obj: T, finalizer: string, signal?: AbortSignal): Promise<T> {
  if (hasFinalizer(obj, finalizer) || isBeingDeleted(obj)) return obj;
  return writeFinalizers(client, obj, [...(obj.metadata.finalizers ?? []), finalizer], signal);
}

export async function removeFinalizer<T extends KubeObject>(client: ResourceClient<T>, obj: T, finalizer: string, signal?: AbortSignal): Promise<T> {
  if (!hasFinalizer(obj, finalizer)) return obj;
  return writeFinalizers(client, obj, (obj.metadata.finalizers ?? []).filter((f) => f !== finalizer), signal);
}

/**
 * The finalizer pattern in one call: while the object lives, make sure it carries the
 * finalizer; once it is being deleted, run `cleanup` and then let it go. Returns 'deleted'
 * when the caller should stop (the object is going away), 'live' otherwise.
 */
export async function handleFinalizer<T extends KubeObject>(
  client: ResourceClient<T>,
  obj: T,
  finalizer: string,
  cleanup: () => Promise<void>,
  signal?: AbortSignal,
): Promise<{ state: 'live' | 'deleted'; object: T }> {
  if (!isBeingDeleted(obj)) return { state: 'live', object: await addFinalizer(client, obj, finalizer, signal) };
  if (hasFinalizer(obj, finalizer)) {
    await cleanup();
    return { state: 'deleted', object: await removeFinalizer(client, obj, finalizer, signal) };
  }
  return { state: 'deleted', object: obj };
}
