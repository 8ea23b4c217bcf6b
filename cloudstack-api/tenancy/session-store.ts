import type { SecretObject } from '../../lib/credentials.ts';
import { LABEL_MANAGED_BY, LABEL_SECRET_ROLE, LABEL_USER_UID, SYSTEM_NAMESPACE } from '../../lib/identity.ts';
import type { Informer } from '../../lib/informer.ts';
import { isNotFound, type KubeClient } from '../../lib/kube-client.ts';
import type { SessionRecord, SessionStore } from '../protocol/sessions.ts';
import { sessionExpired } from '../protocol/sessions.ts';
import type { InformerSource } from '../lists/indexes.ts';
import { type Directory, SECRETS } from './directory.ts';

/**
 * Sessions as Secrets in the system namespace (the session key is a credential), one per
 * session, named from the session id: every API replica reads the same ones, and a restart
 * keeps them. Each session is owned by its User, so deleting the user ends its sessions.
 *
 * A request's session is read from the apiserver, not from the cache: a logout (or the user's
 * deletion) on any replica must end the session on all of them at once, and a cache answers an
 * ended session until its watch catches up. It costs one GET per session request, as CloudStack
 * reads its session per request; the cache serves only the idle sweep.
 */

export const SESSION_SELECTOR = `${LABEL_SECRET_ROLE}=session`;

export function sessionSecretName(id: string): string {
  return `session-${id}`;
}

function encode(session: SessionRecord): Record<string, string> {
  const text = (value: string | number) => Buffer.from(String(value), 'utf8').toString('base64');
  return {
    sessionKey: text(session.sessionKey),
    userId: text(session.userId),
    createdAt: text(session.createdAt),
    lastAccessedAt: text(session.lastAccessedAt),
    timeoutSeconds: text(session.timeoutSeconds),
  };
}

function decode(id: string, secret: SecretObject): SessionRecord | undefined {
  const data = secret.data ?? {};
  const text = (key: string) => (data[key] === undefined ? undefined : Buffer.from(data[key], 'base64').toString('utf8'));
  const sessionKey = text('sessionKey');
  const userId = text('userId');
  const numbers = ['createdAt', 'lastAccessedAt', 'timeoutSeconds'].map((key) => Number(text(key)));
  if (sessionKey === undefined || userId === undefined || numbers.some((n) => !Number.isFinite(n))) return undefined;
  const [createdAt = 0, lastAccessedAt = 0, timeoutSeconds = 0] = numbers;
  return { id, sessionKey, userId, createdAt, lastAccessedAt, timeoutSeconds };
}

export interface KubernetesSessionStore extends SessionStore {
  /** Deletes sessions idle past their timeout; returns how many went. */
  sweep(now: number): Promise<number>;
}

export function createKubernetesSessionStore(client: KubeClient, source: InformerSource, directory: Directory): KubernetesSessionStore {
  const secrets = client.resource<SecretObject>(SECRETS);
  const cache: Informer<SecretObject> = source.informer<SecretObject>(SECRETS, { namespace: SYSTEM_NAMESPACE, labelSelector: SESSION_SELECTOR });
  const key = (id: string) => ({ namespace: SYSTEM_NAMESPACE, name: sessionSecretName(id) });
  async function remove(id: string): Promise<void> {
    await secrets.delete(key(id)).catch((err: unknown) => {
      if (!isNotFound(err)) throw err;
    });
  }

  return {
    async create(session) {
      const user = directory.byUid(directory.users, session.userId);
      await secrets.create({
        apiVersion: 'v1',
        kind: 'Secret',
        type: 'Opaque',
        metadata: {
          ...key(session.id),
          labels: { [LABEL_MANAGED_BY]: 'kumulus', [LABEL_SECRET_ROLE]: 'session', [LABEL_USER_UID]: session.userId },
          ownerReferences: user ? [{ apiVersion: user.apiVersion ?? 'iam.kumulus.io/v1alpha1', kind: 'User', name: user.metadata.name ?? '', uid: session.userId }] : [],
        },
        data: encode(session),
      });
    },
    async get(id) {
      if (!/^[0-9a-f]{32}$/.test(id)) return undefined; // not one of ours: no apiserver round trip
      const secret = await secrets.get(key(id)).catch((err: unknown) => {
        if (isNotFound(err)) return undefined;
        throw err;
      });
      return secret && decode(id, secret);
    },
    async touch(id, at) {
      await secrets.patch(key(id), { data: { lastAccessedAt: Buffer.from(String(at), 'utf8').toString('base64') } }, 'merge').catch((err: unknown) => {
        if (!isNotFound(err)) throw err;
      });
    },
    delete: remove,
    async sweep(now) {
      let removed = 0;
      for (const secret of cache.list(SYSTEM_NAMESPACE)) {
        const name = secret.metadata.name ?? '';
        const session = decode(name.replace(/^session-/, ''), secret);
        if (session && !sessionExpired(session, now)) continue;
        await remove(name.replace(/^session-/, ''));
        removed++;
      }
      return removed;
    },
  };
}
