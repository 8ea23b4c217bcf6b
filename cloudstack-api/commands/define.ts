import type { Logger } from '../../lib/log.ts';
import type { Caller } from '../protocol/auth.ts';
import type { Fields, ResponseBody } from '../protocol/envelope.ts';
import { commandLabel } from '../protocol/errors.ts';
import type { JobOutcome } from '../protocol/jobs.ts';
import { jobSubmitted } from '../protocol/jobs.ts';
import { pageOf, resolvePage } from '../protocol/paging.ts';
import { type RequestParams, unpackParamNames } from '../protocol/params.ts';
import type { ProtocolSettings } from '../protocol/settings.ts';
import { type CatalogueEntry, catalogueEntry, envelopeOf, type FieldType } from './catalogue.ts';
import { conformFields } from './conform.ts';
import { compileParams, isDeclared, type ParamSpecs, type ParamValues } from './params.ts';

/**
 * The command table. Each command declares its parameters, its handler and its response mapper;
 * the catalogue supplies its envelope, object name and the JSON types of its fields, and
 * defineCommand checks the declaration against the catalogue so the table cannot drift from it.
 */

export interface CommandContext {
  readonly caller: Caller;
  readonly command: string;
  readonly log: Logger;
  readonly now: Date;
  readonly settings: ProtocolSettings;
  /** The table being served (listApis describes it). */
  readonly table: CommandTable;
  /** Whether the caller's role allows a command (listApis lists only those). */
  isAllowed(command: string): boolean;
}

interface DefinitionBase<S extends ParamSpecs> {
  /** The API name, exactly as in the catalogue. */
  readonly name: string;
  /** listApis' description. */
  readonly description: string;
  readonly params: S;
  /** Field types for commands whose catalogue entry records none (listCapabilities). */
  readonly fieldTypes?: Readonly<Record<string, FieldType>>;
  /**
   * Answered without a session or a signature, as CloudStack answers its APIAuthenticator
   * commands: the web UI asks them on its login page, and reads any 401 as an expired session.
   * The handler then runs as ANONYMOUS_CALLER.
   */
  readonly anonymous?: boolean;
}

/** `{"listzonesresponse":{"count":N,"zone":[…]}}`: the handler returns every matching row in order; paging is done here. */
export interface ListDefinition<S extends ParamSpecs, T> extends DefinitionBase<S> {
  readonly kind: 'list';
  handle(params: ParamValues<S>, ctx: CommandContext): Promise<readonly T[]>;
  mapItem(item: T, ctx: CommandContext): Fields;
}

/** `{"createzoneresponse":{"zone":{…}}}` */
export interface ObjectDefinition<S extends ParamSpecs, T> extends DefinitionBase<S> {
  readonly kind: 'object';
  handle(params: ParamValues<S>, ctx: CommandContext): Promise<T>;
  map(result: T, ctx: CommandContext): Fields;
}

/** `{"deletezoneresponse":{"success":true}}` */
export interface SuccessDefinition<S extends ParamSpecs> extends DefinitionBase<S> {
  readonly kind: 'success';
  handle(params: ParamValues<S>, ctx: CommandContext): Promise<{ readonly displaytext?: string } | undefined>;
}

/** Fields straight under the envelope (`queryAsyncJobResult`). */
export interface FlatDefinition<S extends ParamSpecs, T> extends DefinitionBase<S> {
  readonly kind: 'flat';
  handle(params: ParamValues<S>, ctx: CommandContext): Promise<T>;
  map(result: T, ctx: CommandContext): Fields;
}

/** An async command: the handler records the job (an AsyncJob object) and returns its id, plus the new entity's id for create-type commands. */
export interface AsyncDefinition<S extends ParamSpecs> extends DefinitionBase<S> {
  readonly kind: 'async';
  handle(params: ParamValues<S>, ctx: CommandContext): Promise<{ readonly jobid: string; readonly id?: string }>;
}

export type CommandDefinition<S extends ParamSpecs, T> =
  | ListDefinition<S, T>
  | ObjectDefinition<S, T>
  | SuccessDefinition<S>
  | FlatDefinition<S, T>
  | AsyncDefinition<S>;

/** One entry of the table, its types erased. */
export interface Command {
  readonly name: string;
  readonly description: string;
  readonly catalogue: CatalogueEntry;
  /** The response envelope, legacy name included. */
  readonly envelope: string;
  /** Every parameter it accepts, the paging ones included. */
  readonly params: ParamSpecs;
  readonly isAsync: boolean;
  /** The JSON types of its response (or job result) fields. */
  readonly fieldTypes: Readonly<Record<string, FieldType>>;
  /** Answered without authentication (see DefinitionBase.anonymous). */
  readonly anonymous: boolean;
  execute(params: RequestParams, ctx: CommandContext): Promise<ResponseBody>;
}

export type CommandTable = ReadonlyMap<string, Command>;

const pagingParams = {
  page: { type: 'integer', description: 'The page to return, from 1; requires pagesize' },
  pagesize: { type: 'integer', description: 'The rows per page (at most default.page.size; -1 for all); requires page' },
} as const satisfies ParamSpecs;

/** Protocol parameters every command receives and none declares. */
const protocolParams = new Set(['command', 'response', 'sessionkey', '_', 'apikey', 'signature', 'signatureversion', 'expires']);

function checkAgainstCatalogue(definition: CommandDefinition<ParamSpecs, unknown>, entry: CatalogueEntry): void {
  const problem = (text: string): never => {
    throw new Error(`command ${definition.name}: ${text}`);
  };
  const expectedKind = definition.kind === 'async' ? undefined : entry.response.kind;
  if (entry.async !== (definition.kind === 'async')) problem(`the catalogue says async=${entry.async}; declare kind ${entry.async ? "'async'" : `'${entry.response.kind}'`}`);
  if (expectedKind !== undefined && expectedKind !== definition.kind) problem(`the catalogue's response kind is ${expectedKind}, not ${definition.kind}`);
  for (const [name, spec] of Object.entries(definition.params)) {
    const catalogueType = entry.paramTypes[name];
    if (catalogueType === undefined) problem(`parameter ${name} is not in the catalogue`);
    if (catalogueType !== spec.type) problem(`parameter ${name} has type ${catalogueType} in the catalogue, not ${spec.type}`);
    if ((spec.required === true) !== entry.required.includes(name)) problem(`parameter ${name} must ${spec.required ? 'not ' : ''}be required, as in the catalogue`);
    if (spec.description.trim() === '') problem(`parameter ${name} needs a description (listApis requires one)`);
  }
  for (const name of entry.required) {
    if (!Object.hasOwn(definition.params, name)) problem(`required parameter ${name} is not declared`);
  }
  if (definition.description.trim() === '') problem('needs a description (listApis requires one)');
}

function warnUnknown(ctx: CommandContext, specs: ParamSpecs, params: RequestParams): void {
  const unknown = [...params.keys()].filter((name) => !protocolParams.has(name.toLowerCase()) && !isDeclared(specs, name));
  if (unknown.length > 0) {
    ctx.log.warn(`Received unknown parameters for command ${ctx.command}. Unknown parameters : ${unknown.join(' ')}`);
  }
}

/**
 * Declares a command. Throws at startup when the declaration disagrees with the catalogue
 * (kind, async, parameter names, types or requiredness), naming what to change.
 */
export function defineCommand<const S extends ParamSpecs, T>(definition: CommandDefinition<S, T>): Command {
  const entry = catalogueEntry(definition.name);
  if (!entry) throw new Error(`command ${definition.name} is not in the catalogue; check its spelling (names are case-sensitive)`);
  const erased = definition as unknown as CommandDefinition<ParamSpecs, unknown>;
  checkAgainstCatalogue(erased, entry);

  const envelope = envelopeOf(entry);
  const label = commandLabel(envelope);
  const paged = definition.kind === 'list' && entry.optional.includes('page') && entry.optional.includes('pagesize');
  const params: ParamSpecs = paged ? { ...definition.params, ...pagingParams } : definition.params;
  const parse = compileParams(label, params);
  const fieldTypes = definition.fieldTypes ?? entry.response.fieldTypes ?? {};
  if (Object.keys(fieldTypes).length === 0 && (definition.kind === 'list' || definition.kind === 'object' || definition.kind === 'flat')) {
    throw new Error(`command ${definition.name}: the catalogue records no field types; declare fieldTypes`);
  }
  const objectName = entry.response.name ?? '';
  const conform = (fields: Fields): Fields => conformFields(definition.name, fieldTypes, fields);
  // Rows a list keeps between requests (compute-views.ts vmRow) come back as the same objects: conformed once.
  const conformed = new WeakMap<Fields, Fields>();
  const conformRow = (fields: Fields): Fields => {
    let out = conformed.get(fields);
    if (out === undefined) conformed.set(fields, (out = conform(fields)));
    return out;
  };

  const run = async (parsed: Record<string, unknown>, ctx: CommandContext): Promise<ResponseBody> => {
    const values = parsed as ParamValues<ParamSpecs>;
    switch (erased.kind) {
      case 'list': {
        const page = paged ? resolvePage(label, parsed['page'] as number | undefined, parsed['pagesize'] as number | undefined, ctx.settings.defaultPageSize) : undefined;
        const rows = await erased.handle(values, ctx);
        const shown = page ? pageOf(rows, page) : rows;
        return { kind: 'list', name: objectName, count: rows.length, items: shown.map((row) => conformRow(erased.mapItem(row, ctx))) };
      }
      case 'object':
        return { kind: 'object', name: objectName, object: conform(erased.map(await erased.handle(values, ctx), ctx)) };
      case 'flat':
        return { kind: 'flat', fields: conform(erased.map(await erased.handle(values, ctx), ctx)) };
      case 'success': {
        const result = await erased.handle(values, ctx);
        return result?.displaytext === undefined ? { kind: 'success' } : { kind: 'success', displaytext: result.displaytext };
      }
      case 'async': {
        const submitted = await erased.handle(values, ctx);
        return jobSubmitted(submitted.jobid, submitted.id);
      }
    }
  };

  return {
    name: definition.name,
    description: definition.description,
    catalogue: entry,
    envelope,
    params,
    isAsync: entry.async,
    fieldTypes,
    anonymous: definition.anonymous === true,
    async execute(request, ctx) {
      const unpacked = unpackParamNames(request);
      warnUnknown(ctx, params, unpacked);
      return run(parse(unpacked), ctx);
    },
  };
}

/** Answered by the protocol itself (sessions), never by the table. */
const sessionCommands = new Set(['login', 'logout']);

/** The table served by the API; names must be unique. */
export function createCommandTable(commands: readonly Command[]): CommandTable {
  const table = new Map<string, Command>();
  for (const command of commands) {
    if (table.has(command.name)) throw new Error(`command ${command.name} is in the table twice`);
    if (sessionCommands.has(command.name)) throw new Error(`command ${command.name} is handled by the protocol; leave it out of the table`);
    table.set(command.name, command);
  }
  return table;
}

/**
 * The outcome of a finished async job that yields an object: the object under the command's
 * object name, its fields in the catalogue's types (queryAsyncJobResult's `jobresult`).
 */
export function jobObjectOutcome(command: Command, fields: Fields): JobOutcome {
  const name = command.catalogue.response.name;
  if (command.catalogue.response.kind !== 'object' || name === null) {
    throw new Error(`command ${command.name} does not yield an object; report a success outcome instead`);
  }
  return { kind: 'object', name, object: conformFields(command.name, command.fieldTypes, fields) };
}
