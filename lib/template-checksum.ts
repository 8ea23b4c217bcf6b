/**
 * A Template's checksum as CloudStack writes it: `{SHA-256}<hex>` (or MD5, SHA-1, SHA-384,
 * SHA-512), or 32 hex digits alone, which CloudStack takes as an MD5. The agent verifies
 * downloads and cached copies with it; admission and the API read it the same way.
 */
import { CHECKSUM_LENGTHS } from '../crds/compute.ts';

export interface TemplateChecksum {
  /** CloudStack's name: MD5, SHA-1, SHA-256, SHA-384 or SHA-512. */
  algorithm: string;
  /** node:crypto's name for it. */
  hash: string;
  /** Lower-case hex digest. */
  hex: string;
}

export function parseTemplateChecksum(value: string, field = 'spec.checksum'): TemplateChecksum {
  const match = /^(?:\{([A-Z0-9-]+)\})?([0-9a-fA-F]+)$/.exec(value);
  const algorithm = match ? (match[1] ?? 'MD5') : undefined;
  const length = algorithm !== undefined ? CHECKSUM_LENGTHS[algorithm] : undefined;
  if (!match?.[2] || algorithm === undefined || length === undefined) {
    throw new Error(`${field}: "${value}" must be {ALGORITHM}<hex> with ALGORITHM one of ${Object.keys(CHECKSUM_LENGTHS).join(', ')} (e.g. {SHA-256}9f86d0...), or 32 hex digits of an MD5`);
  }
  if (match[2].length !== length) throw new Error(`${field}: a ${algorithm} digest has ${length} hex digits, not ${match[2].length}`);
  return { algorithm, hash: algorithm.replace('-', '').toLowerCase(), hex: match[2].toLowerCase() };
}

export function formatTemplateChecksum(algorithm: string, hex: string): string {
  return `{${algorithm}}${hex}`;
}
