/**
 * iam.kumulus.io: CloudStack tenancy. Domains form a tree under ROOT; an Account belongs to
 * a domain and owns one namespace, where its VMs, volumes and networks live; Users log in as
 * an account. The API layer impersonates `kumulus:user:<name>` with the groups
 * `kumulus:account:<account>` and `kumulus:domain:<path>`, so Kubernetes RBAC keeps tenants apart.
 */
import Type from 'typebox';
import {
  ACCOUNT_STATES,
  ACTIVE_STATES,
  Count,
  DisplayName,
  Int,
  DomainName,
  NamespaceName,
  Obj,
  Ref,
  Status,
  Str,
  StringEnum,
  Timestamp,
  rule,
} from './common.ts';
import { defineKind } from './kind.ts';

export const IAM_GROUP = 'iam.kumulus.io';

/**
 * CloudStack's resource limits of an account or a domain, one field per resource type
 * (CloudStack's resourcetype 0-11); -1 is unlimited. An absent field takes the account's
 * default from the global Configuration (max.account.*), or for a domain its parent
 * domain's limit (ROOT is unlimited). Domain limits cap the sum over all accounts of the
 * domain and its subdomains. Lowering a limit below the usage keeps what exists and refuses more.
 */
function ResourceLimits(owner: 'account' | 'domain') {
  const absent = owner === 'account' ? 'the global max.account.* setting' : "the parent domain's limit (ROOT: unlimited)";
  const limit = (what: string) => Type.Optional(Int({ description: `Most ${what}; -1 is unlimited. Absent: ${absent}.`, minimum: -1, int64: true }));
  return Type.Optional(
    Obj(
      {
        userVm: limit('VMs (resourcetype 0, user_vm)'),
        publicIp: limit('public IP addresses (resourcetype 1, public_ip)'),
        volume: limit('volumes (resourcetype 2, volume)'),
        snapshot: limit('snapshots (resourcetype 3, snapshot)'),
        template: limit('templates and ISOs (resourcetype 4, template)'),
        project: limit('projects (resourcetype 5, project)'),
        network: limit('guest networks (resourcetype 6, network)'),
        vpc: limit('VPCs (resourcetype 7, vpc)'),
        cpu: limit('CPU cores (resourcetype 8, cpu)'),
        memory: limit('MiB of memory (resourcetype 9, memory)'),
        primaryStorage: limit('GiB of primary storage (resourcetype 10, primary_storage)'),
        secondaryStorage: limit('GiB of secondary storage (resourcetype 11, secondary_storage)'),
      },
      { description: `Resource limits of the ${owner} (CloudStack updateResourceLimit); what it creates beyond one is refused at admission.` },
    ),
  );
}

/**
 * A Domain is a node of the tenancy tree. The root domain has no parentRef (CloudStack's
 * ROOT); status.path is the slash-joined display names from the root (ROOT/customers/acme)
 * and status.level its depth. A domain with child domains or accounts cannot be deleted.
 */
export const Domain = defineKind({
  group: IAM_GROUP,
  kind: 'Domain',
  plural: 'domains',
  shortNames: ['csdomain'],
  scope: 'Cluster',
  description:
    'A CloudStack domain: a node of the tenancy tree (ROOT has no parent) grouping accounts and child domains. status.path is its path from ROOT. States: Active, Inactive.',
  spec: Obj(
    {
      displayName: Type.Optional(DisplayName('domain')),
      parentRef: Type.Optional(Ref('Domain', 'Parent domain. Absent: this is the root domain. Immutable.')),
      networkDomain: Type.Optional(DomainName('DNS suffix given to guest networks of the domain\'s accounts.')),
      resourceLimits: ResourceLimits('domain'),
    },
    {
      description: 'Desired domain.',
      validations: [
        rule('has(self.parentRef) == has(oldSelf.parentRef) && (!has(self.parentRef) || self.parentRef == oldSelf.parentRef)', 'spec.parentRef is immutable: create the domain under the other parent', '.parentRef'),
      ],
    },
  ),
  status: Status(StringEnum(ACTIVE_STATES, { description: 'Domain state: Active, or Inactive while being deleted.' }), {
    path: Type.Optional(Str({ description: 'Path from the root, such as ROOT/customers/acme (CloudStack `path`).', maxLength: 4096 })),
    level: Type.Optional(Count('Depth in the tree; ROOT is 0.')),
  }),
  validations: [
    rule("!has(self.spec.parentRef) || self.spec.parentRef.name != self.metadata.name", 'spec.parentRef must name another domain, not this one', '.spec.parentRef'),
    // CloudStack keeps the ROOT domain unlimited.
    rule('has(self.spec.parentRef) || !has(self.spec.resourceLimits)', 'spec.resourceLimits cannot be set on the root domain; set them on its accounts or child domains', '.spec.resourceLimits'),
  ],
  columns: [
    { name: 'Parent', type: 'string', jsonPath: '.spec.parentRef.name', description: 'Parent domain.' },
    { name: 'Path', type: 'string', jsonPath: '.status.path', description: 'Path from ROOT.' },
  ],
});

/**
 * An Account is a tenant: it belongs to a domain, owns one namespace (spec.namespace) holding
 * its resources, and has users. accountType gives its role: User, DomainAdmin (administers
 * its domain's subtree) or Admin (the root administrator). spec.state enables, disables (its
 * VMs are stopped) or locks (no login, resources keep running) the account.
 */
export const Account = defineKind({
  group: IAM_GROUP,
  kind: 'Account',
  plural: 'accounts',
  shortNames: ['csaccount'],
  scope: 'Cluster',
  description:
    'A CloudStack account: a tenant in a domain owning one namespace for its resources, with users. Types: User, DomainAdmin, Admin. States: enabled, disabled, locked.',
  spec: Obj(
    {
      displayName: Type.Optional(DisplayName('account')),
      domainRef: Ref('Domain', 'Domain of the account. Immutable.'),
      accountType: Type.Optional(StringEnum(['User', 'DomainAdmin', 'Admin'] as const, {
        description: 'User, DomainAdmin (administers its domain and below) or Admin (root administrator); CloudStack account types 0, 2 and 1.',
        default: 'User',
      })),
      namespace: NamespaceName('The namespace the account owns; its VMs, volumes and networks live there. Immutable.'),
      networkDomain: Type.Optional(DomainName('DNS suffix of the account\'s guest networks.')),
      state: Type.Optional(StringEnum(ACCOUNT_STATES, {
        description: 'enabled; disabled (users cannot log in, VMs are stopped); locked (users cannot log in, VMs keep running).',
        default: 'enabled',
      })),
      resourceLimits: ResourceLimits('account'),
    },
    {
      description: 'Desired account.',
      validations: [
        // `namespace` is a CEL reserved word, so the apiserver exposes the field as __namespace__.
        rule('self.__namespace__ == oldSelf.__namespace__', 'spec.namespace is immutable: create a new account for another namespace', '.namespace'),
        rule('self.domainRef == oldSelf.domainRef', 'spec.domainRef is immutable: create the account in the other domain', '.domainRef'),
      ],
    },
  ),
  status: Status(StringEnum(ACCOUNT_STATES, { description: 'Account state, with CloudStack\'s lower-case names.' }), {
    vmCount: Type.Optional(Count('VMs of the account.')),
    userCount: Type.Optional(Count('Users of the account.')),
  }),
  columns: [
    { name: 'Domain', type: 'string', jsonPath: '.spec.domainRef.name', description: 'Domain.' },
    { name: 'Type', type: 'string', jsonPath: '.spec.accountType', description: 'Account type.' },
    { name: 'Namespace', type: 'string', jsonPath: '.spec.namespace', description: 'Owned namespace.' },
  ],
});

/**
 * A User logs in as its account. Credentials (API key, secret key, password hash) never sit in
 * the User: they are in the Secret named by secretRef, readable only by the API layer.
 * spec.state enables, disables or locks the user.
 */
export const User = defineKind({
  group: IAM_GROUP,
  kind: 'User',
  plural: 'users',
  shortNames: ['csuser'],
  scope: 'Cluster',
  description:
    'A CloudStack user of an account. API keys and the password hash live in the Secret named by spec.secretRef. States: enabled, disabled, locked.',
  spec: Obj(
    {
      accountRef: Ref('Account', 'Account the user belongs to. Immutable.'),
      username: Str({ description: 'Login name, unique within the domain.', minLength: 1, maxLength: 255, pattern: '^[^\\s]+$' }),
      firstName: Str({ description: 'First name.', minLength: 1, maxLength: 255 }),
      lastName: Str({ description: 'Last name.', minLength: 1, maxLength: 255 }),
      email: Str({ description: 'E-mail address.', minLength: 3, maxLength: 255, format: 'email' }),
      timezone: Type.Optional(Str({ description: 'Time zone for dates shown to the user, such as Europe/Paris.', maxLength: 64 })),
      state: Type.Optional(StringEnum(ACCOUNT_STATES, { description: 'enabled, disabled or locked (cannot log in).', default: 'enabled' })),
      secretRef: Type.Optional(
        Obj(
          {
            name: Str({ description: 'metadata.name of the Secret.', minLength: 1, maxLength: 253 }),
            namespace: NamespaceName('Namespace of the Secret.'),
          },
          { description: 'Secret holding apiKey, secretKey and passwordHash. Absent: the user has no credentials yet.' },
        ),
      ),
    },
    {
      description: 'Desired user.',
      validations: [rule('self.accountRef == oldSelf.accountRef', 'spec.accountRef is immutable: create the user in the other account', '.accountRef')],
    },
  ),
  status: Status(StringEnum(ACCOUNT_STATES, { description: 'User state, with CloudStack\'s lower-case names.' }), {
    lastLoginAt: Type.Optional(Timestamp('Last successful login.')),
  }),
  columns: [
    { name: 'Account', type: 'string', jsonPath: '.spec.accountRef.name', description: 'Account.' },
    { name: 'Username', type: 'string', jsonPath: '.spec.username', description: 'Login name.' },
    { name: 'Email', type: 'string', jsonPath: '.spec.email', description: 'E-mail.', priority: 1 },
  ],
});

export const iamKinds = [Domain, Account, User] as const;
