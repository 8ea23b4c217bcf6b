/**
 * ajv validators for the kinds, compiled once each on first use. The webhooks and the
 * CloudStack API check objects with these, so both doors reject bad input the same way
 * before the apiserver's own schema and CEL rules see it.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { TSchema } from 'typebox';

/** One problem, with the field path in the `spec.networks[0].ipAddress` form kubectl uses. */
export interface FieldError {
  field: string;
  message: string;
}

export type ValidationResult = { valid: true } | { valid: false; errors: FieldError[] };

const KUBERNETES_KEYWORDS = [
  'x-kubernetes-validations',
  'x-kubernetes-int-or-string',
  'x-kubernetes-preserve-unknown-fields',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
  'x-kubernetes-map-type',
  'x-kubernetes-embedded-resource',
];

// ajv-formats is CommonJS; its default export arrives as the module object under Node's ESM.
const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule) as unknown as (
  ajv: Ajv,
) => Ajv;

let shared: Ajv | undefined;

function ajv(): Ajv {
  if (shared) return shared;
  // strictTypes is off because a Kubernetes int-or-string carries `pattern` beside `anyOf`.
  const instance = new Ajv({ allErrors: true, strict: true, strictTypes: false });
  addFormats(instance);
  instance.addFormat('cidr', /^((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\/(3[0-2]|[12]?\d)$/);
  instance.addVocabulary(KUBERNETES_KEYWORDS);
  shared = instance;
  return instance;
}

function fieldPath(error: ErrorObject): string {
  const segments = error.instancePath
    .split('/')
    .slice(1)
    .map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'));
  if (error.keyword === 'required') segments.push(String((error.params as { missingProperty: string }).missingProperty));
  return segments.reduce((path, s) => (/^\d+$/.test(s) ? `${path}[${s}]` : path ? `${path}.${s}` : s), '');
}

function describe(error: ErrorObject): string {
  if (error.keyword === 'enum') return `must be one of: ${(error.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`;
  return error.message ?? 'is invalid';
}

/** A validator compiled the first time it is called. */
export function lazyValidator(schema: TSchema): (value: unknown) => ValidationResult {
  let compiled: ValidateFunction | undefined;
  return (value) => {
    compiled ??= ajv().compile(schema);
    if (compiled(value)) return { valid: true };
    const errors = (compiled.errors ?? [])
      .filter((e) => e.keyword !== 'anyOf' && e.keyword !== 'if')
      .map((e) => ({ field: fieldPath(e) || '(root)', message: describe(e) }));
    return { valid: false, errors };
  };
}
