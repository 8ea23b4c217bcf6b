import { readFileSync } from 'node:fs';

/**
 * Response fidelity (issue 13 item 9), checked from the specification alone: catalogue.json's
 * field types (the repository ships a verbatim copy, compared with the shared one by
 * cloudstack-commands.test.ts) and the rules of PROTOCOL.md §4 and compute.md §1.2. It reads
 * JSON replies as a client receives them and imports nothing from cloudstack-api/, so the
 * server is checked against the specification, not against itself:
 * - every field has the catalogue's JSON type (numbers as numbers, booleans as booleans);
 * - `details` is an object of strings; collections CloudStack always sends are present, `[]`
 *   when empty; a NIC's `deviceid` is a string;
 * - dates are `yyyy-MM-dd'T'HH:mm:ssZ`; ids are lower-case UUIDs;
 * - a Stopped VM has no `hostid` / `hostname`.
 */

interface Entry {
  name: string;
  async: boolean;
  response: { kind: 'list' | 'object' | 'success' | 'flat'; name: string | null; fieldTypes?: Record<string, string>; envelope: string; legacyEnvelope?: string; asyncInitial?: string[] };
}

let catalogue: Map<string, Entry> | undefined;

/**
 * Catalogue errata: listTrafficTypes records the fields of a network service provider; its
 * items are traffictype objects, whose fields addTrafficType records.
 */
const FIELD_TYPES_OF: Readonly<Record<string, string>> = { listTrafficTypes: 'addTrafficType' };

export function catalogueEntry(command: string): Entry | undefined {
  catalogue ??= new Map((JSON.parse(readFileSync(new URL('../../cloudstack-api/catalogue.json', import.meta.url), 'utf8')) as Entry[]).map((e) => [e.name, e]));
  const entry = catalogue.get(command);
  const typesFrom = FIELD_TYPES_OF[command];
  const donor = typesFrom === undefined ? undefined : catalogue.get(typesFrom);
  return entry && donor ? { ...entry, response: { ...entry.response, fieldTypes: donor.response.fieldTypes } } : entry;
}

const DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{4}$/;
const UUID_ANY_CASE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Fields that carry CloudStack dates wherever they appear. */
const DATE_FIELDS = new Set(['created', 'removed', 'lastupdated', 'lastannotated', 'completed', 'disconnected', 'lastpinged', 'startdate', 'enddate', 'attached', 'destroyed', 'lastboottime']);

/** Collections CloudStack always sends for an object, `[]` (or `{}`) when empty (compute.md §1.2). */
const ALWAYS: Readonly<Record<string, readonly string[]>> = {
  virtualmachine: ['nic', 'securitygroup', 'affinitygroup', 'tags', 'details'],
  volume: ['tags'],
  template: ['tags'],
  iso: ['tags'],
  network: ['service', 'tags'],
  affinitygroup: ['virtualmachineIds'],
};

/** The JSON types of nested items the catalogue does not describe (NicResponse, ResourceTagResponse). */
const NESTED: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  nic: {
    id: 'string',
    networkid: 'string',
    networkname: 'string',
    netmask: 'string',
    gateway: 'string',
    ipaddress: 'string',
    isolationuri: 'string',
    broadcasturi: 'string',
    traffictype: 'string',
    type: 'string',
    isdefault: 'boolean',
    macaddress: 'string',
    deviceid: 'string',
    virtualmachineid: 'string',
    vlanid: 'number',
    secondaryip: 'array',
    extradhcpoption: 'array',
    ip6address: 'string',
    ip6gateway: 'string',
    ip6cidr: 'string',
    mtu: 'number',
  },
  tags: { key: 'string', value: 'string', resourcetype: 'string', resourceid: 'string', account: 'string', domainid: 'string', domain: 'string', domainpath: 'string', customer: 'string', project: 'string', projectid: 'string' },
};

function jsonType(value: unknown): string {
  if (Array.isArray(value)) return 'array';
  if (value === null) return 'null';
  return typeof value;
}

function checkValue(path: string, name: string, type: string | undefined, value: unknown, problems: string[]): void {
  const actual = jsonType(value);
  if (type !== undefined && type !== 'any') {
    const expected = type === 'object(map)' ? 'object' : type;
    if (actual !== expected) problems.push(`${path}: JSON ${expected} expected, got ${JSON.stringify(value)}`);
  }
  if (actual === 'null') problems.push(`${path}: null is never sent (omit the field)`);
  if (typeof value === 'string') {
    if (DATE_FIELDS.has(name) && !DATE.test(value)) problems.push(`${path}: date ${JSON.stringify(value)} is not yyyy-MM-dd'T'HH:mm:ssZ`);
    if ((name === 'id' || name.endsWith('id')) && UUID_ANY_CASE.test(value) && !UUID.test(value)) problems.push(`${path}: ids are lower-case UUIDs, got ${value}`);
  }
  if (name === 'details' && actual === 'object') {
    for (const [key, detail] of Object.entries(value as Record<string, unknown>)) {
      if (typeof detail !== 'string') problems.push(`${path}.${key}: details are strings, got ${JSON.stringify(detail)}`);
    }
  }
  const nested = NESTED[name];
  if (nested && Array.isArray(value)) {
    value.forEach((item, i) => {
      if (jsonType(item) !== 'object') {
        problems.push(`${path}[${i}]: an object expected`);
        return;
      }
      for (const [field, fieldValue] of Object.entries(item as Record<string, unknown>)) checkValue(`${path}[${i}].${field}`, field, nested[field], fieldValue, problems);
    });
  }
}

/**
 * The problems of one response object (a list item, an object, a job result) of `objectName`.
 * `partial`: the caller asked for a subset of the fields (listVirtualMachines `details=` other
 * than all), so collections outside it are rightly left out.
 */
export function objectProblems(path: string, objectName: string, fieldTypes: Readonly<Record<string, string>>, object: Record<string, unknown>, partial = false): string[] {
  const problems: string[] = [];
  // A few entries (listCapabilities) record no field types: their fields are not judged.
  const described = Object.keys(fieldTypes).length > 0;
  for (const [name, value] of Object.entries(object)) {
    const type = fieldTypes[name];
    if (described && type === undefined && name !== 'jobid' && name !== 'jobstatus') problems.push(`${path}.${name}: not a field of ${objectName} in the catalogue`);
    checkValue(`${path}.${name}`, name, type, value, problems);
  }
  // A destroyed-and-expunged VM may come back as an empty object (compute.md §1.2).
  if (Object.keys(object).length > 0 && !partial) {
    for (const always of ALWAYS[objectName] ?? []) {
      if (fieldTypes[always] !== undefined && !(always in object)) problems.push(`${path}: ${always} is always sent (empty: ${fieldTypes[always] === 'array' ? '[]' : '{}'})`);
    }
  }
  if (objectName === 'virtualmachine' && object['state'] === 'Stopped') {
    for (const field of ['hostid', 'hostname']) if (field in object) problems.push(`${path}.${field}: a Stopped VM has none`);
  }
  return problems;
}

/**
 * The problems of a reply of `command` (its body under the envelope), empty when it conforms.
 * Error replies are checked for their shape only. queryAsyncJobResult's jobresult is checked
 * against the catalogue entry of the command that started the job (its `cmd` is resolved by
 * `jobCommand`, since the wire carries a class name).
 */
export function replyProblems(command: string, status: number, body: Record<string, unknown>, jobCommand?: string, params: Readonly<Record<string, string>> = {}): string[] {
  const entry = catalogueEntry(command);
  if (!entry) return [`${command}: not in the catalogue`];
  if (status !== 200) {
    const problems: string[] = [];
    if (typeof body['errorcode'] !== 'number') problems.push('errorcode: a number expected');
    if (typeof body['errortext'] !== 'string') problems.push('errortext: a string expected');
    if (body['errorcode'] !== status) problems.push(`errorcode ${String(body['errorcode'])} differs from the HTTP status ${status}`);
    return problems;
  }
  if ('jobid' in body && !entry.async && command !== 'queryAsyncJobResult') return [`${command}: a synchronous reply carries no top-level jobid`];
  if (entry.async) {
    const keys = Object.keys(body).sort();
    const expected = [...(entry.response.asyncInitial ?? ['jobid'])].sort();
    return keys.join(',') === expected.join(',') ? [] : [`${command}: the submit reply has ${keys.join(',')}, not ${expected.join(',')}`];
  }
  const { kind, name, fieldTypes = {} } = entry.response;
  if (command === 'queryAsyncJobResult') {
    const problems = objectProblems(command, 'queryasyncjobresult', fieldTypes, body);
    const result = body['jobresult'] as Record<string, unknown> | undefined;
    const started = jobCommand === undefined ? undefined : catalogueEntry(jobCommand);
    if (body['jobstatus'] === 1 && result && started?.response.kind === 'object' && started.response.name !== null) {
      const keys = Object.keys(result);
      if (keys.length !== 1 || keys[0] !== started.response.name) problems.push(`jobresult: one key ${started.response.name} expected, got ${keys.join(',')}`);
      const object = result[started.response.name];
      if (object !== undefined) problems.push(...objectProblems(`jobresult.${started.response.name}`, started.response.name, started.response.fieldTypes ?? {}, object as Record<string, unknown>));
    }
    return problems;
  }
  if (kind === 'list' && name !== null) {
    const problems: string[] = [];
    const keys = Object.keys(body).filter((k) => k !== 'count');
    if (keys.length > 1 || (keys.length === 1 && keys[0] !== name)) problems.push(`${command}: list key ${name} expected, got ${keys.join(',')}`);
    if ('count' in body && typeof body['count'] !== 'number') problems.push(`${command}.count: a number expected`);
    const items = body[name];
    if (items !== undefined && !Array.isArray(items)) problems.push(`${command}.${name}: an array expected`);
    if (Array.isArray(items)) {
      if (items.length > 0 && !('count' in body)) problems.push(`${command}: a list with rows carries count`);
      // listVirtualMachines details=: CloudStack sends only the groups of fields asked for.
      const details = params['details']?.split(',');
      const partial = details !== undefined && !details.includes('all');
      items.forEach((item, i) => problems.push(...objectProblems(`${name}[${i}]`, name, fieldTypes, item as Record<string, unknown>, partial)));
    }
    return problems;
  }
  if (kind === 'object' && name !== null) {
    const object = body[name];
    if (jsonType(object) !== 'object') return [`${command}: object ${name} expected under the envelope`];
    return objectProblems(name, name, fieldTypes, object as Record<string, unknown>);
  }
  if (kind === 'success') return typeof body['success'] === 'boolean' ? [] : [`${command}: success must be a JSON boolean`];
  return [];
}
