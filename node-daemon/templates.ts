/**
 * Templates (agent side), per lib/agent-contract.ts:
 * - the zone's copy: the one agent of the zone holding the zone's download Lease downloads
 *   each Template of the zone into secondary storage and reports the zone's entry of
 *   status.zones. A download runs in the background; the reconciler starts it, records its
 *   progress and its outcome, and requeues (it never waits for it);
 * - the pools' copies: every agent reports the cached copies on the pools it reaches
 *   (status.pools), which its Volumes fill from secondary storage (templateSourceFor);
 * - deletion: once the operator says a deleted Template is no longer used, the copies go.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { PrimaryStorageObject, SecondaryStorageObject, TemplateObject } from '../crds/index.ts';
import {
  HOST_LEASE_NAMESPACE,
  TEMPLATE_DOWNLOAD_RETRY_SECONDS,
  TEMPLATE_IN_USE,
  templateDownloadLeaseName,
  templateInZone,
  templatePoolStatus,
  templateZoneStatus,
} from '../lib/agent-contract.ts';
import { errorMessage } from '../lib/error-message.ts';
import type { Controller } from '../lib/controller.ts';
import type { Informer } from '../lib/informer.ts';
import { keyOf } from '../lib/kube-client.ts';
import { createLeaderElector } from '../lib/leader-election.ts';
import type { Logger } from '../lib/log.ts';
import type { Manager } from '../lib/manager.ts';
import { commitStatus } from '../lib/status.ts';
import type { Runner } from './drivers/exec.ts';
import type { FileStorageDriver } from './drivers/storage/driver.ts';
import { verifiedCopy, type DownloadFormat } from './drivers/storage/download.ts';
import { storeSpecFromUrl, templateInstallPath, type SecondaryStorageDriver, type StoreSpec } from './drivers/storage/secondary.ts';
import type { TemplateSource } from './drivers/storage/types.ts';
import type { HostPlacement } from './host-join.ts';
import { mountedHere, poolInScope, poolSpecOf } from './primary-storage.ts';
import { RESOURCES } from './resources.ts';

type ZoneEntry = NonNullable<NonNullable<TemplateObject['status']>['zones']>[number];
type PoolEntry = NonNullable<NonNullable<TemplateObject['status']>['pools']>[number];

function downloadFormat(template: TemplateObject): DownloadFormat {
  return template.spec.format === 'ISO' ? 'iso' : template.spec.format === 'RAW' ? 'raw' : 'qcow2';
}

export function storeSpecOf(store: SecondaryStorageObject): StoreSpec {
  return storeSpecFromUrl(store.metadata.uid ?? '', store.spec.url);
}

/** The store a zone's templates are downloaded to: the first of the zone by name that takes new templates. */
export function downloadStoreOf(stores: readonly SecondaryStorageObject[], zone: string): SecondaryStorageObject | undefined {
  return stores
    .filter((s) => s.spec.zoneRef.name === zone && s.spec.readOnly !== true && s.metadata.deletionTimestamp === undefined)
    .sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''))[0];
}

/** Whether the operator has let the copies of a deleted Template go (no VM or Volume uses it). */
function copiesReleased(template: TemplateObject): boolean {
  return template.metadata.deletionTimestamp !== undefined && template.status?.conditions?.some((c) => c.type === TEMPLATE_IN_USE && c.status === 'False') === true;
}

/**
 * Where a host of `zone` fills its pools' caches from: the zone's verified copy on secondary
 * storage, never the template's URL. Throws, saying what is awaited, until that copy exists.
 */
export function templateSourceFor(template: TemplateObject, zone: string, storePath: (storeName: string) => string | undefined): TemplateSource {
  const name = keyOf(template);
  if (template.spec.format === 'ISO') throw new Error(`Template ${name} is an ISO: a root disk is made from a QCOW2 or RAW template`);
  const { entry, path } = zoneCopy(template, zone, storePath);
  const checksum = template.spec.checksum ?? entry.checksum;
  if (checksum === undefined) throw new Error(`Template ${name}: zone ${zone}'s copy has no recorded checksum; the download agent records one`);
  return {
    uid: template.metadata.uid ?? '',
    format: template.spec.format === 'RAW' ? 'raw' : 'qcow2',
    checksum,
    secondaryPath: path,
  };
}

/**
 * Where a host of `zone` reads an ISO for a VM's CD-ROM drive: the zone's verified copy on
 * secondary storage, mounted here, as CloudStack's KVM agent reads ISOs from the NFS store.
 * Throws, saying what is awaited, until that copy exists.
 */
export function isoFileFor(template: TemplateObject, zone: string, storePath: (storeName: string) => string | undefined): string {
  if (template.spec.format !== 'ISO') throw new Error(`Template ${keyOf(template)} is ${template.spec.format}, not an ISO: a CD-ROM drive takes an ISO`);
  return zoneCopy(template, zone, storePath).path;
}

/** The zone's downloaded copy of a template and its path on this host; throws, saying what is awaited, until it exists. */
function zoneCopy(template: TemplateObject, zone: string, storePath: (storeName: string) => string | undefined): { entry: ZoneEntry; path: string } {
  const name = keyOf(template);
  const entry = template.status?.zones?.find((z) => z.zone === zone);
  if (entry?.downloadState !== 'DOWNLOADED' || !entry.storage || !entry.installPath) {
    const state = entry ? `${entry.downloadState}${entry.downloadState === 'DOWNLOAD_IN_PROGRESS' ? ` ${entry.downloadPercent}%` : ''}${entry.message ? `: ${entry.message}` : ''}` : 'not started';
    throw new Error(`Template ${name} is not downloaded to zone ${zone}'s secondary storage yet (${state})`);
  }
  const root = storePath(entry.storage);
  if (root === undefined) throw new Error(`Template ${name} is on SecondaryStorage ${entry.storage}, which this host has not mounted`);
  return { entry, path: join(root, entry.installPath) };
}

/** What a download fetched and checked: a new checksum means a new download. */
function downloadKey(template: TemplateObject): string {
  return `${template.spec.url} ${template.spec.format} ${template.spec.checksum ?? ''}`;
}

interface Download {
  abort: AbortController;
  key: string;
  store: string;
  installPath: string;
  bytes: number;
  totalBytes: number | undefined;
  outcome?: { ok: true; entry: ZoneEntry } | { ok: false; message: string };
}

export interface TemplateDeps {
  manager: Manager;
  at: HostPlacement;
  templates: Informer<TemplateObject>;
  stores: Informer<SecondaryStorageObject>;
  pools: Informer<PrimaryStorageObject>;
  storage: FileStorageDriver;
  secondary: SecondaryStorageDriver;
  run: Runner;
  logger: Logger;
  /** Ends the download Lease campaign (the agent stopping). */
  signal: AbortSignal;
}

export interface TemplateAgent {
  controller: Controller;
  /** Where this host's pools fill their copy of the template from: the zone's secondary copy, mounted here. */
  sourceFor(template: TemplateObject): Promise<TemplateSource>;
  /** Where this host reads an ISO for a VM's CD-ROM drive: the zone's secondary copy, mounted here. */
  isoFor(template: TemplateObject): Promise<string>;
  /** Whether this agent holds its zone's download Lease. */
  isDownloader(): boolean;
}

export function registerTemplateReconciler(deps: TemplateDeps): TemplateAgent {
  const { manager, at, templates, stores, pools, storage, secondary } = deps;
  const client = manager.client.resource<TemplateObject>(RESOURCES.templates);
  const zoneWriter = templateZoneStatus(at.zone);
  const downloads = new Map<string, Download>();
  /**
   * Each template's last finished download, by what it downloaded (downloadKey): the informer
   * shows the written outcome only a moment later, and a stale cache must not start the same
   * download again. A failure is tried again after the retry delay, or once the key changes.
   */
  const finished = new Map<string, { key: string; entry: ZoneEntry; at: number }>();
  const log = deps.logger.child({ component: 'templates' });

  const mountStore = async (store: SecondaryStorageObject): Promise<string> => {
    const observed = await secondary.apply(storeSpecOf(store));
    if (!observed.ready) throw new Error(`SecondaryStorage ${store.metadata.name ?? ''} cannot be used on host ${at.host}: ${observed.problem ?? ''}`);
    return observed.path;
  };

  const writeZone = async (template: TemplateObject, entry: ZoneEntry | undefined, signal: AbortSignal) =>
    commitStatus(client, template, zoneWriter, { fields: { zones: entry ? [entry] : undefined }, conditions: [] }, signal);

  const startDownload = (template: TemplateObject, store: SecondaryStorageObject, root: string): Download => {
    const uid = template.metadata.uid ?? '';
    const installPath = templateInstallPath(uid, downloadFormat(template));
    const download: Download = { abort: new AbortController(), key: downloadKey(template), store: store.metadata.name ?? '', installPath, bytes: 0, totalBytes: undefined };
    downloads.set(uid, download);
    const request = { namespace: template.metadata.namespace, name: template.metadata.name ?? '' };
    log.info('template download started', { template: keyOf(template), url: template.spec.url, store: download.store });
    verifiedCopy({
      source: template.spec.url,
      target: join(root, installPath),
      format: downloadFormat(template),
      ...(template.spec.checksum !== undefined ? { checksum: template.spec.checksum } : {}),
      onProgress: (bytes, total) => {
        download.bytes = bytes;
        download.totalBytes = total;
      },
      signal: download.abort.signal,
      run: deps.run,
    }).then(
      (copy) => {
        download.outcome = {
          ok: true,
          entry: {
            zone: at.zone,
            downloadState: 'DOWNLOADED',
            downloadPercent: 100,
            sizeBytes: copy.virtualSizeBytes,
            physicalSizeBytes: copy.physicalSizeBytes,
            storage: download.store,
            installPath,
            checksum: copy.sha256,
          },
        };
        log.info('template downloaded', { template: keyOf(template), bytes: copy.physicalSizeBytes });
      },
      (err: unknown) => {
        download.outcome = { ok: false, message: errorMessage(err) };
        log.warn('template download failed', { template: keyOf(template), error: errorMessage(err) });
      },
    ).finally(() => controller.enqueue(request));
    return download;
  };

  /** The store holding the zone's downloaded copy, mounted here (undefined until there is one). */
  const zoneStoreRoot = async (template: TemplateObject): Promise<string | undefined> => {
    const entry = template.status?.zones?.find((z) => z.zone === at.zone);
    const store = entry?.storage !== undefined ? stores.get(entry.storage) : undefined;
    return store && entry?.downloadState === 'DOWNLOADED' ? await mountStore(store) : undefined;
  };
  const sourceFor = async (template: TemplateObject): Promise<TemplateSource> => {
    const root = await zoneStoreRoot(template);
    return templateSourceFor(template, at.zone, () => root);
  };
  const isoFor = async (template: TemplateObject): Promise<string> => {
    const root = await zoneStoreRoot(template);
    return isoFileFor(template, at.zone, () => root);
  };

  /**
   * spec.preparePools (prepareTemplate): a listed pool this host mounts fills its cache from the
   * zone's secondary copy once downloaded, in the background; the fill's listener brings the
   * template back to report the copy, or the fill's error.
   */
  const preparing = new Set<string>();
  const prepare = (template: TemplateObject, pool: PrimaryStorageObject, spec: ReturnType<typeof poolSpecOf>): void => {
    const key = `${template.metadata.uid ?? ''}/${pool.metadata.name ?? ''}`;
    if (preparing.has(key)) return;
    preparing.add(key);
    log.info('preparing template on pool', { template: keyOf(template), pool: pool.metadata.name });
    void sourceFor(template)
      .then((source) => storage.ensureTemplate(spec, source))
      .catch((err: unknown) => log.warn('template prepare failed', { template: keyOf(template), pool: pool.metadata.name, error: errorMessage(err) }))
      .finally(() => preparing.delete(key));
  };

  /** This host's pools' copies: reported while present, removed once a deleted template lets them go. */
  const syncPoolCopies = async (template: TemplateObject, signal: AbortSignal): Promise<void> => {
    const release = copiesReleased(template);
    const downloaded = template.status?.zones?.find((z) => z.zone === at.zone)?.downloadState === 'DOWNLOADED';
    for (const pool of pools.list()) {
      if (!poolInScope(pool, at) || !mountedHere(pool, at.host)) continue;
      const spec = poolSpecOf(pool);
      const ref = { uid: template.metadata.uid ?? '', format: template.spec.format === 'RAW' ? ('raw' as const) : ('qcow2' as const) };
      if (release) await storage.removeTemplate(spec, ref);
      const copy = release || template.spec.format === 'ISO' ? undefined : await storage.observeTemplate(spec, ref);
      const entry: PoolEntry | undefined = copy ? { pool: pool.metadata.name ?? '', state: 'Ready', sizeBytes: copy.virtualSizeBytes, physicalSizeBytes: copy.physicalSizeBytes } : undefined;
      const failed = copy || release ? undefined : storage.templateFillError(spec, ref.uid);
      const listed = template.spec.preparePools?.some((p) => p.name === pool.metadata.name) === true;
      if (listed && downloaded && !copy && failed === undefined && !release && template.spec.format !== 'ISO' && template.metadata.deletionTimestamp === undefined) prepare(template, pool, spec);
      const desired = entry ?? (failed !== undefined ? { pool: pool.metadata.name ?? '', state: 'Error' as const, message: failed } : undefined);
      await commitStatus(client, template, templatePoolStatus(pool.metadata.name ?? ''), { fields: { pools: desired ? [desired] : undefined }, conditions: [] }, signal);
    }
  };

  const controller = manager.addController({
    name: 'agent-template',
    for: templates,
    maxConcurrentReconciles: 2,
    watches: [
      { informer: stores, map: () => templates.list().map((t) => ({ namespace: t.metadata.namespace, name: t.metadata.name ?? '' })) },
      { informer: pools, map: () => templates.list().map((t) => ({ namespace: t.metadata.namespace, name: t.metadata.name ?? '' })) },
    ],
    reconcile: async (ctx, request) => {
      const template = templates.get(request);
      if (!template) return;
      const uid = template.metadata.uid ?? '';
      await syncPoolCopies(template, ctx.signal);
      if (!elector.isLeader()) return;

      const entry = template.status?.zones?.find((z) => z.zone === at.zone);
      const download = downloads.get(uid);
      const wanted = templateInZone(template, at.zone) && !copiesReleased(template);
      if (!wanted) {
        download?.abort.abort();
        downloads.delete(uid);
        finished.delete(uid);
        for (const store of stores.list().filter((s) => s.spec.zoneRef.name === at.zone)) {
          await secondary.removeTemplate(storeSpecOf(store), uid).catch((err: unknown) => ctx.log.warn('could not remove a secondary copy', { store: store.metadata.name, error: errorMessage(err) }));
        }
        if (entry) {
          await writeZone(template, undefined, ctx.signal);
          ctx.log.info('secondary copy removed', { zone: at.zone });
        }
        return;
      }
      // Deleted but still in use: the copy stays for the volumes that need it.
      if (template.metadata.deletionTimestamp !== undefined) return;

      if (download?.outcome) {
        downloads.delete(uid);
        const outcome = download.outcome.ok
          ? download.outcome.entry
          : { zone: at.zone, downloadState: 'DOWNLOAD_ERROR' as const, downloadPercent: entry?.downloadPercent ?? 0, storage: download.store, message: download.outcome.message };
        finished.set(uid, { key: download.key, entry: outcome, at: Date.now() });
        manager.events.event(
          template,
          download.outcome.ok
            ? { reason: 'TEMPLATE.DOWNLOAD.SUCCESS', note: `downloaded to zone ${at.zone}'s SecondaryStorage ${download.store}` }
            : { type: 'Warning', reason: 'TEMPLATE.DOWNLOAD.FAILED', note: `zone ${at.zone}: ${download.outcome.message}` },
        );
      } else if (download) {
        const percent = download.totalBytes ? Math.min(99, Math.floor((100 * download.bytes) / download.totalBytes)) : 0;
        await writeZone(template, { zone: at.zone, downloadState: 'DOWNLOAD_IN_PROGRESS', downloadPercent: percent, storage: download.store }, ctx.signal);
        return { requeueAfter: 1000 };
      }

      const copyPresent = async (e: ZoneEntry): Promise<boolean> => {
        const held = e.storage !== undefined ? stores.get(e.storage) : undefined;
        if (!held || e.installPath === undefined) return false;
        const root = await mountStore(held);
        return stat(join(root, e.installPath)).then(() => true, () => false);
      };
      // After a restart, a copy the status records and the store holds is adopted as it is.
      if (!finished.has(uid) && entry?.downloadState === 'DOWNLOADED' && (await copyPresent(entry))) finished.set(uid, { key: downloadKey(template), entry, at: Date.now() });
      const done = finished.get(uid);
      if (done && done.key === downloadKey(template)) {
        if (done.entry.downloadState === 'DOWNLOADED') {
          if (await copyPresent(done.entry)) {
            await writeZone(template, done.entry, ctx.signal);
            return;
          }
          ctx.log.warn('the secondary copy is gone; downloading again', { store: done.entry.storage, path: done.entry.installPath });
        } else {
          await writeZone(template, done.entry, ctx.signal);
          const wait = done.at + TEMPLATE_DOWNLOAD_RETRY_SECONDS * 1000 - Date.now();
          if (wait > 0) return { requeueAfter: wait };
        }
      }
      finished.delete(uid);
      const store = downloadStoreOf(stores.list(), at.zone);
      if (!store) {
        await writeZone(template, { zone: at.zone, downloadState: 'NOT_DOWNLOADED', downloadPercent: 0, message: `zone ${at.zone} has no SecondaryStorage that takes new templates; add one (or clear spec.readOnly)` }, ctx.signal);
        return;
      }
      let root: string;
      try {
        root = await mountStore(store);
      } catch (err) {
        await writeZone(template, { zone: at.zone, downloadState: 'NOT_DOWNLOADED', downloadPercent: 0, storage: store.metadata.name, message: errorMessage(err) }, ctx.signal);
        return { requeueAfter: 30_000 };
      }
      startDownload(template, store, root);
      await writeZone(template, { zone: at.zone, downloadState: 'DOWNLOAD_IN_PROGRESS', downloadPercent: 0, storage: store.metadata.name }, ctx.signal);
      manager.events.event(template, { reason: 'TEMPLATE.DOWNLOAD.START', note: `downloading ${template.spec.url} to zone ${at.zone}'s SecondaryStorage ${store.metadata.name ?? ''}` });
      return { requeueAfter: 1000 };
    },
  });

  const enqueueAll = () => {
    for (const t of templates.list()) controller.enqueue({ namespace: t.metadata.namespace, name: t.metadata.name ?? '' });
  };
  const elector = createLeaderElector({
    client: manager.client,
    namespace: HOST_LEASE_NAMESPACE,
    name: templateDownloadLeaseName(at.zone),
    identity: at.host,
    onStartedLeading: () => {
      log.info('this host downloads the zone\'s templates', { zone: at.zone });
      enqueueAll();
    },
    onStoppedLeading: () => {
      // Another agent takes over: a download of ours must not race it into the same store.
      for (const download of downloads.values()) download.abort.abort();
      downloads.clear();
    },
    logger: log,
  });
  void (async () => {
    // run() returns when leadership is lost: campaign again, until the agent stops.
    while (!deps.signal.aborted) {
      await elector.run(deps.signal).catch((err: unknown) => log.error('template download lease campaign failed', { error: errorMessage(err) }));
      await sleep(2000, undefined, { signal: deps.signal }).catch(() => undefined);
    }
  })();

  return {
    controller,
    sourceFor,
    isoFor,
    isDownloader: () => elector.isLeader(),
  };
}
