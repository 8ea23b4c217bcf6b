import { catalogueEntry } from '../commands/catalogue.ts';
import { AccountType, type Caller } from '../protocol/auth.ts';

/**
 * Which commands each account type may call, as CloudStack's default roles (Root Admin,
 * Domain Admin, User) allow them: the API-level gate (`The given command ... is not available
 * for user`). What a permitted command may then read or change is decided by Kubernetes
 * RBAC, through impersonation and access reviews; these lists only mirror CloudStack's
 * command catalogue per role.
 */

/** Catalogue groups a User account works in: its own resources. */
const USER_GROUPS = new Set([
  'virtual-machines',
  'volumes',
  'snapshots',
  'templates',
  'isos',
  'networks',
  'vpc',
  'security-groups',
  'public-ip-addresses',
  'firewall-portforwarding-lb',
  'ssh-keypairs-userdata',
  'affinity-groups',
  'tags-details',
  'events',
  'async-jobs',
  'projects',
]);

/** Commands outside those groups a User may call: the catalogue it deploys from, and its own user. */
const USER_COMMANDS = new Set([
  'listZones',
  'listServiceOfferings',
  'listDiskOfferings',
  'listNetworkOfferings',
  'listVPCOfferings',
  'listCapabilities',
  'listApis',
  'listHypervisors',
  'listAccounts',
  'listUsers',
  'listDomains',
  'updateUser',
  'getUser',
  'registerUserKeys',
  'getUserKeys',
  'listResourceLimits',
  'listRoles',
  // What the web UI asks every user around its login (commands/web-ui.ts).
  'listIdps',
  'listOauthProvider',
  'listGuiThemes',
  'forgotPassword',
  'listLdapConfigurations',
]);

/** Root-admin commands inside the User groups (moving VMs and volumes across hosts and pools, offerings). */
const ADMIN_ONLY = new Set([
  'migrateVirtualMachine',
  'migrateVirtualMachineWithVolume',
  'migrateVolume',
  'prepareTemplate',
  'createVPCOffering',
  'updateVPCOffering',
  'deleteVPCOffering',
  'archiveEvents',
  'deleteEvents',
]);

/** What a domain administrator adds: managing the accounts, users and domains below it. */
const DOMAIN_ADMIN_COMMANDS = new Set([
  'createAccount',
  'updateAccount',
  'deleteAccount',
  'disableAccount',
  'enableAccount',
  'lockAccount',
  'createDomain',
  'updateDomain',
  'deleteDomain',
  'listDomainChildren',
  'createUser',
  'deleteUser',
  'disableUser',
  'enableUser',
  'lockUser',
  'updateResourceLimit',
  'updateResourceCount',
  'listCapacity',
]);

function userMay(command: string): boolean {
  if (ADMIN_ONLY.has(command)) return false;
  if (USER_COMMANDS.has(command)) return true;
  const group = catalogueEntry(command)?.group;
  return group !== undefined && USER_GROUPS.has(group);
}

export function isCommandAllowedFor(caller: Caller, command: string): boolean {
  switch (caller.accountType) {
    case AccountType.admin:
      return true;
    case AccountType.domainAdmin:
      return userMay(command) || DOMAIN_ADMIN_COMMANDS.has(command);
    default:
      return userMay(command);
  }
}
