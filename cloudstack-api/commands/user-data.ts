import { UserData, type UserDataObject } from '../../crds/index.ts';
import { isAlreadyExists, resourceTypeOf } from '../../lib/kube-client.ts';
import { byCreation, equalsIgnoringCase, findOptional, keywordMatches } from '../lists/filters.ts';
import { inScope, SCOPE_PARAMS, scopedNamespaces } from '../lists/scope.ts';
import type { Fields } from '../protocol/envelope.ts';
import { invalidParameterValue, resourceInUse } from '../protocol/errors.ts';
import { ownerNamespace, visibleById } from './compute-support.ts';
import { accountOfNamespace, ownerFields, userDataLinkOf } from './compute-views.ts';
import type { Infra } from './context.ts';
import { type Command, type CommandContext, defineCommand } from './define.ts';
import { failure } from './errors.ts';
import { displayName, objectName } from './names.ts';
import { checkUserData } from './vm-support.ts';

/**
 * Registered user data (PROTOCOL.md §11, ssh-keypairs-userdata, CloudStack 4.18): UserData
 * objects in the account's namespace. A VM deployed or reset with one (`userdataid`) gets a
 * copy in its spec.userData, as CloudStack copies it, and records where it came from.
 */

const USER_DATA = resourceTypeOf(UserData);
const PARAM = /^[A-Za-z0-9_.-]+$/;

export function userDataFields(infra: Infra, userData: UserDataObject): Fields {
  return {
    id: userData.metadata.uid,
    name: displayName(userData),
    ...ownerFields(infra, userData.metadata.namespace),
    accountid: accountOfNamespace(infra, userData.metadata.namespace)?.metadata.uid,
    userdata: userData.spec.userData,
    params: (userData.spec.params ?? []).join(','),
    hasannotations: false,
  };
}

export function userDataCommands(infra: Infra): Command[] {
  const { cache } = infra;
  const scope = {
    account: { type: 'string', description: 'an optional account for the userdata. Must be used with domainId.' },
    domainid: { type: 'uuid', description: 'an optional domainId for the userdata. If the account parameter is used, domainId must also be used.', entity: 'domain' },
  } as const;
  const named = (namespace: string, name: string) => cache.userData.list().find((u) => u.metadata.namespace === namespace && displayName(u) === name);

  const registerUserData = defineCommand({
    name: 'registerUserData',
    kind: 'object',
    description: 'Register a new userdata.',
    params: {
      name: { type: 'string', description: 'Name of the userdata', required: true },
      userdata: { type: 'string', description: 'Base64 encoded userdata content. Using HTTP GET (via querystring), you can send up to 4KB of data after base64 encoding. Using HTTP POST (via POST body), you can send up to 1MB of data after base64 encoding.', required: true, length: 1048576 },
      params: { type: 'string', description: 'comma separated list of variables declared in userdata content' },
      ...scope,
    },
    async handle(p, ctx) {
      const label = 'registeruserdata';
      await cache.synced();
      checkUserData(p.userdata);
      if (p.userdata === '') throw invalidParameterValue('User data is empty: send base64-encoded content');
      const params = (p.params ?? '').split(',').map((param) => param.trim()).filter((param) => param !== '');
      const bad = params.find((param) => !PARAM.test(param));
      if (bad !== undefined) throw invalidParameterValue(`Userdata parameter ${bad} is not a variable name: use letters, digits, '_', '.' and '-'`);
      const namespace = ownerNamespace(infra, ctx, label, p);
      if (named(namespace, p.name)) throw invalidParameterValue(`A userdata with name ${p.name} already exists for this account.`);
      return infra
        .resource<UserDataObject>(ctx, UserData)
        .create({
          apiVersion: UserData.apiVersion,
          kind: UserData.kind,
          metadata: { namespace, name: objectName(p.name) },
          spec: { displayName: p.name, userData: p.userdata, ...(params.length > 0 ? { params: [...new Set(params)] } : {}) },
        })
        .catch((err: unknown) => {
          if (isAlreadyExists(err)) throw invalidParameterValue(`A userdata with name ${p.name} already exists for this account.`);
          return failure(err, ctx, { label, params: { 'spec.userData': 'userdata', 'spec.params': 'params', 'spec.displayName': 'name' } });
        });
    },
    // registerUserData's response has no domainpath (listUserData's has).
    map: (userData) => ({ ...userDataFields(infra, userData), domainpath: undefined }),
  });

  const listUserData = defineCommand({
    name: 'listUserData',
    kind: 'list',
    description: 'List registered userdatas',
    params: {
      id: { type: 'uuid', description: 'the ID of the Userdata', entity: 'userdata' },
      name: { type: 'string', description: 'Userdata name to look for' },
      keyword: { type: 'string', description: 'List by keyword' },
      ...SCOPE_PARAMS,
    },
    async handle(p, ctx) {
      const label = 'listuserdata';
      await cache.synced();
      const one = findOptional(cache.userData, p.id, label, 'id');
      const namespaces = await scopedNamespaces(cache, ctx.caller, p, USER_DATA, label, infra.deps.mayList);
      return (one ? [one] : cache.userData.sorted())
        .filter((u) => inScope(namespaces, u.metadata.namespace) && equalsIgnoringCase(p.name, displayName(u)) && keywordMatches(p.keyword, displayName(u)))
        .sort(byCreation);
    },
    mapItem: (userData) => userDataFields(infra, userData),
  });

  const deleteUserData = defineCommand({
    name: 'deleteUserData',
    kind: 'success',
    description: 'Deletes a userdata',
    params: { id: { type: 'uuid', description: 'the ID of the Userdata', required: true, entity: 'userdata' }, ...scope },
    async handle(p, ctx: CommandContext) {
      const label = 'deleteuserdata';
      const userData = await visibleById(infra, ctx, cache.userData, USER_DATA, label, p.id);
      const users = cache.virtualMachines.list().filter((vm) => vm.metadata.namespace === userData.metadata.namespace && userDataLinkOf(vm)?.id === p.id);
      if (users.length > 0) throw resourceInUse(`Userdata ${displayName(userData)} is linked to ${users.length} VM(s) (${users.map((vm) => vm.spec.hostName ?? vm.metadata.name).join(', ')}); reset their user data first`);
      await infra
        .resource(ctx, UserData)
        .delete({ namespace: userData.metadata.namespace, name: userData.metadata.name ?? '' }, { preconditions: { uid: userData.metadata.uid } })
        .catch((err: unknown) => failure(err, ctx, { label, id: p.id }));
      return undefined;
    },
  });

  return [registerUserData, listUserData, deleteUserData];
}
