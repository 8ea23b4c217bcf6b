import type { Identity } from '../../lib/identity.ts';
import type { KubeClient, ResourceType } from '../../lib/kube-client.ts';

/**
 * RBAC answers for callers, asked of the apiserver with SubjectAccessReview (the same
 * authorizer that judges their impersonated requests), so reads served from the shared
 * informer caches are filtered by Kubernetes' decision, never by rules of ours. Answers are
 * kept briefly per (identity, attributes): a role change takes effect within `ttlMs`.
 */

export interface AccessCheck {
  readonly verb: 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete';
  readonly resource: ResourceType;
  readonly namespace?: string;
  readonly name?: string;
  readonly subresource?: string;
}

export interface AccessReviewer {
  /** `fresh` asks the apiserver even when an answer is cached (and caches the new one). */
  allowed(identity: Identity, check: AccessCheck, options?: { fresh?: boolean }): Promise<boolean>;
  /** Forget cached answers (tests, and after this API changed a role binding it depends on). */
  clear(): void;
}

interface SubjectAccessReview {
  status?: { allowed?: boolean; denied?: boolean; reason?: string };
}

const REVIEWS = '/apis/authorization.k8s.io/v1/subjectaccessreviews';

interface Entry {
  /** When the review was asked. */
  readonly at: number;
  readonly answer: Promise<boolean>;
  denied?: boolean;
  /** A review asked in the background to replace this answer before it expires. */
  refreshing?: boolean;
}

export function createAccessReviewer(client: KubeClient, options: { ttlMs?: number; maxEntries?: number; now?: () => number } = {}): AccessReviewer {
  const ttlMs = options.ttlMs ?? 5_000;
  // A refusal is kept for less time: a binding the controllers are about to write should not stay refused for long.
  const deniedTtlMs = Math.min(ttlMs, 1_000);
  const maxEntries = options.maxEntries ?? 50_000;
  const now = options.now ?? Date.now;
  const answers = new Map<string, Entry>();

  async function review(identity: Identity, check: AccessCheck): Promise<boolean> {
    const reply = await client.request<SubjectAccessReview>('POST', REVIEWS, {
      body: {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SubjectAccessReview',
        spec: {
          user: identity.user,
          // The apiserver adds this group to every impersonated request; the review must see the same identity.
          groups: [...identity.groups, 'system:authenticated'],
          resourceAttributes: {
            verb: check.verb,
            group: check.resource.group,
            version: check.resource.version,
            resource: check.resource.plural,
            namespace: check.namespace,
            name: check.name,
            subresource: check.subresource,
          },
        },
      },
    });
    return reply.status?.allowed === true;
  }

  return {
    allowed(identity, check, { fresh = false } = {}) {
      const key = JSON.stringify([identity.user, identity.groups, check.verb, check.resource.group, check.resource.plural, check.namespace ?? '', check.name ?? '', check.subresource ?? '']);
      const at = now();
      const cached = answers.get(key);
      if (!fresh && cached && at - cached.at < (cached.denied ? deniedTtlMs : ttlMs)) {
        // Past half its life, a grant is asked again in the background: a caller listing steadily
        // never waits on a review, and no answer served is older than ttlMs.
        if (cached.denied === false && !cached.refreshing && at - cached.at >= ttlMs / 2) {
          cached.refreshing = true;
          review(identity, check).then(
            // Only in place of the answer it refreshes: not over a fresher one (a fresh check, or one asked after clear()).
            (allowed) => void (answers.get(key) === cached && answers.set(key, { at, answer: Promise.resolve(allowed), denied: !allowed })),
            () => (cached.refreshing = false),
          );
        }
        return cached.answer;
      }
      if (answers.size >= maxEntries) {
        for (const [k, v] of answers) if (at - v.at >= ttlMs) answers.delete(k);
        if (answers.size >= maxEntries) answers.clear();
      }
      const answer = review(identity, check);
      const entry: Entry = { at, answer };
      answers.set(key, entry);
      answer.then(
        (allowed) => (entry.denied = !allowed),
        // A failed review is not an answer: ask again next time.
        () => answers.delete(key),
      );
      return answer;
    },
    clear: () => answers.clear(),
  };
}
