/**
 * Secondary storage (image stores) as the agent sees them: a Local store is a directory on
 * this host; an NFS store is mounted at <mountRoot>/<uid>. Templates are kept under
 * template/tmpl/<template uid>/, as CloudStack lays them out.
 */
import { mkdir, rm, stat, statfs } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import type { Logger } from '../../../lib/log.ts';
import type { Runner } from '../exec.ts';
import { assertUid } from '../identity.ts';
import { mountAt } from './mounts.ts';
import { nfsMountCommand, nfsMountProblem } from './nfs.ts';

export type StoreSpec =
  | { type: 'Local'; uid: string; path: string }
  | { type: 'NFS'; uid: string; server: string; exportPath: string; mountOptions?: string };

export interface StoreObservation {
  path: string;
  ready: boolean;
  /** Why the store cannot be used here, and what to do. */
  problem?: string;
  capacityBytes: number;
  usedBytes: number;
}

/** A store's spec from its URL: file:///path (Local) or nfs://server/export (NFS). */
export function storeSpecFromUrl(uid: string, url: string): StoreSpec {
  const parsed = URL.canParse(url) ? new URL(url) : undefined;
  if (parsed?.protocol === 'file:' && isAbsolute(decodeURIComponent(parsed.pathname))) return { type: 'Local', uid, path: decodeURIComponent(parsed.pathname) };
  if (parsed?.protocol === 'nfs:' && parsed.hostname && parsed.pathname.length > 1) {
    return { type: 'NFS', uid, server: parsed.hostname.replace(/^\[|\]$/g, ''), exportPath: decodeURIComponent(parsed.pathname) };
  }
  throw new Error(`SecondaryStorage spec.url: "${url}" must be file:///path (provider Local) or nfs://server/export (provider NFS)`);
}

/** Where a template's file lives inside a store (status.zones[].installPath). */
export function templateInstallPath(templateUid: string, extension: 'qcow2' | 'raw' | 'iso'): string {
  assertUid('template uid', templateUid);
  return join('template', 'tmpl', templateUid, `${templateUid}.${extension}`);
}

export interface SecondaryStorageDriver {
  path(store: StoreSpec): string;
  /** Creates a Local store's directory or mounts an NFS one; says whether it is usable. */
  apply(store: StoreSpec): Promise<StoreObservation>;
  /** Removes a template's directory from the store. */
  removeTemplate(store: StoreSpec, templateUid: string): Promise<void>;
}

export function secondaryStorageDriver(options: { mountRoot: string; run: Runner; logger: Logger }): SecondaryStorageDriver {
  const path = (store: StoreSpec): string => {
    assertUid('secondary storage uid', store.uid);
    return store.type === 'NFS' ? join(options.mountRoot, store.uid) : store.path;
  };

  const observe = async (store: StoreSpec): Promise<StoreObservation> => {
    const at = path(store);
    const info = await stat(at).catch(() => undefined);
    let problem = info?.isDirectory() ? undefined : `${at} is not a directory on this host`;
    if (problem === undefined && store.type === 'NFS') problem = nfsMountProblem(store, at, await mountAt(at));
    if (problem !== undefined) return { path: at, ready: false, problem, capacityBytes: 0, usedBytes: 0 };
    const fs = await statfs(at);
    return { path: at, ready: true, capacityBytes: fs.blocks * fs.bsize, usedBytes: (fs.blocks - fs.bfree) * fs.bsize };
  };

  return {
    path,
    apply: async (store) => {
      const at = path(store);
      if (store.type === 'Local') {
        await mkdir(at, { recursive: true });
      } else if (!(await mountAt(at))) {
        await mkdir(at, { recursive: true });
        await options.run(nfsMountCommand(store, at), { timeoutMs: 60_000 });
        options.logger.info('NFS secondary storage mounted', { store: store.uid, path: at });
      }
      return observe(store);
    },
    removeTemplate: async (store, templateUid) => {
      assertUid('template uid', templateUid);
      await rm(join(path(store), 'template', 'tmpl', templateUid), { recursive: true, force: true });
    },
  };
}
