import type { MountEntry } from './mounts.ts';

export interface NfsPool {
  uid: string;
  server: string;
  exportPath: string;
  mountOptions?: string;
}

const defaultOptions = 'hard,timeo=600,retrans=2,noatime';

export function nfsSource(pool: NfsPool): string {
  const host = pool.server.includes(':') ? `[${pool.server}]` : pool.server;
  return `${host}:${pool.exportPath}`;
}

export function validateNfsPool(pool: NfsPool): void {
  if (!/^[A-Za-z0-9.:-]+$/.test(pool.server)) {
    throw new Error(`NFS pool server: "${pool.server}" must be a host name or IP address`);
  }
  if (!pool.exportPath.startsWith('/')) {
    throw new Error(`NFS pool exportPath: "${pool.exportPath}" must be an absolute path on the server`);
  }
  if (pool.mountOptions !== undefined && !/^[A-Za-z0-9_=.,-]*$/.test(pool.mountOptions)) {
    throw new Error(`NFS pool mountOptions: "${pool.mountOptions}" must be comma-separated mount options`);
  }
}

/** The mount(8) command that makes the pool available at target. */
export function nfsMountCommand(pool: NfsPool, target: string): string[] {
  validateNfsPool(pool);
  return ['mount', '-t', 'nfs', '-o', pool.mountOptions ?? defaultOptions, nfsSource(pool), target];
}

/** Why the mount found at target is not this pool's, or undefined when it is. */
export function nfsMountProblem(pool: NfsPool, target: string, mount: MountEntry | undefined): string | undefined {
  if (!mount) return `${target} is not mounted`;
  if (!mount.fsType.startsWith('nfs')) return `${target} holds a ${mount.fsType} file system, not NFS`;
  const source = mount.source.replace(/\/+$/, '');
  const wanted = nfsSource(pool).replace(/\/+$/, '');
  if (source !== wanted) return `${target} has ${mount.source} mounted, not ${nfsSource(pool)}`;
  return undefined;
}
