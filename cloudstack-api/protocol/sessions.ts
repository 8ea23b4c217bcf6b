import { randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Session authentication (PROTOCOL.md §3). `login` creates a session named by the
 * `JSESSIONID` cookie and holding a session key; later calls present the key as the
 * `sessionkey` cookie and/or parameter (per `api.sessionkey.check.locations`), and no
 * signature. Sessions live behind SessionStore so any API replica can answer them.
 */

export interface SessionRecord {
  /** The JSESSIONID value. */
  readonly id: string;
  readonly sessionKey: string;
  readonly userId: string;
  readonly createdAt: number;
  readonly lastAccessedAt: number;
  /** Inactivity limit, reported as `timeout` by login. */
  readonly timeoutSeconds: number;
}

/**
 * Where sessions are kept; shared by every API replica. Plain storage: expiry and the pacing of
 * `touch` (see sessionNeedsTouch) are decided by the protocol.
 */
export interface SessionStore {
  create(session: SessionRecord): Promise<void>;
  get(id: string): Promise<SessionRecord | undefined>;
  touch(id: string, at: number): Promise<void>;
  delete(id: string): Promise<void>;
}

export type SessionKeyCheckLocations = 'CookieAndParameter' | 'CookieOrParameter' | 'ParameterOnly';

/** 128 random bits, lower-case hex: opaque to clients, and usable as a Kubernetes object name. */
export function newSessionId(): string {
  return randomBytes(16).toString('hex');
}

/** 20 random bytes, base64url, as the server generates them. */
export function newSessionKey(): string {
  return randomBytes(20).toString('base64url');
}

export function sessionExpired(session: SessionRecord, now: number): boolean {
  return now - session.lastAccessedAt > session.timeoutSeconds * 1000;
}

/**
 * Whether a request should record its access. Only once a tenth of the timeout has passed, so a
 * busy session costs the store one write per few minutes rather than one per request; the price
 * is that an idle session may end up to a tenth of its timeout early.
 */
export function sessionNeedsTouch(session: SessionRecord, now: number): boolean {
  return now - session.lastAccessedAt >= session.timeoutSeconds * 100;
}

function sameKey(expected: string, presented: string | undefined): boolean {
  if (presented === undefined) return false;
  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(presented, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** HttpUtils.validateSessionKey: which of the cookie and the parameter must carry the key. */
export function sessionKeyValid(
  session: SessionRecord,
  fromCookie: string | undefined,
  fromParameter: string | undefined,
  locations: SessionKeyCheckLocations,
): boolean {
  const cookieValid = sameKey(session.sessionKey, fromCookie);
  const parameterValid = sameKey(session.sessionKey, fromParameter);
  switch (locations) {
    case 'CookieOrParameter':
      return (fromCookie !== undefined || fromParameter !== undefined) && (fromCookie === undefined || cookieValid) && (fromParameter === undefined || parameterValid);
    case 'ParameterOnly':
      return parameterValid && (fromCookie === undefined || cookieValid);
    case 'CookieAndParameter':
      return cookieValid && parameterValid;
  }
}

/** The cookies of a request; the first of a repeated name wins, as HttpUtils.findCookie does. */
export function parseCookies(header: string | undefined): ReadonlyMap<string, string> {
  const cookies = new Map<string, string>();
  if (!header) return cookies;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    let value = part.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    if (name !== '' && !cookies.has(name)) cookies.set(name, value);
  }
  return cookies;
}

export type SameSite = 'Lax' | 'Strict' | 'NoneAndSecure' | 'Null';

export interface CookiePolicy {
  /** `enable.secure.session.cookie` */
  readonly secure: boolean;
  /** `api.sessionkey.cookie.samesite` */
  readonly sameSite: SameSite;
}

export const SESSION_COOKIE = 'JSESSIONID';
export const SESSION_KEY = 'sessionkey';
const cookiePath = '/client';

export function sessionCookies(session: SessionRecord, policy: CookiePolicy): string[] {
  const secure = policy.secure ? '; Secure' : '';
  const sameSite =
    policy.sameSite === 'Null' ? '' : policy.sameSite === 'NoneAndSecure' ? '; SameSite=None; Secure' : `; SameSite=${policy.sameSite}`;
  return [
    `${SESSION_COOKIE}=${session.id}; Path=${cookiePath}${secure}; HttpOnly`,
    `${SESSION_KEY}=${session.sessionKey}; Path=${cookiePath}; HttpOnly${sameSite}`,
  ];
}

/** Logout expires every cookie the client sent. */
export function expiredCookies(names: Iterable<string>): string[] {
  return [...names].map((name) => `${name}=; Path=${cookiePath}; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT`);
}
