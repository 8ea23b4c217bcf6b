import { Account, Domain, type AccountObject } from '../../crds/index.ts';
import { accountNamespaceFor, objectNameFor } from '../../lib/identity.ts';
import { isAlreadyExists, resourceTypeOf } from '../../lib/kube-client.ts';
import { keywordMatches } from '../lists/filters.ts';
import { invalidParameterValue } from '../protocol/errors.ts';
import type { Infra } from './context.ts';
import { type Command, defineCommand } from './define.ts';
import { failure } from './errors.ts';
import { accountTypeOf, DOMAIN_ID_PARAM, refusal, TYPE_BY_NUMBER, TYPE_NUMBER, type TenancyKit } from './tenancy-support.ts';

/** Accounts (PROTOCOL.md §11): list, create (with its first user), update, enable, disable, lock, delete. */

const ACCOUNTS = resourceTypeOf(Account);
const DOMAINS = resourceTypeOf(Domain);

export function accountCommands(kit: TenancyKit, infra: Infra): Command[] {
  const { dir } = kit;
  return [
    defineCommand({
      name: 'listAccounts',
      kind: 'list',
      description: 'Lists accounts and provides detailed account information for listed accounts',
      params: {
        id: { type: 'uuid', description: 'List account by account ID', entity: 'account' },
        name: { type: 'string', description: 'List account by account name' },
        domainid: DOMAIN_ID_PARAM,
        accounttype: { type: 'integer', description: 'List accounts by account type. Valid account types are 1 (admin), 2 (domain-admin), and 0 (user).' },
        state: { type: 'string', description: 'List accounts by state. Valid states are enabled, disabled, and locked.' },
        keyword: { type: 'string', description: 'List by keyword' },
        listall: { type: 'boolean', description: 'If set to false, list only resources belonging to the command\'s caller; if set to true - list resources that the caller is authorized to see. Default value is false' },
        isrecursive: { type: 'boolean', description: 'defaults to false, but if true, lists all resources from the parent specified by the domainId till leaves.' },
      },
      async handle(params, ctx) {
        await kit.synced();
        if (params.id !== undefined) kit.accountById('listaccounts', params.id);
        const root = params.domainid !== undefined ? kit.domainById('listaccounts', 'domainid', params.domainid) : kit.callerDomain(ctx);
        const scope = params.id !== undefined ? undefined : kit.domainScope(root, params.listall === true || params.isrecursive === true);
        const candidates = dir.accounts
          .list()
          .filter((a) => scope === undefined || scope.has(a.spec.domainRef.name))
          .filter((a) => params.id === undefined || a.metadata.uid === params.id)
          .filter((a) => params.name === undefined || (a.spec.displayName ?? a.metadata.name) === params.name)
          .filter((a) => params.accounttype === undefined || TYPE_NUMBER[accountTypeOf(a)] === params.accounttype)
          .filter((a) => params.state === undefined || (a.spec.state ?? 'enabled') === params.state.toLowerCase())
          .filter((a) => keywordMatches(params.keyword, a.spec.displayName ?? a.metadata.name))
          .sort((a, b) => (a.spec.displayName ?? a.metadata.name ?? '').localeCompare(b.spec.displayName ?? b.metadata.name ?? ''));
        return kit.visible(ctx, candidates, ACCOUNTS);
      },
      mapItem: kit.accountFields,
    }),
    defineCommand({
      name: 'createAccount',
      kind: 'object',
      description: 'Creates an account',
      params: {
        username: { type: 'string', description: 'Unique username.', required: true },
        password: { type: 'string', description: 'Clear text password (Default hashed to SHA256SALT).', required: true },
        email: { type: 'string', description: 'email', required: true },
        firstname: { type: 'string', description: 'firstname', required: true },
        lastname: { type: 'string', description: 'lastname', required: true },
        account: { type: 'string', description: 'Name of the account to be created. The user will be added to this newly created account. If no account is specified, the username will be used as the account name.' },
        accounttype: { type: 'integer', description: 'Type of the account.  Specify 0 for user, 1 for root admin, and 2 for domain admin' },
        domainid: { type: 'uuid', description: 'Creates the user under the specified domain.', entity: 'domain' },
        networkdomain: { type: 'string', description: 'Network domain for the account\'s networks' },
        timezone: { type: 'string', description: 'Specifies a timezone for this command. For more information on the timezone parameter, see Time Zone Format.' },
      },
      async handle(params, ctx) {
        await kit.synced();
        const domain = params.domainid !== undefined ? kit.domainById('createaccount', 'domainid', params.domainid) : kit.callerDomain(ctx);
        const accountName = params.account ?? params.username;
        const type = TYPE_BY_NUMBER[params.accounttype ?? 0];
        if (type === undefined) throw invalidParameterValue(`Invalid account type ${params.accounttype} given; valid values are: 0 (user), 1 (root admin), 2 (domain admin)`);
        await kit.require(ctx, { verb: 'update', resource: DOMAINS, name: domain.metadata.name }, `create an account in domain ${domain.spec.displayName ?? domain.metadata.name}`);
        if (dir.accountsOf(domain.metadata.name ?? '').some((a) => (a.spec.displayName ?? a.metadata.name) === accountName)) {
          throw invalidParameterValue(`The specified account: ${accountName} already exists`);
        }
        const name = objectNameFor(accountName, kit.nameScope(domain));
        const account = await infra
          .resource<AccountObject>(ctx, Account)
          .create({
            apiVersion: Account.apiVersion,
            kind: 'Account',
            metadata: { name },
            spec: {
              displayName: accountName,
              domainRef: { name: domain.metadata.name ?? '' },
              accountType: type,
              namespace: accountNamespaceFor(name),
              ...(params.networkdomain ? { networkDomain: params.networkdomain } : {}),
            },
          })
          .catch((err: unknown) => {
            if (isAlreadyExists(err)) throw invalidParameterValue(`The specified account: ${accountName} already exists`);
            return failure(err, ctx, refusal(ctx, `create account ${accountName}`));
          });
        try {
          await kit.createUserAs(ctx, account, domain, params);
        } catch (err) {
          // One request, one outcome: no account without its first user.
          await infra.resource(ctx, Account).delete({ name }).catch(() => undefined);
          throw err;
        }
        return dir.accounts.get(name) ?? account;
      },
      map: kit.accountFields,
    }),
    defineCommand({
      name: 'updateAccount',
      kind: 'object',
      description: 'Updates account information for the authenticated user',
      params: {
        id: { type: 'uuid', description: 'Account UUID', entity: 'account' },
        account: { type: 'string', description: 'the current account name' },
        domainid: DOMAIN_ID_PARAM,
        newname: { type: 'string', description: 'new name for the account' },
        networkdomain: { type: 'string', description: 'Network domain for the account\'s networks' },
      },
      async handle(params, ctx) {
        await kit.synced();
        const account = kit.accountOf('updateaccount', params, ctx);
        const spec: Record<string, string> = {};
        if (params.newname !== undefined) spec['displayName'] = params.newname;
        if (params.networkdomain !== undefined) spec['networkDomain'] = params.networkdomain;
        const updated = await infra
          .resource<AccountObject>(ctx, Account)
          .patch({ name: account.metadata.name ?? '' }, { spec }, 'merge')
          .catch((err: unknown) => failure(err, ctx, refusal(ctx, `update account ${account.spec.displayName ?? account.metadata.name}`)));
        return updated;
      },
      map: kit.accountFields,
    }),
    defineCommand({
      name: 'enableAccount',
      kind: 'object',
      description: 'Enables an account',
      params: {
        id: { type: 'uuid', description: 'Account id', entity: 'account' },
        account: { type: 'string', description: 'Enables specified account.' },
        domainid: DOMAIN_ID_PARAM,
      },
      async handle(params, ctx) {
        await kit.synced();
        const account = kit.accountOf('enableaccount', params, ctx);
        return kit.setState(ctx, Account, account, 'enabled', `enable account ${account.spec.displayName ?? account.metadata.name}`);
      },
      map: kit.accountFields,
    }),
    defineCommand({
      name: 'disableAccount',
      kind: 'async',
      description: 'Disables an account',
      params: {
        lock: { type: 'boolean', description: 'If true, only lock the account; else disable the account', required: true },
        id: { type: 'uuid', description: 'Account id', entity: 'account' },
        account: { type: 'string', description: 'Disables specified account.' },
        domainid: { type: 'uuid', description: 'Disables specified account in this domain.', entity: 'domain' },
      },
      async handle(params, ctx) {
        await kit.synced();
        const account = kit.accountOf('disableaccount', params, ctx);
        if (account.metadata.uid === ctx.caller.accountId) throw invalidParameterValue('The caller cannot disable its own account');
        const updated = await kit.setState(ctx, Account, account, params.lock ? 'locked' : 'disabled', `disable account ${account.spec.displayName ?? account.metadata.name}`);
        return { jobid: await infra.submitJob(ctx, { target: updated, kind: Account }) };
      },
    }),
    defineCommand({
      name: 'lockAccount',
      kind: 'object',
      description: 'This deprecated function used to locks an account. Look for the API DisableAccount instead',
      params: {
        account: { type: 'string', description: 'Locks the specified account.', required: true },
        domainid: { type: 'uuid', description: 'Locks the specified account on this domain.', required: true, entity: 'domain' },
      },
      async handle(params, ctx) {
        await kit.synced();
        const account = kit.accountOf('lockaccount', params, ctx);
        return kit.setState(ctx, Account, account, 'locked', `lock account ${account.spec.displayName ?? account.metadata.name}`);
      },
      map: kit.accountFields,
    }),
    defineCommand({
      name: 'deleteAccount',
      kind: 'async',
      description: 'Deletes a account, and all users associated with this account',
      params: { id: { type: 'uuid', description: 'Account id', required: true, entity: 'account' } },
      async handle(params, ctx) {
        await kit.synced();
        const account = kit.accountById('deleteaccount', params.id);
        if (account.metadata.uid === ctx.caller.accountId) throw invalidParameterValue('The caller cannot delete its own account');
        await infra
          .resource(ctx, Account)
          .delete({ name: account.metadata.name ?? '' })
          .catch((err: unknown) => failure(err, ctx, refusal(ctx, `delete account ${account.spec.displayName ?? account.metadata.name}`)));
        return { jobid: await infra.submitJob(ctx, { target: account, kind: Account, deleted: true }) };
      },
    }),
  ];
}
