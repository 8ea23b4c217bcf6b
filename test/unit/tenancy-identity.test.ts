import { expect } from 'chai';
import { ADMIN_ROLE, CATALOG_ROLE, clusterRoles, selfRules, TENANT_ROLE } from '../../controllers/rbac.ts';
import { kinds } from '../../crds/index.ts';
import { credentialsSecret, hashPassword, readCredentials, SCRYPT_PARAMS, verifyPassword } from '../../lib/credentials.ts';
import {
  accountGroup,
  accountNamespaceFor,
  apiKeyHash,
  callerIdentity,
  domainChain,
  domainDisplayPath,
  domainGroup,
  domainGroupPath,
  domainLoginPath,
  type DomainLike,
  LABEL_API_KEY_HASH,
  objectNameFor,
} from '../../lib/identity.ts';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

describe('tenancy: identity naming', () => {
  it('names the impersonated user and groups as DESIGN.md says', () => {
    expect(callerIdentity('alice', 'acme', 'root/customers')).to.deep.equal({ user: 'kumulus:user:alice', groups: ['kumulus:account:acme', 'kumulus:domain:root/customers'] });
    expect(accountGroup('acme')).to.equal('kumulus:account:acme');
    expect(domainGroup('root/c1')).to.equal('kumulus:domain:root/c1');
  });

  it('derives stable DNS-1123 object names from free text, apart per scope', () => {
    expect(objectNameFor('admin', '')).to.equal('admin');
    const a = objectNameFor('Web Team (prod)', 'domain-uid-1');
    expect(a).to.match(DNS_LABEL);
    expect(objectNameFor('Web Team (prod)', 'domain-uid-1')).to.equal(a);
    expect(objectNameFor('Web Team (prod)', 'domain-uid-2')).to.not.equal(a);
    expect(objectNameFor('admin', 'domain-uid-1')).to.not.equal('admin');
    const long = objectNameFor('x'.repeat(300), '');
    expect(long.length).to.be.at.most(63);
    expect(long).to.match(DNS_LABEL);
    expect(objectNameFor('ÉÉÉ', '')).to.match(DNS_LABEL);
    expect(accountNamespaceFor('acme')).to.equal('cs-acme');
    expect(accountNamespaceFor('a'.repeat(63)).length).to.be.at.most(63);
  });

  it('spells domain paths in both forms', () => {
    const root: DomainLike = { metadata: { name: 'root' }, spec: { displayName: 'ROOT' } };
    const customers: DomainLike = { metadata: { name: 'c1' }, spec: { displayName: 'customers', parentRef: { name: 'root' } } };
    const acme: DomainLike = { metadata: { name: 'a1' }, spec: { parentRef: { name: 'c1' } } };
    const byName = new Map([root, customers, acme].map((d) => [d.metadata.name ?? '', d]));
    const chain = domainChain(acme, (n) => byName.get(n));
    expect(chain && domainDisplayPath(chain)).to.equal('ROOT/customers/a1');
    expect(chain && domainGroupPath(chain)).to.equal('root/c1/a1');
    expect(chain && domainLoginPath(chain)).to.equal('/customers/a1/');
    expect(domainLoginPath([root])).to.equal('/');
    const orphan: DomainLike = { metadata: { name: 'o' }, spec: { parentRef: { name: 'missing' } } };
    expect(domainChain(orphan, (n) => byName.get(n))).to.equal(undefined);
  });
});

describe('tenancy: credentials', function () {
  this.timeout(20_000);

  it('hashes passwords with scrypt, a per-user salt and recorded parameters', async () => {
    const one = await hashPassword('s3cret pässword');
    const two = await hashPassword('s3cret pässword');
    expect(one).to.match(new RegExp(`^scrypt\\$N=${SCRYPT_PARAMS.N},r=${SCRYPT_PARAMS.r},p=${SCRYPT_PARAMS.p}\\$`));
    expect(one).to.not.equal(two); // the salt differs
    expect(await verifyPassword('s3cret pässword', one)).to.equal(true);
    expect(await verifyPassword('s3cret passw0rd', one)).to.equal(false);
    expect(await verifyPassword('s3cret pässword', 'plain:s3cret pässword')).to.equal(false);
    // Old hashes keep working when the parameters are raised: each hash carries its own.
    const weak = await hashPassword('pw', { N: 1024, r: 8, p: 1 });
    expect(await verifyPassword('pw', weak)).to.equal(true);
  });

  it('keeps no plain-text password in the Secret, and indexes the API key by a hash', async () => {
    const password = 'correct horse battery staple';
    const secret = credentialsSecret(
      { userName: 'alice', userUid: '0b9f3c1e-0000-4000-8000-000000000001', accountName: 'acme', owner: { apiVersion: 'iam.kumulus.io/v1alpha1', kind: 'User', name: 'alice', uid: '0b9f3c1e-0000-4000-8000-000000000001' } },
      { passwordHash: await hashPassword(password), keys: { apiKey: 'AK', secretKey: 'SK' } },
    );
    const everything = JSON.stringify(secret);
    const decoded = Object.values(secret.data ?? {}).map((v) => Buffer.from(v, 'base64').toString('utf8')).join('\n');
    for (const text of [everything, decoded]) {
      expect(text).to.not.contain(password);
      expect(text).to.not.contain(Buffer.from(password).toString('base64'));
    }
    expect(secret.metadata.labels?.[LABEL_API_KEY_HASH]).to.equal(apiKeyHash('AK'));
    expect(apiKeyHash('AK')).to.have.length(63);
    expect(readCredentials(secret).keys).to.deep.equal({ apiKey: 'AK', secretKey: 'SK' });
    expect(await verifyPassword(password, readCredentials(secret).passwordHash ?? '')).to.equal(true);
  });
});

describe('tenancy: rendered RBAC', () => {
  it('gives tenants namespaced kinds only, and never an unbounded name list', () => {
    const roles = new Map(clusterRoles().map((r) => [r.metadata.name, r]));
    const tenant = roles.get(TENANT_ROLE);
    const clusterScoped = new Set(kinds.filter((k) => k.scope === 'Cluster').map((k) => k.plural));
    for (const rule of tenant?.rules ?? []) for (const resource of rule.resources) expect(clusterScoped.has(resource), resource).to.equal(false);
    expect(tenant?.rules.flatMap((r) => r.resources)).to.include.members(['virtualmachines', 'volumes', 'networks', 'asyncjobs']);
    for (const rule of roles.get(CATALOG_ROLE)?.rules ?? []) {
      expect(rule.verbs).to.deep.equal(['get', 'list', 'watch']);
      for (const resource of rule.resources) expect(clusterScoped.has(resource), resource).to.equal(true);
    }
    expect(roles.get(ADMIN_ROLE)?.rules[0]?.verbs).to.deep.equal(['*']);
    // An empty resourceNames list would grant every object of the kind.
    const rules = selfRules({ accounts: ['acme'], users: [], domains: ['d'], administers: false });
    expect(rules.some((r) => r.resources.includes('users'))).to.equal(false);
    for (const rule of rules) expect(rule.resourceNames?.length ?? 0).to.be.greaterThan(0);
  });
});
