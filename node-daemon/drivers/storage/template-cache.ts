import { mkdir, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { withFileLock } from '../../../lib/file-lock.ts';
import type { Logger } from '../../../lib/log.ts';
import type { Runner } from '../exec.ts';
import { assertUid } from '../identity.ts';
import { removePartials, verifiedCopy } from './download.ts';
import type { TemplateSource } from './types.ts';

export function cachedTemplatePath(poolPath: string, template: Pick<TemplateSource, 'uid' | 'format'>): string {
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
  /** Why the last fill of the template into the pool failed, while it has no copy. */
  fillError: (poolPath: string, templateUid: string) => string | undefined;
  /** Removes the pool's copy (and any partial one) of a template. */
  remove: (poolPath: string, template: Pick<TemplateSource, 'uid' | 'format'>) => Promise<void>;
}

/** Told after every fill of a pool's cache, good or failed (the agent then reports the pool's copy). */
export type TemplateFillListener = (poolPath: string, templateUid: string) => void;

export function templateCache(run: Runner, logger: Logger, onFill: TemplateFillListener = () => undefined): TemplateCache {
  const inFlight = new Map<string, Promise<string>>();
  const errors = new Map<string, string>();
  let fillCount = 0;

  const fill = async (target: string, template: TemplateSource): Promise<string> => {
    const source = template.secondaryPath ?? template.url;
    if (source === undefined) throw new Error(`template ${template.uid}: neither secondaryPath nor url is set; register the template with a URL`);
    await mkdir(dirname(target), { recursive: true });
    return withFileLock(`${target}.lock`, async () => {
      if (await stat(target).then(() => true, () => false)) return target;
      fillCount++;
      try {
        const copy = await verifiedCopy({ source, target, format: template.format, checksum: template.checksum, run });
        errors.delete(target);
        logger.info('template cached', { template: template.uid, path: target, bytes: copy.physicalSizeBytes });
        return target;
      } catch (err) {
        const error = new Error(`template ${template.uid}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
        errors.set(target, error.message);
        throw error;
      } finally {
        onFill(dirname(dirname(target)), template.uid);
      }
    });
  };

  return {
    fills: () => fillCount,
    fillError: (poolPath, templateUid) => [...errors].find(([target]) => target.startsWith(join(poolPath, '.kumulus-templates', `${templateUid}.`)))?.[1],
    remove: async (poolPath, template) => {
      const target = cachedTemplatePath(poolPath, template);
      if (!(await stat(dirname(target)).then(() => true, () => false))) return;
      await withFileLock(`${target}.lock`, async () => {
        await removePartials(target);
        await rm(target, { force: true });
      });
    },
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
