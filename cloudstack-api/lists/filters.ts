import type { KubeObject } from '../../lib/kube-client.ts';
import { entityNotFound } from '../protocol/errors.ts';

/**
 * The filters every list shares (PROTOCOL.md §7): an unknown id in `id`, `zoneid`, `podid` or
 * `clusterid` is an error (431, the Go SDK's "not found" text); an unmatched `name`,
 * `keyword`, `state` or `type` is simply an empty list.
 */

/** What the lookups need of a cache (lists/cache.ts `Cached`). */
export interface ByUid<T> {
  byUid(uid: string): T | undefined;
}

/** The object with this id (its uid), or the 431 CloudStack sends for an unknown one. */
export function mustFind<T extends KubeObject>(cache: ByUid<T>, id: string, label: string, param: string): T {
  const found = cache.byUid(id);
  if (!found) throw entityNotFound(label, param, id);
  return found;
}

/** Like mustFind, for optional filter parameters. */
export function findOptional<T extends KubeObject>(cache: ByUid<T>, id: string | undefined, label: string, param: string): T | undefined {
  return id === undefined ? undefined : mustFind(cache, id, label, param);
}

/** `keyword`: a case-insensitive substring of the name (SQL `LIKE %keyword%` in CloudStack). */
export function keywordMatches(keyword: string | undefined, ...texts: (string | undefined)[]): boolean {
  if (keyword === undefined) return true;
  const wanted = keyword.toLowerCase();
  return texts.some((text) => text !== undefined && text.toLowerCase().includes(wanted));
}

/** `name`, `state`, `type`...: exact, case-insensitive as MySQL compares them. */
export function equalsIgnoringCase(wanted: string | undefined, actual: string | undefined): boolean {
  return wanted === undefined || (actual !== undefined && wanted.toLowerCase() === actual.toLowerCase());
}

/** `ids`: the object's id is one of them. */
export function inIds(ids: readonly string[] | undefined, id: string | undefined): boolean {
  return ids === undefined || (id !== undefined && ids.includes(id));
}

/** Oldest first, then by name, so pages are stable between requests. */
export function byCreation<T extends KubeObject>(a: T, b: T): number {
  const ta = a.metadata.creationTimestamp ?? '';
  const tb = b.metadata.creationTimestamp ?? '';
  if (ta !== tb) return ta < tb ? -1 : 1;
  const na = a.metadata.name ?? '';
  const nb = b.metadata.name ?? '';
  return na < nb ? -1 : na > nb ? 1 : 0;
}
