/**
 * The kinds the agent reads and writes, as the runtime addresses them, and the labels that
 * select what belongs to this host. Types come from crds/; only what the agent reads is here.
 */
import {
  Cluster,
  DiskOffering,
  Host,
  Network,
  PhysicalNetwork,
  Pod,
  PrimaryStorage,
  ServiceOffering,
  Template,
  VirtualMachine,
  Volume,
  Zone,
} from '../crds/index.ts';
import { isConflict, isNotFound, type KubeObject, type ResourceClient, resourceTypeOf } from '../lib/kube-client.ts';
import { addFinalizer, removeFinalizer } from '../lib/ownership.ts';

export { LABEL_CLUSTER, LABEL_HOST, LABEL_ZONE } from '../lib/hierarchy-labels.ts';
import { AGENT_FINALIZER } from '../lib/agent-contract.ts';
export { AGENT_FINALIZER };


export const RESOURCES = {
  zones: resourceTypeOf(Zone),
  hosts: resourceTypeOf(Host),
  clusters: resourceTypeOf(Cluster),
  pods: resourceTypeOf(Pod),
  primaryStorages: resourceTypeOf(PrimaryStorage),
  vms: resourceTypeOf(VirtualMachine),
  volumes: resourceTypeOf(Volume),
  templates: resourceTypeOf(Template),
  networks: resourceTypeOf(Network),
  physicalNetworks: resourceTypeOf(PhysicalNetwork),
  serviceOfferings: resourceTypeOf(ServiceOffering),
  diskOfferings: resourceTypeOf(DiskOffering),
} as const;

export const API_VERSIONS = {
  Host: Host.apiVersion,
  PrimaryStorage: PrimaryStorage.apiVersion,
  VirtualMachine: VirtualMachine.apiVersion,
  Volume: Volume.apiVersion,
} as const;

const binary: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50 };
const decimal: Record<string, number> = { '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15 };

/** A Kubernetes quantity of bytes (512Mi, 20Gi, 1G, 1048576) as a number of bytes. */
export function parseQuantityBytes(field: string, value: string | number): number {
  if (typeof value === 'number') return value;
  const match = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$/.exec(value.trim());
  const unit = match?.[2] ?? '';
  const factor = binary[unit] ?? decimal[unit];
  if (!match?.[1] || factor === undefined) throw new Error(`${field}: "${value}" is not a quantity of bytes such as 512Mi or 20Gi`);
  return Math.round(Number(match[1]) * factor);
}

/** Kubernetes metav1.Time: RFC 3339 in whole seconds. */
export function timestamp(date: Date = new Date()): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Adds the agent's finalizer. The cached object is often one write behind (the placement status
 * lands just after the label): on 409 the object is read afresh once instead of failing the reconcile.
 */
export async function ensureAgentFinalizer<T extends KubeObject>(client: ResourceClient<T>, obj: T, signal: AbortSignal): Promise<T> {
  try {
    return await addFinalizer(client, obj, AGENT_FINALIZER, signal);
  } catch (err) {
    if (!isConflict(err)) throw err;
    const fresh = await client.get({ namespace: obj.metadata.namespace, name: obj.metadata.name ?? '' }, { signal });
    return addFinalizer(client, fresh, AGENT_FINALIZER, signal);
  }
}

/** Removes the agent's finalizer, reading afresh on 409; an object already gone is fine. */
export async function dropAgentFinalizer<T extends KubeObject>(client: ResourceClient<T>, obj: T, signal: AbortSignal): Promise<void> {
  try {
    await removeFinalizer(client, obj, AGENT_FINALIZER, signal);
  } catch (err) {
    if (isNotFound(err)) return;
    if (!isConflict(err)) throw err;
    const fresh = await client.get({ namespace: obj.metadata.namespace, name: obj.metadata.name ?? '' }, { signal }).catch((e: unknown) => (isNotFound(e) ? undefined : Promise.reject(e as Error)));
    if (fresh) await removeFinalizer(client, fresh, AGENT_FINALIZER, signal);
  }
}
