import { expect } from 'chai';
import type { CloudStackReply } from '../support/cloudstack-client.ts';
import { uniqueName } from '../support/cluster.ts';
import { type InfraCloud, type Obj, startInfraCloud, waitUntil } from './cloudstack-infra-harness.ts';

/**
 * Both doors change an offering's presentation and neither changes what it sizes. Through the
 * API, update{Service,Disk,Network}Offering rename it, change its display text, sort key and
 * tags (and a network offering's state and availability); the reply is the updated object in
 * CloudStack's shape (the test client checks it against the catalogue) and the next list shows
 * it. Through kubectl, a merge patch of a presentation field is accepted and one of cores,
 * memory or disk size is refused by the apiserver, naming the field.
 */

type Row = Record<string, unknown>;

function ok(reply: CloudStackReply, what: string): Row {
  expect(reply.status, `${what}: ${reply.text.slice(0, 500)}`).to.equal(200);
  return reply.body;
}

/** The apiserver's refusal of `write`: its code and message. */
async function refusal(write: Promise<unknown>): Promise<{ code: number; message: string }> {
  return write.then(
    () => ({ code: 0, message: 'accepted' }),
    (err: unknown) => {
      const e = err as { code?: number; message?: string };
      return { code: e.code ?? 0, message: e.message ?? String(err) };
    },
  );
}

describe('cloudstack-api: offerings change their name, text, order and tags, never their sizes (real control plane)', function () {
  this.timeout(300_000);
  let cloud: InfraCloud;
  const s = uniqueName('ou').slice(3);
  const call = (command: string, params: Record<string, string> = {}) => cloud.admin.request(command, params, { method: 'POST' });
  const one = async (command: string, key: string, params: Record<string, string>) => {
    const rows = ok(await call(command, params), command)[key] as Row[] | undefined;
    expect(rows, `${command} ${JSON.stringify(params)}`).to.have.length(1);
    return rows![0]!;
  };

  before(async function () {
    this.timeout(600_000);
    cloud = await startInfraCloud('csoffer');
  });

  after(async function () {
    this.timeout(120_000);
    await cloud?.stop();
  });

  it('updateServiceOffering renames it, changes its text, sort key and tags; listServiceOfferings shows them', async () => {
    const created = ok(await call('createServiceOffering', { name: `small ${s}`, displaytext: 'Small', cpunumber: '1', cpuspeed: '1000', memory: '512' }), 'createServiceOffering')['serviceoffering'] as Row;
    const id = created['id'] as string;
    const updated = ok(
      await call('updateServiceOffering', { id, name: `small renamed ${s}`, displaytext: 'Small, renamed', sortkey: '5', hosttags: 'gpu,fast', storagetags: 'ssd' }),
      'updateServiceOffering',
    )['serviceoffering'] as Row;
    expect(updated).to.deep.include({ id, name: `small renamed ${s}`, displaytext: 'Small, renamed', hosttags: 'gpu,fast', storagetags: 'ssd', cpunumber: 1, memory: 512 });
    expect(await one('listServiceOfferings', 'serviceoffering', { id })).to.deep.include({ name: `small renamed ${s}`, displaytext: 'Small, renamed', hosttags: 'gpu,fast', storagetags: 'ssd' });
    expect(await one('listServiceOfferings', 'serviceoffering', { name: `small renamed ${s}` })).to.deep.include({ id });
    // An empty tags text removes the tags, as in CloudStack.
    const untagged = ok(await call('updateServiceOffering', { id, hosttags: '' }), 'updateServiceOffering')['serviceoffering'] as Row;
    expect(untagged['hosttags']).to.equal(undefined);
    expect(untagged).to.deep.include({ storagetags: 'ssd' });
    // The object kubectl shows carries the new name; metadata.name (the object's identity) stays.
    const object = await cloud.resource('ServiceOffering').get({ name: objectNameOf((await cloud.resource('ServiceOffering').list()).items, id) });
    expect(object.spec).to.deep.include({ displayName: `small renamed ${s}`, displayText: 'Small, renamed', sortKey: 5, storageTags: ['ssd'] });
  });

  it('the sort key orders the offering lists, lowest first', async () => {
    const make = async (name: string, sortkey: string) => {
      const row = ok(await call('createDiskOffering', { name: `${name} ${s}`, displaytext: name, disksize: '1' }), 'createDiskOffering')['diskoffering'] as Row;
      ok(await call('updateDiskOffering', { id: row['id'] as string, sortkey }), 'updateDiskOffering');
      return row['id'] as string;
    };
    // Created first and named first, so neither creation nor name puts it before the other.
    const later = await make('a', '20');
    const first = await make('b', '-20');
    const rows = ok(await call('listDiskOfferings', { keyword: s }), 'listDiskOfferings')['diskoffering'] as Row[];
    const order = rows.map((r) => r['id']).filter((x) => x === first || x === later);
    expect(order).to.deep.equal([first, later]);
  });

  it('updateDiskOffering renames it and changes its text, visibility and storage tags; a rate limit is refused, naming it', async () => {
    const created = ok(await call('createDiskOffering', { name: `disk ${s}`, displaytext: 'Disk', disksize: '2' }), 'createDiskOffering')['diskoffering'] as Row;
    const id = created['id'] as string;
    const updated = ok(await call('updateDiskOffering', { id, name: `disk renamed ${s}`, displaytext: 'Disk, renamed', displayoffering: 'false', tags: 'ssd' }), 'updateDiskOffering')['diskoffering'] as Row;
    expect(updated).to.deep.include({ id, name: `disk renamed ${s}`, displaytext: 'Disk, renamed', displayoffering: false, tags: 'ssd', disksize: 2 });
    expect(await one('listDiskOfferings', 'diskoffering', { id })).to.deep.include({ name: `disk renamed ${s}`, displaytext: 'Disk, renamed', displayoffering: false, tags: 'ssd' });
    const refused = await call('updateDiskOffering', { id, bytesreadrate: '1000000' });
    expect(refused.status).to.equal(431);
    expect(refused.body['errortext']).to.match(/^bytesreadrate cannot change: a disk offering's rate limits and cache mode are immutable/);
  });

  it('updateNetworkOffering renames it, disables it (a new network may not use it) and enables it again', async () => {
    const created = ok(
      await call('createNetworkOffering', { name: `net ${s}`, displaytext: 'Net', guestiptype: 'Isolated', traffictype: 'Guest', supportedservices: 'Dhcp,Dns' }),
      'createNetworkOffering',
    )['networkoffering'] as Row;
    const id = created['id'] as string;
    const updated = ok(
      await call('updateNetworkOffering', { id, name: `net renamed ${s}`, displaytext: 'Net, renamed', state: 'Disabled', availability: 'Required', tags: 'fast' }),
      'updateNetworkOffering',
    )['networkoffering'] as Row;
    expect(updated).to.deep.include({ id, name: `net renamed ${s}`, displaytext: 'Net, renamed', state: 'Disabled', availability: 'Required', tags: 'fast', guestiptype: 'Isolated' });
    expect(await one('listNetworkOfferings', 'networkoffering', { id })).to.deep.include({ name: `net renamed ${s}`, state: 'Disabled', availability: 'Required' });
    expect(await one('listNetworkOfferings', 'networkoffering', { name: `net renamed ${s}`, state: 'Disabled' })).to.deep.include({ id });

    // The admission webhook keeps new networks off a Disabled offering.
    const zone = ok(await call('createZone', { name: `zone ${s}`, dns1: '8.8.8.8', internaldns1: '10.0.0.2', networktype: 'Advanced' }), 'createZone')['zone'] as Row;
    const network = (await cloud.resource('NetworkOffering').list()).items.find((o) => o.metadata.uid === id);
    const networks = cloud.resource('Network');
    const zoneName = (await cloud.resource('Zone').list()).items.find((z) => z.metadata.uid === zone['id'])?.metadata.name ?? '';
    const attempt = (name: string) =>
      networks.create({
        metadata: { name, namespace: 'cs-admin' },
        spec: { displayName: name, zoneRef: { name: zoneName }, networkOfferingRef: { name: network?.metadata.name ?? '' }, cidr: '10.1.1.0/24' },
      });
    const disabled = await refusal(attempt(`off-${s}`));
    expect(disabled.code, disabled.message).to.be.oneOf([400, 422]);
    expect(disabled.message).to.include(`NetworkOffering ${network?.metadata.name ?? ''} is Disabled`);

    const enabled = ok(await call('updateNetworkOffering', { id, state: 'Enabled' }), 'updateNetworkOffering')['networkoffering'] as Row;
    expect(enabled).to.deep.include({ id, state: 'Enabled' });
    expect((await cloud.resource('NetworkOffering').get({ name: network?.metadata.name ?? '' })).spec?.['state']).to.equal('Enabled');

    // enable=false creates it Disabled, as Marvin's bring-up expects before it enables the offering.
    const off = ok(
      await call('createNetworkOffering', { name: `net off ${s}`, displaytext: 'Off', guestiptype: 'L2', traffictype: 'Guest', enable: 'false' }),
      'createNetworkOffering',
    )['networkoffering'] as Row;
    expect(off['state']).to.equal('Disabled');
    expect(ok(await call('updateNetworkOffering', { id: off['id'] as string, state: 'Enabled' }), 'updateNetworkOffering')['networkoffering']).to.deep.include({ state: 'Enabled' });

    // Its scope changes too: limited to the zone, then public again.
    const scoped = ok(await call('updateNetworkOffering', { id, zoneid: zone['id'] as string }), 'updateNetworkOffering')['networkoffering'] as Row;
    expect(scoped).to.deep.include({ zoneid: zone['id'], zone: `zone ${s}` });
    const everywhere = ok(await call('updateNetworkOffering', { id, zoneid: 'all' }), 'updateNetworkOffering')['networkoffering'] as Row;
    expect(everywhere['zoneid']).to.equal(undefined);
  });

  it('kubectl: a merge patch of a presentation field is accepted; one of cores, memory or disk size is refused, naming the field', async () => {
    const service = ok(await call('createServiceOffering', { name: `kube ${s}`, displaytext: 'Kube', cpunumber: '2', memory: '1024' }), 'createServiceOffering')['serviceoffering'] as Row;
    const disk = ok(await call('createDiskOffering', { name: `kube disk ${s}`, displaytext: 'Kube disk', disksize: '4' }), 'createDiskOffering')['diskoffering'] as Row;
    const services = cloud.resource('ServiceOffering');
    const disks = cloud.resource('DiskOffering');
    const serviceName = objectNameOf((await services.list()).items, service['id'] as string);
    const diskName = objectNameOf((await disks.list()).items, disk['id'] as string);

    const patched = await services.patch({ name: serviceName }, { spec: { displayName: `kube renamed ${s}`, displayText: 'Patched' } }, 'merge');
    expect(patched.spec).to.deep.include({ displayName: `kube renamed ${s}`, displayText: 'Patched', cpuNumber: 2, memory: '1024Mi' });
    // The API lists from its informers, which see a write through the other door a moment later.
    const listed = await waitUntil('listServiceOfferings to show the kubectl rename', async () => {
      const row = await one('listServiceOfferings', 'serviceoffering', { id: service['id'] as string });
      return row['name'] === `kube renamed ${s}` ? row : undefined;
    }, 10_000);
    expect(listed).to.deep.include({ name: `kube renamed ${s}`, displaytext: 'Patched' });

    for (const [what, write, field, fix] of [
      ['cores', () => services.patch({ name: serviceName }, { spec: { cpuNumber: 4 } }, 'merge'), 'spec.cpuNumber', 'create a new offering and move VMs to it'],
      ['memory', () => services.patch({ name: serviceName }, { spec: { memory: '2Gi' } }, 'merge'), 'spec.memory', 'create a new offering and move VMs to it'],
      ['disk size', () => disks.patch({ name: diskName }, { spec: { diskSize: '8Gi' } }, 'merge'), 'spec.diskSize', 'create a new offering'],
    ] as const) {
      const outcome = await refusal(write());
      expect(outcome.code, `${what}: ${outcome.message}`).to.equal(422);
      expect(outcome.message, what).to.include(`${field} is immutable`).and.to.include(fix);
    }
    // A scope that names a missing zone is refused by the admission webhook, naming the entry.
    const missingZone = await refusal(services.patch({ name: serviceName }, { spec: { zoneRefs: [{ name: `no-zone-${s}` }] } }, 'merge'));
    expect(missingZone.message).to.include('spec.zoneRefs[0].name').and.to.match(/Zone .* does not exist/);
    expect(await one('listServiceOfferings', 'serviceoffering', { id: service['id'] as string })).to.deep.include({ cpunumber: 2, memory: 1024 });
    expect(await one('listDiskOfferings', 'diskoffering', { id: disk['id'] as string })).to.deep.include({ disksize: 4 });
  });
});

function objectNameOf(objects: Obj[], uid: string): string {
  const found = objects.find((o) => o.metadata.uid === uid);
  if (!found?.metadata.name) throw new Error(`no object has uid ${uid}`);
  return found.metadata.name;
}
