/**
 * Joining: the agent adopts the Host whose spec.nodeName is its node (one made ahead, as
 * CloudStack's addHost does), or creates one named after the node in the cluster it was told
 * to join (--cluster, else the node's kumulus.io/cluster label). The admission webhook refuses
 * a Host whose cluster does not exist, so until it does the agent waits, retrying with
 * backoff and saying what it waits for.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ClusterObject, HostObject, PodObject } from '../crds/index.ts';
import { isAlreadyExists, isNotFound, type KubeClient } from '../lib/kube-client.ts';
import { errorMessage } from '../lib/error-message.ts';
import type { Logger } from '../lib/log.ts';
import { API_VERSIONS, LABEL_CLUSTER, RESOURCES } from './resources.ts';

export interface HostPlacement {
  host: string;
  cluster: string;
  pod: string;
  zone: string;
}

export interface JoinOptions {
  client: KubeClient;
  nodeName: string;
  cluster?: string;
  logger: Logger;
  signal: AbortSignal;
  /** Told why the node has not joined yet, at each attempt that fails. */
  onWaiting?: (reason: string) => void;
}

/** A Host of this name belongs to another node: retrying cannot help. */
class HostTaken extends Error {}

const NODES = { group: '', version: 'v1', plural: 'nodes', kind: 'Node', namespaced: false };

async function getOrUndefined<T>(read: () => Promise<T>): Promise<T | undefined> {
  try {
    return await read();
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** One attempt: the Host this node is, or why not yet. */
async function tryJoin(options: JoinOptions): Promise<{ host: HostObject } | { waiting: string }> {
  const { client, nodeName } = options;
  const hosts = client.resource<HostObject>(RESOURCES.hosts);
  const adopted = (await hosts.list()).items.find((h) => h.spec.nodeName === nodeName);
  if (adopted) return { host: adopted };

  const label = options.cluster
    ? undefined
    : (await getOrUndefined(() => client.resource(NODES).get({ name: nodeName })))?.metadata.labels?.[LABEL_CLUSTER];
  const clusterName = options.cluster ?? label;
  if (!clusterName) {
    return {
      waiting: `no cluster to join: pass --cluster, label node ${nodeName} with ${LABEL_CLUSTER}=<cluster>, or create a Host with spec.nodeName ${nodeName}`,
    };
  }
  const cluster = await getOrUndefined(() => client.resource<ClusterObject>(RESOURCES.clusters).get({ name: clusterName }));
  if (!cluster) return { waiting: `Cluster ${clusterName} does not exist yet; the Host for node ${nodeName} is created once it does` };
  const body = {
    apiVersion: API_VERSIONS.Host,
    kind: 'Host',
    metadata: { name: nodeName },
    spec: { clusterRef: { name: clusterName }, nodeName },
  } as HostObject;
  try {
    return { host: await hosts.create(body) };
  } catch (err) {
    if (!isAlreadyExists(err)) return { waiting: `creating Host ${nodeName} failed: ${errorMessage(err)}` };
    const existing = await hosts.get({ name: nodeName });
    if (existing.spec.nodeName === nodeName) return { host: existing };
    throw new HostTaken(
      `Host ${nodeName} exists for node ${existing.spec.nodeName}, not for this node ${nodeName}: delete it, or run this agent with --node-name ${existing.spec.nodeName}`,
    );
  }
}

/** The cluster's pod and zone: pools are scoped to a zone, a cluster or a host. */
async function placementOf(client: KubeClient, host: HostObject): Promise<HostPlacement | string> {
  const clusterName = host.spec.clusterRef.name;
  const cluster = await getOrUndefined(() => client.resource<ClusterObject>(RESOURCES.clusters).get({ name: clusterName }));
  if (!cluster) return `Cluster ${clusterName} of Host ${host.metadata.name ?? ''} does not exist yet`;
  const pod = await getOrUndefined(() => client.resource<PodObject>(RESOURCES.pods).get({ name: cluster.spec.podRef.name }));
  if (!pod) return `Pod ${cluster.spec.podRef.name} of Cluster ${clusterName} does not exist yet`;
  return { host: host.metadata.name ?? '', cluster: clusterName, pod: pod.metadata.name ?? '', zone: pod.spec.zoneRef.name };
}

/** Waits (0.5 s doubling to 5 s, so a host is Up soon after its cluster appears) until this node has a Host, and returns where it sits. */
export async function joinCluster(options: JoinOptions): Promise<HostPlacement> {
  let delay = 500;
  let lastReason = '';
  for (;;) {
    options.signal.throwIfAborted();
    let reason: string;
    try {
      const result = await tryJoin(options);
      if ('host' in result) {
        const placement = await placementOf(options.client, result.host);
        if (typeof placement !== 'string') {
          options.logger.info('joined', { ...placement, node: options.nodeName });
          return placement;
        }
        reason = placement;
      } else {
        reason = result.waiting;
      }
    } catch (err) {
      if (err instanceof HostTaken) throw err;
      reason = `the apiserver could not be read: ${errorMessage(err)}`;
    }
    if (reason !== lastReason) options.logger.warn('waiting to join', { node: options.nodeName, reason, retryInMs: delay });
    options.onWaiting?.(reason);
    lastReason = reason;
    await sleep(delay, undefined, { signal: options.signal });
    delay = Math.min(delay * 2, 5_000);
  }
}
