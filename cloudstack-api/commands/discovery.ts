import { ApiError, CsErrorCode, entityNotFound, ErrorCode } from '../protocol/errors.ts';
import type { Fields } from '../protocol/envelope.ts';
import type { FieldType } from './catalogue.ts';
import { type Command, type CommandContext, type CommandTable, defineCommand } from './define.ts';
import { DEFAULT_STRING_LENGTH, type ParamSpec, type ParamSpecs } from './params.ts';

/**
 * Discovery: listApis (generated from the command table, so CloudMonkey's `sync` sees exactly
 * what is implemented), listCapabilities and listHypervisors.
 */

/** Login and logout are answered by the protocol itself, yet listed like any command. */
const sessionApis: readonly { name: string; description: string; params: ParamSpecs }[] = [
  {
    name: 'login',
    description:
      'Logs a user into the CloudStack. A successful login attempt will generate a JSESSIONID cookie value that can be passed in subsequent Query command calls until the "logout" command has been issued or the session has expired.',
    params: {
      username: { type: 'string', description: 'Username', required: true },
      password: { type: 'string', description: 'Password', required: true },
      domain: {
        type: 'string',
        description: 'Path of the domain that the user belongs to. Example: domain=/com/cloud/internal. If no domain is passed in, the ROOT (/) domain is assumed.',
      },
      domainId: { type: 'long', description: 'The id of the domain that the user belongs to. If both domain and domainId are passed in, "domainId" parameter takes precedence' },
    },
  },
  { name: 'logout', description: 'Logs out the user', params: {} },
];

const responseFieldTypes: Record<FieldType, string> = {
  string: 'string',
  number: 'long',
  boolean: 'boolean',
  array: 'list',
  'object(map)': 'map',
  object: 'responseobject',
  any: 'object',
};

interface ApiDescription {
  readonly name: string;
  readonly description: string;
  readonly since: string | null;
  readonly isasync: boolean;
  readonly params: ParamSpecs;
  readonly objectName: string | null;
  readonly fieldTypes: Readonly<Record<string, FieldType>>;
}

function describe(command: Command): ApiDescription {
  return {
    name: command.name,
    description: command.description,
    since: command.catalogue.since,
    isasync: command.isAsync,
    params: command.params,
    objectName: command.catalogue.response.name,
    fieldTypes: command.fieldTypes,
  };
}

/** Commands returning each object name, the basis of listApis' `related`. */
function commandsByObject(apis: readonly ApiDescription[]): Map<string, string[]> {
  const byObject = new Map<string, string[]>();
  for (const api of apis) {
    if (api.objectName === null) continue;
    byObject.set(api.objectName, [...(byObject.get(api.objectName) ?? []), api.name]);
  }
  return byObject;
}

function paramEntry(name: string, spec: ParamSpec, byObject: Map<string, string[]>): Fields {
  const related = spec.entity === undefined ? undefined : byObject.get(spec.entity)?.join(',');
  return {
    name,
    description: spec.description,
    type: spec.type,
    length: spec.length ?? DEFAULT_STRING_LENGTH,
    required: spec.required === true,
    since: spec.since,
    related,
  };
}

function apiEntry(api: ApiDescription, byObject: Map<string, string[]>): Fields {
  const related = api.objectName === null ? [] : (byObject.get(api.objectName) ?? []).filter((name) => name !== api.name);
  return {
    name: api.name,
    description: api.description,
    since: api.since ?? undefined,
    isasync: api.isasync,
    related: related.length > 0 ? related.join(',') : undefined,
    params: Object.entries(api.params).map(([name, spec]) => paramEntry(name, spec, byObject)),
    response: Object.entries(api.fieldTypes).map(([name, type]) => ({ name, description: '', type: responseFieldTypes[type] })),
  };
}

function allowedApis(table: CommandTable, ctx: CommandContext): ApiDescription[] {
  const fromTable = [...table.values()].filter((command) => ctx.isAllowed(command.name)).map(describe);
  const fromProtocol = sessionApis.map((api) => ({ ...api, since: null, isasync: false, objectName: null, fieldTypes: {} }));
  return [...fromTable, ...fromProtocol].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

const listApis = defineCommand({
  name: 'listApis',
  kind: 'list',
  description: 'lists all available apis on the server, provided by the Api Discovery plugin',
  params: { name: { type: 'string', description: 'API name' } },
  handle(params, ctx) {
    const apis = allowedApis(ctx.table, ctx);
    const byObject = commandsByObject(apis);
    const chosen = params.name === undefined ? apis : apis.filter((api) => api.name === params.name);
    if (chosen.length === 0) {
      throw new ApiError(ErrorCode.internalError, 'Api Discovery plugin was unable to find an api by that name or process any apis', {
        csErrorCode: CsErrorCode.serverApi,
      });
    }
    return Promise.resolve(chosen.map((api) => apiEntry(api, byObject)));
  },
  mapItem: (entry) => entry,
});

/** listCapabilities' fields; the catalogue records names only, so their JSON types are here (Go SDK `Capability`). */
const capabilityFieldTypes = {
  cloudstackversion: 'string',
  securitygroupsenabled: 'boolean',
  userpublictemplateenabled: 'boolean',
  supportELB: 'string',
  projectinviterequired: 'boolean',
  allowusercreateprojects: 'boolean',
  customdiskofferingminsize: 'number',
  customdiskofferingmaxsize: 'number',
  regionsecondaryenabled: 'boolean',
  kvmsnapshotenabled: 'boolean',
  allowuserviewdestroyedvm: 'boolean',
  allowuserexpungerecovervm: 'boolean',
  allowuserexpungerecovervolume: 'boolean',
  allowuserviewalldomainaccounts: 'boolean',
  allowuserforcestopvm: 'boolean',
  kubernetesserviceenabled: 'boolean',
  kubernetesclusterexperimentalfeaturesenabled: 'boolean',
  dynamicrolesenabled: 'boolean',
  dynamicscalingenabled: 'boolean',
  defaultuipagesize: 'number',
  instancesstatsretentiontime: 'number',
  instancesstatsuseronly: 'boolean',
  instancesdisksstatsretentionenabled: 'boolean',
  instancesdisksstatsretentiontime: 'number',
  apilimitinterval: 'number',
  apilimitmax: 'number',
  customhypervisordisplayname: 'string',
  sharedfsvmmincpucount: 'number',
  sharedfsvmminramsize: 'number',
  snapshotshowchainsize: 'boolean',
  additionalconfigenabled: 'boolean',
  instanceleaseenabled: 'boolean',
  extensionspath: 'string',
  jobid: 'string',
  jobstatus: 'number',
} as const satisfies Record<string, FieldType>;

export type Capabilities = Partial<Record<Exclude<keyof typeof capabilityFieldTypes, 'cloudstackversion' | 'jobid' | 'jobstatus'>, string | number | boolean>>;

/** What Kumulus offers today; the global settings that change these are wired by the caller. */
export const defaultCapabilities: Capabilities = {
  securitygroupsenabled: false,
  userpublictemplateenabled: true,
  supportELB: 'false',
  projectinviterequired: false,
  allowusercreateprojects: true,
  customdiskofferingminsize: 1,
  customdiskofferingmaxsize: 1024,
  regionsecondaryenabled: false,
  kvmsnapshotenabled: false,
  allowuserviewdestroyedvm: false,
  allowuserexpungerecovervm: false,
  allowuserexpungerecovervolume: true,
  allowuserviewalldomainaccounts: false,
  allowuserforcestopvm: true,
  kubernetesserviceenabled: false,
  kubernetesclusterexperimentalfeaturesenabled: false,
  dynamicrolesenabled: true,
  dynamicscalingenabled: false,
  defaultuipagesize: 20,
  instancesstatsretentiontime: 720,
  instancesstatsuseronly: false,
  instancesdisksstatsretentionenabled: false,
  instancesdisksstatsretentiontime: 720,
  snapshotshowchainsize: false,
  additionalconfigenabled: false,
  instanceleaseenabled: false,
};

export interface DiscoveryOptions {
  /** listCapabilities' values (cloudstackversion comes from the protocol settings). */
  readonly capabilities: (ctx: CommandContext) => Capabilities;
  /** `hypervisor.list`: the hypervisors listHypervisors reports without a zone. */
  readonly hypervisors: (ctx: CommandContext) => readonly string[];
  /** The hypervisors of a zone's clusters, or undefined when the zone does not exist (or is not visible). */
  readonly zoneHypervisors: (zoneId: string, ctx: CommandContext) => Promise<readonly string[] | undefined>;
}

export function discoveryCommands(options: DiscoveryOptions): Command[] {
  const listCapabilities = defineCommand({
    name: 'listCapabilities',
    kind: 'object',
    description: 'Lists capabilities',
    params: {},
    fieldTypes: capabilityFieldTypes,
    handle: (_params, ctx) => Promise.resolve(options.capabilities(ctx)),
    map: (capabilities, ctx) => ({ cloudstackversion: ctx.settings.cloudstackVersion, ...capabilities }),
  });

  const listHypervisors = defineCommand({
    name: 'listHypervisors',
    kind: 'list',
    description: 'List hypervisors',
    params: { zoneid: { type: 'uuid', description: 'the zone id for listing hypervisors.', entity: 'zone' } },
    async handle(params, ctx) {
      if (params.zoneid === undefined) return options.hypervisors(ctx);
      const inZone = await options.zoneHypervisors(params.zoneid, ctx);
      if (inZone === undefined) throw entityNotFound('listhypervisors', 'zoneid', params.zoneid);
      return inZone;
    },
    mapItem: (name) => ({ name }),
  });

  return [listApis, listCapabilities, listHypervisors];
}
