import { expect } from 'chai';
import { replyProblems } from '../support/response-fidelity.ts';

/**
 * The response-fidelity checker (issue 13 item 9) that the test client applies to every JSON
 * reply: each rule is shown to pass a conforming reply and to catch the breach it exists for.
 */

const VM_ID = '9156a6d4-2c57-4d9b-8c0e-0e6f1d2b3c4d';
const NIC = { id: 'a1b2c3d4-0000-4000-8000-000000000001', networkid: 'a1b2c3d4-0000-4000-8000-000000000002', ipaddress: '10.1.1.62', isdefault: true, macaddress: '02:00:34:fb:00:01', deviceid: '0', secondaryip: [], extradhcpoption: [], traffictype: 'Guest', type: 'Isolated' };

function runningVm(): Record<string, unknown> {
  return {
    id: VM_ID,
    name: 'web',
    displayname: 'web',
    state: 'Running',
    created: '2021-10-04T09:24:38+0000',
    cpunumber: 1,
    memory: 256,
    haenable: false,
    hostid: 'a1b2c3d4-0000-4000-8000-000000000003',
    hostname: 'host-1',
    nic: [{ ...NIC }],
    securitygroup: [],
    affinitygroup: [],
    tags: [],
    details: { cpuNumber: '2' },
  };
}

const listReply = (vm: Record<string, unknown>) => ({ count: 1, virtualmachine: [vm] });

describe('cloudstack-api response fidelity (the checker every test reply goes through)', () => {
  it('passes a reply in CloudStack\'s shapes', () => {
    expect(replyProblems('listVirtualMachines', 200, listReply(runningVm()))).to.deep.equal([]);
    expect(replyProblems('listVirtualMachines', 200, {})).to.deep.equal([]);
    expect(replyProblems('listVirtualMachines', 200, { count: 3 })).to.deep.equal([]);
  });

  const breaches: [string, (vm: Record<string, unknown>) => void, RegExp][] = [
    ['a number sent as a string', (vm) => (vm['cpunumber'] = '1'), /cpunumber: JSON number expected/],
    ['a boolean sent as a string', (vm) => (vm['haenable'] = 'false'), /haenable: JSON boolean expected/],
    ['details holding a non-string', (vm) => (vm['details'] = { cpuNumber: 2 }), /details.cpuNumber: details are strings/],
    ['an empty collection left out', (vm) => delete vm['affinitygroup'], /affinitygroup is always sent \(empty: \[\]\)/],
    ['details left out', (vm) => delete vm['details'], /details is always sent \(empty: \{\}\)/],
    ['a NIC deviceid sent as a number', (vm) => ((vm['nic'] as Record<string, unknown>[])[0]!['deviceid'] = 0), /nic\[0\].deviceid: JSON string expected/],
    ['a NIC isdefault sent as a string', (vm) => ((vm['nic'] as Record<string, unknown>[])[0]!['isdefault'] = 'true'), /nic\[0\].isdefault: JSON boolean expected/],
    ['an ISO date', (vm) => (vm['created'] = '2021-10-04T09:24:38.000Z'), /created: date .* is not yyyy-MM-dd'T'HH:mm:ssZ/],
    ['an upper-case id', (vm) => (vm['id'] = VM_ID.toUpperCase()), /ids are lower-case UUIDs/],
    ['a field the catalogue does not list', (vm) => (vm['powerstate'] = 'PowerOn'), /powerstate: not a field of virtualmachine/],
    ['a null', (vm) => (vm['group'] = null), /group: .*null is never sent/],
    ['a Stopped VM with a host', (vm) => (vm['state'] = 'Stopped'), /hostid: a Stopped VM has none/],
  ];
  for (const [what, breach, problem] of breaches) {
    it(`catches ${what}`, () => {
      const vm = runningVm();
      breach(vm);
      expect(replyProblems('listVirtualMachines', 200, listReply(vm)).join('\n')).to.match(problem);
    });
  }

  it('lets a details= subset leave collections out, and only then', () => {
    const vm = runningVm();
    delete vm['nic'];
    expect(replyProblems('listVirtualMachines', 200, listReply(vm), undefined, { details: 'tmpl,servoff' })).to.deep.equal([]);
    expect(replyProblems('listVirtualMachines', 200, listReply(vm), undefined, { details: 'all' }).join()).to.match(/nic is always sent/);
    expect(replyProblems('listVirtualMachines', 200, listReply(vm)).join()).to.match(/nic is always sent/);
  });

  it('checks list shapes: the item key, a numeric count with rows', () => {
    expect(replyProblems('listVirtualMachines', 200, { count: 1, vm: [runningVm()] }).join()).to.match(/list key virtualmachine expected/);
    expect(replyProblems('listVirtualMachines', 200, { count: '1', virtualmachine: [runningVm()] }).join()).to.match(/count: a number expected/);
    expect(replyProblems('listVirtualMachines', 200, { virtualmachine: [runningVm()] }).join()).to.match(/carries count/);
  });

  it('checks async submits: jobid, plus id for create-type commands; no jobid on sync replies', () => {
    expect(replyProblems('deployVirtualMachine', 200, { id: VM_ID, jobid: VM_ID })).to.deep.equal([]);
    expect(replyProblems('deployVirtualMachine', 200, { jobid: VM_ID }).join()).to.match(/submit reply has jobid, not id,jobid/);
    expect(replyProblems('startVirtualMachine', 200, { jobid: VM_ID })).to.deep.equal([]);
    expect(replyProblems('listZones', 200, { jobid: VM_ID }).join()).to.match(/synchronous reply carries no top-level jobid/);
  });

  it('checks a job result under the object name of the command that started it', () => {
    const job = { jobid: VM_ID, jobstatus: 1, jobprocstatus: 0, jobresultcode: 0, jobresulttype: 'object', cmd: 'deployVirtualMachine', created: '2021-10-04T09:24:38+0000' };
    expect(replyProblems('queryAsyncJobResult', 200, { ...job, jobresult: { virtualmachine: runningVm() } }, 'deployVirtualMachine')).to.deep.equal([]);
    expect(replyProblems('queryAsyncJobResult', 200, { ...job, jobresult: { vm: runningVm() } }, 'deployVirtualMachine').join()).to.match(/one key virtualmachine expected/);
    const bad = runningVm();
    bad['memory'] = '256';
    expect(replyProblems('queryAsyncJobResult', 200, { ...job, jobresult: { virtualmachine: bad } }, 'deployVirtualMachine').join()).to.match(/jobresult.virtualmachine.memory: JSON number expected/);
    expect(replyProblems('queryAsyncJobResult', 200, { ...job, jobstatus: '1' }).join()).to.match(/jobstatus: JSON number expected/);
  });

  it('checks success and error shapes', () => {
    expect(replyProblems('deleteZone', 200, { success: true })).to.deep.equal([]);
    expect(replyProblems('deleteZone', 200, { success: 'true' }).join()).to.match(/success must be a JSON boolean/);
    expect(replyProblems('listZones', 431, { uuidList: [], errorcode: 431, cserrorcode: 9999, errortext: 'x' })).to.deep.equal([]);
    expect(replyProblems('listZones', 431, { errorcode: 530, errortext: 'x' }).join()).to.match(/differs from the HTTP status/);
  });
});
