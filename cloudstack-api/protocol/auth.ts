/**
 * Who is calling, and the dependency that finds out. The API layer owns the protocol (keys,
 * signatures, sessions); where users, accounts and keys live is injected through Authenticator,
 * so the Kubernetes-backed lookup and impersonation plug in without the protocol knowing.
 */

/** CloudStack's account types, as login reports them in `type`. */
export const AccountType = {
  user: 0,
  admin: 1,
  domainAdmin: 2,
  resourceDomainAdmin: 3,
  readOnlyAdmin: 4,
  project: 5,
} as const;

export type AccountTypeValue = (typeof AccountType)[keyof typeof AccountType];

export interface Caller {
  readonly userId: string;
  readonly username: string;
  readonly accountId: string;
  readonly accountName: string;
  readonly accountType: AccountTypeValue;
  readonly domainId: string;
  /** `/ROOT/child/` style, as CloudStack writes domain paths. */
  readonly domainPath: string;
  readonly firstname?: string;
  readonly lastname?: string;
  readonly timezone?: string;
}

/** Who runs a command answered without authentication (login-page look-ups): nobody, with a User's rights. */
export const ANONYMOUS_CALLER: Caller = {
  userId: '',
  username: '',
  accountId: '',
  accountName: '',
  accountType: AccountType.user,
  domainId: '',
  domainPath: '/',
};

export function isRootAdmin(caller: Caller): boolean {
  return caller.accountType === AccountType.admin;
}

export interface LoginRequest {
  readonly username: string;
  readonly password: string;
  /** `domainId`/`domainid`, when given: it wins over the path. */
  readonly domainId: string | undefined;
  /** Normalised with leading and trailing `/`; `/` when absent. */
  readonly domainPath: string;
}

export type LoginResult =
  | { readonly ok: true; readonly caller: Caller }
  | { readonly ok: false; readonly reason: 'domain-not-found' }
  /** `domain` names the resolved domain in the error text (CloudStack prints its id). */
  | { readonly ok: false; readonly reason: 'bad-credentials'; readonly domain: string };

export interface Authenticator {
  /**
   * The user owning an API key, with its secret key, or undefined when the key is unknown or its
   * user, account or domain is disabled or denied API-key access.
   */
  findApiKey(apiKey: string): Promise<{ readonly caller: Caller; readonly secretKey: string } | undefined>;
  /** Checks a password. */
  login(request: LoginRequest): Promise<LoginResult>;
  /** The user behind a session, if it still exists and is enabled (ApiServer.verifyUser). */
  findUser(userId: string): Promise<Caller | undefined>;
  /** The caller's role allows this command (CloudStack's API access checkers). */
  isCommandAllowed(caller: Caller, command: string): boolean;
}

/** `ROOT/child` → `/ROOT/child/`; absent → `/`. */
export function normaliseDomainPath(path: string | undefined): string {
  if (path === undefined) return '/';
  let normalised = path.endsWith('/') ? path : `${path}/`;
  if (!normalised.startsWith('/')) normalised = `/${normalised}`;
  return normalised;
}
