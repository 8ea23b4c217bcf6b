import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import winston from 'winston';
import { createApiApp } from '../../cloudstack-api/app.ts';
import { createCommandTable, defineCommand } from '../../cloudstack-api/commands/define.ts';
import { defaultCapabilities, discoveryCommands } from '../../cloudstack-api/commands/discovery.ts';
import { createInMemorySessionStore } from '../../cloudstack-api/protocol/memory-session-store.ts';
import { singleKeyAuthenticator } from '../support/single-key-auth.ts';

/*
 * The Go SDK (Debian package golang-github-xanzy-go-cloudstack-dev, 2.9.0) against the API on
 * loopback. It decodes responses into typed structs and fails on any JSON type that differs
 * from CloudStack's (§4, §9), signs with `*` escaped as %2a (§2), and reports errors as
 * "CloudStack API error <code> (CSExceptionErrorCode: <cs>): <text>". A small probe program is
 * built offline from the packaged source (GOPROXY=off); Go's build cache makes later runs quick.
 * listCapabilities is left out: 2.9.0 declares `capability` an array, where CloudStack and
 * current cloudstack-go have a single object (PROTOCOL.md §4), so that SDK fails on real servers too.
 */

const run = promisify(execFile);
const sdkSource = '/usr/share/gocode/src/github.com/xanzy/go-cloudstack';

const goMod = `module kumulus.test/gosdkprobe

go 1.21

require github.com/xanzy/go-cloudstack/v2 v2.9.0

replace github.com/xanzy/go-cloudstack/v2 => ${sdkSource}
`;

const probeProgram = `package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/xanzy/go-cloudstack/v2/cloudstack"
)

func fail(step string, err error) {
	fmt.Fprintf(os.Stderr, "%s: %v\\n", step, err)
	os.Exit(1)
}

func main() {
	cs := cloudstack.NewClient(os.Getenv("CS_ENDPOINT"), os.Getenv("CS_KEY"), os.Getenv("CS_SECRET"), false)
	out := map[string]interface{}{}
	apis, err := cs.APIDiscovery.ListApis(cs.APIDiscovery.NewListApisParams())
	if err != nil {
		fail("listApis", err)
	}
	out["listApis"] = apis
	hypervisors, err := cs.Hypervisor.ListHypervisors(cs.Hypervisor.NewListHypervisorsParams())
	if err != nil {
		fail("listHypervisors", err)
	}
	out["listHypervisors"] = hypervisors
	zp := cs.Zone.NewListZonesParams()
	zp.SetKeyword(os.Getenv("CS_KEYWORD"))
	zones, err := cs.Zone.ListZones(zp)
	if err != nil {
		fail("listZones", err)
	}
	out["listZones"] = zones
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fail("encode", err)
	}
}
`;

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
  let probeDir = '';
  let probe = '';
  let server: Server | undefined;
  let env: NodeJS.ProcessEnv = {};

  before(async function () {
    if (!existsSync(sdkSource)) {
      console.log(`skipped: ${sdkSource} is missing (Debian package golang-github-xanzy-go-cloudstack-dev)`);
      this.skip();
    }
    try {
      await run('go', ['version'], { timeout: 30_000 });
    } catch {
      console.log('skipped: the `go` command is not installed, so the Go SDK probe cannot be built');
      this.skip();
    }
    probeDir = await mkdtemp(join(tmpdir(), 'kumulus-gosdk-probe-'));
    await writeFile(join(probeDir, 'go.mod'), goMod);
    await writeFile(join(probeDir, 'main.go'), probeProgram);
    probe = join(probeDir, 'probe');
    await run('go', ['build', '-o', probe, '.'], {
      cwd: probeDir,
      timeout: 840_000,
      env: { ...process.env, GOFLAGS: '-mod=mod', GOPROXY: 'off', GOTOOLCHAIN: 'local', GOWORK: 'off' },
    });

    const commands = createCommandTable([
      ...discoveryCommands({ capabilities: () => defaultCapabilities, hypervisors: () => ['KVM'], zoneHypervisors: () => Promise.resolve(undefined) }),
      listZones,
    ]);
    const app = createApiApp({ auth: singleKeyAuthenticator('GOKEY', 'go-secret'), sessions: createInMemorySessionStore(), commands, log: winston.createLogger({ silent: true }) });
    server = await new Promise<Server>((resolve) => {
      const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
    });
    env = { PATH: process.env['PATH'], CS_ENDPOINT: `http://127.0.0.1:${(server.address() as AddressInfo).port}/client/api`, CS_KEY: 'GOKEY', CS_SECRET: 'go-secret' };
  });

  after(async () => {
    if (server) await new Promise((resolve) => server?.close(resolve));
    if (probeDir) await rm(probeDir, { recursive: true, force: true });
  });

  it('decodes listApis, listHypervisors and listZones into its typed structs (the keyword holds *, which it signs as %2a)', async () => {
    const { stdout } = await run(probe, [], { env: { ...env, CS_KEYWORD: '*one*' }, timeout: 60_000 });
    // The probe re-encodes what it decoded, so keys are the SDK's json tags.
    const out = JSON.parse(stdout) as Record<string, Record<string, unknown>>;
    expect(out['listApis']?.['count']).to.equal(6);
    expect((out['listApis']?.['api'] as { name: string }[]).map((api) => api.name).sort()).to.deep.equal(['listApis', 'listCapabilities', 'listHypervisors', 'listZones', 'login', 'logout']);
    expect(out['listHypervisors']).to.deep.include({ count: 1 });
    const zones = out['listZones']?.['zone'] as Record<string, unknown>[];
    expect(zones).to.have.length(1);
    expect(zones[0]).to.deep.include({ id: zone.id, name: 'zone *one*', allocationstate: 'Enabled', securitygroupsenabled: false, localstorageenabled: true, resourcedetails: { 'router.public.mtu': '1500' } });
  });

  it('reads a wrong secret as CloudStack API error 401', async () => {
    const failure = await run(probe, [], { env: { ...env, CS_SECRET: 'wrong' }, timeout: 60_000 }).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );
    expect(failure?.code).to.equal(1);
    expect(failure?.stderr.trim()).to.equal('listApis: CloudStack API error 401 (CSExceptionErrorCode: 0): unable to verify user credentials and/or request signature');
  });
});
