import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import type { KubeObject, OwnerReference } from './kube-client.ts';
import { apiKeyHash, credentialsSecretName, LABEL_ACCOUNT, LABEL_API_KEY_HASH, LABEL_MANAGED_BY, LABEL_SECRET_ROLE, LABEL_USER, LABEL_USER_UID, SYSTEM_NAMESPACE } from './identity.ts';

/**
 * Users' credentials: the password only as a scrypt hash (per-user salt, the parameters
 * recorded beside it so they can be raised later without breaking old hashes), and the API
 * key pair. They live in one Secret per user in the system namespace, which only the API
 * reads; the API key's hash is a label, so a key finds its Secret through an index.
 */

export interface SecretObject extends KubeObject {
  type?: string;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

/** OWASP's minimum for scrypt: N = 2^17, r = 8, p = 1 (128 MiB, a few hundred ms). */
export const SCRYPT_PARAMS = { N: 2 ** 17, r: 8, p: 1 } as const;
const KEY_LENGTH = 64;

function derive(password: string, salt: Buffer, params: { N: number; r: number; p: number }, length: number): Promise<Buffer> {
  const options: ScryptOptions = { ...params, maxmem: 256 * params.N * params.r + 1024 * 1024 };
  return new Promise((resolve, reject) => scrypt(password.normalize('NFC'), salt, length, options, (err, key) => (err ? reject(err) : resolve(key))));
}

/** `scrypt$N=131072,r=8,p=1$<salt base64>$<hash base64>` */
export async function hashPassword(password: string, params: { N: number; r: number; p: number } = SCRYPT_PARAMS): Promise<string> {
  const salt = randomBytes(16);
  const hash = await derive(password, salt, params, KEY_LENGTH);
  return `scrypt$N=${params.N},r=${params.r},p=${params.p}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

/** Whether `password` matches a hash from hashPassword; false for anything malformed. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const match = /^scrypt\$N=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/.exec(stored);
  if (!match) return false;
  const [N, r, p] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const expected = Buffer.from(match[5] ?? '', 'base64');
  if (expected.length === 0 || N > 2 ** 20 || r > 32 || p > 16) return false;
  const actual = await derive(password, Buffer.from(match[4] ?? '', 'base64'), { N, r, p }, expected.length);
  return timingSafeEqual(actual, expected);
}

/** 64 random bytes, base64url: the length of CloudStack's keys (86 characters). */
export function newApiKey(): string {
  return randomBytes(64).toString('base64url');
}

/** A password for generated accounts (the bootstrap admin): 24 random bytes, base64url. */
export function newPassword(): string {
  return randomBytes(24).toString('base64url');
}

export interface ApiKeys {
  readonly apiKey: string;
  readonly secretKey: string;
}

export interface StoredCredentials {
  readonly passwordHash?: string;
  readonly keys?: ApiKeys;
}

export interface CredentialsOwner {
  readonly userName: string;
  readonly userUid: string;
  readonly accountName: string;
  readonly owner: OwnerReference;
}

function b64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

function unb64(text: string | undefined): string | undefined {
  return text === undefined ? undefined : Buffer.from(text, 'base64').toString('utf8');
}

/** The whole credentials Secret of a user, as it is written (by server-side apply, so the fields it omits are removed). */
export function credentialsSecret(owner: CredentialsOwner, credentials: StoredCredentials): SecretObject {
  const labels: Record<string, string> = {
    [LABEL_MANAGED_BY]: 'kumulus',
    [LABEL_SECRET_ROLE]: 'user-credentials',
    [LABEL_USER]: owner.userName,
    [LABEL_USER_UID]: owner.userUid,
    [LABEL_ACCOUNT]: owner.accountName,
  };
  const data: Record<string, string> = {};
  if (credentials.passwordHash !== undefined) data['passwordHash'] = b64(credentials.passwordHash);
  if (credentials.keys) {
    data['apiKey'] = b64(credentials.keys.apiKey);
    data['secretKey'] = b64(credentials.keys.secretKey);
    labels[LABEL_API_KEY_HASH] = apiKeyHash(credentials.keys.apiKey);
  }
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: { name: credentialsSecretName(owner.userName), namespace: SYSTEM_NAMESPACE, labels, ownerReferences: [owner.owner] },
    data,
  };
}

export function readCredentials(secret: SecretObject | undefined): StoredCredentials {
  const data = secret?.data ?? {};
  const apiKey = unb64(data['apiKey']);
  const secretKey = unb64(data['secretKey']);
  return {
    passwordHash: unb64(data['passwordHash']),
    keys: apiKey !== undefined && secretKey !== undefined ? { apiKey, secretKey } : undefined,
  };
}
