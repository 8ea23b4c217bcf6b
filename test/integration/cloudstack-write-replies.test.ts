import { expect } from 'chai';
import type { CloudStackReply } from '../support/cloudstack-client.ts';
import { uniqueName } from '../support/cluster.ts';
import { type InfraCloud, startInfraCloud, waitUntil } from './cloudstack-infra-harness.ts';

/**
 * Issue 13 item 9 for writes no other test makes: the response walk (unit) judges what reads
 * answer, and a write's reply is judged where a test sends it, by the test client
 * (cloudstack-client.ts runs the catalogue checker on every reply and throws on a breach).
 * These users, domain and offering writes were sent by none; here each one is, over HTTP,
 * against the real control plane, and its object is the one the next list shows.
 */

type Row = Record<string, unknown>;

function ok(reply: CloudStackReply, what: string): Row {
  expect(reply.status, `${what}: ${reply.text.slice(0, 500)}`).to.equal(200);
  return reply.body;
}

describe('cloudstack-api: replies of the user, domain and offering writes (real control plane)', function () {
  this.timeout(300_000);
  let cloud: InfraCloud;
  const s = uniqueName('wr').slice(3);
  const call = (command: string, params: Record<string, string> = {}) => cloud.admin.request(command, params, { method: 'POST' });

  before(async function () {
    this.timeout(600_000);
    cloud = await startInfraCloud('cswrite');
  });

  after(async function () {
    this.timeout(120_000);
    await cloud?.stop();
  });

  it('updateDomain, and createUser, lockUser, enableUser and deleteUser in an account of it', async () => {
    const domain = ok(await call('createDomain', { name: `wr-${s}` }), 'createDomain')['domain'] as Row;
    const renamed = ok(await call('updateDomain', { id: domain['id'] as string, name: `wr-${s}-renamed` }), 'updateDomain')['domain'] as Row;
    expect(renamed).to.deep.include({ id: domain['id'], name: `wr-${s}-renamed` });

    const account = ok(
      await call('createAccount', { username: `owner-${s}`, password: 'pw-owner', email: 'owner@example.com', firstname: 'Own', lastname: 'Er', account: `acct-${s}`, domainid: domain['id'] as string }),
      'createAccount',
    )['account'] as Row;
    await waitUntil('the account Enabled', async () => {
      const rows = ok(await call('listAccounts', { id: account['id'] as string }), 'listAccounts')['account'] as Row[] | undefined;
      return rows?.[0]?.['state'] === 'enabled' ? true : undefined;
    });
    const user = ok(
      await call('createUser', { account: `acct-${s}`, domainid: domain['id'] as string, username: `second-${s}`, password: 'pw-second', email: 'second@example.com', firstname: 'Sec', lastname: 'Ond' }),
      'createUser',
    )['user'] as Row;
    expect(user).to.deep.include({ username: `second-${s}`, account: `acct-${s}`, domainid: domain['id'], firstname: 'Sec', lastname: 'Ond', email: 'second@example.com' });
    const locked = ok(await call('lockUser', { id: user['id'] as string }), 'lockUser')['user'] as Row;
    expect(locked).to.deep.include({ id: user['id'], state: 'locked' });
    const enabled = ok(await call('enableUser', { id: user['id'] as string }), 'enableUser')['user'] as Row;
    expect(enabled).to.deep.include({ id: user['id'], state: 'enabled' });
    expect(ok(await call('deleteUser', { id: user['id'] as string }), 'deleteUser')).to.deep.equal({ success: true });
    // An id that names no user is refused, as CloudStack refuses it.
    await waitUntil('the user gone', async () => ((await call('listUsers', { id: user['id'] as string })).status === 431 ? true : undefined));
  });

  it('createDiskOffering, updateDiskOffering, deleteDiskOffering', async () => {
    const offering = ok(await call('createDiskOffering', { name: `disk-${s}`, displaytext: 'Disk for the write replies', disksize: '3' }), 'createDiskOffering')['diskoffering'] as Row;
    expect(offering).to.deep.include({ name: `disk-${s}`, displaytext: 'Disk for the write replies', disksize: 3 });
    // Its presentation changes (cloudstack-offering-updates.test.ts covers the rest); its size does not.
    const updated = ok(await call('updateDiskOffering', { id: offering['id'] as string, displaytext: 'Disk for the replies' }), 'updateDiskOffering')['diskoffering'] as Row;
    expect(updated).to.deep.include({ id: offering['id'], name: `disk-${s}`, displaytext: 'Disk for the replies', disksize: 3 });
    expect(ok(await call('deleteDiskOffering', { id: offering['id'] as string }), 'deleteDiskOffering')).to.deep.equal({ success: true });
  });

  it('updateNetworkOffering, deleteNetworkOffering', async () => {
    const offering = ok(
      await call('createNetworkOffering', { name: `net-${s}`, displaytext: 'Net for the write replies', guestiptype: 'Isolated', traffictype: 'Guest', supportedservices: 'Dhcp,Dns' }),
      'createNetworkOffering',
    )['networkoffering'] as Row;
    const updated = ok(await call('updateNetworkOffering', { id: offering['id'] as string, displaytext: 'Net for the replies' }), 'updateNetworkOffering')['networkoffering'] as Row;
    expect(updated).to.deep.include({ id: offering['id'], name: `net-${s}`, displaytext: 'Net for the replies' });
    expect(ok(await call('deleteNetworkOffering', { id: offering['id'] as string }), 'deleteNetworkOffering')).to.deep.equal({ success: true });
  });
});
