import type { Fields } from '../protocol/envelope.ts';
import type { FieldType } from './catalogue.ts';

/**
 * Response fields in the JSON types the catalogue records (§4, §9: the Go SDK fails to decode a
 * field whose type differs). Null and undefined fields are dropped; a number or boolean where
 * the catalogue says string is written as a string (CloudStack declares many such fields
 * String); anything else that does not fit is a bug in a response mapper, reported loudly.
 */
export function conformFields(command: string, fieldTypes: Readonly<Record<string, FieldType>>, fields: Fields): Fields {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(fields)) {
    if (value === undefined || value === null) continue;
    const type = fieldTypes[name];
    if (type === undefined) throw new Error(`${command}: response field ${name} is not in the catalogue; remove it or add its type to the command's fieldTypes`);
    out[name] = conformValue(command, name, type, value);
  }
  return out;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function conformValue(command: string, name: string, type: FieldType, value: unknown): unknown {
  switch (type) {
    case 'any':
      return value;
    case 'string':
      if (typeof value === 'string') return value;
      if (typeof value === 'number' || typeof value === 'boolean') return String(value);
      break;
    case 'number':
      if (typeof value === 'number' && Number.isFinite(value)) return value;
      break;
    case 'boolean':
      if (typeof value === 'boolean') return value;
      break;
    case 'array':
      if (Array.isArray(value)) return value;
      break;
    case 'object':
    case 'object(map)':
      if (isPlainObject(value)) return value;
      break;
  }
  throw new Error(`${command}: response field ${name} must be JSON ${type}, got ${JSON.stringify(value)}`);
}
