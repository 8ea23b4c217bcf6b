import { expect } from 'chai';
import type { CloudStackClient } from '../support/cloudstack-client.ts';
import { uniqueName } from '../support/cluster.ts';
import { type InfraCloud, type Obj, startInfraCloud } from './cloudstack-infra-harness.ts';

/**
 * Resource tags and details through the API over the real control plane: each tag is an
 * annotation of the tagged object and the details one JSON annotation, so kubectl sees both;
 * the commands are jobs (as in CloudStack) that the real AsyncJob controller completes once the
 * object carries what was written. Tenancy holds: another account's object is not found.
 */

const TAG = 'tags.cloudstack.kumulus.io/';
const DETAILS = 'cloudstack.kumulus.io/details';

describe('cloudstack-api: resource tags and details (real control plane)', function () {
  this.timeout(300_000);
  let cloud: InfraCloud;
  let tenant: { client: CloudStackClient; namespace: string; account: string };
  let other: { client: CloudStackClient; namespace: string; account: string };
  const s = uniqueName('tag').slice(4);
  const ids: Record<string, string> = {};
  const names: Record<string, string> = {};

  const objectOf = async (kind: string, namespace: string | undefined, name: string): Promise<Obj> => cloud.resource(kind).get({ namespace, name });
  const job = async (client: CloudStackClient, reply: { status: number; text: string; body: Record<string, unknown> }) => {
    expect(reply.status, reply.text).to.equal(200);
    return client.waitForJob(reply.body['jobid'] as string, { intervalMs: 250, timeoutMs: 60_000 });
  };

  before(async function () {
    this.timeout(240_000);
    cloud = await startInfraCloud('cstag');
    const make = async (kind: string, name: string, spec: Record<string, unknown>, namespace?: string) => cloud.resource(kind).create({ metadata: { name, ...(namespace ? { namespace } : {}) }, spec });
    ids['zone'] = (await make('Zone', `z-${s}`, { displayName: `Zone ${s}`, networkType: 'Advanced', dns1: '8.8.8.8', internalDns1: '10.0.0.2', guestCidr: '10.3.0.0/16', allocationState: 'Enabled' })).metadata.uid ?? '';
    await make('NetworkOffering', `iso-${s}`, { guestIpType: 'Isolated' });
    await make('DiskOffering', `d5-${s}`, { diskSize: '5Gi' });
    tenant = await cloud.tenant('tagt');
    other = await cloud.tenant('tago');
    // Explicit CIDRs: the webhook's default CIDR comes from its cache, which may not hold the
    // first network yet when the second is created at once (issue 12 follow-up).
    const network = await make('Network', `net-${s}`, { displayName: `Web ${s}`, networkOfferingRef: { name: `iso-${s}` }, zoneRef: { name: `z-${s}` }, cidr: '10.3.1.0/24' }, tenant.namespace);
    const network2 = await make('Network', `db-${s}`, { displayName: `Db ${s}`, networkOfferingRef: { name: `iso-${s}` }, zoneRef: { name: `z-${s}` }, cidr: '10.3.2.0/24' }, tenant.namespace);
    const volume = await make('Volume', `vol-${s}`, { displayName: `data-${s}`, zoneRef: { name: `z-${s}` }, diskOfferingRef: { name: `d5-${s}` } }, tenant.namespace);
    const template = await make('Template', `tmpl-${s}`, { displayName: `Tmpl ${s}`, url: 'https://images.example.com/t.qcow2', format: 'QCOW2', zoneRefs: [{ name: `z-${s}` }] }, tenant.namespace);
    const iso = await make('Template', `iso-${s}`, { displayName: `Iso ${s}`, url: 'https://images.example.com/t.iso', format: 'ISO', zoneRefs: [{ name: `z-${s}` }] }, tenant.namespace);
    for (const [key, obj] of Object.entries({ network, network2, volume, template, iso })) {
      ids[key] = obj.metadata.uid ?? '';
      names[key] = obj.metadata.name ?? '';
    }
  });

  after(async () => {
    await cloud?.stop();
  });

  it('creates tags on several resources in one job: annotations kubectl shows, and tags in the objects\' responses', async () => {
    const done = await job(tenant.client, await tenant.client.request('createTags', { resourceids: `${ids['network']},${ids['network2']}`, resourcetype: 'Network', 'tags[0].key': 'env', 'tags[0].value': 'prod', 'tags[1].key': 'tier', 'tags[1].value': 'web' }));
    expect(done['jobstatus'], JSON.stringify(done)).to.equal(1);
    expect(done['jobresult']).to.deep.equal({ success: true });
    for (const name of [names['network'], names['network2']]) {
      expect((await objectOf('Network', tenant.namespace, name ?? '')).metadata.annotations).to.deep.include({ [`${TAG}env`]: 'prod', [`${TAG}tier`]: 'web' });
    }
    const network = ((await tenant.client.request('listNetworks', { id: ids['network'] ?? '' })).body['network'] as Record<string, unknown>[])[0] ?? {};
    const tags = network['tags'] as Record<string, unknown>[];
    expect(tags.map((t) => [t['key'], t['value'], t['resourcetype'], t['resourceid'], t['account'], t['domainid']])).to.deep.equal([
      ['env', 'prod', 'Network', ids['network'], tenant.account, network['domainid']],
      ['tier', 'web', 'Network', ids['network'], tenant.account, network['domainid']],
    ]);
    // Lists filter by tags.
    expect((await tenant.client.request('listNetworks', { 'tags[0].key': 'env', 'tags[0].value': 'prod' })).body['count']).to.equal(2);
    expect((await tenant.client.request('listNetworks', { 'tags[0].key': 'env', 'tags[0].value': 'dev' })).body).to.deep.equal({});
  });

  it('tags volumes, templates and ISOs by their own resource types, and zones for the admin', async () => {
    await job(tenant.client, await tenant.client.request('createTags', { resourceids: ids['volume'] ?? '', resourcetype: 'volume', 'tags[0].key': 'backup', 'tags[0].value': 'daily' }));
    await job(tenant.client, await tenant.client.request('createTags', { resourceids: ids['template'] ?? '', resourcetype: 'Template', 'tags[0].key': 'os', 'tags[0].value': 'debian' }));
    await job(tenant.client, await tenant.client.request('createTags', { resourceids: ids['iso'] ?? '', resourcetype: 'ISO', 'tags[0].key': 'media', 'tags[0].value': 'install' }));
    const volume = ((await tenant.client.request('listVolumes', { id: ids['volume'] ?? '' })).body['volume'] as Record<string, unknown>[])[0];
    expect((volume?.['tags'] as Record<string, unknown>[]).map((t) => [t['key'], t['value'], t['resourcetype']])).to.deep.equal([['backup', 'daily', 'Volume']]);
    const template = ((await tenant.client.request('listTemplates', { templatefilter: 'self', id: ids['template'] ?? '' })).body['template'] as Record<string, unknown>[])[0];
    expect((template?.['tags'] as Record<string, unknown>[]).map((t) => [t['key'], t['value'], t['resourcetype']])).to.deep.equal([['os', 'debian', 'Template']]);
    // A template id is not an ISO id: the types stay apart, as in CloudStack.
    const crossed = await tenant.client.request('createTags', { resourceids: ids['template'] ?? '', resourcetype: 'ISO', 'tags[0].key': 'x', 'tags[0].value': 'y' });
    expect(crossed.status).to.equal(431);
    expect(crossed.body['errortext']).to.equal(`Unable to find resource by id ${ids['template']} and type ISO`);
    const zone = await job(cloud.admin, await cloud.admin.request('createTags', { resourceids: ids['zone'] ?? '', resourcetype: 'Zone', 'tags[0].key': 'region', 'tags[0].value': 'eu' }));
    expect(zone['jobstatus']).to.equal(1);
    const zoneRow = ((await cloud.admin.request('listZones', { id: ids['zone'] ?? '' })).body['zone'] as Record<string, unknown>[])[0];
    expect((zoneRow?.['tags'] as Record<string, unknown>[]).map((t) => [t['key'], t['value']])).to.deep.equal([['region', 'eu']]);
    // A tenant may read the zone but not annotate it: RBAC refuses the write.
    const denied = await tenant.client.request('createTags', { resourceids: ids['zone'] ?? '', resourcetype: 'Zone', 'tags[0].key': 'mine', 'tags[0].value': 'yes' });
    expect(denied.status).to.equal(531);
    expect(denied.body['errortext']).to.equal(`Account ${tenant.account} does not have permission to tag Zone ${ids['zone']}`);
  });

  it('lists tags by type, key and value, for the owner only', async () => {
    const all = await tenant.client.request('listTags', {});
    expect((all.body['tag'] as Record<string, unknown>[]).map((t) => `${t['resourcetype'] as string}:${t['key'] as string}=${t['value'] as string}`).sort()).to.deep.equal(['ISO:media=install', 'Network:env=prod', 'Network:env=prod', 'Network:tier=web', 'Network:tier=web', 'Template:os=debian', 'Volume:backup=daily']);
    expect((await tenant.client.request('listTags', { resourcetype: 'Network', key: 'tier' })).body['count']).to.equal(2);
    expect((await tenant.client.request('listTags', { value: 'daily' })).body['count']).to.equal(1);
    expect((await tenant.client.request('listTags', { resourceid: ids['network'] ?? '' })).body['count']).to.equal(2);
    expect((await other.client.request('listTags', {})).body).to.deep.equal({});
    expect((await other.client.request('listTags', { listall: 'true' })).body).to.deep.equal({});
    expect((await cloud.admin.request('listTags', { resourcetype: 'Zone' })).body['count']).to.equal(1);
    expect((await cloud.admin.request('listTags', { listall: 'true', resourcetype: 'Network', resourceid: ids['network'] ?? '' })).body['count']).to.equal(2);
  });

  it('deletes tags by key, by key and value, or all of them', async () => {
    const wrongValue = await tenant.client.request('deleteTags', { resourceids: ids['network'] ?? '', resourcetype: 'Network', 'tags[0].key': 'env', 'tags[0].value': 'dev' });
    expect(wrongValue.status).to.equal(431);
    expect(wrongValue.body['errortext']).to.equal(`Unable to find any tags which conform to specified delete parameters on Network ${ids['network']}`);
    await job(tenant.client, await tenant.client.request('deleteTags', { resourceids: ids['network'] ?? '', resourcetype: 'Network', 'tags[0].key': 'env' }));
    const annotations = (await objectOf('Network', tenant.namespace, names['network'] ?? '')).metadata.annotations ?? {};
    expect(annotations).to.not.have.property(`${TAG}env`);
    expect(annotations).to.have.property(`${TAG}tier`, 'web');
    await job(tenant.client, await tenant.client.request('deleteTags', { resourceids: `${ids['network']},${ids['network2']}`, resourcetype: 'Network' }));
    for (const name of [names['network'], names['network2']]) {
      expect(Object.keys((await objectOf('Network', tenant.namespace, name ?? '')).metadata.annotations ?? {}).filter((k) => k.startsWith(TAG))).to.deep.equal([]);
    }
    expect((await tenant.client.request('listTags', { resourcetype: 'Network' })).body).to.deep.equal({});
  });

  const refusals: { what: string; client?: () => CloudStackClient; command: string; params: () => Record<string, string>; code: number; text: () => string }[] = [
    { what: 'an unknown resource type', command: 'createTags', params: () => ({ resourceids: ids['network'] ?? '', resourcetype: 'Router', 'tags[0].key': 'a', 'tags[0].value': 'b' }), code: 431, text: () => 'Invalid resource type Router; tags are kept on: UserVm, Volume, Template, ISO, Network, Zone' },
    { what: 'a tag without a value', command: 'createTags', params: () => ({ resourceids: ids['network'] ?? '', resourcetype: 'Network', 'tags[0].key': 'empty' }), code: 431, text: () => 'Value for the key empty is either null or empty' },
    { what: 'a key that cannot be an annotation', command: 'createTags', params: () => ({ resourceids: ids['network'] ?? '', resourcetype: 'Network', 'tags[0].key': 'has space', 'tags[0].value': 'v' }), code: 431, text: () => `Tag key has space cannot be kept: a key is 1 to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit (it becomes the annotation ${TAG}<key>)` },
    { what: 'another account\'s resource, as if unknown', client: () => other.client, command: 'createTags', params: () => ({ resourceids: ids['network'] ?? '', resourcetype: 'Network', 'tags[0].key': 'a', 'tags[0].value': 'b' }), code: 431, text: () => `Unable to find resource by id ${ids['network']} and type Network` },
    { what: 'a missing tags map', command: 'createTags', params: () => ({ resourceids: ids['network'] ?? '', resourcetype: 'Network' }), code: 431, text: () => 'Unable to execute API command createtags due to missing parameter tags' },
    { what: 'a duplicate key', command: 'createTags', params: () => ({ resourceids: ids['volume'] ?? '', resourcetype: 'Volume', 'tags[0].key': 'backup', 'tags[0].value': 'weekly' }), code: 431, text: () => `A tag with key backup already exists on Volume ${ids['volume']}: delete it first (deleteTags), then create it with the new value` },
    { what: 'details on a zone', client: () => cloud.admin, command: 'addResourceDetail', params: () => ({ resourceid: ids['zone'] ?? '', resourcetype: 'Zone', 'details[0].key': 'a', 'details[0].value': 'b' }), code: 431, text: () => 'Invalid resource type Zone; details are kept on: UserVm, Volume, Template, ISO, Network' },
    { what: 'a value filter without a key', command: 'listResourceDetails', params: () => ({ resourcetype: 'Volume', value: 'x' }), code: 431, text: () => 'Key has to be specified along with value' },
    { what: 'removing a detail that is not there', command: 'removeResourceDetail', params: () => ({ resourceid: ids['template'] ?? '', resourcetype: 'Template', key: 'nothere' }), code: 431, text: () => `Template ${ids['template']} has no detail nothere` },
  ];
  for (const c of refusals) {
    it(`refuses ${c.what}`, async () => {
      const reply = await (c.client?.() ?? tenant.client).request(c.command, c.params());
      expect(reply.status, reply.text).to.equal(c.code);
      expect(reply.body['errortext']).to.equal(c.text());
    });
  }

  it('adds, lists and removes resource details, kept in one annotation and shown as the template\'s details', async () => {
    await job(tenant.client, await tenant.client.request('addResourceDetail', { resourceid: ids['template'] ?? '', resourcetype: 'Template', 'details[0].key': 'hypervisortoolsversion', 'details[0].value': 'xenserver61', 'details[1].key': 'rootDiskController', 'details[1].value': 'virtio' }));
    expect(JSON.parse((await objectOf('Template', tenant.namespace, names['template'] ?? '')).metadata.annotations?.[DETAILS] ?? '{}')).to.deep.equal({ hypervisortoolsversion: 'xenserver61', rootDiskController: 'virtio' });
    const row = ((await tenant.client.request('listTemplates', { templatefilter: 'self', id: ids['template'] ?? '' })).body['template'] as Record<string, unknown>[])[0];
    expect(row?.['details']).to.deep.equal({ hypervisortoolsversion: 'xenserver61', rootDiskController: 'virtio' });
    const listed = await tenant.client.request('listResourceDetails', { resourcetype: 'Template', resourceid: ids['template'] ?? '' });
    expect((listed.body['resourcedetail'] as Record<string, unknown>[]).map((d) => [d['key'], d['value'], d['resourcetype'], d['resourceid']])).to.deep.equal([
      ['hypervisortoolsversion', 'xenserver61', 'Template', ids['template']],
      ['rootDiskController', 'virtio', 'Template', ids['template']],
    ]);
    expect((await tenant.client.request('listResourceDetails', { resourcetype: 'Template', key: 'rootDiskController', value: 'virtio' })).body['count']).to.equal(1);
    expect((await other.client.request('listResourceDetails', { resourcetype: 'Template' })).body).to.deep.equal({});
    const theirs = await other.client.request('listResourceDetails', { resourcetype: 'Template', resourceid: ids['template'] ?? '' });
    expect(theirs.body['errortext']).to.equal(`Unable to find resource by id ${ids['template']} and type Template`);
    await job(tenant.client, await tenant.client.request('removeResourceDetail', { resourceid: ids['template'] ?? '', resourcetype: 'Template', key: 'hypervisortoolsversion' }));
    expect(JSON.parse((await objectOf('Template', tenant.namespace, names['template'] ?? '')).metadata.annotations?.[DETAILS] ?? '{}')).to.deep.equal({ rootDiskController: 'virtio' });
    await job(tenant.client, await tenant.client.request('removeResourceDetail', { resourceid: ids['template'] ?? '', resourcetype: 'Template' }));
    expect((await objectOf('Template', tenant.namespace, names['template'] ?? '')).metadata.annotations ?? {}).to.not.have.property(DETAILS);
  });
});
