import { hashPassword, verifyPassword } from '../../lib/credentials.ts';
import type { Authenticator, Caller } from '../protocol/auth.ts';
import type { Directory } from './directory.ts';
import { isCommandAllowedFor } from './roles.ts';

/**
 * The Kubernetes-backed Authenticator: API keys and users from the shared informer caches
 * (the key's hash label finds its Secret through an index), passwords checked against their
 * scrypt hashes, the command gate from the account type.
 */
export function createKubernetesAuthenticator(directory: Directory): Authenticator {
  // Unknown users cost a verification too, so response times do not tell which names exist.
  let decoy: Promise<string> | undefined;

  return {
    async findApiKey(apiKey) {
      await directory.synced();
      const found = directory.userByApiKey(apiKey);
      if (!found || !directory.isActive(found.user)) return undefined;
      const caller = directory.callerOf(found.user);
      return caller ? { caller, secretKey: found.keys.secretKey } : undefined;
    },

    async login(request) {
      await directory.synced();
      const domain =
        request.domainId !== undefined ? directory.byUid(directory.domains, request.domainId.toLowerCase()) : directory.domainByPath(request.domainPath);
      if (!domain) return { ok: false, reason: 'domain-not-found' };
      const failed = { ok: false, reason: 'bad-credentials', domain: domain.metadata.uid ?? '' } as const;
      const user = directory.userInDomain(request.username, domain.metadata.name ?? '');
      const hash = user ? directory.credentialsOf(user).passwordHash : undefined;
      if (!user || hash === undefined) {
        decoy ??= hashPassword('decoy');
        await verifyPassword(request.password, await decoy);
        return failed;
      }
      if (!(await verifyPassword(request.password, hash)) || !directory.isActive(user)) return failed;
      const caller = directory.callerOf(user);
      return caller ? { ok: true, caller } : failed;
    },

    async findUser(userId): Promise<Caller | undefined> {
      await directory.synced();
      const user = directory.byUid(directory.users, userId);
      if (!user || !directory.isActive(user)) return undefined;
      return directory.callerOf(user);
    },

    isCommandAllowed: isCommandAllowedFor,
  };
}
