/**
 * The one way the agent copies an image it did not make: a template into secondary storage
 * (from its URL) and into a pool's cache (from secondary storage). The bytes stream through
 * the checksum into a temporary name beside the target, `qemu-img info` checks the format,
 * and only then is the file renamed into place: a reader sees no file or a verified one, and
 * a failed copy leaves nothing behind. The error says which check failed.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { formatTemplateChecksum, parseTemplateChecksum } from '../../../lib/template-checksum.ts';
import type { Runner } from '../exec.ts';
import { imageInfo } from './qemu-img.ts';

export type DownloadFormat = 'qcow2' | 'raw' | 'iso';

export interface VerifiedCopyOptions {
  /** An http, https or file URL, or an absolute path. */
  source: string;
  target: string;
  format: DownloadFormat;
  /** {ALGORITHM}<hex> or 32 hex digits (MD5); without one, nothing is compared. */
  checksum?: string;
  onProgress?: (bytes: number, totalBytes: number | undefined) => void;
  signal?: AbortSignal;
  run: Runner;
}

export interface VerifiedCopy {
  /** {SHA-256}<hex> of the file. */
  sha256: string;
  physicalSizeBytes: number;
  virtualSizeBytes: number;
}

function describeCause(err: unknown): string {
  const cause = (err as { cause?: unknown }).cause;
  const text = (e: unknown) => (e instanceof Error ? e.message : String(e));
  return cause !== undefined ? `${text(err)}: ${text(cause)}` : text(err);
}

async function openSource(source: string, signal: AbortSignal | undefined): Promise<{ stream: Readable; totalBytes: number | undefined }> {
  const path = isAbsolute(source) ? source : source.startsWith('file:') ? fileURLToPath(source) : undefined;
  if (path !== undefined) {
    const info = await stat(path).catch((err: unknown) => {
      throw new Error(`unreachable URL: ${source}: ${describeCause(err)}`, { cause: err });
    });
    return { stream: createReadStream(path), totalBytes: info.size };
  }
  if (!/^https?:\/\//.test(source)) throw new Error(`unreachable URL: "${source}" is not an http, https or file URL`);
  let response: Response;
  try {
    response = await fetch(source, { signal: signal ?? null });
  } catch (err) {
    throw new Error(`unreachable URL: ${source}: ${describeCause(err)}`, { cause: err });
  }
  if (!response.ok || !response.body) {
    await response.body?.cancel();
    throw new Error(`unreachable URL: GET ${source} answered ${response.status} ${response.statusText}`);
  }
  const length = Number(response.headers.get('content-length'));
  return { stream: Readable.fromWeb(response.body), totalBytes: Number.isFinite(length) && length > 0 ? length : undefined };
}

/** An ISO9660 image has "CD001" at byte 32769; qemu-img calls it raw. */
async function isIso9660(path: string): Promise<boolean> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(5);
    const { bytesRead } = await handle.read(buffer, 0, 5, 32769);
    return bytesRead === 5 && buffer.toString('latin1') === 'CD001';
  } finally {
    await handle.close();
  }
}

/** Removes the temporary files of copies to `target` whose process died mid-way. */
export async function removePartials(target: string): Promise<void> {
  const names = await readdir(dirname(target)).catch(() => [] as string[]);
  for (const name of names) if (name.startsWith(`${basename(target)}.part-`)) await rm(join(dirname(target), name), { force: true });
}

export async function verifiedCopy(options: VerifiedCopyOptions): Promise<VerifiedCopy> {
  const expected = options.checksum !== undefined ? parseTemplateChecksum(options.checksum) : undefined;
  await mkdir(dirname(options.target), { recursive: true });
  await removePartials(options.target);
  const part = `${options.target}.part-${process.pid}-${Date.now()}`;
  try {
    const { stream, totalBytes } = await openSource(options.source, options.signal);
    const sha256 = createHash('sha256');
    const check = expected && expected.hash !== 'sha256' ? createHash(expected.hash) : undefined;
    let bytes = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        sha256.update(chunk);
        check?.update(chunk);
        bytes += chunk.length;
        options.onProgress?.(bytes, totalBytes);
        done(null, chunk);
      },
    });
    try {
      await pipeline(stream, meter, createWriteStream(part, { mode: 0o644 }), ...(options.signal ? [{ signal: options.signal }] : []));
    } catch (err) {
      throw new Error(`download interrupted: reading ${options.source} into ${dirname(options.target)} failed after ${bytes} bytes: ${describeCause(err)}`, { cause: err });
    }
    const sha256Hex = sha256.digest('hex');
    if (expected) {
      const actual = check ? check.digest('hex') : sha256Hex;
      if (actual !== expected.hex) {
        throw new Error(
          `bad checksum: expected ${formatTemplateChecksum(expected.algorithm, expected.hex)}, the ${bytes} bytes from ${options.source} have ${formatTemplateChecksum(expected.algorithm, actual)}; fix the template's checksum or its URL`,
        );
      }
    }
    const info = await imageInfo(options.run, part);
    const format = info.format === 'raw' && (await isIso9660(part)) ? 'iso' : info.format;
    if (format !== options.format && !(options.format === 'iso' && format === 'raw')) {
      throw new Error(`format mismatch: qemu-img info says the image is ${format}, but the template says ${options.format.toUpperCase()}; register it with format ${format.toUpperCase()}`);
    }
    if (options.format === 'iso' && format !== 'iso') throw new Error('format mismatch: the image is not ISO9660 (no CD001 signature), but the template says ISO');
    if (info.backingFile !== undefined) {
      // A template that points at a host file would expose that file to the guest.
      throw new Error(`format mismatch: the image has a backing file (${info.backingFile}); upload a flattened image`);
    }
    await rename(part, options.target);
    return { sha256: formatTemplateChecksum('SHA-256', sha256Hex), physicalSizeBytes: bytes, virtualSizeBytes: info.virtualSizeBytes };
  } finally {
    await rm(part, { force: true });
  }
}
