import type { SameSite, SessionKeyCheckLocations } from './sessions.ts';

/** The global settings the protocol obeys, under their CloudStack names in comments. */
export interface ProtocolSettings {
  /** Reported by listCapabilities and in XML's `cloud-stack-version`. */
  readonly cloudstackVersion: string;
  /** `enforce.post.requests.and.timestamps` */
  readonly enforceTimestamps: boolean;
  /** `default.page.size`: the largest `pagesize`, and the rows a list returns unpaged (-1 = no limit). */
  readonly defaultPageSize: number;
  /** Session inactivity limit in seconds (the servlet container's session timeout). */
  readonly sessionTimeoutSeconds: number;
  /** `api.sessionkey.check.locations` */
  readonly sessionKeyCheckLocations: SessionKeyCheckLocations;
  /** `enable.secure.session.cookie` */
  readonly secureSessionCookie: boolean;
  /** `api.sessionkey.cookie.samesite` */
  readonly sessionKeyCookieSameSite: SameSite;
  /** `user.2fa.issuer`, reported by login. */
  readonly issuerFor2fa: string;
}

export const defaultProtocolSettings: ProtocolSettings = {
  cloudstackVersion: '4.22.0.0',
  enforceTimestamps: false,
  defaultPageSize: 500,
  sessionTimeoutSeconds: 1800,
  sessionKeyCheckLocations: 'CookieAndParameter',
  secureSessionCookie: false,
  sessionKeyCookieSameSite: 'Lax',
  issuerFor2fa: 'CloudStack',
};
