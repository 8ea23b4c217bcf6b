import { AccountType, type Authenticator, type Caller } from '../../cloudstack-api/protocol/auth.ts';

/** The root administrator that tests and benchmarks of the API layer alone sign as. */
export const TEST_ADMIN: Caller = {
  userId: '00000000-0000-4000-8000-0000000000a1',
  username: 'admin',
  accountId: '00000000-0000-4000-8000-0000000000b1',
  accountName: 'admin',
  accountType: AccountType.admin,
  domainId: '00000000-0000-4000-8000-0000000000d0',
  domainPath: '/',
};

/** An Authenticator that knows one API key (TEST_ADMIN's) and no password, with every command allowed. */
export function singleKeyAuthenticator(apiKey: string, secretKey: string): Authenticator {
  return {
    findApiKey: (key) => Promise.resolve(key === apiKey ? { caller: TEST_ADMIN, secretKey } : undefined),
    login: () => Promise.resolve({ ok: false, reason: 'domain-not-found' }),
    findUser: (id) => Promise.resolve(id === TEST_ADMIN.userId ? TEST_ADMIN : undefined),
    isCommandAllowed: () => true,
  };
}
