import type { SessionRecord, SessionStore } from './sessions.ts';

/**
 * Sessions in this process's memory. Only for tests and a single API process: a second replica
 * would not see them, and a restart forgets them. Deployments use a store backed by Kubernetes.
 */
export function createInMemorySessionStore(): SessionStore {
  const sessions = new Map<string, SessionRecord>();
  return {
    create(session) {
      sessions.set(session.id, session);
      return Promise.resolve();
    },
    get(id) {
      return Promise.resolve(sessions.get(id));
    },
    touch(id, at) {
      const session = sessions.get(id);
      if (session) sessions.set(id, { ...session, lastAccessedAt: at });
      return Promise.resolve();
    },
    delete(id) {
      sessions.delete(id);
      return Promise.resolve();
    },
  };
}
