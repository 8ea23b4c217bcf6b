import { Account, Domain, User } from '../crds/index.ts';
import { credentialsSecret, hashPassword, newApiKey, newPassword, type SecretObject } from './credentials.ts';
import { credentialsSecretName, LABEL_MANAGED_BY, LABEL_SECRET_ROLE, SYSTEM_NAMESPACE } from './identity.ts';
import { isAlreadyExists, isNotFound, type KubeClient, type KubeObject, type ResourceType } from './kube-client.ts';
import type { Logger } from './log.ts';
import { ownerReference } from './ownership.ts';

/**
 * The first administrator, as CloudStack ships one: user `admin` of the Admin account `admin`
 * in the ROOT domain. Its password and API keys are generated once and kept in the Secret
 * `kumulus-admin-credentials` (kumulus-system) before anything uses them, so a crash at any
 * step and any number of re-runs converge on the same credentials: nothing is rotated silently.
 */

export const ADMIN_CREDENTIALS_SECRET = 'kumulus-admin-credentials';
export const ROOT_DOMAIN = 'root';
export const ADMIN_ACCOUNT = 'admin';
export const ADMIN_USER = 'admin';
export const ADMIN_NAMESPACE = 'cs-admin';

export interface AdminCredentials {
  readonly username: string;
  readonly password: string;
  /** `/`: the ROOT domain, as login's `domain` parameter takes it. */
  readonly domain: string;
  readonly apiKey: string;
  readonly secretKey: string;
}

const NAMESPACES: ResourceType = { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false };
const SECRETS: ResourceType = { group: '', version: 'v1', plural: 'secrets', kind: 'Secret', namespaced: true };

function typeOf(kind: { group: string; version: string; plural: string; kind: string; scope: string }): ResourceType {
  return { group: kind.group, version: kind.version, plural: kind.plural, kind: kind.kind, namespaced: kind.scope === 'Namespaced' };
}

async function createOrGet<T extends KubeObject>(client: KubeClient, type: ResourceType, obj: T): Promise<T> {
  const resource = client.resource<T>(type);
  try {
    return await resource.create(obj);
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
    return resource.get({ name: obj.metadata.name ?? '', namespace: obj.metadata.namespace });
  }
}

function decode(secret: SecretObject, key: string): string {
  const value = secret.data?.[key];
  if (value === undefined) throw new Error(`Secret ${SYSTEM_NAMESPACE}/${ADMIN_CREDENTIALS_SECRET} lacks ${key}: delete the Secret and the User ${ADMIN_USER} to generate new admin credentials`);
  return Buffer.from(value, 'base64').toString('utf8');
}

/** Makes sure the admin exists; returns its credentials (the ones generated the first time). */
export async function bootstrapAdmin(client: KubeClient, logger: Logger): Promise<AdminCredentials> {
  await createOrGet(client, NAMESPACES, { metadata: { name: SYSTEM_NAMESPACE } });
  const generated = {
    username: ADMIN_USER,
    password: newPassword(),
    apiKey: newApiKey(),
    secretKey: newApiKey(),
  };
  const stored = await createOrGet<SecretObject>(client, SECRETS, {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: { name: ADMIN_CREDENTIALS_SECRET, namespace: SYSTEM_NAMESPACE, labels: { [LABEL_MANAGED_BY]: 'kumulus', [LABEL_SECRET_ROLE]: 'bootstrap' } },
    stringData: generated,
  });
  const credentials: AdminCredentials = {
    username: decode(stored, 'username'),
    password: decode(stored, 'password'),
    domain: '/',
    apiKey: decode(stored, 'apiKey'),
    secretKey: decode(stored, 'secretKey'),
  };

  await createOrGet(client, typeOf(Domain), { apiVersion: Domain.apiVersion, kind: 'Domain', metadata: { name: ROOT_DOMAIN }, spec: { displayName: 'ROOT' } });
  const account = await createOrGet(client, typeOf(Account), {
    apiVersion: Account.apiVersion,
    kind: 'Account',
    metadata: { name: ADMIN_ACCOUNT },
    spec: { displayName: ADMIN_ACCOUNT, domainRef: { name: ROOT_DOMAIN }, accountType: 'Admin', namespace: ADMIN_NAMESPACE },
  });
  type UserLike = KubeObject & { spec: Record<string, unknown> & { secretRef?: { name: string; namespace: string } } };
  const users = client.resource<UserLike>(typeOf(User));
  const user = await createOrGet<UserLike>(client, typeOf(User), {
    apiVersion: User.apiVersion,
    kind: 'User',
    metadata: { name: ADMIN_USER, ownerReferences: [ownerReference(account)] },
    spec: { accountRef: { name: ADMIN_ACCOUNT }, username: credentials.username, firstName: 'Admin', lastName: 'User', email: 'admin@kumulus.invalid' },
  });
  const uid = user.metadata.uid ?? '';
  const secretName = credentialsSecretName(ADMIN_USER);
  const secrets = client.resource<SecretObject>(SECRETS);
  const existing = await secrets.get({ namespace: SYSTEM_NAMESPACE, name: secretName }).catch((err: unknown) => {
    if (isNotFound(err)) return undefined;
    throw err;
  });
  // Written once: an admin who changed the password or keys since keeps them.
  if (existing === undefined) {
    const secret = credentialsSecret(
      { userName: ADMIN_USER, userUid: uid, accountName: ADMIN_ACCOUNT, owner: ownerReference(user) },
      { passwordHash: await hashPassword(credentials.password), keys: { apiKey: credentials.apiKey, secretKey: credentials.secretKey } },
    );
    await createOrGet(client, SECRETS, secret);
  }
  if (user.spec.secretRef?.name !== secretName) {
    await users.patch({ name: ADMIN_USER }, { spec: { secretRef: { name: secretName, namespace: SYSTEM_NAMESPACE } } }, 'merge');
    logger.info('bootstrap admin created', { user: ADMIN_USER, account: ADMIN_ACCOUNT, domain: ROOT_DOMAIN, secret: `${SYSTEM_NAMESPACE}/${ADMIN_CREDENTIALS_SECRET}` });
  }
  return credentials;
}
