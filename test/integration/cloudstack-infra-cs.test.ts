import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { objectName } from '../../cloudstack-api/commands/names.ts';
import { uniqueName } from '../support/cluster.ts';
import { csCommand } from '../support/cs-cli.ts';
import { type InfraCloud, startInfraCloud, waitUntil } from './cloudstack-infra-harness.ts';

/*
 * The Python `cs` client (Debian package `cs`: the command is `cloudstack`; PyPI: `cs`) against
 * the infrastructure commands on loopback, with the bootstrap admin's keys in the variables it
 * reads: listZones, createZone (then seen in Kubernetes), and async commands, which `cs`
 * submits and then polls with queryAsyncJobResult until the job is done.
 */

const run = promisify(execFile);

type Row = Record<string, unknown>;

describe('cloudstack-api infrastructure commands with the Python cs client (real control plane)', function () {
  this.timeout(300_000);
  let cs: string | undefined;
  let cloud: InfraCloud | undefined;
  let env: NodeJS.ProcessEnv = {};
  const name = `CS Zone ${uniqueName('cs').slice(3)}`;

  before(async function () {
    this.timeout(600_000);
    cs = await csCommand();
    if (cs === undefined) {
      console.log('skipped: neither `cs` nor `cloudstack` (Debian package `cs`) is installed');
      this.skip();
    }
    cloud = await startInfraCloud('csclient');
    env = { PATH: process.env['PATH'], HOME: '/nonexistent', CLOUDSTACK_ENDPOINT: cloud.endpoint, CLOUDSTACK_KEY: cloud.credentials.apiKey, CLOUDSTACK_SECRET: cloud.credentials.secretKey };
  });

  after(async function () {
    this.timeout(120_000);
    await cloud?.stop();
  });

  const cloudstack = async (args: string[]): Promise<Row> => {
    const { stdout } = await run(cs as string, args, { env, timeout: 120_000 });
    return JSON.parse(stdout) as Row;
  };

  it('creates a zone with `cs createZone`, lists it with `cs listZones`, and Kubernetes holds it under the same id', async () => {
    const created = (await cloudstack(['createZone', `name=${name}`, 'dns1=8.8.8.8', 'internaldns1=10.0.0.2', 'networktype=Advanced']))['zone'] as Row;
    expect(created).to.deep.include({ name, networktype: 'Advanced', allocationstate: 'Disabled' });
    const listed = await cloudstack(['listZones', `name=${name}`]);
    expect(listed['count']).to.equal(1);
    expect((listed['zone'] as Row[])[0]?.['id']).to.equal(created['id']);
    const zone = await cloud!.resource('Zone').get({ name: objectName(name) });
    expect(zone.metadata.uid).to.equal(created['id']);
  });

  it('runs async commands: cs polls queryAsyncJobResult and prints the jobresult', async () => {
    const zoneId = ((await cloudstack(['listZones', `name=${name}`]))['zone'] as Row[])[0]?.['id'] as string;
    const created = await cloudstack(['createPhysicalNetwork', `name=pn for ${name}`, `zoneid=${zoneId}`, 'isolationmethods=VLAN', 'vlan=3000-3099']);
    // `cs` prints the jobresult of the finished job: the object under its name.
    expect(Object.keys(created)).to.deep.equal(['physicalnetwork']);
    const network = created['physicalnetwork'] as Row;
    expect(network).to.deep.include({ name: `pn for ${name}`, zoneid: zoneId, vlan: '3000-3099' });
    const deleted = await cloudstack(['deletePhysicalNetwork', `id=${network['id'] as string}`]);
    expect(deleted).to.deep.equal({ success: true });
    await waitUntil('the zone to be deletable', async () => {
      try {
        return (await cloudstack(['deleteZone', `id=${zoneId}`]))['success'] === true ? true : undefined;
      } catch {
        return undefined;
      }
    });
    // Gone: an unknown id is a 431, which cs reports with the whole error envelope.
    const refused = await waitUntil('listZones to refuse the deleted zone', () =>
      cloudstack(['listZones', `id=${zoneId}`]).then(
        () => undefined,
        (error: { stdout: string }) => JSON.parse(error.stdout) as Row,
      ),
    );
    expect(refused['listzonesresponse']).to.deep.include({ errorcode: 431, cserrorcode: 9999 });
  });
});
