import { expect } from 'chai';
import { setTimeout as sleep } from 'node:timers/promises';
import { accountRoleName, TENANT_BINDING } from '../../controllers/account.ts';
import { ADMIN_ROLE, CATALOG_ROLE, TENANT_ROLE } from '../../controllers/rbac.ts';
import { Account, AsyncJob, Domain, SSHKeyPair, User, Zone, type AsyncJobObject } from '../../crds/index.ts';
import { accountGroup, callerIdentity, LABEL_ACCOUNT, LABEL_DOMAIN } from '../../lib/identity.ts';
import { isNotFound, type KubeClient, type KubeObject, type ResourceClient, resourceTypeOf } from '../../lib/kube-client.ts';
import type { Manager } from '../../lib/manager.ts';
import { uniqueName } from '../support/cluster.ts';
import { startTenancyOperator } from '../support/tenancy-operator.ts';
import { statusOf } from '../support/objects.ts';

/**
 * The tenancy controllers against the real control plane, and RBAC checked by the apiserver
 * itself through impersonated clients: an account gets its namespace and bindings, a tenant
 * reaches its own namespace and nothing else, a domain admin reaches its subtree, an admin
 * reaches everything.
 */

type Obj = KubeObject & { spec?: Record<string, unknown>; status?: { state?: string; path?: string; level?: number; conditions?: { type: string; status: string; message: string }[] } };
type Binding = KubeObject & { subjects: { kind: string; name: string }[]; roleRef: { name: string } };

const NAMESPACES = { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false };
const ROLE_BINDINGS = { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'rolebindings', kind: 'RoleBinding', namespaced: true };
const CLUSTER_ROLES = { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'clusterroles', kind: 'ClusterRole', namespaced: false };
const PUBLIC_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq1tD3xcq0Jd7lq9bG3kX0f0QeY0lq0m8x4c9pQ0Tzz test@kumulus';

async function waitFor<T extends KubeObject>(what: string, read: () => Promise<T | undefined>, check: (obj: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await read().catch((err: unknown) => (isNotFound(err) ? undefined : Promise.reject(err as Error)));
    if (last && check(last)) return last;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last seen: ${JSON.stringify(last ?? 'nothing')}`);
    await sleep(150);
  }
}

function ready(obj: Obj): boolean {
  return obj.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

describe('tenancy: controllers and RBAC (real apiserver)', function () {
  this.timeout(180_000);
  let admin: KubeClient;
  let manager: Manager;
  let domains: ResourceClient<Obj>;
  let accounts: ResourceClient<Obj>;
  let users: ResourceClient<Obj>;
  const names = { parent: uniqueName('dom'), child: uniqueName('sub'), other: uniqueName('oth'), a: uniqueName('acct-a'), b: uniqueName('acct-b'), da: uniqueName('dadmin'), root: uniqueName('radmin'), c: uniqueName('acct-c') };
  const ns = { a: `cs-${names.a}`, b: `cs-${names.b}`, da: `cs-${names.da}`, root: `cs-${names.root}`, c: `cs-${names.c}` };

  before(async function () {
    ({ client: admin, manager } = await startTenancyOperator('tenancy-rbac'));
    domains = admin.resource<Obj>(resourceTypeOf(Domain));
    accounts = admin.resource<Obj>(resourceTypeOf(Account));
    users = admin.resource<Obj>(resourceTypeOf(User));
    await domains.create({ metadata: { name: names.parent }, spec: { displayName: names.parent } });
    await domains.create({ metadata: { name: names.child }, spec: { displayName: 'Child Domain', parentRef: { name: names.parent } } });
    await domains.create({ metadata: { name: names.other }, spec: { displayName: names.other } });
    const account = (name: string, domain: string, namespace: string, accountType: string) =>
      accounts.create({ metadata: { name }, spec: { domainRef: { name: domain }, accountType, namespace } });
    await account(names.a, names.child, ns.a, 'User');
    await account(names.b, names.other, ns.b, 'User');
    await account(names.c, names.parent, ns.c, 'User');
    await account(names.da, names.parent, ns.da, 'DomainAdmin');
    await account(names.root, names.other, ns.root, 'Admin');
    await users.create({ metadata: { name: `${names.a}-u` }, spec: { accountRef: { name: names.a }, username: 'alice', firstName: 'Alice', lastName: 'A', email: 'alice@example.com' } });
    for (const name of [names.a, names.b, names.c, names.da, names.root]) await waitFor(`Account ${name} Ready`, () => accounts.get({ name }), ready);
  });

  after(async () => {
    for (const name of [names.a, names.b, names.c, names.da, names.root]) await accounts.delete({ name }).catch(() => undefined);
    for (const name of [names.child, names.parent, names.other]) await domains.delete({ name }).catch(() => undefined);
    await manager?.stop();
  });

  const as = (account: string, domainPath: string) => admin.as(callerIdentity(`${account}-u`, account, domainPath));
  const keys = (client: KubeClient) => client.resource<Obj>(resourceTypeOf(SSHKeyPair));
  const key = (namespace: string) => ({ metadata: { name: uniqueName('key'), namespace }, spec: { publicKey: PUBLIC_KEY } });

  it('gives each domain its path and depth', async () => {
    const child = await waitFor(`Domain ${names.child} path`, () => domains.get({ name: names.child }), (d) => d.status?.path !== undefined && ready(d));
    expect(child.status?.path).to.equal(`${names.parent}/Child Domain`);
    expect(child.status?.level).to.equal(1);
    expect(child.status?.state).to.equal('Active');
  });

  it('gives an account its labelled namespace and a RoleBinding of its group to kumulus-tenant', async () => {
    const namespace = await admin.resource(NAMESPACES).get({ name: ns.a });
    expect(namespace.metadata.labels?.[LABEL_ACCOUNT]).to.equal(names.a);
    expect(namespace.metadata.labels?.[LABEL_DOMAIN]).to.equal(names.child);
    expect(namespace.metadata.ownerReferences?.[0]?.kind).to.equal('Account');
    const rb = await admin.resource<Binding>(ROLE_BINDINGS).get({ namespace: ns.a, name: TENANT_BINDING });
    expect(rb.roleRef.name).to.equal(TENANT_ROLE);
    expect(rb.subjects).to.deep.equal([{ kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: accountGroup(names.a) }]);
    // The user was created after the account: the count follows it.
    const account = await waitFor(`Account ${names.a} counting its user`, () => accounts.get({ name: names.a }), (a) => (a.status as { userCount?: number }).userCount === 1);
    expect(account.status?.state).to.equal('enabled');
    // The shared roles exist, and the per-account role names only this account's objects.
    for (const role of [TENANT_ROLE, ADMIN_ROLE, CATALOG_ROLE]) expect((await admin.resource(CLUSTER_ROLES).get({ name: role })).metadata.name).to.equal(role);
    const self = await waitFor(`ClusterRole ${accountRoleName(names.a)} naming the user`, () => admin.resource<KubeObject & { rules: { resources: string[]; resourceNames?: string[] }[] }>(CLUSTER_ROLES).get({ name: accountRoleName(names.a) }), (r) => r.rules.some((rule) => rule.resources.includes('users')));
    expect(self.rules.find((r) => r.resources.includes('users'))?.resourceNames).to.deep.equal([`${names.a}-u`]);
    expect(self.rules.every((r) => (r.resourceNames ?? []).length > 0)).to.equal(true);
  });

  it('records CloudStack event types for tenancy changes', async () => {
    const EVENTS = { group: 'events.k8s.io', version: 'v1', plural: 'events', kind: 'Event', namespaced: true };
    type Event = KubeObject & { reason?: string; regarding?: { kind?: string; name?: string } };
    const reasons = async (name: string) => (await admin.resource<Event>(EVENTS).list({ fieldSelector: `regarding.name=${name}` })).items.map((e) => `${e.regarding?.kind} ${e.reason}`);
    await waitFor('the create events', async () => ((await reasons(names.a)).includes('Account ACCOUNT.CREATE') ? { metadata: {} } : undefined), () => true);
    await accounts.patch({ name: names.c }, { spec: { state: 'disabled' } }, 'merge');
    await waitFor('the disable event', async () => ((await reasons(names.c)).includes('Account ACCOUNT.DISABLE') ? { metadata: {} } : undefined), () => true);
    await accounts.patch({ name: names.c }, { spec: { state: 'enabled' } }, 'merge');
    expect(await reasons(names.parent)).to.include('Domain DOMAIN.CREATE');
    expect(await reasons(`${names.a}-u`)).to.include('User USER.CREATE');
  });

  it('lets a tenant work in its own namespace and nowhere else (the apiserver decides)', async () => {
    const a = as(names.a, `${names.parent}/${names.child}`);
    const b = as(names.b, names.other);
    expect(await statusOf(() => keys(a).create(key(ns.a)))).to.equal(200);
    expect(await statusOf(() => keys(a).list({ namespace: ns.a }))).to.equal(200);
    expect(await statusOf(() => keys(b).list({ namespace: ns.a }))).to.equal(403);
    expect(await statusOf(() => keys(b).create(key(ns.a)))).to.equal(403);
    expect(await statusOf(() => keys(a).list())).to.equal(403); // all namespaces
    // Infrastructure: readable by tenants (the catalogue), never writable.
    const zones = (c: KubeClient) => c.resource<Obj>(resourceTypeOf(Zone));
    await waitFor('the catalogue binding', async () => ((await statusOf(() => zones(a).list())) === 200 ? { metadata: {} } : undefined), () => true);
    expect(await statusOf(() => zones(a).create({ metadata: { name: uniqueName('zone') }, spec: { networkType: 'Advanced', dns1: '8.8.8.8', internalDns1: '10.0.0.2' } }))).to.equal(403);
    // Tenancy objects: its own account, not another's.
    expect(await statusOf(() => accounts.get({ name: names.a }).then(() => a.resource(resourceTypeOf(Account)).get({ name: names.a })))).to.equal(200);
    expect(await statusOf(() => a.resource(resourceTypeOf(Account)).get({ name: names.b }))).to.equal(403);
    expect(await statusOf(() => a.resource(resourceTypeOf(Account)).list())).to.equal(403);
  });

  it('lets a domain admin into the namespaces of its domain and subdomains only', async () => {
    const da = as(names.da, names.parent);
    await waitFor('the domain admin binding in the subdomain', async () => ((await statusOf(() => keys(da).list({ namespace: ns.a }))) === 200 ? { metadata: {} } : undefined), () => true);
    expect(await statusOf(() => keys(da).list({ namespace: ns.c }))).to.equal(200);
    expect(await statusOf(() => keys(da).list({ namespace: ns.b }))).to.equal(403);
    expect(await statusOf(() => da.resource(resourceTypeOf(Account)).get({ name: names.a }))).to.equal(200);
    expect(await statusOf(() => da.resource(resourceTypeOf(Account)).get({ name: names.b }))).to.equal(403);
  });

  it('lets an admin account change infrastructure', async () => {
    const root = as(names.root, names.other);
    const zone = uniqueName('zone');
    await waitFor('the admin binding', async () => ((await statusOf(() => root.resource(resourceTypeOf(Zone)).list())) === 200 ? { metadata: {} } : undefined), () => true);
    expect(await statusOf(() => root.resource<Obj>(resourceTypeOf(Zone)).create({ metadata: { name: zone }, spec: { networkType: 'Advanced', dns1: '8.8.8.8', internalDns1: '10.0.0.2' } }))).to.equal(200);
    await admin.resource(resourceTypeOf(Zone)).delete({ name: zone });
  });

  it('reaches the apiserver as the user with each group apart (SelfSubjectReview)', async () => {
    const identity = callerIdentity(`${names.a}-u`, names.a, `${names.parent}/${names.child}`);
    const review = await admin.as(identity).request<{ status?: { userInfo?: { username?: string; groups?: string[] } } }>('POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', {
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
    });
    expect(review.status?.userInfo?.username).to.equal(`kumulus:user:${names.a}-u`);
    expect(review.status?.userInfo?.groups).to.include.members([accountGroup(names.a), `kumulus:domain:${names.parent}/${names.child}`, 'system:authenticated']);
    expect(admin.impersonating).to.equal(undefined);
  });

  it('keeps the connection in step after a DELETE with a body', async () => {
    const root = as(names.root, names.other);
    const zones = root.resource<Obj>(resourceTypeOf(Zone));
    await waitFor('the admin binding', async () => ((await statusOf(() => zones.list())) === 200 ? { metadata: {} } : undefined), () => true);
    for (let i = 0; i < 3; i++) {
      const name = uniqueName('zone');
      await zones.create({ metadata: { name }, spec: { networkType: 'Advanced', dns1: '8.8.8.8', internalDns1: '10.0.0.2' } });
      await zones.delete({ name }, { propagationPolicy: 'Background' });
      expect(await statusOf(() => zones.list())).to.equal(200);
    }
  });

  it('refuses to watch as someone else (watches carry the API\'s own credentials)', async () => {
    const a = as(names.a, `${names.parent}/${names.child}`);
    let error: unknown;
    await a.watch('/api/v1/namespaces', {}, () => undefined, () => undefined).catch((err: unknown) => (error = err));
    expect(String(error)).to.match(/cannot be impersonated/);
  });

  it('holds a domain while it has children, then lets it go', async () => {
    const leaf = uniqueName('leaf');
    const acct = uniqueName('leaf-acct');
    await domains.create({ metadata: { name: leaf }, spec: { parentRef: { name: names.other } } });
    await accounts.create({ metadata: { name: acct }, spec: { domainRef: { name: leaf }, namespace: `cs-${acct}` } });
    await waitFor(`Account ${acct} Ready`, () => accounts.get({ name: acct }), ready);
    await domains.delete({ name: leaf });
    const held = await waitFor(`Domain ${leaf} held`, () => domains.get({ name: leaf }), (d) => d.status?.state === 'Inactive');
    expect(held.status?.conditions?.find((c) => c.type === 'Ready')?.message).to.contain(`Account ${acct}`);
    await accounts.delete({ name: acct });
    await waitFor(`Domain ${leaf} gone`, async () => ((await domains.get({ name: leaf }).then(() => false, () => true)) ? { metadata: {} } : undefined), () => true);
  });

  it('fails the async delete of a domain that still has children at once, naming them, instead of at the job timeout', async () => {
    const leaf = uniqueName('blocked');
    const acct = uniqueName('blocked-acct');
    const domain = await domains.create({ metadata: { name: leaf }, spec: { parentRef: { name: names.other } } });
    await accounts.create({ metadata: { name: acct }, spec: { domainRef: { name: leaf }, namespace: `cs-${acct}` } });
    await waitFor(`Account ${acct} Ready`, () => accounts.get({ name: acct }), ready);
    await domains.delete({ name: leaf });
    // The job deleteDomain records (cloudstack-api/commands/job-support.ts): success is the domain gone.
    const jobs = admin.resource<AsyncJobObject>(resourceTypeOf(AsyncJob));
    const job = await jobs.create({
      apiVersion: AsyncJob.apiVersion,
      kind: AsyncJob.kind,
      metadata: { name: uniqueName('job'), namespace: ns.root },
      spec: {
        command: 'deleteDomain',
        userRef: { name: `${names.root}-u` },
        targetRef: { apiVersion: Domain.apiVersion, kind: Domain.kind, name: leaf, uid: domain.metadata.uid },
        expectedCondition: { type: 'Synced', deleted: true },
      },
    });
    const failed = await waitFor(`AsyncJob ${job.metadata.name} failed`, () => jobs.get({ namespace: ns.root, name: job.metadata.name ?? '' }), (j) => j.status?.state !== undefined && j.status.state !== 'IN_PROGRESS');
    expect(failed.status).to.deep.include({ state: 'FAILED', jobStatus: 2, resultCode: 536 });
    expect((failed.status?.result as { errortext?: string } | undefined)?.errortext).to.contain(`Account ${acct}`);
    const held = await domains.get({ name: leaf });
    expect(held.status?.conditions?.find((c) => c.type === 'DeletionBlocked')).to.deep.include({ status: 'True' });
    expect(held.status?.state).to.equal('Inactive');
    await accounts.delete({ name: acct });
    await waitFor(`Domain ${leaf} gone`, async () => ((await domains.get({ name: leaf }).then(() => false, () => true)) ? { metadata: {} } : undefined), () => true);
  });
});
