import { expect } from 'chai';
import { catalogueEntry, envelopeOf } from '../../cloudstack-api/commands/catalogue.ts';
import { formatApiDate } from '../../cloudstack-api/protocol/dates.ts';
import { type ResponseBody, serializeResponse } from '../../cloudstack-api/protocol/envelope.ts';
import { badSignature, entityNotFound, missingParameter } from '../../cloudstack-api/protocol/errors.ts';
import { asyncJobFields, jobSubmitted } from '../../cloudstack-api/protocol/jobs.ts';

const version = '4.22.0.0';
const xmlHead = '<?xml version="1.0" encoding="UTF-8"?>';
const zone = { id: 'a1', name: 'z "one" <&>', securitygroupsenabled: false, capacity: undefined };
const json = (envelope: string, body: ResponseBody) => serializeResponse(envelope, body, 'json', version);
const xml = (envelope: string, body: ResponseBody) => serializeResponse(envelope, body, 'xml', version);

describe('cloudstack-api envelopes (PROTOCOL.md §4)', () => {
  it('writes a single object under its object name, undefined fields omitted', () => {
    const body: ResponseBody = { kind: 'object', name: 'zone', object: zone };
    expect(json('createzoneresponse', body)).to.equal('{"createzoneresponse":{"zone":{"id":"a1","name":"z \\"one\\" <&>","securitygroupsenabled":false}}}');
    expect(xml('createzoneresponse', body)).to.equal(
      `${xmlHead}<createzoneresponse cloud-stack-version="4.22.0.0"><zone><id>a1</id><name>z &quot;one&quot; &lt;&amp;&gt;</name>` +
        '<securitygroupsenabled>false</securitygroupsenabled></zone></createzoneresponse>',
    );
  });

  it('writes a list with the total count and the item array', () => {
    const body: ResponseBody = { kind: 'list', name: 'zone', count: 7, items: [{ id: 'a' }, { id: 'b' }] };
    expect(json('listzonesresponse', body)).to.equal('{"listzonesresponse":{"count":7,"zone":[{"id":"a"},{"id":"b"}]}}');
    expect(xml('listzonesresponse', body)).to.equal(
      `${xmlHead}<listzonesresponse cloud-stack-version="4.22.0.0"><count>7</count><zone><id>a</id></zone><zone><id>b</id></zone></listzonesresponse>`,
    );
  });

  it('writes an empty list as {} (no count, no array)', () => {
    const body: ResponseBody = { kind: 'list', name: 'zone', count: 0, items: [] };
    expect(json('listzonesresponse', body)).to.equal('{"listzonesresponse":{}}');
    expect(xml('listzonesresponse', body)).to.equal(`${xmlHead}<listzonesresponse cloud-stack-version="4.22.0.0"></listzonesresponse>`);
  });

  it('writes a page past the end as the count alone', () => {
    const body: ResponseBody = { kind: 'list', name: 'zone', count: 5, items: [] };
    expect(json('listzonesresponse', body)).to.equal('{"listzonesresponse":{"count":5}}');
    expect(xml('listzonesresponse', body)).to.equal(`${xmlHead}<listzonesresponse cloud-stack-version="4.22.0.0"><count>5</count></listzonesresponse>`);
  });

  it('writes success as a JSON boolean, with the optional displaytext', () => {
    expect(json('deletezoneresponse', { kind: 'success' })).to.equal('{"deletezoneresponse":{"success":true}}');
    expect(json('deletezoneresponse', { kind: 'success', displaytext: 'gone' })).to.equal('{"deletezoneresponse":{"success":true,"displaytext":"gone"}}');
    expect(xml('deletezoneresponse', { kind: 'success' })).to.equal(
      `${xmlHead}<deletezoneresponse cloud-stack-version="4.22.0.0"><success>true</success></deletezoneresponse>`,
    );
  });

  it('writes flat responses straight under the envelope (logout)', () => {
    const body: ResponseBody = { kind: 'flat', fields: { description: 'success' } };
    expect(json('logoutresponse', body)).to.equal('{"logoutresponse":{"description":"success"}}');
    expect(xml('logoutresponse', body)).to.equal(`${xmlHead}<logoutresponse cloud-stack-version="4.22.0.0"><description>success</description></logoutresponse>`);
  });

  it('writes nested lists and objects in XML as repeated and child elements (listApis shape)', () => {
    const body: ResponseBody = {
      kind: 'list',
      name: 'api',
      count: 1,
      items: [{ name: 'listZones', isasync: false, params: [{ name: 'id', required: false }, { name: 'name', required: false }], response: [] }],
    };
    expect(xml('listapisresponse', body)).to.equal(
      `${xmlHead}<listapisresponse cloud-stack-version="4.22.0.0"><count>1</count><api><name>listZones</name><isasync>false</isasync>` +
        '<params><name>id</name><required>false</required></params><params><name>name</name><required>false</required></params></api></listapisresponse>',
    );
  });

  it('writes errors with uuidList, errorcode, cserrorcode and errortext', () => {
    const body: ResponseBody = { kind: 'error', error: missingParameter('createzone', 'name') };
    expect(json('createzoneresponse', body)).to.equal(
      '{"createzoneresponse":{"uuidList":[],"errorcode":431,"cserrorcode":9999,"errortext":"Unable to execute API command createzone due to missing parameter name"}}',
    );
    expect(xml('createzoneresponse', body)).to.equal(
      `${xmlHead}<createzoneresponse cloud-stack-version="4.22.0.0"><errorcode>431</errorcode><cserrorcode>9999</cserrorcode>` +
        '<errortext>Unable to execute API command createzone due to missing parameter name</errortext></createzoneresponse>',
    );
  });

  it('writes the signature failure without cserrorcode (§2 step 9)', () => {
    expect(json('listzonesresponse', { kind: 'error', error: badSignature() })).to.equal(
      '{"listzonesresponse":{"uuidList":[],"errorcode":401,"errortext":"unable to verify user credentials and/or request signature"}}',
    );
  });

  it('keeps the not-found text the Go SDK matches on', () => {
    expect(entityNotFound('listhosts', 'zoneid', 'x').message).to.contain('due to incorrect long value format, or entity does not exist');
  });

  it('uses the legacy envelope names the catalogue records', () => {
    const legacy = (name: string) => {
      const entry = catalogueEntry(name);
      if (!entry) throw new Error(`${name} is not in the catalogue`);
      return envelopeOf(entry);
    };
    expect(legacy('enableStorageMaintenance')).to.equal('prepareprimarystorageformaintenanceresponse');
    expect(legacy('cancelStorageMaintenance')).to.equal('cancelprimarystoragemaintenanceresponse');
    expect(legacy('resetSSHKeyForVirtualMachine')).to.equal('resetSSHKeyforvirtualmachineresponse');
    expect(legacy('restoreVirtualMachine')).to.equal('restorevmresponse');
    expect(legacy('updateVMAffinityGroup')).to.equal('updatevirtualmachineresponse');
    expect(legacy('activateProject')).to.equal('activaterojectresponse');
    expect(legacy('copyIso')).to.equal('copytemplateresponse');
    expect(legacy('getUploadParamsForTemplate')).to.equal('postuploadtemplateresponse');
    expect(legacy('listSecondaryStagingStores')).to.equal('listsecondarystagingstoreresponse');
    expect(legacy('listZones')).to.equal('listzonesresponse');
  });

  it('formats dates as yyyy-MM-ddTHH:mm:ssZ', () => {
    expect(formatApiDate(new Date(Date.UTC(2021, 8, 29, 17, 5, 1)))).to.equal('2021-09-29T17:05:01+0000');
  });
});

describe('cloudstack-api async job shapes (PROTOCOL.md §5)', () => {
  const base = {
    jobid: 'j1',
    cmd: 'createPhysicalNetwork',
    instanceType: 'PhysicalNetwork',
    instanceId: 'p1',
    created: new Date(Date.UTC(2026, 0, 2, 3, 4, 5)),
    userid: 'u1',
    accountid: 'a1',
    account: 'admin',
    domainid: 'd1',
    domainpath: '/',
  };

  it('answers a submit with jobid, and id too for create-type commands', () => {
    expect(json('startvirtualmachineresponse', jobSubmitted('j1'))).to.equal('{"startvirtualmachineresponse":{"jobid":"j1"}}');
    expect(json('createphysicalnetworkresponse', jobSubmitted('j1', 'p1'))).to.equal('{"createphysicalnetworkresponse":{"id":"p1","jobid":"j1"}}');
  });

  it('reports a pending job with jobstatus 0 and no jobresult', () => {
    const fields = asyncJobFields(base);
    expect(fields).to.include({ jobid: 'j1', jobstatus: 0, jobresultcode: 0, jobprocstatus: 0, created: '2026-01-02T03:04:05+0000' });
    expect(json('queryasyncjobresultresponse', { kind: 'flat', fields })).to.not.contain('jobresult"');
  });

  it('reports success with jobstatus 1 and the object under its object name', () => {
    const fields = asyncJobFields({
      ...base,
      completed: new Date(Date.UTC(2026, 0, 2, 3, 4, 9)),
      outcome: { kind: 'object', name: 'physicalnetwork', object: { id: 'p1', name: 'pn' } },
    });
    expect(fields).to.deep.include({ jobstatus: 1, jobresultcode: 0, jobresult: { physicalnetwork: { id: 'p1', name: 'pn' } }, completed: '2026-01-02T03:04:09+0000' });
    expect(xml('queryasyncjobresultresponse', { kind: 'flat', fields })).to.contain(
      '<jobresult><physicalnetwork><id>p1</id><name>pn</name></physicalnetwork></jobresult>',
    );
  });

  it('reports a success-type job as {"success":true}', () => {
    expect(asyncJobFields({ ...base, outcome: { kind: 'success' } })).to.deep.include({ jobstatus: 1, jobresult: { success: true, details: undefined } });
    expect(json('queryasyncjobresultresponse', { kind: 'flat', fields: asyncJobFields({ ...base, outcome: { kind: 'success' } }) })).to.contain('"jobresult":{"success":true}');
  });

  it('reports failure with jobstatus 2, the error code as jobresultcode and the error in jobresult', () => {
    const fields = asyncJobFields({ ...base, outcome: { kind: 'failure', errorCode: 530, errorText: 'boom' } });
    expect(fields).to.deep.include({ jobstatus: 2, jobresultcode: 530, jobresult: { errorcode: 530, errortext: 'boom' } });
  });
});
