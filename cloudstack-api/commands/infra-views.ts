import { formatApiDate } from '../protocol/dates.ts';
import type { ClusterObject, PodObject, ZoneObject } from '../../crds/index.ts';
import type { Fields } from '../protocol/envelope.ts';
import type { Infra } from './context.ts';
import { displayName } from './names.ts';

/**
 * Parents as CloudStack responses show them (`zoneid`/`zonename`, `podid`/`podname`...),
 * resolved through the caches from the names objects reference their parents by.
 */

export interface Ancestry {
  readonly zone?: ZoneObject;
  readonly pod?: PodObject;
  readonly cluster?: ClusterObject;
}

export function zoneNamed(infra: Infra, name: string | undefined): ZoneObject | undefined {
  return name === undefined ? undefined : infra.cache.zones.byName(name);
}

export function podAncestry(infra: Infra, podName: string | undefined): Ancestry {
  const pod = podName === undefined ? undefined : infra.cache.pods.byName(podName);
  return { pod, zone: zoneNamed(infra, pod?.spec.zoneRef.name) };
}

export function clusterAncestry(infra: Infra, clusterName: string | undefined): Ancestry {
  const cluster = clusterName === undefined ? undefined : infra.cache.clusters.byName(clusterName);
  return { cluster, ...podAncestry(infra, cluster?.spec.podRef.name) };
}

export function zoneFields(zone: ZoneObject | undefined): Fields {
  return zone ? { zoneid: zone.metadata.uid, zonename: displayName(zone) } : {};
}

export function ancestryFields(a: Ancestry): Fields {
  return {
    ...zoneFields(a.zone),
    ...(a.pod ? { podid: a.pod.metadata.uid, podname: displayName(a.pod) } : {}),
    ...(a.cluster ? { clusterid: a.cluster.metadata.uid, clustername: displayName(a.cluster) } : {}),
  };
}

/** A Kubernetes timestamp in CloudStack's date format. */
export function apiDate(timestamp: string | undefined): string | undefined {
  return timestamp === undefined ? undefined : formatApiDate(new Date(timestamp));
}

/** CloudStack writes tag lists as one comma-separated string. */
export function commaList(values: readonly string[] | undefined): string | undefined {
  return values === undefined || values.length === 0 ? undefined : values.join(',');
}

/** `allocationstate` and the like: CloudStack accepts any case and answers in its own spelling. */
export function canonical<const V extends string>(value: string | undefined, allowed: readonly V[]): V | undefined {
  if (value === undefined) return undefined;
  return allowed.find((candidate) => candidate.toLowerCase() === value.toLowerCase());
}
