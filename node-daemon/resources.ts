/**
 * The kinds the agent reads and writes, as the runtime addresses them, and the labels that
 * select what belongs to this host. Types come from crds/; only what the agent reads is here.
 */
import {
  Cluster,
  Configuration,
  DiskOffering,
  Host,
  Network,
  PhysicalNetwork,
  Pod,
  PrimaryStorage,
  SecondaryStorage,
  ServiceOffering,
  SSHKeyPair,
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
  configurations: resourceTypeOf(Configuration),
  pods: resourceTypeOf(Pod),
  primaryStorages: resourceTypeOf(PrimaryStorage),
  secondaryStorages: resourceTypeOf(SecondaryStorage),
  vms: resourceTypeOf(VirtualMachine),
  volumes: resourceTypeOf(Volume),
  templates: resourceTypeOf(Template),
  networks: resourceTypeOf(Network),
  physicalNetworks: resourceTypeOf(PhysicalNetwork),
  serviceOfferings: resourceTypeOf(ServiceOffering),
  diskOfferings: resourceTypeOf(DiskOffering),
  sshKeyPairs: resourceTypeOf(SSHKeyPair),
} as const;

export const API_VERSIONS = {
  Host: Host.apiVersion,
  PrimaryStorage: PrimaryStorage.apiVersion,
  VirtualMachine: VirtualMachine.apiVersion,
  Volume: Volume.apiVersion,
} as const;

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
