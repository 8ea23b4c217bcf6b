import { expect } from 'chai';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import winston from 'winston';
import { createApiApp } from '../../cloudstack-api/app.ts';
import { createCommandTable, defineCommand } from '../../cloudstack-api/commands/define.ts';
import { defaultCapabilities, discoveryCommands } from '../../cloudstack-api/commands/discovery.ts';
import { AccountType, type Authenticator, type Caller } from '../../cloudstack-api/protocol/auth.ts';
import { entityNotFound, internalError } from '../../cloudstack-api/protocol/errors.ts';
import { asyncJobFields, type AsyncJobView } from '../../cloudstack-api/protocol/jobs.ts';
import { createInMemorySessionStore } from '../../cloudstack-api/protocol/memory-session-store.ts';
import { defaultProtocolSettings, type ProtocolSettings } from '../../cloudstack-api/protocol/settings.ts';
import { type CloudStackClient, type CloudStackReply, createCloudStackClient, specSignature } from '../support/cloudstack-client.ts';

/*
 * The protocol over real HTTP on loopback, driven by the client written from PROTOCOL.md.
 * The commands here are fixtures over in-memory rows: they exercise the framework (paging,
 * typed parameters, envelopes, async submits) without Kubernetes, which the real commands use.
 */

const ROOT_DOMAIN = '00000000-0000-4000-8000-0000000000d0';
const TENANT_DOMAIN = '00000000-0000-4000-8000-0000000000d1';
const admin: Caller = {
  userId: '00000000-0000-4000-8000-0000000000a1',
  username: 'admin',
  accountId: '00000000-0000-4000-8000-0000000000b1',
  accountName: 'admin',
  accountType: AccountType.admin,
  domainId: ROOT_DOMAIN,
  domainPath: '/',
  firstname: 'Ada',
  lastname: 'Admin',
  timezone: 'Asia/Kolkata',
};
const alice: Caller = {
  userId: '00000000-0000-4000-8000-0000000000a2',
  username: 'alice',
  accountId: '00000000-0000-4000-8000-0000000000b2',
  accountName: 'tenant-a',
  accountType: AccountType.user,
  domainId: TENANT_DOMAIN,
  domainPath: '/tenants/',
};
const credentials = new Map([
  ['ADMINKEY', { caller: admin, secretKey: 'admin-secret', password: 'password' }],
  ['ALICEKEY', { caller: alice, secretKey: 'alice-secret', password: 'wonderland' }],
]);
const domains = new Map([
  ['/', ROOT_DOMAIN],
  ['/tenants/', TENANT_DOMAIN],
]);
const userCommands = new Set(['listApis', 'listCapabilities', 'listHypervisors', 'listZones', 'listHosts', 'queryAsyncJobResult']);
const disabledUsers = new Set<string>();

const auth: Authenticator = {
  findApiKey: (apiKey) => Promise.resolve(credentials.get(apiKey)),
  login(request) {
    const domainId = request.domainId ?? domains.get(request.domainPath);
    if (domainId === undefined || ![...domains.values()].includes(domainId)) return Promise.resolve({ ok: false, reason: 'domain-not-found' });
    const user = [...credentials.values()].find((c) => c.caller.username === request.username && c.caller.domainId === domainId);
    if (!user || user.password !== request.password) return Promise.resolve({ ok: false, reason: 'bad-credentials', domain: domainId });
    return Promise.resolve({ ok: true, caller: user.caller });
  },
  findUser: (userId) => Promise.resolve(disabledUsers.has(userId) ? undefined : [...credentials.values()].find((c) => c.caller.userId === userId)?.caller),
  isCommandAllowed: (caller, command) => caller.accountType === AccountType.admin || userCommands.has(command),
};

const zoneId = (i: number) => `7b6a3a1e-0000-4000-8000-${String(i).padStart(12, '0')}`;
const zones = Array.from({ length: 7 }, (_, i) => ({ id: zoneId(i + 1), name: `zone-${i + 1}`, networktype: 'Advanced', mtu: 1500 + i }));
const jobs = new Map<string, AsyncJobView>();
let nextJob = 1;

const fixtureCommands = [
  defineCommand({
    name: 'listZones',
    kind: 'list',
    description: 'Lists zones (fixture)',
    params: {
      id: { type: 'uuid', description: 'the ID of the zone', entity: 'zone' },
      name: { type: 'string', description: 'the name of the zone' },
      keyword: { type: 'string', description: 'List by keyword' },
      available: { type: 'boolean', description: 'true to list only zones the caller may deploy in' },
    },
    handle(params) {
      if (params.id !== undefined && !zones.some((zone) => zone.id === params.id)) throw entityNotFound('listzones', 'id', params.id);
      return Promise.resolve(
        zones.filter(
          (zone) =>
            (params.id === undefined || zone.id === params.id) &&
            (params.name === undefined || zone.name === params.name) &&
            (params.keyword === undefined || zone.name.includes(params.keyword)),
        ),
      );
    },
    // routerpublicinterfacemaxmtu is a number; dns1 a string given as a number, written as a string.
    mapItem: (zone) => ({ id: zone.id, name: zone.name, networktype: zone.networktype, routerpublicinterfacemaxmtu: zone.mtu, dns1: 8, securitygroupsenabled: false }),
  }),
  defineCommand({
    name: 'createZone',
    kind: 'object',
    description: 'Creates a Zone (fixture)',
    params: {
      name: { type: 'string', description: 'the name of the Zone', required: true },
      dns1: { type: 'string', description: 'the first DNS for the Zone', required: true },
      internaldns1: { type: 'string', description: 'the first internal DNS for the Zone', required: true },
      networktype: { type: 'string', description: 'network type of the zone', required: true, oneOf: ['Basic', 'Advanced'] },
      localstorageenabled: { type: 'boolean', description: 'true if local storage offering enabled' },
    },
    handle: (params) => Promise.resolve({ id: zoneId(99), ...params }),
    map: (zone) => ({ id: zone.id, name: zone.name, dns1: zone.dns1, internaldns1: zone.internaldns1, networktype: zone.networktype, localstorageenabled: zone.localstorageenabled ?? false }),
  }),
  defineCommand({
    name: 'deleteZone',
    kind: 'success',
    description: 'Deletes a Zone (fixture)',
    params: { id: { type: 'uuid', description: 'the ID of the Zone', required: true, entity: 'zone' } },
    handle(params) {
      if (!zones.some((zone) => zone.id === params.id)) throw entityNotFound('deletezone', 'id', params.id);
      return Promise.resolve(undefined);
    },
  }),
  defineCommand({
    name: 'createPhysicalNetwork',
    kind: 'async',
    description: 'Creates a physical network (fixture)',
    params: {
      name: { type: 'string', description: 'the name of the physical network', required: true },
      zoneid: { type: 'uuid', description: 'the Zone ID for the physical network', required: true, entity: 'zone' },
    },
    handle(params, ctx) {
      const jobid = `0000000${nextJob++}-0000-4000-8000-00000000000f`;
      const id = '00000000-0000-4000-8000-0000000000e1';
      jobs.set(jobid, {
        jobid,
        cmd: ctx.command,
        instanceType: 'PhysicalNetwork',
        instanceId: id,
        created: ctx.now,
        userid: ctx.caller.userId,
        accountid: ctx.caller.accountId,
        account: ctx.caller.accountName,
        domainid: ctx.caller.domainId,
        domainpath: ctx.caller.domainPath,
      });
      // The job completes later, as a controller would complete it.
      setTimeout(() => {
        const job = jobs.get(jobid);
        if (job) jobs.set(jobid, { ...job, completed: new Date(), outcome: { kind: 'object', name: 'physicalnetwork', object: { id, name: params.name, zoneid: params.zoneid, state: 'Disabled' } } });
      }, 300);
      return Promise.resolve({ jobid, id });
    },
  }),
  defineCommand({
    name: 'enableStorageMaintenance',
    kind: 'async',
    description: 'Puts storage pool into maintenance state (fixture)',
    params: { id: { type: 'uuid', description: 'Primary storage ID', required: true, entity: 'storagepool' } },
    handle: (params) => Promise.reject(entityNotFound('prepareprimarystorageformaintenance', 'id', params.id)),
  }),
  defineCommand({
    name: 'queryAsyncJobResult',
    kind: 'flat',
    description: 'Retrieves the current status of asynchronous job (fixture)',
    params: { jobid: { type: 'uuid', description: 'the ID of the asynchronous job', required: true } },
    handle(params) {
      const job = jobs.get(params.jobid);
      if (!job) throw entityNotFound('queryasyncjobresult', 'jobid', params.jobid);
      return Promise.resolve(job);
    },
    map: asyncJobFields,
  }),
  defineCommand({
    name: 'listEvents',
    kind: 'list',
    description: 'A command that lists events (fixture)',
    params: { startdate: { type: 'date', description: 'the start date range of the list you want to retrieve', withTime: true } },
    handle: () => Promise.resolve([]),
    mapItem: () => ({}),
  }),
  defineCommand({
    name: 'listHosts',
    kind: 'list',
    description: 'Lists hosts (fixture whose store is broken)',
    params: {},
    handle: () => Promise.reject(new Error('database on fire')),
    mapItem: () => ({}),
  }),
  defineCommand({
    name: 'updateConfiguration',
    kind: 'object',
    description: 'Updates a configuration (fixture failing with an internal error)',
    params: { name: { type: 'string', description: 'the name of the configuration', required: true } },
    handle: () => Promise.reject(internalError('etcd is unreachable')),
    map: () => ({}),
  }),
];

const table = createCommandTable([
  ...discoveryCommands({
    capabilities: () => defaultCapabilities,
    hypervisors: () => ['KVM', 'Simulator'],
    zoneHypervisors: (id) => Promise.resolve(zones.some((zone) => zone.id === id) ? ['KVM'] : undefined),
  }),
  ...fixtureCommands,
]);

let settings: ProtocolSettings = defaultProtocolSettings;
let skewMs = 0;
let server: Server;
let endpoint = '';

before(async () => {
  const app = createApiApp({
    auth,
    sessions: createInMemorySessionStore(),
    commands: table,
    settings: () => settings,
    now: () => Date.now() + skewMs,
    // The failures provoked below would log errors on purpose.
    log: winston.createLogger({ silent: true }),
  });
  server = await new Promise<Server>((resolve) => {
    const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
  });
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/client/api`;
});

after(async () => {
  await new Promise((resolve) => server.close(resolve));
});

afterEach(() => {
  settings = defaultProtocolSettings;
  skewMs = 0;
  disabledUsers.clear();
});

const asAdmin = (options: Partial<Parameters<typeof createCloudStackClient>[0]> = {}) =>
  createCloudStackClient({ endpoint, apiKey: 'ADMINKEY', secretKey: 'admin-secret', ...options });
const asAlice = () => createCloudStackClient({ endpoint, apiKey: 'ALICEKEY', secretKey: 'alice-secret' });
const anonymous = () => createCloudStackClient({ endpoint });

/** One error, checked exactly: status = errorcode, envelope, codes, text, X-Description. */
function expectError(reply: CloudStackReply, envelope: string, code: number, csErrorCode: number | undefined, text: string): void {
  expect(reply.envelope, reply.text).to.equal(envelope);
  expect(reply.status, reply.text).to.equal(code);
  const expected: Record<string, unknown> = { uuidList: [], errorcode: code, errortext: text };
  if (csErrorCode !== undefined) expected['cserrorcode'] = csErrorCode;
  expect(reply.body).to.deep.equal(expected);
  expect(reply.headers.get('x-description')).to.equal(text.replace(/[^\x20-\x7e]/g, '?'));
}

const badSignatureText = 'unable to verify user credentials and/or request signature';
const entityText = (label: string, param: string, value: string) =>
  `Unable to execute API command ${label} due to invalid value. Invalid parameter ${param} value=${value} due to incorrect long value format, or entity does not exist or due to incorrect parameter annotation for the field in api cmd class.`;

describe('cloudstack-api over HTTP: requests and envelopes', () => {
  it('serves JSON as application/json; charset=UTF-8 with one top-level key', async () => {
    const reply = await asAdmin().request('listCapabilities');
    expect(reply.status).to.equal(200);
    expect(reply.headers.get('content-type')).to.equal('application/json; charset=UTF-8');
    expect(reply.envelope).to.equal('listcapabilitiesresponse');
    expect(reply.body['capability']).to.deep.include({ cloudstackversion: '4.22.0.0', securitygroupsenabled: false, supportELB: 'false', customdiskofferingmaxsize: 1024 });
  });

  it('serves XML when no response type is asked for', async () => {
    const reply = await asAdmin().request('listHypervisors', {}, { response: 'none' });
    expect(reply.status).to.equal(200);
    expect(reply.headers.get('content-type')).to.equal('text/xml; charset=UTF-8');
    expect(reply.text).to.equal(
      '<?xml version="1.0" encoding="UTF-8"?><listhypervisorsresponse cloud-stack-version="4.22.0.0"><count>2</count>' +
        '<hypervisor><name>KVM</name></hypervisor><hypervisor><name>Simulator</name></hypervisor></listhypervisorsresponse>',
    );
  });

  it('answers GET and POST identically', async () => {
    const get = await asAdmin({ method: 'GET' }).request('listZones', { name: 'zone 3' });
    const post = await asAdmin({ method: 'POST' }).request('listZones', { name: 'zone 3' });
    expect(get.status).to.equal(200);
    expect(post.text).to.equal(get.text);
  });

  it('verifies v1 signatures (no expires) as well as v3', async () => {
    expect((await asAdmin({ signatureVersion: 1 }).request('listHypervisors')).status).to.equal(200);
    expect((await asAdmin({ signatureVersion: 3 }).request('listHypervisors')).status).to.equal(200);
  });

  it('matches apikey and signatureversion in any case', async () => {
    const params: Record<string, string> = {
      command: 'listHypervisors',
      response: 'json',
      apikey: 'ADMINKEY',
      signatureversion: '3',
      EXPIRES: new Date(Date.now() + 60_000).toISOString().replace(/\.\d+Z$/, 'Z'),
    };
    params['SIGNATURE'] = specSignature(params, 'admin-secret');
    const reply = await fetch(`${endpoint}?${new URLSearchParams(params).toString()}`);
    expect(reply.status).to.equal(200);
  });

  it('decodes + as a space in the query string, and signs the decoded value', async () => {
    const reply = await asAdmin().request('listZones', { keyword: 'zone-1', name: 'zone-1' });
    expect(reply.body).to.deep.include({ count: 1 });
    const spaced = await asAdmin().request('listZones', { name: 'zone 1' });
    expect(spaced.status).to.equal(200);
    expect(spaced.body).to.deep.equal({});
  });

  it('ignores unknown parameters (cmk sends filter=, and listall=true to listApis)', async () => {
    const reply = await asAdmin().request('listApis', { listall: 'true', filter: 'name,description' });
    expect(reply.status).to.equal(200);
    expect(reply.body['count']).to.equal(table.size + 2);
  });

  it('writes response fields in the catalogue JSON types', async () => {
    const reply = await asAdmin().request('listZones', { id: zoneId(2) });
    expect(reply.body).to.deep.equal({
      count: 1,
      zone: [{ id: zoneId(2), name: 'zone-2', networktype: 'Advanced', routerpublicinterfacemaxmtu: 1501, dns1: '8', securitygroupsenabled: false }],
    });
  });

  it('creates an object under its object name, booleans converted', async () => {
    const reply = await asAdmin().request('createZone', { name: 'z', dns1: '8.8.8.8', internaldns1: '10.0.0.2', networktype: 'Advanced', localstorageenabled: 'True' });
    expect(reply.status).to.equal(200);
    expect(reply.body).to.deep.equal({
      zone: { id: zoneId(99), name: 'z', dns1: '8.8.8.8', internaldns1: '10.0.0.2', networktype: 'Advanced', localstorageenabled: true },
    });
    expect(reply.body).to.not.have.property('jobid');
  });

  it('answers success-type commands with {"success":true}', async () => {
    const reply = await asAdmin().request('deleteZone', { id: zoneId(1) });
    expect(reply.text).to.equal('{"deletezoneresponse":{"success":true}}');
  });
});

describe('cloudstack-api over HTTP: paging (§7)', () => {
  it('pages with the total count, and answers {"count":N} past the end', async () => {
    const client = asAdmin();
    const second = await client.request('listZones', { page: '2', pagesize: '3' });
    expect(second.body['count']).to.equal(7);
    expect((second.body['zone'] as { name: string }[]).map((zone) => zone.name)).to.deep.equal(['zone-4', 'zone-5', 'zone-6']);
    expect((await client.request('listZones', { page: '3', pagesize: '3' })).body['zone']).to.have.length(1);
    expect((await client.request('listZones', { page: '4', pagesize: '3' })).text).to.equal('{"listzonesresponse":{"count":7}}');
  });

  it('lets a client fetch everything as cs --fetch-list does', async () => {
    const rows = await asAdmin().listAll('listZones');
    expect(rows.map((row) => row['name'])).to.deep.equal(zones.map((zone) => zone.name));
  });

  it('answers an unmatched filter with an empty response', async () => {
    expect((await asAdmin().request('listZones', { keyword: 'nothing-like-this' })).text).to.equal('{"listzonesresponse":{}}');
  });

  it('obeys default.page.size', async () => {
    settings = { ...defaultProtocolSettings, defaultPageSize: 2 };
    const reply = await asAdmin().request('listZones');
    expect(reply.body['count']).to.equal(7);
    expect(reply.body['zone']).to.have.length(2);
  });
});

describe('cloudstack-api over HTTP: async jobs (§5)', () => {
  it('answers an async create with id and jobid, then reports the job until it succeeds', async () => {
    const client = asAdmin();
    const submit = await client.request('createPhysicalNetwork', { name: 'pn1', zoneid: zoneId(1) });
    expect(submit.status).to.equal(200);
    expect(Object.keys(submit.body)).to.deep.equal(['id', 'jobid']);
    const jobid = submit.body['jobid'] as string;

    const pending = await client.request('queryAsyncJobResult', { jobid });
    expect(pending.body).to.include({ jobid, jobstatus: 0, jobresultcode: 0, cmd: 'createPhysicalNetwork', jobinstanceid: submit.body['id'] });
    expect(pending.body).to.not.have.property('jobresult');

    const done = await client.waitForJob(jobid, { intervalMs: 100, timeoutMs: 10_000 });
    expect(done).to.deep.include({ jobstatus: 1, jobresultcode: 0, jobresulttype: 'object' });
    expect(done['jobresult']).to.deep.equal({ physicalnetwork: { id: submit.body['id'], name: 'pn1', zoneid: zoneId(1), state: 'Disabled' } });
  });
});

describe('cloudstack-api over HTTP: sessions (§3)', () => {
  it('logs in over POST, sets JSESSIONID and sessionkey, and serves calls without a signature', async () => {
    const client = anonymous();
    const login = await client.login('admin', 'password');
    expect(login.status).to.equal(200);
    expect(login.envelope).to.equal('loginresponse');
    const cookies = login.headers.getSetCookie();
    expect(cookies.some((cookie) => /^JSESSIONID=[0-9a-f]{32}; Path=\/client; HttpOnly$/.test(cookie))).to.equal(true);
    expect(cookies.some((cookie) => /^sessionkey=[A-Za-z0-9_-]{27}; Path=\/client; HttpOnly; SameSite=Lax$/.test(cookie))).to.equal(true);
    expect(login.body).to.deep.equal({
      timeout: 1800,
      username: 'admin',
      userid: admin.userId,
      domainid: ROOT_DOMAIN,
      type: '1',
      account: 'admin',
      firstname: 'Ada',
      lastname: 'Admin',
      registered: 'false',
      sessionkey: client.cookies.get('sessionkey'),
      is2faenabled: 'false',
      is2faverified: 'true',
      issuerfor2fa: 'CloudStack',
      timezone: 'Asia/Kolkata',
      timezoneoffset: '5.5',
      managementserverid: login.body['managementserverid'],
    });
    expect(login.body['managementserverid']).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);

    const listed = await client.request('listZones', { name: 'zone-1' });
    expect(listed.status).to.equal(200);
    expect(listed.body['count']).to.equal(1);
  });

  it('logs in with domainId, and as a user of a child domain by path', async () => {
    expect((await anonymous().login('alice', 'wonderland', 'tenants')).status).to.equal(200);
    const byId = await fetch(endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ command: 'login', username: 'alice', password: 'wonderland', domainId: TENANT_DOMAIN, response: 'json' }).toString(),
    });
    expect(byId.status).to.equal(200);
  });

  it('logs out: the session ends and every cookie is expired', async () => {
    const client = anonymous();
    await client.login('admin', 'password');
    const logout = await client.logout();
    expect(logout.text).to.equal('{"logoutresponse":{"description":"success"}}');
    expect(logout.headers.getSetCookie().every((cookie) => cookie.includes('Max-Age=0'))).to.equal(true);
    expect(client.cookies.size).to.equal(0);
    expectError(await client.request('listZones'), 'listzonesresponse', 401, undefined, badSignatureText);
  });

  it('accepts the key as parameter alone with api.sessionkey.check.locations=CookieOrParameter', async () => {
    settings = { ...defaultProtocolSettings, sessionKeyCheckLocations: 'CookieOrParameter' };
    const client = anonymous();
    await client.login('admin', 'password');
    const reply = await client.request('listHypervisors', {}, { cookies: { sessionkey: client.cookies.get('sessionkey') ?? '' } });
    expect(reply.status).to.equal(200);
  });

  it('keeps a session in use alive past its timeout, counted from the last recorded access', async () => {
    const client = anonymous();
    await client.login('admin', 'password');
    skewMs = 1000_000;
    expect((await client.request('listHypervisors')).status).to.equal(200);
    skewMs = 2000_000;
    expect((await client.request('listHypervisors')).status).to.equal(200);
    skewMs = 4000_000;
    expectError(await client.request('listHypervisors'), 'listhypervisorsresponse', 401, undefined, badSignatureText);
  });

  it('applies the role to session calls too', async () => {
    const client = anonymous();
    await client.login('alice', 'wonderland', '/tenants/');
    expectError(await client.request('createZone', { name: 'z', dns1: 'a', internaldns1: 'b', networktype: 'Basic' }), 'createzoneresponse', 401, 9999,
      "The given command 'createZone' either does not exist, is not available for user.");
  });
});

describe('cloudstack-api over HTTP: error codes and texts (§6)', () => {
  const validZone = { name: 'z', dns1: '8.8.8.8', internaldns1: '10.0.0.2', networktype: 'Basic' };

  it('1. a wrong signature → 401', async () => {
    expectError(await asAdmin().request('listZones', {}, { signature: 'AAAAAAAAAAAAAAAAAAAAAAAAAAA=' }), 'listzonesresponse', 401, undefined, badSignatureText);
  });

  it('2. a parameter changed after signing → 401', async () => {
    expectError(await asAdmin().request('listZones', { name: 'zone-1' }, { afterSigning: { name: 'zone-2' } }), 'listzonesresponse', 401, undefined, badSignatureText);
  });

  it('3. the wrong secret → 401', async () => {
    expectError(await asAdmin({ secretKey: 'guess' }).request('listZones'), 'listzonesresponse', 401, undefined, badSignatureText);
  });

  it('4. an unknown API key → 401', async () => {
    expectError(await asAdmin({ apiKey: 'NOSUCHKEY' }).request('listZones'), 'listzonesresponse', 401, undefined, badSignatureText);
  });

  it('5. no signature at all → 401', async () => {
    expectError(await anonymous().request('listZones'), 'listzonesresponse', 401, undefined, badSignatureText);
  });

  it('6. an expired v3 request → 401', async () => {
    expectError(await asAdmin({ expiresInSeconds: -60 }).request('listZones'), 'listzonesresponse', 401, undefined, badSignatureText);
  });

  it('7. signatureVersion=3 without expires → 401', async () => {
    const params: Record<string, string> = { command: 'listZones', response: 'json', apiKey: 'ADMINKEY', signatureVersion: '3' };
    params['signature'] = specSignature(params, 'admin-secret');
    const reply = await anonymous().request('listZones', params, { unsigned: true });
    expectError(reply, 'listzonesresponse', 401, undefined, badSignatureText);
  });

  it('8. an unparsable expires → 401', async () => {
    const params: Record<string, string> = { command: 'listZones', response: 'json', apiKey: 'ADMINKEY', signatureVersion: '3', expires: 'next tuesday' };
    params['signature'] = specSignature(params, 'admin-secret');
    expectError(await anonymous().request('listZones', params, { unsigned: true }), 'listzonesresponse', 401, undefined, badSignatureText);
  });

  it('9. a v1 request when timestamps are enforced → 401', async () => {
    settings = { ...defaultProtocolSettings, enforceTimestamps: true };
    expectError(await asAdmin({ signatureVersion: 1 }).request('listZones'), 'listzonesresponse', 401, undefined, badSignatureText);
  });

  it('10. an expires more than 15 minutes ahead when timestamps are enforced → 401', async () => {
    settings = { ...defaultProtocolSettings, enforceTimestamps: true };
    expectError(await asAdmin({ expiresInSeconds: 3600 }).request('listZones'), 'listzonesresponse', 401, undefined, badSignatureText);
    expect((await asAdmin({ expiresInSeconds: 600 }).request('listZones')).status).to.equal(200);
  });

  it('11. an unknown command with an API key → 401 under errorresponse', async () => {
    expectError(await asAdmin().request('listUnicorns'), 'errorresponse', 401, undefined, badSignatureText);
  });

  it('12. no command with an API key → 401 under errorresponse', async () => {
    const params: Record<string, string> = { response: 'json', apiKey: 'ADMINKEY' };
    params['signature'] = specSignature(params, 'admin-secret');
    const reply = await fetch(`${endpoint}?${new URLSearchParams(params).toString()}`);
    expect(reply.status).to.equal(401);
    expect(await reply.text()).to.equal(`{"errorresponse":{"uuidList":[],"errorcode":401,"errortext":"${badSignatureText}"}}`);
  });

  it('13. a command the role does not allow → 401 naming it', async () => {
    expectError(await asAlice().request('createZone', validZone), 'createzoneresponse', 401, 9999,
      "The given command 'createZone' either does not exist, is not available for user.");
  });

  it('13b. a refused command with a wrong signature → the signature error, revealing nothing of the role', async () => {
    const forger = createCloudStackClient({ endpoint, apiKey: 'ALICEKEY', secretKey: 'guess' });
    expectError(await forger.request('createZone', validZone), 'createzoneresponse', 401, undefined, badSignatureText);
  });

  it('14. an unknown command in a session → 432 under errorresponse', async () => {
    const client = anonymous();
    await client.login('admin', 'password');
    expectError(await client.request('listUnicorns'), 'errorresponse', 432, 9999, 'Unknown API command: listUnicorns');
  });

  it('15. no command in a session → 400', async () => {
    const client = anonymous();
    await client.login('admin', 'password');
    const reply = await fetch(`${endpoint}?response=json&sessionkey=${client.cookies.get('sessionkey')}`, {
      headers: { cookie: [...client.cookies].map(([name, value]) => `${name}=${value}`).join('; ') },
    });
    expect(reply.status).to.equal(400);
    expect(await reply.text()).to.equal('{"errorresponse":{"uuidList":[],"errorcode":400,"errortext":"no command specified"}}');
  });

  it('16. a session call without the sessionkey parameter → 401, and the session is ended', async () => {
    const client = anonymous();
    await client.login('admin', 'password');
    const cookieHeader = [...client.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
    const reply = await fetch(`${endpoint}?command=listZones&response=json`, { headers: { cookie: cookieHeader } });
    expect(reply.status).to.equal(401);
    expect(await reply.text()).to.equal('{"listzonesresponse":{"uuidList":[],"errorcode":401,"errortext":"unable to verify user credentials"}}');
    expectError(await client.request('listZones'), 'listzonesresponse', 401, undefined, badSignatureText);
  });

  it('17. a session call with a wrong sessionkey cookie → 401', async () => {
    const client = anonymous();
    await client.login('admin', 'password');
    expectError(await client.request('listZones', {}, { cookies: { sessionkey: 'forged' } }), 'listzonesresponse', 401, undefined, 'unable to verify user credentials');
  });

  it('18. a session whose user was disabled since login → 401', async () => {
    const client = anonymous();
    await client.login('alice', 'wonderland', '/tenants/');
    disabledUsers.add(alice.userId);
    expectError(await client.request('listZones'), 'listzonesresponse', 401, undefined, 'unable to verify user credentials');
  });

  it('19. a session idle longer than its timeout → 401', async () => {
    const client = anonymous();
    await client.login('admin', 'password');
    skewMs = 1801_000;
    expectError(await client.request('listZones'), 'listzonesresponse', 401, undefined, badSignatureText);
  });

  it('20. login over GET → 405', async () => {
    const reply = await anonymous().request('login', { username: 'admin', password: 'password' }, { unsigned: true });
    expectError(reply, 'loginresponse', 405, 9999, 'Please use HTTP POST to authenticate using this API');
  });

  it('21. login with a wrong password → 531', async () => {
    expectError(await anonymous().login('admin', 'guess'), 'loginresponse', 531, undefined,
      `Failed to authenticate user admin in domain ${ROOT_DOMAIN}; please provide valid credentials`);
  });

  it('22. login into an unknown domain path → 531', async () => {
    expectError(await anonymous().login('admin', 'password', 'nowhere'), 'loginresponse', 531, undefined, 'Unable to find the domain from the path /nowhere/');
  });

  it('23. login with an unknown domainId → 401', async () => {
    const reply = await anonymous().request('login', { username: 'admin', password: 'password', domainid: 'ffffffff-0000-4000-8000-000000000000' }, { method: 'POST', unsigned: true });
    expectError(reply, 'loginresponse', 401, undefined, 'Invalid domain id entered, please enter a valid one');
  });

  it('24. login without a password → 431', async () => {
    const reply = await anonymous().request('login', { username: 'admin' }, { method: 'POST', unsigned: true });
    expectError(reply, 'loginresponse', 431, 9999, 'Unable to execute API command login due to missing parameter password');
  });

  it('25. a missing required parameter → 431', async () => {
    const { name: _name, ...withoutName } = validZone;
    expectError(await asAdmin().request('createZone', withoutName), 'createzoneresponse', 431, 9999, 'Unable to execute API command createzone due to missing parameter name');
  });

  it('26. a malformed id → 431 with the not-found text', async () => {
    expectError(await asAdmin().request('listZones', { id: 'zone-1' }), 'listzonesresponse', 431, 9999, entityText('listzones', 'id', 'zone-1'));
  });

  it('27. an unknown id → 431 with the not-found text', async () => {
    expectError(await asAdmin().request('deleteZone', { id: zoneId(404) }), 'deletezoneresponse', 431, 9999, entityText('deletezone', 'id', zoneId(404)));
  });

  it('28. an unknown zoneid for listHypervisors → 431', async () => {
    expectError(await asAdmin().request('listHypervisors', { zoneid: zoneId(404) }), 'listhypervisorsresponse', 431, 9999, entityText('listhypervisors', 'zoneid', zoneId(404)));
  });

  it('29. an unknown jobid → 431', async () => {
    expectError(await asAdmin().request('queryAsyncJobResult', { jobid: zoneId(404) }), 'queryasyncjobresultresponse', 431, 9999, entityText('queryasyncjobresult', 'jobid', zoneId(404)));
  });

  it('30. a malformed boolean → 431', async () => {
    expectError(await asAdmin().request('listZones', { available: 'maybe' }), 'listzonesresponse', 431, 9999, 'Unable to execute API command listzones due to invalid value maybe for parameter available');
  });

  it('31. a malformed integer → 431', async () => {
    expectError(await asAdmin().request('listZones', { page: 'two', pagesize: '5' }), 'listzonesresponse', 431, 9999, 'Unable to execute API command listzones due to invalid value two for parameter page');
  });

  it('32. pagesize without page → 431', async () => {
    expectError(await asAdmin().request('listZones', { pagesize: '5' }), 'listzonesresponse', 431, 9999, '"page" parameter is required when "pagesize" is specified');
  });

  it('33. page without pagesize → 431', async () => {
    expectError(await asAdmin().request('listZones', { page: '1' }), 'listzonesresponse', 431, 9999, '"pagesize" parameter is required when "page" is specified');
  });

  it('34. pagesize above default.page.size → 431', async () => {
    expectError(await asAdmin().request('listZones', { page: '1', pagesize: '501' }), 'listzonesresponse', 431, 4350, "Page size can't exceed max allowed page size value: 500");
  });

  it('35. page with pagesize=-1 → 431', async () => {
    expectError(await asAdmin().request('listZones', { page: '1', pagesize: '-1' }), 'listzonesresponse', 431, 4350, "Can't specify page parameter when pagesize is -1 (Unlimited)");
  });

  it('36. a malformed date → 431', async () => {
    expectError(await asAdmin().request('listEvents', { startdate: 'yesterday' }), 'listeventsresponse', 431, 9999,
      'Unable to parse date yesterday for command listevents, please pass dates in the format mentioned in the api documentation');
    expect((await asAdmin().request('listEvents', { startdate: '2026-01-02 03:04:05' })).status).to.equal(200);
  });

  it('37. a control character in a value → 431', async () => {
    expectError(await asAdmin().request('listZones', { name: 'zone\u0001' }), 'listzonesresponse', 431, 9999,
      'Received value containing illegal ASCII non-printable characters for parameter name');
  });

  it('38. a TAB in a value → 431 (only LF and CR pass)', async () => {
    expectError(await asAdmin().request('listZones', { keyword: 'a\tb' }), 'listzonesresponse', 431, 9999,
      'Received value containing illegal ASCII non-printable characters for parameter keyword');
    expect((await asAdmin().request('listZones', { keyword: 'a\nb' })).status).to.equal(200);
  });

  it('39. a value longer than the parameter allows → 431', async () => {
    expectError(await asAdmin().request('createZone', { ...validZone, name: 'n'.repeat(256) }), 'createzoneresponse', 431, 9999,
      'Unable to execute API command createzone due to invalid value. Value greater than max allowed length 255 for param: name');
  });

  it('40. a value outside the accepted set → 431 naming the accepted values', async () => {
    expectError(await asAdmin().request('createZone', { ...validZone, networktype: 'Fancy' }), 'createzoneresponse', 431, 9999,
      'Unable to execute API command createzone due to invalid value Fancy for parameter networktype; use one of: Basic, Advanced');
  });

  it('41. an error from a command with a legacy envelope uses that envelope and label', async () => {
    expectError(await asAdmin().request('enableStorageMaintenance', { id: zoneId(404) }), 'prepareprimarystorageformaintenanceresponse', 431, 9999,
      entityText('prepareprimarystorageformaintenance', 'id', zoneId(404)));
  });

  it('42. an unexpected failure → 530, its details shown to root admins only', async () => {
    expectError(await asAdmin().request('listHosts'), 'listhostsresponse', 530, 4250, 'database on fire');
    expectError(await asAlice().request('listHosts'), 'listhostsresponse', 530, 4250, 'Internal error executing command, please contact your system administrator');
  });

  it('43. an internal error is reported as 530 with its text to root admins', async () => {
    expectError(await asAdmin().request('updateConfiguration', { name: 'x' }), 'updateconfigurationresponse', 530, 4250, 'etcd is unreachable');
  });

  it('44. listApis for an unknown name → 530', async () => {
    expectError(await asAdmin().request('listApis', { name: 'listUnicorns' }), 'listapisresponse', 530, 9999,
      'Api Discovery plugin was unable to find an api by that name or process any apis');
  });

  it('45. errors in XML carry the same codes and text', async () => {
    const reply = await asAdmin().request('createZone', {}, { response: 'xml' });
    expect(reply.status).to.equal(431);
    expect(reply.headers.get('content-type')).to.equal('text/xml; charset=UTF-8');
    expect(reply.text).to.equal(
      '<?xml version="1.0" encoding="UTF-8"?><createzoneresponse cloud-stack-version="4.22.0.0"><errorcode>431</errorcode><cserrorcode>9999</cserrorcode>' +
        '<errortext>Unable to execute API command createzone due to missing parameter name</errortext></createzoneresponse>',
    );
  });
});

describe('cloudstack-api over HTTP: listApis for CloudMonkey (§9)', () => {
  let client: CloudStackClient;
  beforeEach(() => {
    client = asAdmin();
  });

  it('lists every command of the table plus login and logout, each with the keys cmk requires', async () => {
    const reply = await client.request('listApis', { listall: 'true' });
    const apis = reply.body['api'] as Record<string, unknown>[];
    expect(apis.map((api) => api['name'])).to.have.members([...table.keys(), 'login', 'logout']);
    for (const api of apis) {
      expect(api['name'], JSON.stringify(api)).to.be.a('string');
      expect(api['isasync'], String(api['name'])).to.be.a('boolean');
      expect(api['description'], String(api['name'])).to.be.a('string').and.not.equal('');
      expect(api['params'], String(api['name'])).to.be.an('array');
      expect(api['response'], String(api['name'])).to.be.an('array');
      for (const param of api['params'] as Record<string, unknown>[]) {
        expect(param['name']).to.be.a('string');
        expect(param['type']).to.be.a('string');
        expect(param['description']).to.be.a('string').and.not.equal('');
        expect(param['required']).to.be.a('boolean');
        if (param['related'] !== undefined) expect(param['related']).to.be.a('string');
      }
    }
  });

  it('describes parameters, async flags and related commands from the table', async () => {
    const reply = await client.request('listApis', { name: 'createPhysicalNetwork' });
    const [api] = reply.body['api'] as Record<string, unknown>[];
    expect(api).to.deep.include({ name: 'createPhysicalNetwork', isasync: true });
    expect(api?.['params']).to.deep.include({ name: 'zoneid', description: 'the Zone ID for the physical network', type: 'uuid', length: 255, required: true, related: 'createZone,listZones' });
    const zones = (await client.request('listApis', { name: 'listZones' })).body['api'] as Record<string, unknown>[];
    expect(zones[0]?.['related']).to.equal('createZone');
    expect(zones[0]?.['params']).to.deep.include({ name: 'page', description: 'The page to return, from 1; requires pagesize', type: 'integer', length: 255, required: false });
  });

  it('lists only what the role allows', async () => {
    const reply = await asAlice().request('listApis');
    expect((reply.body['api'] as { name: string }[]).map((api) => api.name).sort()).to.deep.equal(
      ['listApis', 'listCapabilities', 'listHosts', 'listHypervisors', 'listZones', 'login', 'logout', 'queryAsyncJobResult'],
    );
  });
});
