/**
 * User: belongs to its account (an owner reference, so deleting the account deletes its
 * users, and their credential Secrets with them), mirrors its state, and is Ready when its
 * account exists and the Secret its secretRef names does.
 */
import { User, type UserObject } from '../crds/index.ts';
import { LABEL_USER } from '../lib/identity.ts';
import { resourceTypeOf } from '../lib/kube-client.ts';
import type { Manager } from '../lib/manager.ts';
import { isOwnedBy, ownerReference } from '../lib/ownership.ts';
import { registerKindReconciler, watchNames } from './reconciler.ts';
import { stateEvents, TENANCY_INDEX, type TenancyContext } from './tenancy-context.ts';

export function registerUserController(manager: Manager, ctx: TenancyContext): void {
  const users = ctx.client.resource<UserObject>(resourceTypeOf(User));

  registerKindReconciler<UserObject>(manager, ctx, {
    name: 'user',
    kind: User,
    informer: ctx.users,
    ownership: { fields: [], conditions: ['Ready'] },
    watches: [
      watchNames(ctx.accounts, (a) => ctx.users.byIndex(TENANCY_INDEX.account, a.metadata.name ?? '').map((u) => u.metadata.name)),
      watchNames(ctx.secrets, (s) => [s.metadata.labels?.[LABEL_USER]]),
    ],
    apply: async (user, rctx) => {
      const account = ctx.accounts.get(user.spec.accountRef.name);
      if (!account || isOwnedBy(user, account)) return;
      const owners = [...(user.metadata.ownerReferences ?? []).filter((o) => o.kind !== 'Account'), ownerReference(account)];
      await users.patch({ name: user.metadata.name ?? '' }, { metadata: { ownerReferences: owners, resourceVersion: user.metadata.resourceVersion } }, 'merge', { signal: rctx.signal });
    },
    observe: (user) => {
      const state = user.spec.state ?? 'enabled';
      if (!ctx.accounts.get(user.spec.accountRef.name)) {
        return { state, conditions: [{ type: 'Ready', status: 'False', reason: 'AccountNotFound', message: `Account ${user.spec.accountRef.name} does not exist: create it or fix spec.accountRef` }] };
      }
      const ref = user.spec.secretRef;
      if (ref && !ctx.secrets.get({ namespace: ref.namespace, name: ref.name })) {
        return {
          state,
          conditions: [
            {
              type: 'Ready',
              status: 'False',
              reason: 'CredentialsMissing',
              message: `Secret ${ref.namespace}/${ref.name} named by spec.secretRef does not exist: set a password (updateUser) or register keys (registerUserKeys)`,
            },
          ],
        };
      }
      return { state, conditions: [{ type: 'Ready', status: 'True', reason: ref ? 'CredentialsStored' : 'NoCredentials', message: ref ? '' : 'the user has no password or keys yet' }] };
    },
    stateEvents: stateEvents('USER'),
  });
}
