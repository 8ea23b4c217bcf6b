/**
 * The storage driver's contract with the agent's PrimaryStorage and Volume reconcilers.
 * Inputs are plain data mapped from the objects; every operation is idempotent.
 */

export type PoolSpec =
  /** A directory on this host's own disk, created if missing. */
  | { type: 'Local'; uid: string; path: string }
  /** A file system an administrator mounted at the same path on every host (GFS2, OCFS2...). */
  | { type: 'SharedMountPoint'; uid: string; path: string }
  /** Mounted by the agent at <poolMountRoot>/<uid>. */
  | { type: 'NFS'; uid: string; server: string; exportPath: string; mountOptions?: string };

export interface PoolObservation {
  uid: string;
  /** Where volumes live on this host. */
  path: string;
  /** Ready to hold volumes; when false, `problem` says why and how to fix it. */
  ready: boolean;
  problem?: string;
  capacityBytes: number;
  availableBytes: number;
  usedBytes: number;
  /** When this host last wrote its heartbeat file into the pool. */
  heartbeatAt?: Date;
}

export type ImageFormat = 'qcow2' | 'raw';

export interface TemplateSource {
  uid: string;
  format: ImageFormat;
  /** As a Template writes it: {SHA-256}<hex> (or {MD5}, {SHA-1}, {SHA-384}, {SHA-512}), or 32 hex digits of an MD5. */
  checksum: string;
  /** http, https or file URL (the template's registered URL). */
  url?: string;
  /** The template's file on mounted secondary storage; preferred over url when both are set. */
  secondaryPath?: string;
}

export type VolumeSpec =
  /** A copy-on-write overlay on the pool's cached template; size defaults to the template's. */
  | { kind: 'root'; uid: string; template: TemplateSource; sizeBytes?: number }
  | { kind: 'data'; uid: string; sizeBytes: number };

export interface VolumeObservation {
  uid: string;
  path: string;
  format: string;
  virtualSizeBytes: number;
  allocatedBytes: number;
  backingFile?: string;
}

export type VolumeAction = 'fill-template' | 'create' | 'resize';

export interface StorageDriver {
  observePool(pool: PoolSpec): Promise<PoolObservation>;
  /** Creates the directory, verifies the mount point or mounts NFS; writes the heartbeat. */
  applyPool(pool: PoolSpec): Promise<PoolObservation>;
  /** Unmounts an NFS pool; other pool types are left as they are. */
  releasePool(pool: PoolSpec): Promise<void>;
  /** The pool's cached copy of a template, downloaded or copied and verified on first use. */
  ensureTemplate(pool: PoolSpec, template: TemplateSource): Promise<string>;
  /** The pool's cached copy of a template, if it has one. */
  observeTemplate(pool: PoolSpec, template: Pick<TemplateSource, 'uid' | 'format'>): Promise<{ path: string; virtualSizeBytes: number; physicalSizeBytes: number } | undefined>;
  /** Removes the pool's cached copy of a template (no root volume may still use it). */
  removeTemplate(pool: PoolSpec, template: Pick<TemplateSource, 'uid' | 'format'>): Promise<void>;
  observeVolume(pool: PoolSpec, volumeUid: string): Promise<VolumeObservation | undefined>;
  /** Creates the volume, or grows it to the requested size. Never shrinks. */
  applyVolume(pool: PoolSpec, volume: VolumeSpec): Promise<VolumeAction[]>;
  deleteVolume(pool: PoolSpec, volumeUid: string): Promise<void>;
}
