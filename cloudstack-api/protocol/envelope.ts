import type { ApiError } from './errors.ts';
import type { ResponseFormat } from './params.ts';

/**
 * Response envelopes (PROTOCOL.md §4), byte for byte as ApiResponseSerializer writes them:
 * one top-level key (`<command>response` or its legacy name), then one of these bodies.
 */

/** A response object's fields, in the order they are written. Null and undefined are omitted. */
export type Fields = Readonly<Record<string, unknown>>;

export type ResponseBody =
  /** `{"createzoneresponse":{"zone":{…}}}` */
  | { readonly kind: 'object'; readonly name: string; readonly object: Fields }
  /** `{"listzonesresponse":{"count":2,"zone":[…]}}`; `{}` when count is 0; `{"count":5}` past the end. */
  | { readonly kind: 'list'; readonly name: string; readonly count: number; readonly items: readonly Fields[] }
  /** `{"deletezoneresponse":{"success":true}}` */
  | { readonly kind: 'success'; readonly displaytext?: string }
  /** Fields straight under the envelope: login, logout, queryAsyncJobResult, async submits. */
  | { readonly kind: 'flat'; readonly fields: Fields }
  | { readonly kind: 'error'; readonly error: ApiError };

export const contentTypes = {
  json: 'application/json; charset=UTF-8',
  xml: 'text/xml; charset=UTF-8',
} as const;

function errorFields(error: ApiError): Fields {
  return { uuidList: [], errorcode: error.code, cserrorcode: error.csErrorCode, errortext: error.message };
}

function successFields(body: { displaytext?: string }): Fields {
  return { success: true, displaytext: body.displaytext };
}

// A list row kept between requests (the same conformed object) is encoded once: a page of 500
// VMs is then copied, not serialized and transcoded to UTF-8 again (most of its time over HTTP).
const itemBytes = new WeakMap<Fields, Buffer>();

function bytesOf(item: Fields): Buffer {
  let bytes = itemBytes.get(item);
  if (bytes === undefined) itemBytes.set(item, (bytes = Buffer.from(JSON.stringify(item))));
  return bytes;
}

const COMMA = Buffer.from(',');

/** Undefined members vanish in JSON.stringify; nulls never reach here (conformFields drops them). */
function jsonBody(body: ResponseBody): string | Uint8Array[] {
  switch (body.kind) {
    case 'object':
      return `{${JSON.stringify(body.name)}:${JSON.stringify(body.object)}}`;
    case 'list': {
      if (body.count === 0) return '{}';
      if (body.items.length === 0) return `{"count":${body.count}}`;
      const parts: Uint8Array[] = [Buffer.from(`{"count":${body.count},${JSON.stringify(body.name)}:[`)];
      body.items.forEach((item, i) => {
        if (i > 0) parts.push(COMMA);
        parts.push(bytesOf(item));
      });
      parts.push(Buffer.from(']}'));
      return parts;
    }
    case 'success':
      return JSON.stringify(successFields(body));
    case 'flat':
      return JSON.stringify(body.fields);
    case 'error':
      return JSON.stringify(errorFields(body.error));
  }
}

function escapeXml(text: string): string {
  return text.replace(/["'<>&]/g, (char) =>
    char === '"' ? '&quot;' : char === "'" ? '&apos;' : char === '<' ? '&lt;' : char === '>' ? '&gt;' : '&amp;',
  );
}

/** Map keys are free text; an element name must not be. */
function elementName(key: string): string {
  const name = key.replace(/[^A-Za-z0-9_.-]/g, '_');
  return /^[A-Za-z_]/.test(name) ? name : `_${name}`;
}

/** One field: nested objects become child elements, each array item repeats the field's element. */
function xmlField(key: string, value: unknown): string {
  if (value === null || value === undefined) return '';
  const tag = elementName(key);
  if (Array.isArray(value)) return value.map((item) => xmlField(key, item)).join('');
  if (typeof value === 'object') return `<${tag}>${xmlFields(value as Fields)}</${tag}>`;
  const text = typeof value === 'string' ? value : typeof value === 'number' || typeof value === 'boolean' ? String(value) : JSON.stringify(value);
  return `<${tag}>${escapeXml(text)}</${tag}>`;
}

function xmlFields(fields: Fields): string {
  let out = '';
  for (const [key, value] of Object.entries(fields)) {
    // An empty uuidList writes nothing, as in the server's serializer.
    out += xmlField(key, value);
  }
  return out;
}

function xmlBody(body: ResponseBody): string {
  switch (body.kind) {
    case 'object':
      return xmlField(body.name, body.object);
    case 'list':
      return (body.count === 0 ? '' : `<count>${body.count}</count>`) + body.items.map((item) => xmlField(body.name, item)).join('');
    case 'success':
      return xmlFields(successFields(body));
    case 'flat':
      return xmlFields(body.fields);
    case 'error':
      return xmlFields(errorFields(body.error));
  }
}

/** The response as sent: UTF-8 bytes. */
export function serializeResponseBytes(envelope: string, body: ResponseBody, format: ResponseFormat, cloudstackVersion: string): Buffer {
  if (format === 'xml') {
    return Buffer.from(`<?xml version="1.0" encoding="UTF-8"?><${envelope} cloud-stack-version="${escapeXml(cloudstackVersion)}">` + `${xmlBody(body)}</${envelope}>`);
  }
  const inner = jsonBody(body);
  const head = `{${JSON.stringify(envelope)}:`;
  return typeof inner === 'string' ? Buffer.from(`${head}${inner}}`) : Buffer.concat([Buffer.from(head), ...inner, Buffer.from('}')]);
}

export function serializeResponse(envelope: string, body: ResponseBody, format: ResponseFormat, cloudstackVersion: string): string {
  return serializeResponseBytes(envelope, body, format, cloudstackVersion).toString('utf8');
}
