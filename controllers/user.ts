/**
 * User: belongs to its account (an owner reference, so deleting the account deletes its
 * users, and their credential Secrets with them), mirrors its state, and is Ready when its
 * account exists and the Secret its secretRef names does.
 */
import { User, type UserObject } from '../crds/index.ts';
import { LABEL_USER } from '../lib/identity.ts';
import { isConflict, isNotFound, type ResourceClient, resourceTypeOf } from '../lib/kube-client.ts';
import type { Manager } from '../lib/manager.ts';
import { isBeingDeleted, isOwnedBy, ownerReference } from '../lib/ownership.ts';
import { commitTenancyFailure, commitTenancyStatus, stateEvent, TENANCY_INDEX, type TenancyContext, watchOf } from './tenancy.ts';

export function registerUserController(manager: Manager, ctx: TenancyContext): void {
  const users: ResourceClient<UserObject> = ctx.client.resource<UserObject>(resourceTypeOf(User));

  manager.addController<UserObject>({
    name: 'user',
    for: ctx.users,
    watches: [
      watchOf(ctx.accounts, (a) => ctx.users.byIndex(TENANCY_INDEX.account, a.metadata.name ?? '').map((u) => ({ name: u.metadata.name ?? '' }))),
      watchOf(ctx.secrets, (s) => (s.metadata.labels?.[LABEL_USER] ? [{ name: s.metadata.labels[LABEL_USER] }] : [])),
    ],
    reconcile: async (rctx, request) => {
      let user = ctx.users.get(request);
      if (!user || isBeingDeleted(user)) return;
      const state = user.spec.state ?? 'enabled';
      try {
        const account = ctx.accounts.get(user.spec.accountRef.name);
        if (!account) {
          await commitTenancyStatus(users, user, state, {}, { ok: false, reason: 'AccountNotFound', message: `Account ${user.spec.accountRef.name} does not exist: create it or fix spec.accountRef` }, rctx.signal);
          return;
        }
        if (!isOwnedBy(user, account)) {
          const owners = [...(user.metadata.ownerReferences ?? []).filter((o) => o.kind !== 'Account'), ownerReference(account)];
          user = await users.patch({ name: user.metadata.name ?? '' }, { metadata: { ownerReferences: owners, resourceVersion: user.metadata.resourceVersion } }, 'merge', { signal: rctx.signal });
        }
        const ref = user.spec.secretRef;
        if (ref && !ctx.secrets.get({ namespace: ref.namespace, name: ref.name })) {
          await commitTenancyStatus(users, user, state, {}, { ok: false, reason: 'CredentialsMissing', message: `Secret ${ref.namespace}/${ref.name} named by spec.secretRef does not exist: set a password (updateUser) or register keys (registerUserKeys)` }, rctx.signal);
          return;
        }
        await commitTenancyStatus(users, user, state, {}, { ok: true, reason: ref ? 'CredentialsStored' : 'NoCredentials', message: ref ? '' : 'the user has no password or keys yet' }, rctx.signal);
        const event = stateEvent('USER', user.status?.state, state);
        if (event) manager.events.event(user, event);
      } catch (err) {
        if (isNotFound(err)) return;
        if (isConflict(err)) return { requeue: true };
        await commitTenancyFailure(users, user, err, rctx.signal).catch(() => undefined);
        throw err;
      }
    },
  });
}
