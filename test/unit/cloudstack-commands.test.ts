import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { catalogueEntries } from '../../cloudstack-api/commands/catalogue.ts';
import { conformFields } from '../../cloudstack-api/commands/conform.ts';
import { createCommandTable, defineCommand, jobObjectOutcome } from '../../cloudstack-api/commands/define.ts';
import { defaultCapabilities, discoveryCommands } from '../../cloudstack-api/commands/discovery.ts';

/** shared/ beside the repository (as CI lays it out): the catalogue the vendored copy must equal. */
const sharedCatalogue = fileURLToPath(new URL('../../../shared/cloudstack-api/catalogue.json', import.meta.url));

describe('cloudstack-api command table', () => {
  it('ships a verbatim copy of the shared catalogue', function () {
    let shared: string;
    try {
      shared = readFileSync(sharedCatalogue, 'utf8');
    } catch {
      console.log(`skipped: ${sharedCatalogue} is not on this machine, so the vendored copy cannot be compared`);
      this.skip();
    }
    expect(readFileSync(new URL('../../cloudstack-api/catalogue.json', import.meta.url), 'utf8')).to.equal(shared);
    expect(catalogueEntries().size).to.equal(352);
  });

  const noop = () => Promise.resolve(undefined);

  it('refuses a command the catalogue does not know', () => {
    expect(() => defineCommand({ name: 'listzones', kind: 'success', description: 'd', params: {}, handle: noop })).to.throw(
      'command listzones is not in the catalogue; check its spelling (names are case-sensitive)',
    );
  });

  it('refuses a kind that disagrees with the catalogue', () => {
    expect(() => defineCommand({ name: 'deleteZone', kind: 'object', description: 'd', params: { id: { type: 'uuid', description: 'd', required: true } }, handle: noop, map: () => ({}) })).to.throw(
      "command deleteZone: the catalogue's response kind is success, not object",
    );
    expect(() => defineCommand({ name: 'createPhysicalNetwork', kind: 'object', description: 'd', params: {}, handle: noop, map: () => ({}) })).to.throw(
      "command createPhysicalNetwork: the catalogue says async=true; declare kind 'async'",
    );
  });

  it('refuses parameters that disagree with the catalogue', () => {
    const define = (params: Record<string, { type: 'uuid' | 'string' | 'boolean'; description: string; required?: boolean }>) => () =>
      defineCommand({ name: 'deleteZone', kind: 'success', description: 'd', params, handle: noop });
    expect(define({ id: { type: 'uuid', description: 'd', required: true }, force: { type: 'boolean', description: 'd' } })).to.throw(
      'command deleteZone: parameter force is not in the catalogue',
    );
    expect(define({ id: { type: 'string', description: 'd', required: true } })).to.throw('command deleteZone: parameter id has type uuid in the catalogue, not string');
    expect(define({ id: { type: 'uuid', description: 'd' } })).to.throw('command deleteZone: parameter id must be required, as in the catalogue');
    expect(define({})).to.throw('command deleteZone: required parameter id is not declared');
    expect(define({ id: { type: 'uuid', description: ' ', required: true } })).to.throw('command deleteZone: parameter id needs a description (listApis requires one)');
  });

  it('refuses a table with a command twice', () => {
    const [listApis] = discoveryCommands({ capabilities: () => ({}), hypervisors: () => [], zoneHypervisors: () => Promise.resolve(undefined) });
    if (!listApis) throw new Error('discoveryCommands returned nothing');
    expect(() => createCommandTable([listApis, listApis])).to.throw('command listApis is in the table twice');
  });

  it('keeps login and logout out of the table: the protocol answers them', () => {
    const logout = defineCommand({ name: 'logout', kind: 'flat', description: 'd', params: {}, handle: () => Promise.resolve({}), map: () => ({ description: 'success' }) });
    expect(() => createCommandTable([logout])).to.throw('command logout is handled by the protocol; leave it out of the table');
  });

  it('adds page and pagesize to the catalogue\'s paged lists only', () => {
    const [listApis, , listHypervisors] = discoveryCommands({ capabilities: () => ({}), hypervisors: () => [], zoneHypervisors: () => Promise.resolve(undefined) });
    expect(Object.keys(listApis?.params ?? {})).to.deep.equal(['name']);
    expect(Object.keys(listHypervisors?.params ?? {})).to.deep.equal(['zoneid']);
    const listZones = defineCommand({ name: 'listZones', kind: 'list', description: 'd', params: {}, handle: () => Promise.resolve([]), mapItem: () => ({}) });
    expect(Object.keys(listZones.params)).to.deep.equal(['page', 'pagesize']);
  });

  it('declares listCapabilities types the catalogue lacks, and answers with them', () => {
    const [, listCapabilities] = discoveryCommands({ capabilities: () => defaultCapabilities, hypervisors: () => [], zoneHypervisors: () => Promise.resolve(undefined) });
    expect(listCapabilities?.fieldTypes).to.include({ cloudstackversion: 'string', supportELB: 'string', apilimitmax: 'number', securitygroupsenabled: 'boolean' });
    for (const name of Object.keys(listCapabilities?.fieldTypes ?? {})) {
      expect(catalogueEntries().get('listCapabilities')?.response.fields, name).to.include(name);
    }
  });
});

describe('cloudstack-api response field types (PROTOCOL.md §4, §9)', () => {
  const types = { id: 'string', count: 'number', enabled: 'boolean', tags: 'array', details: 'object(map)', result: 'any' } as const;

  it('omits null and undefined, and writes numbers and booleans as strings where the catalogue says string', () => {
    expect(conformFields('c', types, { id: 5, count: 2, enabled: true, tags: [], details: { a: 'b' }, result: 'x', gone: undefined, none: null })).to.deep.equal({
      id: '5',
      count: 2,
      enabled: true,
      tags: [],
      details: { a: 'b' },
      result: 'x',
    });
    expect(conformFields('c', types, { id: false })).to.deep.equal({ id: 'false' });
  });

  it('refuses a field the catalogue does not list', () => {
    expect(() => conformFields('listZones', types, { colour: 'red' })).to.throw(
      "listZones: response field colour is not in the catalogue; remove it or add its type to the command's fieldTypes",
    );
  });

  it('refuses a value of the wrong JSON type rather than send what the Go SDK cannot decode', () => {
    expect(() => conformFields('c', types, { count: '2' })).to.throw('c: response field count must be JSON number, got "2"');
    expect(() => conformFields('c', types, { enabled: 'true' })).to.throw('c: response field enabled must be JSON boolean, got "true"');
    expect(() => conformFields('c', types, { tags: {} })).to.throw('c: response field tags must be JSON array, got {}');
    expect(() => conformFields('c', types, { details: [] })).to.throw('c: response field details must be JSON object(map), got []');
    expect(() => conformFields('c', types, { count: Number.NaN })).to.throw('c: response field count must be JSON number, got null');
  });

  it('shapes a finished async job\'s object under the catalogue\'s object name', () => {
    const command = defineCommand({
      name: 'createPhysicalNetwork',
      kind: 'async',
      description: 'd',
      params: { name: { type: 'string', description: 'd', required: true }, zoneid: { type: 'uuid', description: 'd', required: true } },
      handle: () => Promise.resolve({ jobid: 'j', id: 'p' }),
    });
    expect(jobObjectOutcome(command, { id: 'p', name: 'pn', vlan: undefined })).to.deep.equal({ kind: 'object', name: 'physicalnetwork', object: { id: 'p', name: 'pn' } });
  });
});
