import { objectNameFor } from '../../lib/identity.ts';
import { isAlreadyExists, type KubeObject, type ResourceClient } from '../../lib/kube-client.ts';

/**
 * CloudStack names and Kubernetes object names. CloudStack's `name` is free text and not
 * always an identity; metadata.name is a DNS-1123 name. Both doors show the same names
 * because the mapping is deterministic.
 */

/**
 * metadata.name for a CloudStack free-text name (lib/identity.ts, shared with the tenancy
 * commands): a name that already is a DNS-1123 label is kept, so `zone1` is `kubectl get cszone
 * zone1`; any other gets a readable slug plus a hash of the exact text, so `Zone 1` and
 * `zone-1` never meet. Deterministic on every replica; at most 63 characters, because
 * ancestor names become label values.
 */
export function objectName(text: string): string {
  return objectNameFor(text, '');
}

/**
 * Creates an object named after a CloudStack name. CloudStack allows the same name twice where
 * the name is not an identity (two pods named pod1 in two zones, two offerings named Small), so
 * a taken object name moves on to `<name>-2`, `<name>-3`... deterministically.
 */
export async function createNamed<T extends KubeObject>(resource: ResourceClient<T>, base: string, build: (name: string) => T): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const name = attempt === 1 ? base : `${base.slice(0, 60)}-${attempt}`;
    try {
      return await resource.create(build(name));
    } catch (err) {
      if (!isAlreadyExists(err) || attempt >= 20) throw err;
    }
  }
}

/** The name CloudStack shows for an object: spec.displayName, else metadata.name. */
export function displayName(obj: { metadata: { name?: string }; spec: { displayName?: string } }): string {
  return obj.spec.displayName ?? obj.metadata.name ?? '';
}
