import { Account, User, type UserObject } from '../../crds/index.ts';
import { newApiKey } from '../../lib/credentials.ts';
import { credentialsSecretName, SYSTEM_NAMESPACE } from '../../lib/identity.ts';
import { resourceTypeOf } from '../../lib/kube-client.ts';
import { keywordMatches } from '../lists/filters.ts';
import { internalError, invalidParameterValue } from '../protocol/errors.ts';
import type { Infra } from './context.ts';
import { type Command, defineCommand } from './define.ts';
import { failure } from './errors.ts';
import { accountTypeOf, DOMAIN_ID_PARAM, refusal, TYPE_NUMBER, type TenancyKit } from './tenancy-support.ts';

/** Users (PROTOCOL.md §11): list, create, update, enable, disable, lock, delete, and their API keys. */

const ACCOUNTS = resourceTypeOf(Account);
const USERS = resourceTypeOf(User);

export function userCommands(kit: TenancyKit, infra: Infra): Command[] {
  const { dir } = kit;
  return [
    defineCommand({
      name: 'listUsers',
      kind: 'list',
      description: 'Lists user accounts',
      params: {
        id: { type: 'uuid', description: 'List user by ID.', entity: 'user' },
        username: { type: 'string', description: 'List user by the username' },
        account: { type: 'string', description: 'list resources by account. Must be used with the domainId parameter.' },
        domainid: DOMAIN_ID_PARAM,
        accounttype: { type: 'integer', description: 'List users by account type. Valid types include admin, domain-admin, read-only-admin, or user.' },
        state: { type: 'string', description: 'List users by state of the user account.' },
        keyword: { type: 'string', description: 'List by keyword' },
        listall: { type: 'boolean', description: 'If set to false, list only resources belonging to the command\'s caller; if set to true - list resources that the caller is authorized to see. Default value is false' },
        isrecursive: { type: 'boolean', description: 'defaults to false, but if true, lists all resources from the parent specified by the domainId till leaves.' },
      },
      async handle(params, ctx) {
        await kit.synced();
        if (params.id !== undefined) kit.userById('listusers', params.id);
        const root = params.domainid !== undefined ? kit.domainById('listusers', 'domainid', params.domainid) : kit.callerDomain(ctx);
        const scope = params.id !== undefined ? undefined : kit.domainScope(root, params.listall === true || params.isrecursive === true);
        const candidates = dir.users
          .list()
          .filter((u) => {
            const account = dir.accounts.get(u.spec.accountRef.name);
            if (!account) return false;
            if (scope !== undefined && !scope.has(account.spec.domainRef.name)) return false;
            if (params.account !== undefined && (account.spec.displayName ?? account.metadata.name) !== params.account) return false;
            return params.accounttype === undefined || TYPE_NUMBER[accountTypeOf(account)] === params.accounttype;
          })
          .filter((u) => params.id === undefined || u.metadata.uid === params.id)
          .filter((u) => params.username === undefined || u.spec.username === params.username)
          .filter((u) => params.state === undefined || (u.spec.state ?? 'enabled') === params.state.toLowerCase())
          .filter((u) => keywordMatches(params.keyword, u.spec.username, u.spec.firstName, u.spec.lastName, u.spec.email))
          .sort((a, b) => a.spec.username.localeCompare(b.spec.username));
        return kit.visible(ctx, candidates, USERS);
      },
      mapItem: kit.userFields,
    }),
    defineCommand({
      name: 'createUser',
      kind: 'object',
      description: 'Creates a user for an account that already exists',
      params: {
        account: { type: 'string', description: 'Creates the user under the specified account. If no account is specified, the username will be used as the account name.', required: true },
        username: { type: 'string', description: 'Unique username.', required: true },
        password: { type: 'string', description: 'Clear text password (Default hashed to SHA256SALT).', required: true },
        email: { type: 'string', description: 'email', required: true },
        firstname: { type: 'string', description: 'firstname', required: true },
        lastname: { type: 'string', description: 'lastname', required: true },
        domainid: { type: 'uuid', description: 'Creates the user under the specified domain. Has to be accompanied with the account parameter', entity: 'domain' },
        timezone: { type: 'string', description: 'Specifies a timezone for this command. For more information on the timezone parameter, see Time Zone Format.' },
      },
      async handle(params, ctx) {
        await kit.synced();
        const account = kit.accountOf('createuser', params, ctx);
        const domain = dir.domains.get(account.spec.domainRef.name);
        if (!domain) throw internalError(`account ${params.account} has no domain`);
        await kit.require(ctx, { verb: 'update', resource: ACCOUNTS, name: account.metadata.name }, `add a user to account ${params.account}`);
        return kit.createUserAs(ctx, account, domain, params);
      },
      map: kit.userFields,
    }),
    defineCommand({
      name: 'updateUser',
      kind: 'object',
      description: 'Updates a user account',
      params: {
        id: { type: 'uuid', description: 'User uuid', required: true, entity: 'user' },
        email: { type: 'string', description: 'email' },
        firstname: { type: 'string', description: 'first name' },
        lastname: { type: 'string', description: 'last name' },
        timezone: { type: 'string', description: 'Specifies a timezone for this command. For more information on the timezone parameter, see Time Zone Format.' },
        password: { type: 'string', description: 'Clear text password (default hashed to SHA256SALT).' },
      },
      async handle(params, ctx) {
        await kit.synced();
        const user = kit.userById('updateuser', params.id);
        const spec: Record<string, string> = {};
        if (params.email !== undefined) spec['email'] = params.email;
        if (params.firstname !== undefined) spec['firstName'] = params.firstname;
        if (params.lastname !== undefined) spec['lastName'] = params.lastname;
        if (params.timezone !== undefined) spec['timezone'] = params.timezone;
        // Changing a user, its password included, is for whoever RBAC lets update it.
        await kit.require(ctx, { verb: 'update', resource: USERS, name: user.metadata.name }, `update user ${user.spec.username}`);
        const updated = Object.keys(spec).length === 0
          ? user
          : await infra
              .resource<UserObject>(ctx, User)
              .patch({ name: user.metadata.name ?? '' }, { spec }, 'merge')
              .catch((err: unknown) => failure(err, ctx, refusal(ctx, `update user ${user.spec.username}`)));
        if (params.password !== undefined) await kit.storeCredentials(updated, { password: params.password });
        return updated;
      },
      map: kit.userFields,
    }),
    defineCommand({
      name: 'enableUser',
      kind: 'object',
      description: 'Enables a user account',
      params: { id: { type: 'uuid', description: 'Enables user by user ID.', required: true, entity: 'user' } },
      async handle(params, ctx) {
        await kit.synced();
        const user = kit.userById('enableuser', params.id);
        return kit.setState(ctx, User, user, 'enabled', `enable user ${user.spec.username}`);
      },
      map: kit.userFields,
    }),
    defineCommand({
      name: 'disableUser',
      kind: 'async',
      description: 'Disables a user account',
      params: { id: { type: 'uuid', description: 'Disables user by user ID.', required: true, entity: 'user' } },
      async handle(params, ctx) {
        await kit.synced();
        const user = kit.userById('disableuser', params.id);
        if (user.metadata.uid === ctx.caller.userId) throw invalidParameterValue('The caller cannot disable itself');
        const updated = await kit.setState(ctx, User, user, 'disabled', `disable user ${user.spec.username}`);
        return { jobid: await infra.submitJob(ctx, { target: updated, kind: User }) };
      },
    }),
    defineCommand({
      name: 'lockUser',
      kind: 'object',
      description: 'Locks a user account',
      params: { id: { type: 'uuid', description: 'Locks user by user ID.', required: true, entity: 'user' } },
      async handle(params, ctx) {
        await kit.synced();
        const user = kit.userById('lockuser', params.id);
        if (user.metadata.uid === ctx.caller.userId) throw invalidParameterValue('The caller cannot lock itself');
        return kit.setState(ctx, User, user, 'locked', `lock user ${user.spec.username}`);
      },
      map: kit.userFields,
    }),
    defineCommand({
      name: 'deleteUser',
      kind: 'success',
      description: 'Deletes a user for an account',
      params: { id: { type: 'uuid', description: 'id of the user to be deleted', required: true, entity: 'user' } },
      async handle(params, ctx) {
        await kit.synced();
        const user = kit.userById('deleteuser', params.id);
        if (user.metadata.uid === ctx.caller.userId) throw invalidParameterValue('The caller cannot delete itself');
        await infra
          .resource(ctx, User)
          .delete({ name: user.metadata.name ?? '' })
          .catch((err: unknown) => failure(err, ctx, refusal(ctx, `delete user ${user.spec.username}`)));
        return undefined;
      },
    }),
    defineCommand({
      name: 'registerUserKeys',
      kind: 'object',
      description: 'This command allows a user to register for the developer API, returning a secret key and an API key. This request is made through the integration API port, so it is a privileged command and must be made on behalf of a user. It is up to the implementer just how the username and password are entered, and then how that translates to an integration API request. Both secret key and API key should be returned to the user',
      params: { id: { type: 'uuid', description: 'User id', required: true, entity: 'user' } },
      async handle(params, ctx) {
        await kit.synced();
        const user = kit.userById('registeruserkeys', params.id);
        await kit.require(ctx, { verb: 'update', resource: USERS, name: user.metadata.name }, `register keys for user ${user.spec.username}`);
        const keys = { apiKey: newApiKey(), secretKey: newApiKey() };
        await kit.storeCredentials(user, { keys });
        if (user.spec.secretRef?.name !== credentialsSecretName(user.metadata.name ?? '')) {
          await infra
            .resource(ctx, User)
            .patch({ name: user.metadata.name ?? '' }, { spec: { secretRef: { name: credentialsSecretName(user.metadata.name ?? ''), namespace: SYSTEM_NAMESPACE } } }, 'merge')
            .catch((err: unknown) => failure(err, ctx, refusal(ctx, `record the keys of user ${user.spec.username}`)));
        }
        return keys;
      },
      map: (keys) => ({ apikey: keys.apiKey, secretkey: keys.secretKey, apikeyaccess: true }),
    }),
    defineCommand({
      name: 'getUserKeys',
      kind: 'object',
      description: 'This command allows the user to query the seceret and API keys for the account',
      params: { id: { type: 'uuid', description: 'ID of the user whose keys are required', required: true, entity: 'user' } },
      async handle(params, ctx) {
        await kit.synced();
        const user = kit.userById('getuserkeys', params.id);
        await kit.require(ctx, { verb: 'update', resource: USERS, name: user.metadata.name }, `read the keys of user ${user.spec.username}`);
        return dir.credentialsOf(user).keys;
      },
      map: (keys) => (keys ? { apikey: keys.apiKey, secretkey: keys.secretKey, apikeyaccess: true } : {}),
    }),
  ];
}
