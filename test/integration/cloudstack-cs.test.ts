import { expect } from 'chai';
import { execFile } from 'node:child_process';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import winston from 'winston';
import { createApiApp } from '../../cloudstack-api/app.ts';
import { createCommandTable, defineCommand } from '../../cloudstack-api/commands/define.ts';
import { defaultCapabilities, discoveryCommands } from '../../cloudstack-api/commands/discovery.ts';
import { createInMemorySessionStore } from '../../cloudstack-api/protocol/memory-session-store.ts';
import { csCommand } from '../support/cs-cli.ts';
import { singleKeyAuthenticator } from '../support/single-key-auth.ts';

/*
 * The Python `cs` client (Debian package `cs`, which installs the command as `cloudstack`;
 * PyPI installs it as `cs`) against the API on loopback: its own signing (v3, `expires` with
 * +0000, `~` left raw), its JSON checks (Content-Type, one top-level key) and its error path.
 * The table holds the discovery commands plus one fixture list; users come from a fixed key.
 */

const run = promisify(execFile);

const listZones = defineCommand({
  name: 'listZones',
  kind: 'list',
  description: 'Lists zones (fixture)',
  params: { keyword: { type: 'string', description: 'List by keyword' } },
  handle: (params) => Promise.resolve([{ id: '7b6a3a1e-0000-4000-8000-000000000001', name: 'zone ~ one' }].filter((zone) => params.keyword === undefined || zone.name.includes(params.keyword))),
  mapItem: (zone) => zone,
});

describe('cloudstack-api with the Python cs client', function () {
  let cs: string | undefined;
  let server: Server | undefined;
  let env: NodeJS.ProcessEnv = {};

  before(async function () {
    cs = await csCommand();
    if (cs === undefined) {
      console.log('skipped: neither `cs` nor `cloudstack` (Debian package `cs`) is installed');
      this.skip();
    }
    const commands = createCommandTable([
      ...discoveryCommands({ capabilities: () => defaultCapabilities, hypervisors: () => ['KVM'], zoneHypervisors: () => Promise.resolve(undefined) }),
      listZones,
    ]);
    const app = createApiApp({ auth: singleKeyAuthenticator('CSKEY', 'cs-secret'), sessions: createInMemorySessionStore(), commands, log: winston.createLogger({ silent: true }) });
    server = await new Promise<Server>((resolve) => {
      const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
    });
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/client/api`;
    env = { PATH: process.env['PATH'], HOME: '/nonexistent', CLOUDSTACK_ENDPOINT: endpoint, CLOUDSTACK_KEY: 'CSKEY', CLOUDSTACK_SECRET: 'cs-secret' };
  });

  after(async () => {
    if (server) await new Promise((resolve) => server?.close(resolve));
  });

  const cloudstack = async (args: string[], extraEnv: NodeJS.ProcessEnv = {}) => run(cs as string, args, { env: { ...env, ...extraEnv }, timeout: 30_000 });

  it('runs `cs listApis listall=true` and gets the table', async () => {
    const { stdout } = await cloudstack(['listApis', 'listall=true']);
    const reply = JSON.parse(stdout) as { count: number; api: { name: string; isasync: boolean; params: unknown[] }[] };
    expect(reply.count).to.equal(6);
    expect(reply.api.map((api) => api.name).sort()).to.deep.equal(['listApis', 'listCapabilities', 'listHypervisors', 'listZones', 'login', 'logout']);
  });

  it('runs `cs listCapabilities` over POST', async () => {
    const { stdout } = await cloudstack(['--post', 'listCapabilities']);
    expect(JSON.parse(stdout)).to.deep.include({ capability: { cloudstackversion: '4.22.0.0', ...defaultCapabilities } });
  });

  it('accepts the raw ~ that cs signs where Java would escape it', async () => {
    const { stdout } = await cloudstack(['listZones', 'keyword=zone ~ one']);
    expect(JSON.parse(stdout)).to.deep.equal({ count: 1, zone: [{ id: '7b6a3a1e-0000-4000-8000-000000000001', name: 'zone ~ one' }] });
  });

  it('reports a wrong secret as CloudStack does: HTTP 401 and the error body', async () => {
    const failure = await cloudstack(['listZones'], { CLOUDSTACK_SECRET: 'wrong' }).then(
      () => undefined,
      (error: { code: number; stdout: string; stderr: string }) => error,
    );
    expect(failure?.code).to.equal(1);
    expect(failure?.stderr).to.contain('HTTP 401 response from CloudStack');
    expect(JSON.parse(failure?.stdout ?? '{}')).to.deep.equal({
      listzonesresponse: { uuidList: [], errorcode: 401, errortext: 'unable to verify user credentials and/or request signature' },
    });
  });
});
