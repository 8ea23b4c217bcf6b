import { expect } from 'chai';
import { setTimeout as sleep } from 'node:timers/promises';
import { Account, SSHKeyPair, User, Zone } from '../../crds/index.ts';
import { ADMIN_CREDENTIALS_SECRET, bootstrapAdmin } from '../../lib/bootstrap-admin.ts';
import { readCredentials, verifyPassword, type SecretObject } from '../../lib/credentials.ts';
import { callerIdentity, credentialsSecretName, SYSTEM_NAMESPACE } from '../../lib/identity.ts';
import { type KubeClient, type KubeObject, resourceTypeOf } from '../../lib/kube-client.ts';
import { log } from '../../lib/log.ts';
import type { Manager } from '../../lib/manager.ts';
import { runApi, type RunningApi } from '../../cloudstack-api/main.ts';
import { createCloudStackClient, type CloudStackClient } from '../support/cloudstack-client.ts';
import { uniqueName } from '../support/cluster.ts';
import { startTenancyOperator } from '../support/tenancy-operator.ts';
import { statusOf } from '../support/objects.ts';

/**
 * The CloudStack API's tenancy over the real control plane, driven by the client written from
 * the specification: the bootstrap admin's keys, accounts and users made through the API and
 * seen through Kubernetes (same ids and names), sessions answered by a second API replica,
 * and the tenant-isolation matrix, through the API and through the apiserver as the
 * impersonated users.
 */

type Obj = KubeObject & { spec?: Record<string, unknown>; status?: { conditions?: { type: string; status: string }[] } };
const SECRETS = { group: '', version: 'v1', plural: 'secrets', kind: 'Secret', namespaced: true };
const PUBLIC_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq1tD3xcq0Jd7lq9bG3kX0f0QeY0lq0m8x4c9pQ0Tzz test@kumulus';

async function eventually(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

interface Tenant {
  account: Record<string, unknown>;
  user: Record<string, unknown>;
  password: string;
  keys: { apikey: string; secretkey: string };
  client: CloudStackClient;
  kube: KubeClient;
  namespace: string;
}

describe('tenancy: the CloudStack API over Kubernetes RBAC', function () {
  this.timeout(240_000);
  let kube: KubeClient;
  let manager: Manager;
  let one: RunningApi;
  let two: RunningApi;
  let admin: CloudStackClient;
  const tenants: Record<'a' | 'b', Tenant> = {} as Record<'a' | 'b', Tenant>;
  const domainNames = { a: uniqueName('Customers A'), b: uniqueName('Customers B') };

  before(async function () {
    const operator = await startTenancyOperator('tenancy-api');
    const kc = operator.kc;
    kube = operator.client;
    manager = operator.manager;
    one = await runApi({ kubeConfig: kc, args: ['--api-bind-address=127.0.0.1:0'] });
    two = await runApi({ kubeConfig: kc, args: ['--api-bind-address=127.0.0.1:0'] });
    admin = createCloudStackClient({ endpoint: one.url, apiKey: one.adminCredentials.apiKey, secretKey: one.adminCredentials.secretKey });
    // The admin account's RBAC comes from the account controller.
    await eventually('the admin account bound', async () => (await admin.request('listDomains')).status === 200 && ((await admin.request('listDomains')).body['count'] as number) > 0);

    for (const t of ['a', 'b'] as const) {
      const domain = await admin.request('createDomain', { name: domainNames[t] });
      expect(domain.status, domain.text).to.equal(200);
      const password = `pw-${uniqueName(t)}`;
      const created = await admin.request('createAccount', {
        username: `user-${t}`,
        password,
        email: `${t}@example.com`,
        firstname: 'First',
        lastname: t.toUpperCase(),
        account: `Team ${t.toUpperCase()}`,
        domainid: (domain.body['domain'] as { id: string }).id,
      }, { method: 'POST' });
      expect(created.status, created.text).to.equal(200);
      const account = created.body['account'] as Record<string, unknown>;
      const user = (account['user'] as Record<string, unknown>[])[0] ?? {};
      const session = createCloudStackClient({ endpoint: one.url });
      await eventually(`account ${t} bound`, () => {
        const obj = one.tenancy.directory.byUid(one.tenancy.directory.accounts, String(account['id']));
        return Promise.resolve(obj?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false);
      });
      const login = await session.login(`user-${t}`, password, `/${domainNames[t]}`);
      expect(login.status, login.text).to.equal(200);
      const keys = await session.request('registerUserKeys', { id: String(user['id']) }, { method: 'POST' });
      expect(keys.status, keys.text).to.equal(200);
      const userkeys = keys.body['userkeys'] as { apikey: string; secretkey: string };
      const userObj = one.tenancy.directory.byUid(one.tenancy.directory.users, String(user['id']));
      const accountObj = one.tenancy.directory.byUid(one.tenancy.directory.accounts, String(account['id']));
      tenants[t] = {
        account,
        user,
        password,
        keys: userkeys,
        client: createCloudStackClient({ endpoint: one.url, apiKey: userkeys.apikey, secretKey: userkeys.secretkey }),
        kube: kube.as(callerIdentity(userObj?.metadata.name ?? '', accountObj?.metadata.name ?? '', `root/${accountObj?.spec.domainRef.name ?? ''}`)),
        namespace: accountObj?.spec.namespace ?? '',
      };
    }
  });

  after(async () => {
    for (const t of Object.values(tenants)) await kube.resource(resourceTypeOf(Account)).delete({ name: t.namespace.replace(/^cs-/, '') }).catch(() => undefined);
    await one?.stop();
    await two?.stop();
    await manager?.stop();
  });

  it('serves the bootstrap admin by API key, and never rotates its credentials', async () => {
    const accounts = await admin.request('listAccounts', { listall: 'true' });
    expect(accounts.status, accounts.text).to.equal(200);
    const names = (accounts.body['account'] as { name: string; accounttype: number }[]).map((a) => a.name);
    expect(names).to.include.members(['admin', 'Team A', 'Team B']);
    const again = await bootstrapAdmin(kube, log);
    expect(again).to.deep.equal(one.adminCredentials);
    expect(two.adminCredentials).to.deep.equal(one.adminCredentials);
    const stored = await kube.resource<SecretObject>(SECRETS).get({ namespace: SYSTEM_NAMESPACE, name: ADMIN_CREDENTIALS_SECRET });
    expect(Buffer.from(stored.data?.['apiKey'] ?? '', 'base64').toString()).to.equal(one.adminCredentials.apiKey);
  });

  it('keeps passwords only as scrypt hashes', async () => {
    const a = tenants.a;
    const userName = one.tenancy.directory.byUid(one.tenancy.directory.users, String(a.user['id']))?.metadata.name ?? '';
    const secret = await kube.resource<SecretObject>(SECRETS).get({ namespace: SYSTEM_NAMESPACE, name: credentialsSecretName(userName) });
    const decoded = Object.values(secret.data ?? {}).map((v) => Buffer.from(v, 'base64').toString('utf8'));
    expect(decoded.join('\n')).to.not.contain(a.password);
    expect(JSON.stringify(secret)).to.not.contain(a.password);
    const hash = readCredentials(secret).passwordHash ?? '';
    expect(hash).to.match(/^scrypt\$N=\d+,r=\d+,p=\d+\$/);
    expect(await verifyPassword(a.password, hash)).to.equal(true);
    expect(readCredentials(secret).keys?.apiKey).to.equal(a.keys.apikey);
  });

  it('shows the same ids and names through both doors', async () => {
    const a = tenants.a;
    const account = await kube.resource<Obj & { spec: { displayName?: string } }>(resourceTypeOf(Account)).get({ name: a.namespace.replace(/^cs-/, '') });
    expect(account.metadata.uid).to.equal(a.account['id']);
    expect(account.spec.displayName).to.equal('Team A');
    const user = await kube.resource<Obj & { spec: { username: string } }>(resourceTypeOf(User)).get({ name: one.tenancy.directory.byUid(one.tenancy.directory.users, String(a.user['id']))?.metadata.name ?? '' });
    expect(user.metadata.uid).to.equal(a.user['id']);
    expect(user.spec.username).to.equal('user-a');
    // Renamed through kubectl: the API shows the new name under the same id.
    await kube.resource(resourceTypeOf(Account)).patch({ name: account.metadata.name ?? '' }, { spec: { displayName: 'Team A (renamed)' } }, 'merge');
    await eventually('the rename', async () => ((await a.client.request('listAccounts', { id: String(a.account['id']) })).body['account'] as { name: string }[] | undefined)?.[0]?.name === 'Team A (renamed)');
    await kube.resource(resourceTypeOf(Account)).patch({ name: account.metadata.name ?? '' }, { spec: { displayName: 'Team A' } }, 'merge');
  });

  it('answers a session on any replica, and ends it everywhere on logout', async () => {
    const a = tenants.a;
    const first = createCloudStackClient({ endpoint: one.url });
    expect((await first.login('user-a', a.password, `/${domainNames.a}`)).status).to.equal(200);
    const cookies = Object.fromEntries(first.cookies);
    const second = createCloudStackClient({ endpoint: two.url });
    const onTwo = await second.request('listUsers', { sessionkey: cookies['sessionkey'] ?? '' }, { cookies, unsigned: true });
    expect(onTwo.status, onTwo.text).to.equal(200);
    expect((onTwo.body['user'] as { username: string }[]).map((u) => u.username)).to.deep.equal(['user-a']);
    expect((await first.logout()).status).to.equal(200);
    const after = await second.request('listUsers', { sessionkey: cookies['sessionkey'] ?? '' }, { cookies, unsigned: true });
    expect(after.status).to.equal(401);
    const wrong = await createCloudStackClient({ endpoint: two.url }).login('user-a', 'not-the-password', `/${domainNames.a}`);
    expect(wrong.status).to.equal(531);
    expect(wrong.body['errortext']).to.match(/^Failed to authenticate user user-a in domain [0-9a-f-]{36}; please provide valid credentials$/);
  });

  describe('tenant isolation matrix', () => {
    it('through the API: A sees only its own account and users', async () => {
      const { a, b } = tenants;
      const accounts = await a.client.request('listAccounts', { listall: 'true' });
      expect(accounts.status, accounts.text).to.equal(200);
      expect((accounts.body['account'] as { id: string }[]).map((x) => x.id)).to.deep.equal([a.account['id']]);
      const byId = await a.client.request('listAccounts', { id: String(b.account['id']) });
      expect(byId.status, byId.text).to.equal(200);
      expect(byId.body['account']).to.equal(undefined);
      const users = await a.client.request('listUsers', { listall: 'true' });
      expect((users.body['user'] as { id: string }[]).map((x) => x.id)).to.deep.equal([a.user['id']]);
      const domains = await a.client.request('listDomains', { listall: 'true' });
      expect((domains.body['domain'] as { name: string }[]).map((x) => x.name)).to.deep.equal([domainNames.a]);
    });

    it('through the API: A cannot change B (RBAC refuses, 531)', async () => {
      const { a, b } = tenants;
      const cases: [string, Record<string, string>][] = [
        ['updateUser', { id: String(b.user['id']), email: 'pwned@example.com' }],
        ['updateUser', { id: String(b.user['id']), password: 'pwned-password' }],
        ['registerUserKeys', { id: String(b.user['id']) }],
        ['getUserKeys', { id: String(b.user['id']) }],
      ];
      for (const [command, params] of cases) {
        const reply = await a.client.request(command, params, { method: 'POST' });
        expect(reply.status, `${command}: ${reply.text}`).to.equal(531);
        expect(reply.body['cserrorcode'], command).to.equal(4365);
      }
      // B's credentials are untouched.
      const still = await b.client.request('listUsers');
      expect(still.status).to.equal(200);
      expect((still.body['user'] as { email: string }[])[0]?.email).to.equal('b@example.com');
    });

    it('through the API: a tenant can neither manage tenancy nor change infrastructure', async () => {
      const { a } = tenants;
      for (const [command, params] of [
        ['deleteAccount', { id: String(tenants.b.account['id']) }],
        ['updateAccount', { id: String(tenants.b.account['id']), newname: 'pwned' }],
        ['createDomain', { name: 'mine' }],
        ['createAccount', { username: 'x', password: 'x', email: 'x@example.com', firstname: 'x', lastname: 'x' }],
      ] as const) {
        const reply = await a.client.request(command, params, { method: 'POST' });
        expect(reply.status, `${command}: ${reply.text}`).to.equal(401);
        expect(reply.body['errortext'], command).to.equal(`The given command '${command}' either does not exist, is not available for user.`);
      }
      // Infrastructure commands are refused whether or not this table serves them (401 either way).
      for (const command of ['createZone', 'updateConfiguration', 'createServiceOffering', 'deleteZone']) {
        const reply = await a.client.request(command, { name: 'z', id: String(tenants.b.account['id']) }, { method: 'POST' });
        expect(reply.status, `${command}: ${reply.text}`).to.equal(401);
      }
    });

    it('through Kubernetes as the impersonated users: own namespace only, no infrastructure, no credentials', async () => {
      const { a, b } = tenants;
      const keys = (c: KubeClient) => c.resource<Obj>(resourceTypeOf(SSHKeyPair));
      const key = (namespace: string) => ({ metadata: { name: uniqueName('key'), namespace }, spec: { publicKey: PUBLIC_KEY } });
      expect(await statusOf(() => keys(a.kube).create(key(a.namespace)))).to.equal(200);
      expect(await statusOf(() => keys(a.kube).create(key(b.namespace)))).to.equal(403);
      expect(await statusOf(() => keys(a.kube).list({ namespace: b.namespace }))).to.equal(403);
      expect(await statusOf(() => keys(b.kube).list({ namespace: a.namespace }))).to.equal(403);
      expect(await statusOf(() => a.kube.resource(resourceTypeOf(Zone)).list())).to.equal(200);
      expect(await statusOf(() => a.kube.resource<Obj>(resourceTypeOf(Zone)).create({ metadata: { name: uniqueName('zone') }, spec: { networkType: 'Advanced', dns1: '8.8.8.8', internalDns1: '10.0.0.2' } }))).to.equal(403);
      expect(await statusOf(() => a.kube.resource(SECRETS).list({ namespace: SYSTEM_NAMESPACE }))).to.equal(403);
      expect(await statusOf(() => a.kube.resource(resourceTypeOf(Account)).get({ name: b.namespace.replace(/^cs-/, '') }))).to.equal(403);
      expect(await statusOf(() => a.kube.resource(resourceTypeOf(User)).list())).to.equal(403);
    });

    it('the admin reaches every tenant, through the API and as its impersonated identity', async () => {
      const { b } = tenants;
      const reply = await admin.request('listUsers', { id: String(b.user['id']) });
      expect((reply.body['user'] as { username: string }[])[0]?.username).to.equal('user-b');
      const adminKube = one.tenancy.clientFor((await one.tenancy.auth.findApiKey(one.adminCredentials.apiKey))?.caller ?? ({} as never));
      expect(await statusOf(() => adminKube.resource(resourceTypeOf(SSHKeyPair)).list({ namespace: b.namespace }))).to.equal(200);
    });
  });

  it('lets a domain admin manage its domain, and only its domain', async () => {
    const { a, b } = tenants;
    const created = await admin.request('createAccount', {
      username: 'dadmin', password: 'dadmin-password', email: 'd@example.com', firstname: 'D', lastname: 'A', account: 'A Admins', accounttype: '2', domainid: String(a.account['domainid']),
    }, { method: 'POST' });
    expect(created.status, created.text).to.equal(200);
    expect((created.body['account'] as { accounttype: number }).accounttype).to.equal(2);
    const da = createCloudStackClient({ endpoint: two.url });
    await eventually('the domain admin bound', async () => {
      if (!da.cookies.has('sessionkey')) await da.login('dadmin', 'dadmin-password', `/${domainNames.a}`);
      const users = await da.request('listUsers', { listall: 'true' });
      return ((users.body['user'] as { username: string }[] | undefined) ?? []).some((u) => u.username === 'user-a');
    });
    const inOwn = await da.request('createAccount', { username: 'sub', password: 'sub-password', email: 's@example.com', firstname: 'S', lastname: 'U', account: 'A Sub', domainid: String(a.account['domainid']) }, { method: 'POST' });
    expect(inOwn.status, inOwn.text).to.equal(200);
    const inOther = await da.request('createAccount', { username: 'sub', password: 'sub-password', email: 's@example.com', firstname: 'S', lastname: 'U', account: 'B Sub', domainid: String(b.account['domainid']) }, { method: 'POST' });
    expect(inOther.status, inOther.text).to.equal(531);
    const seen = await da.request('listAccounts', { listall: 'true' });
    const names = (seen.body['account'] as { name: string }[]).map((x) => x.name);
    expect(names).to.include.members(['Team A', 'A Admins', 'A Sub']);
    expect(names).to.not.include('Team B');
    const touchB = await da.request('updateUser', { id: String(b.user['id']), email: 'x@example.com' }, { method: 'POST' });
    expect(touchB.status, touchB.text).to.equal(531);
  });

  it('sweeps sessions idle past their timeout', async () => {
    const session = createCloudStackClient({ endpoint: one.url });
    expect((await session.login('user-b', tenants.b.password, `/${domainNames.b}`)).status).to.equal(200);
    const id = session.cookies.get('JSESSIONID') ?? '';
    await eventually('the session cached', () => Promise.resolve(one.tenancy.sessions.get(id).then((s) => s !== undefined)));
    expect(await one.tenancy.sessions.sweep(Date.now())).to.equal(0);
    expect(await one.tenancy.sessions.sweep(Date.now() + 2 * 3600_000)).to.be.greaterThan(0);
    expect(await one.tenancy.sessions.get(id)).to.equal(undefined);
    expect((await session.request('listUsers')).status).to.equal(401);
  });

  it('deletes a domain tree with cleanup=true, and refuses without it', async () => {
    const top = await admin.request('createDomain', { name: uniqueName('Top') }, { method: 'POST' });
    const topId = String((top.body['domain'] as { id: string }).id);
    const sub = await admin.request('createDomain', { name: 'Sub', parentdomainid: topId }, { method: 'POST' });
    expect((sub.body['domain'])).to.include({ level: 2, parentdomainid: topId });
    const subId = String((sub.body['domain'] as { id: string }).id);
    const acct = await admin.request('createAccount', { username: 'leaf', password: 'leaf-password', email: 'l@example.com', firstname: 'L', lastname: 'F', domainid: subId }, { method: 'POST' });
    expect(acct.status, acct.text).to.equal(200);
    const refused = await admin.request('deleteDomain', { id: topId }, { method: 'POST' });
    expect(refused.status, refused.text).to.equal(431);
    const deleted = await admin.request('deleteDomain', { id: topId, cleanup: 'true' }, { method: 'POST' });
    expect(deleted.status, deleted.text).to.equal(200);
    const job = await admin.waitForJob(String(deleted.body['jobid']), { intervalMs: 250, timeoutMs: 60_000 });
    expect(job['jobstatus'], JSON.stringify(job)).to.equal(1);
    for (const id of [topId, subId]) await eventually(`domain ${id} gone`, async () => (await admin.request('listDomains', { id })).status === 431);
  });

  it('updates, disables through state, and deletes an account through the API', async () => {
    const created = await admin.request('createAccount', { username: 'temp', password: 'temp-password', email: 't@example.com', firstname: 'T', lastname: 'T', account: 'Temp Team' }, { method: 'POST' });
    expect(created.status, created.text).to.equal(200);
    const id = String((created.body['account'] as { id: string }).id);
    const updated = await admin.request('updateAccount', { id, newname: 'Temp Team 2' }, { method: 'POST' });
    expect((updated.body['account'] as { name: string }).name).to.equal('Temp Team 2');
    const locked = await admin.request('lockAccount', { account: 'Temp Team 2', domainid: String((created.body['account'] as { domainid: string }).domainid) }, { method: 'POST' });
    expect((locked.body['account'] as { state: string }).state).to.equal('locked');
    const locklogin = await createCloudStackClient({ endpoint: one.url }).login('temp', 'temp-password');
    expect(locklogin.status).to.equal(531);
    const enabled = await admin.request('enableAccount', { id }, { method: 'POST' });
    expect((enabled.body['account'] as { state: string }).state).to.equal('enabled');
    expect((await createCloudStackClient({ endpoint: one.url }).login('temp', 'temp-password')).status).to.equal(200);
    const userId = String(((created.body['account'] as { user: { id: string }[] }).user[0] ?? { id: '' }).id);
    const disableUser = await admin.request('disableUser', { id: userId }, { method: 'POST' });
    expect(disableUser.status, disableUser.text).to.equal(200);
    const userJob = await admin.waitForJob(String(disableUser.body['jobid']), { intervalMs: 200, timeoutMs: 30_000 });
    expect(userJob['jobstatus'], JSON.stringify(userJob)).to.equal(1);
    expect((userJob['jobresult'] as { user: { state: string; id: string } }).user).to.include({ state: 'disabled', id: userId });
    const disableAccount = await admin.request('disableAccount', { id, lock: 'false' }, { method: 'POST' });
    const accountJob = await admin.waitForJob(String(disableAccount.body['jobid']), { intervalMs: 200, timeoutMs: 30_000 });
    expect((accountJob['jobresult'] as { account: { state: string } }).account.state).to.equal('disabled');
    const deleted = await admin.request('deleteAccount', { id }, { method: 'POST' });
    expect(deleted.status, deleted.text).to.equal(200);
    expect(deleted.body['jobid']).to.match(/^[0-9a-f-]{36}$/);
    const deleteJob = await admin.waitForJob(String(deleted.body['jobid']), { intervalMs: 200, timeoutMs: 30_000 });
    expect(deleteJob['jobstatus'], JSON.stringify(deleteJob)).to.equal(1);
    await eventually('the account gone', async () => (await admin.request('listAccounts', { id })).status === 431);
  });
});
