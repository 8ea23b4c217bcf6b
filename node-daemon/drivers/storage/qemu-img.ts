import type { Runner } from '../exec.ts';

export interface ImageInfo {
  format: string;
  virtualSizeBytes: number;
  allocatedBytes: number;
  backingFile?: string;
}

interface QemuImgInfoJson {
  format?: string;
  'virtual-size'?: number;
  'actual-size'?: number;
  'backing-filename'?: string;
}

/** `qemu-img info`, sharing the image with a running guest (-U) rather than failing on its lock. */
export async function imageInfo(run: Runner, path: string): Promise<ImageInfo> {
  const { stdout } = await run(['qemu-img', 'info', '-U', '--output=json', path]);
  const json = JSON.parse(stdout) as QemuImgInfoJson;
  return {
    format: json.format ?? 'unknown',
    virtualSizeBytes: json['virtual-size'] ?? 0,
    allocatedBytes: json['actual-size'] ?? 0,
    ...(json['backing-filename'] !== undefined ? { backingFile: json['backing-filename'] } : {}),
  };
}
