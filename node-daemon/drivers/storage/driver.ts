import type { Stats } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, statfs, writeFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import type { Logger } from '../../../lib/log.ts';
import { CommandError, commandRunner, type Runner } from '../exec.ts';
import { assertUid, volumeFileName } from '../identity.ts';
import { mountAt } from './mounts.ts';
import { nfsMountCommand, nfsMountProblem } from './nfs.ts';
import { imageInfo, type ImageInfo } from './qemu-img.ts';
import { cachedTemplatePath, templateCache } from './template-cache.ts';
import type { PoolObservation, PoolSpec, StorageDriver, VolumeAction, VolumeObservation } from './types.ts';

export interface FileStorageOptions {
  /** Names this host's heartbeat file in each pool. */
  hostName: string;
  /** Where NFS pools are mounted: <root>/<pool uid>. Default /var/lib/kumulus/pools. */
  poolMountRoot?: string;
  logger: Logger;
  runner?: Runner;
  /** Told (with the pool's uid) after each fill of a pool's template cache. */
  onTemplateFill?: (poolUid: string, templateUid: string) => void;
}

export interface FileStorageDriver extends StorageDriver {
  poolPath(pool: PoolSpec): string;
  /** How many template fills (downloads or copies) this driver has run. */
  templateFills(): number;
  /** Why the last fill of the template into the pool failed, while the pool has no copy. */
  templateFillError(pool: PoolSpec, templateUid: string): string | undefined;
  /** Rewrites the heartbeat file; the agent calls this on its heartbeat period. */
  heartbeat(pool: PoolSpec): Promise<Date>;
}

const heartbeatDir = '.kumulus-heartbeat';

/** qemu-img rounds a new image's virtual size up to whole 512-byte sectors. */
const SECTOR_BYTES = 512;

/** One version of a file: a write, a resize or a replacement changes it. */
function versionOf(info: Stats): string {
  return `${info.ino}:${info.size}:${info.mtimeMs}:${info.ctimeMs}`;
}

/** Local directory, SharedMountPoint and NFS pools: volumes are qcow2 files named by uid. */
export function fileStorageDriver(options: FileStorageOptions): FileStorageDriver {
  const run = options.runner ?? commandRunner();
  const logger = options.logger.child({ driver: 'storage' });
  const mountRoot = options.poolMountRoot ?? '/var/lib/kumulus/pools';
  const poolUids = new Map<string, string>();
  const cache = templateCache(run, logger, (path, templateUid) => {
    const poolUid = poolUids.get(path);
    if (poolUid !== undefined) options.onTemplateFill?.(poolUid, templateUid);
  });

  const poolPath = (pool: PoolSpec): string => {
    assertUid('pool uid', pool.uid);
    if (pool.type !== 'NFS' && !isAbsolute(pool.path)) throw new Error(`${pool.type} pool path: "${pool.path}" must be an absolute path`);
    const path = pool.type === 'NFS' ? join(mountRoot, pool.uid) : pool.path;
    poolUids.set(path, pool.uid);
    return path;
  };
  const heartbeatFile = (pool: PoolSpec): string => join(poolPath(pool), heartbeatDir, options.hostName);

  /**
   * `qemu-img info` once per version of an image (versionOf): a reconcile that finds the file as
   * it last saw it, or as it just made it, spawns no process.
   */
  const infos = new Map<string, { version: string; info: ImageInfo }>();
  const infoOf = async (path: string, version: Stats): Promise<ImageInfo> => {
    const known = infos.get(path);
    if (known?.version === versionOf(version)) return known.info;
    const info = await imageInfo(run, path);
    // Read after the stat: a change in between gives a newer answer under an older version, which the next look reads again.
    infos.set(path, { version: versionOf(version), info });
    return info;
  };

  const problemOf = async (pool: PoolSpec, path: string): Promise<string | undefined> => {
    const info = await stat(path).catch(() => undefined);
    if (!info?.isDirectory()) {
      return pool.type === 'Local' ? `${path} does not exist yet` : `${path} is not a directory on this host`;
    }
    if (pool.type === 'SharedMountPoint' && !(await mountAt(path))) {
      return `${path} is not a mount point; mount the shared file system there on every host of the pool's scope`;
    }
    if (pool.type === 'NFS') return nfsMountProblem(pool, path, await mountAt(path));
    return undefined;
  };

  const observePool = async (pool: PoolSpec): Promise<PoolObservation> => {
    const path = poolPath(pool);
    const problem = await problemOf(pool, path);
    if (problem !== undefined) {
      return { uid: pool.uid, path, ready: false, problem, capacityBytes: 0, availableBytes: 0, usedBytes: 0 };
    }
    const fs = await statfs(path);
    const capacityBytes = fs.blocks * fs.bsize;
    const availableBytes = fs.bavail * fs.bsize;
    const heartbeat = await readFile(heartbeatFile(pool), 'utf8').then(
      (text) => new Date((JSON.parse(text) as { at: string }).at),
      () => undefined,
    );
    return {
      uid: pool.uid,
      path,
      ready: true,
      capacityBytes,
      availableBytes,
      usedBytes: capacityBytes - fs.bfree * fs.bsize,
      ...(heartbeat ? { heartbeatAt: heartbeat } : {}),
    };
  };

  const heartbeat = async (pool: PoolSpec): Promise<Date> => {
    const file = heartbeatFile(pool);
    const at = new Date();
    await mkdir(join(poolPath(pool), heartbeatDir), { recursive: true });
    // Written whole and renamed, so a reader on another host never sees half a record.
    await writeFile(`${file}.tmp`, JSON.stringify({ host: options.hostName, at: at.toISOString() }));
    await rename(`${file}.tmp`, file);
    return at;
  };

  const volumePath = (pool: PoolSpec, volumeUid: string): string => {
    assertUid('volume uid', volumeUid);
    return join(poolPath(pool), volumeFileName(volumeUid));
  };

  const observeVolume = async (pool: PoolSpec, volumeUid: string): Promise<VolumeObservation | undefined> => {
    const path = volumePath(pool, volumeUid);
    const version = await stat(path).catch(() => undefined);
    if (!version) return undefined;
    return { uid: volumeUid, path, ...(await infoOf(path, version)) };
  };

  return {
    poolPath,
    heartbeat,
    templateFills: cache.fills,
    templateFillError: (pool, templateUid) => cache.fillError(poolPath(pool), templateUid),
    observePool,

    applyPool: async (pool) => {
      const path = poolPath(pool);
      if (pool.type === 'Local') {
        await mkdir(path, { recursive: true });
      } else if (pool.type === 'NFS' && !(await mountAt(path))) {
        await mkdir(path, { recursive: true });
        await run(nfsMountCommand(pool, path), { timeoutMs: 60_000 });
        logger.info('NFS pool mounted', { pool: pool.uid, path });
      }
      const before = await observePool(pool);
      if (!before.ready) return before;
      await heartbeat(pool);
      return observePool(pool);
    },

    releasePool: async (pool) => {
      if (pool.type !== 'NFS') return;
      const path = poolPath(pool);
      if (await mountAt(path)) await run(['umount', path]);
      await rm(path, { recursive: false, force: true }).catch(() => undefined);
    },

    ensureTemplate: async (pool, template) => {
      const observed = await observePool(pool);
      if (!observed.ready) throw new Error(`pool ${pool.uid} is not ready: ${observed.problem ?? ''}`);
      return cache.ensure(observed.path, template);
    },

    observeTemplate: async (pool, template) => {
      const path = cachedTemplatePath(poolPath(pool), template);
      const info = await stat(path).catch(() => undefined);
      if (!info) return undefined;
      return { path, physicalSizeBytes: info.size, virtualSizeBytes: (await infoOf(path, info)).virtualSizeBytes };
    },

    removeTemplate: async (pool, template) => {
      await cache.remove(poolPath(pool), template);
      infos.delete(cachedTemplatePath(poolPath(pool), template));
    },

    observeVolume,

    applyVolume: async (pool, volume) => {
      const path = volumePath(pool, volume.uid);
      const actions: VolumeAction[] = [];
      let current = await observeVolume(pool, volume.uid);
      if (!current) {
        const part = `${path}.part`;
        let made: ImageInfo;
        if (volume.kind === 'root') {
          const before = cache.fills();
          const template = await cache.ensure(poolPath(pool), volume.template);
          if (cache.fills() > before) actions.push('fill-template');
          const templateSize = (await infoOf(template, await stat(template))).virtualSizeBytes;
          const size = volume.sizeBytes ?? templateSize;
          if (size < templateSize) {
            throw new Error(
              `root volume ${volume.uid} sizeBytes: ${size} is smaller than its template (${templateSize}); request at least the template's size`,
            );
          }
          await run(['qemu-img', 'create', '-q', '-f', 'qcow2', '-b', template, '-F', volume.template.format, part, String(size)]);
          made = { format: 'qcow2', virtualSizeBytes: size, allocatedBytes: 0, backingFile: template };
        } else {
          if (!Number.isInteger(volume.sizeBytes) || volume.sizeBytes <= 0) {
            throw new Error(`data volume ${volume.uid} sizeBytes: ${volume.sizeBytes} must be a positive integer`);
          }
          await run(['qemu-img', 'create', '-q', '-f', 'qcow2', part, String(volume.sizeBytes)]);
          made = { format: 'qcow2', virtualSizeBytes: volume.sizeBytes, allocatedBytes: 0 };
        }
        // Created under a temporary name, so a crash never leaves a half-made volume that a
        // restart would mistake for the real one.
        await rename(part, path);
        actions.push('create');
        // What qemu-img just made is known: no `qemu-img info` to read it back.
        const version = await stat(path);
        const info = { ...made, virtualSizeBytes: Math.ceil(made.virtualSizeBytes / SECTOR_BYTES) * SECTOR_BYTES, allocatedBytes: version.blocks * SECTOR_BYTES };
        infos.set(path, { version: versionOf(version), info });
        current = { uid: volume.uid, path, ...info };
      }
      const wanted = volume.sizeBytes;
      if (current && wanted !== undefined && wanted !== current.virtualSizeBytes) {
        if (wanted < current.virtualSizeBytes) {
          throw new Error(
            `volume ${volume.uid} sizeBytes: ${wanted} is smaller than the volume (${current.virtualSizeBytes}); volumes only grow`,
          );
        }
        try {
          await run(['qemu-img', 'resize', '-q', '-f', 'qcow2', path, String(wanted)]);
        } catch (err) {
          if (err instanceof CommandError && /lock/i.test(err.stderr)) {
            throw new Error(`volume ${volume.uid} is in use by a running VM; grow it through the hypervisor (blockresize)`, {
              cause: err,
            });
          }
          throw err;
        }
        actions.push('resize');
      }
      if (actions.length > 0) logger.info('volume applied', { volume: volume.uid, actions });
      return actions;
    },

    deleteVolume: async (pool, volumeUid) => {
      // With the temporary file an agent killed mid-create leaves.
      await rm(`${volumePath(pool, volumeUid)}.part`, { force: true });
      await rm(volumePath(pool, volumeUid), { force: true });
      infos.delete(volumePath(pool, volumeUid));
    },
  };
}
