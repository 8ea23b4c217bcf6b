import { createHmac, timingSafeEqual } from 'node:crypto';
import { parseTzDate } from './dates.ts';
import type { RequestParams } from './params.ts';

/**
 * Request signing, as ApiServer.verifyRequest does it (PROTOCOL.md §2): every parameter but
 * `signature`, names sorted as received (UTF-16 order, upper case first), `name=value` with the
 * value through java.net.URLEncoder and `+` turned into `%20`, the whole string lower-cased,
 * HMAC-SHA1 with the secret key, base64.
 */

const unreserved = /^[A-Za-z0-9.\-*_]*$/;

/** java.net.URLEncoder.encode(value, "UTF-8"): `A-Z a-z 0-9 . - * _` stay, space is `+`. */
export function javaUrlEncode(value: string): string {
  if (unreserved.test(value)) return value;
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    if (
      (byte >= 0x30 && byte <= 0x39) ||
      (byte >= 0x41 && byte <= 0x5a) ||
      (byte >= 0x61 && byte <= 0x7a) ||
      byte === 0x2e ||
      byte === 0x2d ||
      byte === 0x2a ||
      byte === 0x5f
    ) {
      out += String.fromCharCode(byte);
    } else if (byte === 0x20) {
      out += '+';
    } else {
      out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
    }
  }
  return out;
}

/** The parameters that are signed: all of them but `signature` (any case), sorted by name. */
function signedPairs(params: RequestParams): [string, string][] {
  const pairs: [string, string][] = [];
  for (const [name, value] of params) {
    if (name.toLowerCase() !== 'signature') pairs.push([name, javaUrlEncode(value).replaceAll('+', '%20')]);
  }
  return pairs.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

function join(pairs: readonly [string, string][]): string {
  return pairs
    .map(([name, value]) => `${name}=${value}`)
    .join('&')
    .toLowerCase();
}

/** The string the server signs (step 4 of §2), e.g. `apikey=key123&command=listzones&response=json`. */
export function canonicalRequest(params: RequestParams): string {
  return join(signedPairs(params));
}

export function sign(canonical: string, secretKey: string): string {
  return createHmac('sha1', secretKey).update(canonical, 'utf8').digest('base64');
}

function constantTimeEquals(a: string, b: string): boolean {
  const left = Buffer.from(a, 'utf8');
  const right = Buffer.from(b, 'utf8');
  if (left.length !== right.length) {
    timingSafeEqual(left, left);
    return false;
  }
  return timingSafeEqual(left, right);
}

/**
 * The canonical strings a genuine client may have signed. The server's own form comes first;
 * most clients leave `~` raw where Java escapes it, and some escape `*` where Java leaves it
 * (§2, "Client encoder differences"), so values holding either also get those spellings. Each
 * is still an HMAC of the same parameters, so tolerance costs no security.
 */
function candidateStrings(params: RequestParams): string[] {
  const pairs = signedPairs(params);
  const canonical = join(pairs);
  const hasTilde = pairs.some(([, value]) => value.includes('%7E'));
  const hasStar = pairs.some(([, value]) => value.includes('*'));
  if (!hasTilde && !hasStar) return [canonical];
  const variant = (tilde: boolean, star: boolean): string =>
    join(pairs.map(([name, value]) => [name, (tilde ? value.replaceAll('%7E', '~') : value).replaceAll('*', star ? '%2A' : '*')]));
  const candidates = new Set([canonical]);
  if (hasTilde) candidates.add(variant(true, false));
  if (hasStar) candidates.add(variant(false, true));
  if (hasTilde && hasStar) candidates.add(variant(true, true));
  return [...candidates];
}

/** True when `signature` is the HMAC of these parameters under `secretKey`, compared in constant time. */
export function signatureMatches(params: RequestParams, signature: string, secretKey: string): boolean {
  let matched = false;
  for (const candidate of candidateStrings(params)) {
    // No early exit: every candidate costs the same whatever the outcome.
    if (constantTimeEquals(signature, sign(candidate, secretKey))) matched = true;
  }
  return matched;
}

export interface ExpiryPolicy {
  /** `enforce.post.requests.and.timestamps`: require v3, and reject `expires` more than 15 min ahead. */
  enforceTimestamps: boolean;
}

const maxExpiryAheadMs = 15 * 60_000;

/**
 * Step 7 of §2: with `signatureVersion=3`, `expires` must be present, parse, and lie in the
 * future. Without v3 it is just another signed parameter, unless timestamps are enforced.
 */
export function expiryAcceptable(
  signatureVersion: string | undefined,
  expires: string | undefined,
  nowMs: number,
  policy: ExpiryPolicy,
): boolean {
  if (signatureVersion !== '3') return !policy.enforceTimestamps;
  if (expires === undefined) return false;
  const at = parseTzDate(expires);
  if (at === undefined || at < nowMs) return false;
  return !(policy.enforceTimestamps && at > nowMs + maxExpiryAheadMs);
}
