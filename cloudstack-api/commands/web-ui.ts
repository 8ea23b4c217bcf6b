import { invalidParameterValue } from '../protocol/errors.ts';
import { type Command, defineCommand } from './define.ts';

/** CloudStack's ResourceTag.ResourceObjectType, whose names listResourceIcon's resourcetype takes (in any case). */
const RESOURCE_OBJECT_TYPES = [
  'UserVm', 'Template', 'VnfTemplate', 'ISO', 'Volume', 'Snapshot', 'Backup', 'Network', 'DomainRouter', 'Nic', 'LoadBalancer',
  'PortForwardingRule', 'FirewallRule', 'SecurityGroup', 'SecurityGroupRule', 'PublicIpAddress', 'Project', 'Account', 'Vpc',
  'NetworkACL', 'StaticRoute', 'VMSnapshot', 'RemoteAccessVpn', 'Zone', 'ServiceOffering', 'Storage', 'PrivateGateway',
  'NetworkACLList', 'VpnGateway', 'CustomerGateway', 'VpnConnection', 'User', 'DiskOffering', 'AutoScaleVmProfile',
  'AutoScaleVmGroup', 'LBStickinessPolicy', 'LBHealthCheckPolicy', 'SnapshotPolicy', 'GuestOsCategory', 'GuestOs',
  'NetworkOffering', 'VpcOffering', 'Domain', 'ObjectStore',
].map((t) => t.toLowerCase());

/**
 * What the official CloudStack web UI asks around its login (ui/src/views/auth/Login.vue, the
 * GUI theme loader, ui/src/store/modules/user.js): the SAML identity providers, the OAuth
 * providers and the GUI themes, answered without a session as CloudStack answers them (the UI
 * reads any 401 as an expired session and logs out); the password reset request; and the LDAP
 * configurations, which the UI's login discovery must get an answer for. Kumulus has no SAML,
 * OAuth, LDAP or themes configured, so each list is truthfully empty. After login, the detail
 * card of every zone, template, domain or VM, and the deploy wizard's zone, template and OS
 * category choices, ask for their resource icons (components/view/InfoCard.vue): Kumulus keeps
 * none (uploadResourceIcon is not offered), so that list is empty too once the type is checked.
 */
export function webUiCommands(): Command[] {
  const listIdps = defineCommand({
    name: 'listIdps',
    kind: 'list',
    description: 'Returns list of discovered SAML Identity Providers',
    anonymous: true,
    params: {},
    handle: () => Promise.resolve([]),
    mapItem: (row: never) => row,
  });

  const listOauthProvider = defineCommand({
    name: 'listOauthProvider',
    kind: 'list',
    description: 'List OAuth providers registered',
    anonymous: true,
    params: {
      id: { type: 'string', description: 'the ID of the OAuth provider' },
      provider: { type: 'string', description: 'Name of the provider' },
    },
    handle: () => Promise.resolve([]),
    mapItem: (row: never) => row,
  });

  const listGuiThemes = defineCommand({
    name: 'listGuiThemes',
    kind: 'list',
    description: 'Lists GUI themes.',
    anonymous: true,
    params: {
      id: { type: 'uuid', description: 'ID of the theme.' },
      name: { type: 'string', description: 'Name of the theme.' },
      commonname: { type: 'string', description: 'The common name of the theme.' },
      domainid: { type: 'string', description: 'The domain ID of the theme.' },
      accountid: { type: 'string', description: 'The account ID of the theme.' },
      listall: { type: 'boolean', description: 'Whether to list all themes.' },
      listremoved: { type: 'boolean', description: 'Whether to list removed themes.' },
      ispublic: { type: 'boolean', description: 'Whether to list public themes.' },
      listonlydefaulttheme: { type: 'boolean', description: 'Whether to list only the default theme.' },
      keyword: { type: 'string', description: 'List by keyword' },
    },
    handle: () => Promise.resolve([]),
    mapItem: (row: never) => row,
  });

  const forgotPassword = defineCommand({
    name: 'forgotPassword',
    kind: 'success',
    description: 'Sends an email to the user with a token to reset the password using resetPassword command.',
    anonymous: true,
    params: {
      username: { type: 'string', description: 'Username', required: true },
      domain: { type: 'string', description: 'Path of the domain that the user belongs to. Example: domain=/com/cloud/internal. If no domain is passed in, the ROOT (/) domain is assumed.' },
    },
    handle(p, ctx) {
      // The same answer whether the user exists or not, as CloudStack gives, so nobody learns
      // which users exist. Kumulus sends no e-mail (it has no mail server); an administrator
      // resets the password with updateUser.
      ctx.log.info('password reset requested; no e-mail is sent, an administrator resets passwords with updateUser', { username: p.username, domain: p.domain ?? '/' });
      return Promise.resolve(undefined);
    },
  });

  const listLdapConfigurations = defineCommand({
    name: 'listLdapConfigurations',
    kind: 'list',
    description: 'Lists all LDAP configurations',
    params: {
      hostname: { type: 'string', description: 'Hostname' },
      port: { type: 'integer', description: 'Port' },
      domainid: { type: 'uuid', description: 'linked domain' },
      listall: { type: 'boolean', description: 'If set to true, and no domainid specified, list all LDAP configurations irrespective of the linked domain' },
      keyword: { type: 'string', description: 'List by keyword' },
    },
    handle: () => Promise.resolve([]),
    mapItem: (row: never) => row,
  });

  const listResourceIcon = defineCommand({
    name: 'listResourceIcon',
    kind: 'list',
    description: 'Lists the resource icon for the specified resource(s)',
    params: {
      resourceids: { type: 'list', description: 'list of resources to upload the icon/image for', required: true },
      resourcetype: { type: 'string', description: 'type of the resource', required: true },
    },
    handle(p) {
      if (!RESOURCE_OBJECT_TYPES.includes(p.resourcetype.toLowerCase())) throw invalidParameterValue(`Invalid resource type ${p.resourcetype}`);
      return Promise.resolve([]);
    },
    mapItem: (row: never) => row,
  });

  return [listIdps, listOauthProvider, listGuiThemes, forgotPassword, listLdapConfigurations, listResourceIcon];
}
