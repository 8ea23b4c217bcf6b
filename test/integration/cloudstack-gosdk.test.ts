import { expect } from 'chai';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import winston from 'winston';
import { createApiApp } from '../../cloudstack-api/app.ts';
import { createCommandTable, defineCommand } from '../../cloudstack-api/commands/define.ts';
import { defaultCapabilities, discoveryCommands } from '../../cloudstack-api/commands/discovery.ts';
import { createInMemorySessionStore } from '../../cloudstack-api/protocol/memory-session-store.ts';
import { goDriver } from '../support/cloudstack-drivers.ts';
import { singleKeyAuthenticator } from '../support/single-key-auth.ts';

/*
 * The Go SDK (github.com/apache/cloudstack-go/v2, the program of test/support/gosdk) against the
 * API on loopback. It decodes responses into typed structs and fails on any JSON type that
 * differs from CloudStack's (§4, §9), signs with `*` escaped as %2a (§2), and reports errors as
 * "CloudStack API error <code> (CSExceptionErrorCode: <cs>): <text>".
 */

const zone = {
  id: '7b6a3a1e-0000-4000-8000-000000000001',
  name: 'zone *one*',
  networktype: 'Advanced',
  allocationstate: 'Enabled',
  securitygroupsenabled: false,
  localstorageenabled: true,
  routerpublicinterfacemaxmtu: 1500,
  dns1: '8.8.8.8',
  tags: [],
  resourcedetails: { 'router.public.mtu': '1500' },
};
const listZones = defineCommand({
  name: 'listZones',
  kind: 'list',
  description: 'Lists zones (fixture)',
  params: { keyword: { type: 'string', description: 'List by keyword' } },
  handle: (params) => Promise.resolve([zone].filter((z) => params.keyword === undefined || z.name.includes(params.keyword))),
  mapItem: (z) => z,
});

describe('cloudstack-api with the Go SDK', function () {
  this.timeout(900_000);
  const driver = goDriver();
  let server: Server | undefined;
  let endpoint = '';
  const keys = { apiKey: 'GOKEY', secretKey: 'go-secret' };

  before(async function () {
    const missing = await driver.prepare();
    if (missing !== undefined) {
      console.log(`skipped: ${missing}`);
      this.skip();
    }
    const commands = createCommandTable([
      ...discoveryCommands({ capabilities: () => defaultCapabilities, hypervisors: () => ['KVM'], zoneHypervisors: () => Promise.resolve(undefined) }),
      listZones,
    ]);
    const app = createApiApp({ auth: singleKeyAuthenticator(keys.apiKey, keys.secretKey), sessions: createInMemorySessionStore(), commands, log: winston.createLogger({ silent: true }) });
    server = await new Promise<Server>((resolve) => {
      const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
    });
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/client/api`;
  });

  after(async () => {
    if (server) await new Promise((resolve) => server?.close(resolve));
    await driver.cleanup();
  });

  // The program re-encodes what the SDK decoded, so keys are the SDK's json tags.
  it('decodes listApis, listCapabilities, listHypervisors and listZones into its typed structs (the keyword holds *, which it signs as %2a)', async () => {
    const apis = await driver.call(endpoint, keys, 'listApis', {});
    expect(apis['count']).to.equal(6);
    expect((apis['api'] as { name: string }[]).map((api) => api.name).sort()).to.deep.equal(['listApis', 'listCapabilities', 'listHypervisors', 'listZones', 'login', 'logout']);
    const capability = (await driver.call(endpoint, keys, 'listCapabilities', {}))['capability'] as Record<string, unknown>;
    expect(capability).to.include({ customdiskofferingmaxsize: 1024, allowuserexpungerecovervm: false, dynamicrolesenabled: true, defaultuipagesize: 20, supportELB: 'false' });
    expect(capability['cloudstackversion']).to.match(/^4\.\d+/);
    expect(await driver.call(endpoint, keys, 'listHypervisors', {})).to.deep.include({ count: 1 });
    const zones = (await driver.call(endpoint, keys, 'listZones', { keyword: '*one*' }))['zone'] as Record<string, unknown>[];
    expect(zones).to.have.length(1);
    expect(zones[0]).to.deep.include({ id: zone.id, name: 'zone *one*', allocationstate: 'Enabled', securitygroupsenabled: false, localstorageenabled: true, resourcedetails: { 'router.public.mtu': '1500' } });
  });

  it('reads a wrong secret as CloudStack API error 401', async () => {
    const failure = await driver.call(endpoint, { ...keys, secretKey: 'wrong' }, 'listApis', {}).then(
      () => undefined,
      (error: Error) => error,
    );
    expect(failure?.message).to.equal('Go SDK listApis failed: listApis: CloudStack API error 401 (CSExceptionErrorCode: 0): unable to verify user credentials and/or request signature\n');
  });
});
