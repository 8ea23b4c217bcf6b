import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { formatApiDate } from '../../cloudstack-api/protocol/dates.ts';
import { PrimaryStorage, VirtualMachine } from '../../crds/index.ts';
import { EVENTS } from '../../lib/events.ts';
import type { KubeObject, ResourceClient, ResourceType } from '../../lib/kube-client.ts';
import type { CloudStackClient, CloudStackReply } from '../support/cloudstack-client.ts';
import { uniqueName } from '../support/cluster.ts';
import { type InfraCloud, startInfraCloud, type Tenant, waitUntil } from './cloudstack-infra-harness.ts';

/**
 * Issue 13 items 9 and 10 for listEvents, against the real apiserver: Kubernetes folds the
 * repeats of an event into one Event (events.k8s.io `series`, core/v1 `count`), CloudStack
 * lists every occurrence as an event of its own. An Event seen three times is three rows, with
 * ids that stay the same between calls, dated at the first and the latest time the Event
 * records, paged and found by id as rows; each row names the user who caused it: the user of
 * the job that asked for the change, or the system user when none did.
 */

type Row = Record<string, unknown>;
const CORE_EVENTS: ResourceType = { group: '', version: 'v1', plural: 'events', kind: 'Event', namespaced: true };

function ok(reply: CloudStackReply, what: string): Row {
  if (reply.status !== 200) throw new Error(`${what}: HTTP ${reply.status} ${reply.text}`);
  return reply.body;
}

/** The time `seconds` ago, in whole seconds (CloudStack dates have no fraction). */
function secondsAgo(seconds: number): Date {
  return new Date(Math.floor(Date.now() / 1000 - seconds) * 1000);
}

const microTime = (date: Date) => date.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
const time = (date: Date) => date.toISOString().replace(/\.\d{3}Z$/, 'Z');

describe('cloudstack-api: listEvents, a row per occurrence with its user (real control plane)', function () {
  this.timeout(300_000);
  let cloud: InfraCloud;
  let tenant: Tenant;
  let events: ResourceClient<KubeObject & Row>;
  const vm = { uid: randomUUID(), name: uniqueName('web') };
  const first = secondsAgo(300);
  const last = secondsAgo(60);
  let eventName = '';

  const list = async (client: CloudStackClient, params: Record<string, string>): Promise<{ count: number; rows: Row[] }> => {
    const body = ok(await client.request('listEvents', params), 'listEvents');
    return { count: (body['count'] as number | undefined) ?? 0, rows: (body['event'] as Row[] | undefined) ?? [] };
  };

  before(async function () {
    this.timeout(600_000);
    cloud = await startInfraCloud('csevents');
    tenant = await cloud.tenant('ev');
    events = cloud.kube.resource<KubeObject & Row>(EVENTS);
    eventName = `${vm.name}.${Date.now().toString(16)}`;
    // What lib/events.ts writes for a VM started, then started again twice within six minutes.
    await events.create({
      metadata: { name: eventName, namespace: tenant.namespace },
      eventTime: microTime(first),
      series: { count: 3, lastObservedTime: microTime(last) },
      reportingController: 'kumulus.io/agent',
      reportingInstance: 'node-test',
      action: 'VM.START',
      reason: 'VM.START',
      note: `domain started on host h1`,
      type: 'Normal',
      regarding: { apiVersion: VirtualMachine.apiVersion, kind: VirtualMachine.kind, name: vm.name, namespace: tenant.namespace, uid: vm.uid },
    });
  });

  after(async function () {
    this.timeout(120_000);
    await cloud?.stop();
  });

  it('lists an Event seen three times as three rows with distinct ids, the same on every call', async () => {
    const { count, rows } = await waitUntil('the event in listEvents', async () => {
      const found = await list(tenant.client, { resourceid: vm.uid });
      return found.count > 0 ? found : undefined;
    });
    expect(count).to.equal(3);
    expect(rows).to.have.length(3);
    const ids = rows.map((r) => r['id'] as string);
    expect(new Set(ids).size).to.equal(3);
    for (const id of ids) expect(id).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    const event = await events.get({ namespace: tenant.namespace, name: eventName });
    expect(ids, 'the first occurrence keeps the Event uid').to.include(event.metadata.uid);
    for (const row of rows) expect(row).to.deep.include({ type: 'VM.START', level: 'INFO', state: 'Completed', resourceid: vm.uid, resourcetype: 'VirtualMachine', resourcename: vm.name, account: tenant.account, archived: false });
    // Newest first: the first occurrence at the Event's first time, the two others at the latest one.
    expect(rows.map((r) => r['created'])).to.deep.equal([formatApiDate(last), formatApiDate(last), formatApiDate(first)]);
    expect(rows[2]!['id']).to.equal(event.metadata.uid);
    expect((await list(tenant.client, { resourceid: vm.uid })).rows.map((r) => r['id'])).to.deep.equal(ids);
    // A fourth occurrence adds a row; the three ids stay.
    await events.patch({ namespace: tenant.namespace, name: eventName }, { series: { count: 4, lastObservedTime: microTime(secondsAgo(30)) } }, 'merge');
    const grown = await waitUntil('the fourth occurrence', async () => {
      const found = await list(tenant.client, { resourceid: vm.uid });
      return found.count === 4 ? found.rows : undefined;
    });
    expect(grown.map((r) => r['id'])).to.include.members(ids);
  });

  it('pages across the occurrences, and finds each by its id', async () => {
    const all = (await list(tenant.client, { resourceid: vm.uid })).rows.map((r) => r['id'] as string);
    expect(all).to.have.length(4);
    const page1 = await list(tenant.client, { resourceid: vm.uid, page: '1', pagesize: '3' });
    const page2 = await list(tenant.client, { resourceid: vm.uid, page: '2', pagesize: '3' });
    expect([page1.count, page2.count]).to.deep.equal([4, 4]);
    expect(page1.rows.map((r) => r['id'])).to.deep.equal(all.slice(0, 3));
    expect(page2.rows.map((r) => r['id'])).to.deep.equal(all.slice(3));
    for (const id of all) {
      const found = await list(tenant.client, { id });
      expect(found.count, id).to.equal(1);
      expect(found.rows[0]!['id']).to.equal(id);
    }
    // The range filters read each occurrence's own date: only the first is before the latest.
    const early = await list(tenant.client, { resourceid: vm.uid, enddate: formatApiDate(first).replace('T', ' ').replace('+0000', '') });
    expect(early.rows.map((r) => r['id'])).to.deep.equal(all.slice(3));
  });

  it('lists a core/v1 Event with count 3 as three rows, from its first to its last timestamp', async () => {
    const uid = randomUUID();
    const name = uniqueName('vm');
    await cloud.kube.resource<KubeObject & Row>(CORE_EVENTS).create({
      metadata: { name: `${name}.core`, namespace: tenant.namespace },
      involvedObject: { apiVersion: VirtualMachine.apiVersion, kind: VirtualMachine.kind, name, namespace: tenant.namespace, uid },
      reason: 'VM.STOP',
      message: 'domain stopped',
      type: 'Warning',
      count: 3,
      firstTimestamp: time(first),
      lastTimestamp: time(last),
      source: { component: 'kumulus.io/agent' },
    });
    const { count, rows } = await waitUntil('the core event in listEvents', async () => {
      const found = await list(tenant.client, { resourceid: uid });
      return found.count > 0 ? found : undefined;
    });
    expect(count).to.equal(3);
    expect(new Set(rows.map((r) => r['id'])).size).to.equal(3);
    expect(rows.map((r) => r['created'])).to.deep.equal([formatApiDate(last), formatApiDate(last), formatApiDate(first)]);
    for (const row of rows) expect(row).to.deep.include({ type: 'VM.STOP', level: 'WARN', username: 'system' });
  });

  it("names the resource with CloudStack's resource type, and filters by it", async () => {
    const uid = randomUUID();
    const name = uniqueName('pool');
    const key = { namespace: 'default', name: `${name}.${Date.now().toString(16)}` };
    await events.create({
      metadata: key,
      eventTime: microTime(first),
      reportingController: 'kumulus.io/operator',
      reportingInstance: 'operator-test',
      action: 'PRIMARY.STORAGE.UP',
      reason: 'PRIMARY.STORAGE.UP',
      note: 'pool up (was Down)',
      type: 'Normal',
      regarding: { apiVersion: PrimaryStorage.apiVersion, kind: PrimaryStorage.kind, name, uid },
    });
    const rows = await waitUntil('the pool event in listEvents', async () => {
      const found = await list(cloud.admin, { resourceid: uid, resourcetype: 'StoragePool', listall: 'true' });
      return found.count > 0 ? found.rows : undefined;
    });
    expect(rows).to.have.length(1);
    expect(rows[0]).to.deep.include({ resourcetype: 'StoragePool', resourcename: name, account: 'system', domain: 'ROOT', username: 'system' });
    expect((await list(cloud.admin, { resourceid: uid, resourcetype: 'Host', listall: 'true' })).count).to.equal(0);
    await events.delete(key);
  });

  it("names the user who caused each occurrence: the job's user while its job ran, else the system user", async () => {
    // No job asked for the repeated start: the system user's doing, as CloudStack shows its own work.
    for (const row of (await list(tenant.client, { resourceid: vm.uid })).rows) expect(row['username']).to.equal('system');

    // The admin creates a physical network, an async command: its job names the admin, and the
    // operator's PHYSICAL.NETWORK.CREATE on it is the admin's doing, in the system account (the object is the cloud's).
    const zone = ok(await cloud.admin.request('createZone', { name: uniqueName('Zone ev'), dns1: '8.8.8.8', internaldns1: '10.0.0.2', networktype: 'Advanced' }), 'createZone')['zone'] as Row;
    try {
      const created = ok(await cloud.admin.request('createPhysicalNetwork', { name: uniqueName('pn ev'), zoneid: zone['id'] as string, isolationmethods: 'VLAN' }), 'createPhysicalNetwork');
      const pn = created['id'] as string;
      const result = await cloud.admin.waitForJob(created['jobid'] as string, { intervalMs: 250, timeoutMs: 60_000 });
      expect(result['jobstatus']).to.equal(1);
      const rows = await waitUntil('PHYSICAL.NETWORK.CREATE in listEvents', async () => {
        const found = await list(cloud.admin, { resourceid: pn, type: 'PHYSICAL.NETWORK.CREATE', listall: 'true' });
        return found.count > 0 ? found.rows : undefined;
      });
      expect(rows[0]).to.deep.include({ username: 'admin', account: 'system', domain: 'ROOT', resourcetype: 'PhysicalNetwork' });
      const deleted = ok(await cloud.admin.request('deletePhysicalNetwork', { id: pn }), 'deletePhysicalNetwork');
      await cloud.admin.waitForJob(deleted['jobid'] as string, { intervalMs: 250, timeoutMs: 60_000 });
    } finally {
      await waitUntil('the zone deleted', async () => ((await cloud.admin.request('deleteZone', { id: zone['id'] as string })).status === 200 ? true : undefined));
    }
  });
});
