import { Ajv, type ErrorObject } from 'ajv';
import { parseParamDate } from '../protocol/dates.ts';
import {
  type ApiError,
  entityNotFound,
  invalidValue,
  missingParameter,
  paramError,
  unparsableDate,
  valueTooLong,
} from '../protocol/errors.ts';
import { mapParameter, type RequestParams } from '../protocol/params.ts';
import type { CatalogueParamType } from './catalogue.ts';

/**
 * Command parameters: each command declares its parameters once, and that declaration gives
 * the ajv validator, the typed values its handler receives, and its listApis entry. Values are
 * checked and converted as ParamProcessWorker does, with its error texts.
 */

export interface ParamSpec {
  readonly type: CatalogueParamType;
  readonly description: string;
  readonly required?: boolean;
  /** Longest accepted string (CloudStack's @Parameter length, 255 by default). */
  readonly length?: number;
  readonly since?: string;
  /** For ids: the object name they point at (`zone`); listApis relates the commands returning it. */
  readonly entity?: string;
  /** The element type of a `list`. */
  readonly items?: 'string' | 'uuid' | 'integer' | 'long';
  /** A `date` that also accepts `yyyy-MM-dd HH:mm:ss`. */
  readonly withTime?: boolean;
  /** The only values accepted. */
  readonly oneOf?: readonly string[];
}

export type ParamSpecs = Readonly<Record<string, ParamSpec>>;

type ValueOf<S extends ParamSpec> = S['type'] extends 'boolean'
  ? boolean
  : S['type'] extends 'integer' | 'long' | 'short'
    ? number
    : S['type'] extends 'list'
      ? string[]
      : S['type'] extends 'map'
        ? Record<string, string>[]
        : S['type'] extends 'date'
          ? Date
          : string;

type RequiredKeys<S extends ParamSpecs> = { [K in keyof S]: S[K]['required'] extends true ? K : never }[keyof S];
type OptionalKeys<S extends ParamSpecs> = Exclude<keyof S, RequiredKeys<S>>;

/** The typed values a handler receives: required parameters always present, the others optional. */
export type ParamValues<S extends ParamSpecs> = { readonly [K in RequiredKeys<S>]: ValueOf<S[K]> } & {
  readonly [K in OptionalKeys<S>]?: ValueOf<S[K]>;
};

export const DEFAULT_STRING_LENGTH = 255;

const ranges = {
  integer: [-(2 ** 31), 2 ** 31 - 1],
  short: [-(2 ** 15), 2 ** 15 - 1],
  long: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
} as const;

const wholeNumber = /^[+-]?\d+$/;

function inRange(text: string, [min, max]: readonly [number, number]): boolean {
  if (!wholeNumber.test(text)) return false;
  const value = Number(text);
  return value >= min && value <= max;
}

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const ajv = new Ajv({ allErrors: false, strict: true });
// `-1` is CloudStack's "all" marker for ids (projectid=-1 lists every project).
ajv.addFormat('cs-uuid', { type: 'string', validate: (text) => text === '-1' || uuid.test(text) });
ajv.addFormat('cs-boolean', { type: 'string', validate: (text) => /^(true|false)$/i.test(text) });
ajv.addFormat('cs-integer', { type: 'string', validate: (text) => inRange(text, ranges.integer) });
ajv.addFormat('cs-short', { type: 'string', validate: (text) => inRange(text, ranges.short) });
ajv.addFormat('cs-long', { type: 'string', validate: (text) => inRange(text, ranges.long) });
ajv.addFormat('cs-date', { type: 'string', validate: (text) => parseParamDate(text, false) !== undefined });
ajv.addFormat('cs-datetime', { type: 'string', validate: (text) => parseParamDate(text, true) !== undefined });

const scalarFormats: Partial<Record<CatalogueParamType, string>> = {
  uuid: 'cs-uuid',
  boolean: 'cs-boolean',
  integer: 'cs-integer',
  short: 'cs-short',
  long: 'cs-long',
};

function schemaOf(spec: ParamSpec): Record<string, unknown> {
  switch (spec.type) {
    case 'string':
      return {
        type: 'string',
        maxLength: spec.length ?? DEFAULT_STRING_LENGTH,
        ...(spec.oneOf ? { enum: [...spec.oneOf] } : {}),
      };
    case 'date':
      return { type: 'string', format: spec.withTime ? 'cs-datetime' : 'cs-date' };
    case 'list': {
      const format = spec.items === undefined || spec.items === 'string' ? undefined : scalarFormats[spec.items];
      return { type: 'array', items: format ? { type: 'string', format } : { type: 'string' } };
    }
    case 'map':
      return { type: 'array', items: { type: 'object', additionalProperties: { type: 'string' } } };
    default:
      return { type: 'string', format: scalarFormats[spec.type] };
  }
}

/** Raw parameter values in the shape the schema checks: lists split, maps gathered. */
function rawValues(specs: ParamSpecs, params: RequestParams): Record<string, unknown> {
  const raw: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(specs)) {
    if (spec.type === 'map') {
      const entries = mapParameter(params, name);
      if (entries !== undefined) raw[name] = entries;
      continue;
    }
    const value = params.get(name);
    if (value === undefined) continue;
    // A blank integer counts as absent, as the server's INTEGER handling does.
    if (spec.type === 'integer' && value.trim() === '') continue;
    // StringTokenizer(value, ","): empty tokens vanish.
    raw[name] = spec.type === 'list' ? value.split(',').filter((token) => token !== '') : value;
  }
  return raw;
}

function valueAt(raw: Record<string, unknown>, path: string[]): string {
  let value: unknown = raw;
  for (const step of path) value = (value as Record<string, unknown>)[step];
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function toApiError(label: string, specs: ParamSpecs, raw: Record<string, unknown>, error: ErrorObject): ApiError {
  if (error.keyword === 'required') return missingParameter(label, (error.params as { missingProperty: string }).missingProperty);
  const path = error.instancePath.split('/').slice(1);
  const param = path[0] ?? '';
  const spec = specs[param];
  const value = valueAt(raw, path);
  if (error.keyword === 'maxLength') return valueTooLong(label, param, (error.params as { limit: number }).limit);
  if (error.keyword === 'enum') {
    return paramError(`${invalidValue(label, param, value).message}; use one of: ${(spec?.oneOf ?? []).join(', ')}`);
  }
  if (spec?.type === 'date') return unparsableDate(label, value);
  if (spec?.type === 'uuid' || spec?.items === 'uuid') return entityNotFound(label, param, value);
  return invalidValue(label, param, value);
}

function convert(spec: ParamSpec, raw: unknown): unknown {
  switch (spec.type) {
    case 'boolean':
      return (raw as string).toLowerCase() === 'true';
    case 'integer':
    case 'long':
    case 'short':
      return Number(raw);
    case 'date':
      return parseParamDate(raw as string, spec.withTime ?? false);
    default:
      return raw;
  }
}

export type ParamParser<S extends ParamSpecs> = (params: RequestParams) => ParamValues<S>;

/**
 * Compiles a command's parameter declarations into a parser that validates the request (ajv)
 * and returns typed values, or throws the ApiError CloudStack would send.
 * @param label the command as errors name it (errors.commandLabel of its envelope)
 */
export function compileParams<S extends ParamSpecs>(label: string, specs: S): ParamParser<S> {
  const properties = Object.fromEntries(Object.entries(specs).map(([name, spec]) => [name, schemaOf(spec)]));
  const required = Object.entries(specs)
    .filter(([, spec]) => spec.required === true)
    .map(([name]) => name);
  const validate = ajv.compile({ type: 'object', properties, required });
  return (params) => {
    const raw = rawValues(specs, params);
    if (!validate(raw)) {
      const [first] = validate.errors ?? [];
      if (first) throw toApiError(label, specs, raw, first);
    }
    const values: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(raw)) {
      const spec = specs[name];
      if (spec) values[name] = convert(spec, value);
    }
    return values as ParamValues<S>;
  };
}

/** Whether a request parameter belongs to the declared ones (`name[i].key` belongs to map `name`). */
export function isDeclared(specs: ParamSpecs, paramName: string): boolean {
  if (Object.hasOwn(specs, paramName)) return true;
  const bracket = paramName.indexOf('[');
  return bracket > 0 && specs[paramName.slice(0, bracket)]?.type === 'map';
}
