import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { withFileLock } from '../../../lib/file-lock.ts';
import type { Logger } from '../../../lib/log.ts';
import { assertUid } from '../identity.ts';
import type { TemplateSource } from './types.ts';
import { imageInfo } from './qemu-img.ts';
import type { Runner } from '../exec.ts';

const algorithms: Record<string, { node: string; hexLength: number }> = {
  md5: { node: 'md5', hexLength: 32 },
  sha1: { node: 'sha1', hexLength: 40 },
  sha256: { node: 'sha256', hexLength: 64 },
  sha512: { node: 'sha512', hexLength: 128 },
};

export function parseChecksum(checksum: string): { algorithm: string; hex: string } {
  const match = /^([a-z0-9]+):([0-9a-fA-F]+)$/.exec(checksum);
  const algorithm = algorithms[match?.[1] ?? ''];
  if (!match?.[1] || !match[2] || !algorithm) {
    throw new Error(
      `template checksum: "${checksum}" must be <algorithm>:<hex> with algorithm one of ${Object.keys(algorithms).join(', ')} (e.g. sha256:9f86d0...)`,
    );
  }
  if (match[2].length !== algorithm.hexLength) {
    throw new Error(`template checksum: a ${match[1]} digest has ${algorithm.hexLength} hex digits, not ${match[2].length}`);
  }
  return { algorithm: algorithm.node, hex: match[2].toLowerCase() };
}

async function openSource(template: TemplateSource): Promise<Readable> {
  if (template.secondaryPath !== undefined) return createReadStream(template.secondaryPath);
  if (template.url === undefined) {
    throw new Error(`template ${template.uid}: neither url nor secondaryPath is set; register the template with a URL`);
  }
  const url = new URL(template.url);
  if (url.protocol === 'file:') return createReadStream(fileURLToPath(url));
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`template url: "${template.url}" must be an http, https or file URL`);
  }
  const response = await fetch(url);
  if (!response.ok || !response.body) {
    throw new Error(`template ${template.uid}: GET ${template.url} answered ${response.status} ${response.statusText}`);
  }
  return Readable.fromWeb(response.body);
}

export function cachedTemplatePath(poolPath: string, template: TemplateSource): string {
  assertUid('template uid', template.uid);
  return join(poolPath, '.kumulus-templates', `${template.uid}.${template.format}`);
}

/**
 * A per-pool cache of verified templates. A fill streams the source through the checksum into
 * a temporary name and renames it into place only when the digest and the image format match,
 * so a reader sees either no file or a good one, and a bad download leaves nothing behind.
 * Fills of one template are serialised across processes by a lock file and shared within
 * this process, so N volumes created at once download it once.
 */
export interface TemplateCache {
  ensure: (poolPath: string, template: TemplateSource) => Promise<string>;
  /** How many fills (downloads or copies) have run. */
  fills: () => number;
}

export function templateCache(run: Runner, logger: Logger): TemplateCache {
  const inFlight = new Map<string, Promise<string>>();
  let fillCount = 0;

  const fill = async (target: string, template: TemplateSource): Promise<string> => {
    const { algorithm, hex } = parseChecksum(template.checksum);
    await mkdir(dirname(target), { recursive: true });
    return withFileLock(`${target}.lock`, async () => {
      if (await stat(target).then(() => true, () => false)) return target;
      // Leftovers of a fill whose process died mid-way.
      for (const name of await readdir(dirname(target))) {
        if (name.startsWith(`${basename(target)}.part-`)) await rm(join(dirname(target), name), { force: true });
      }
      const part = `${target}.part-${process.pid}-${Date.now()}`;
      fillCount++;
      try {
        const hash = createHash(algorithm);
        const hasher = new Transform({
          transform(chunk: Buffer, _encoding, done) {
            hash.update(chunk);
            done(null, chunk);
          },
        });
        await pipeline(await openSource(template), hasher, createWriteStream(part, { mode: 0o644 }));
        const actual = hash.digest('hex');
        if (actual !== hex) {
          throw new Error(
            `template ${template.uid}: checksum mismatch: expected ${template.checksum}, got ${template.checksum.split(':')[0]}:${actual}; fix the template's checksum or its source`,
          );
        }
        const info = await imageInfo(run, part);
        if (info.format !== template.format) {
          throw new Error(`template ${template.uid}: the image is ${info.format}, but the template says format ${template.format}`);
        }
        if (info.backingFile !== undefined) {
          // A template that points at a host file would expose that file to the guest.
          throw new Error(`template ${template.uid}: the image has a backing file (${info.backingFile}); upload a flattened image`);
        }
        await rename(part, target);
        logger.info('template cached', { template: template.uid, path: target, bytes: info.allocatedBytes });
        return target;
      } finally {
        await rm(part, { force: true });
      }
    });
  };

  return {
    fills: () => fillCount,
    ensure: (poolPath, template) => {
      const target = cachedTemplatePath(poolPath, template);
      let pending = inFlight.get(target);
      if (!pending) {
        pending = fill(target, template).finally(() => inFlight.delete(target));
        inFlight.set(target, pending);
      }
      return pending;
    },
  };
}
