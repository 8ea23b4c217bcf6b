/**
 * Request parameters as CloudStack's ApiServlet sees them (PROTOCOL.md §1): the query string
 * and the form body merged (query first), form-decoded as UTF-8 (`+` is a space), the first
 * value of a repeated name winning, names kept exactly as received.
 */

export type RequestParams = ReadonlyMap<string, string>;

/** Merges the raw query string and the raw `application/x-www-form-urlencoded` body. */
export function parseRequestParams(queryString: string, formBody: string): RequestParams {
  const params = new Map<string, string>();
  for (const source of [queryString, formBody]) {
    if (source === '') continue;
    for (const [name, value] of new URLSearchParams(source)) {
      if (name !== '' && !params.has(name)) params.set(name, value);
    }
  }
  return params;
}

/**
 * A command's parameters as CloudStack's ParamUnpackWorker hands them to the command: each name
 * lower-cased up to its first `[` (`pageSize` is `pagesize`, `IpToNetworkList[0].networkId` is
 * `iptonetworklist[0].networkId`: a map's field names keep their case). The official web UI
 * sends `pageSize`. Of two names that differ only in case, the first received wins.
 */
export function unpackParamNames(params: RequestParams): RequestParams {
  const unpacked = new Map<string, string>();
  for (const [name, value] of params) {
    const bracket = name.indexOf('[');
    const key = bracket < 0 ? name.toLowerCase() : `${name.slice(0, bracket).toLowerCase()}${name.slice(bracket)}`;
    if (!unpacked.has(key)) unpacked.set(key, value);
  }
  return unpacked;
}

/** The signing parameters, matched case-insensitively by the signature check before any command runs. */
export interface SigningParams {
  apiKey: string | undefined;
  signature: string | undefined;
  signatureVersion: string | undefined;
  expires: string | undefined;
}

const signingNames: Record<string, keyof SigningParams> = {
  apikey: 'apiKey',
  signature: 'signature',
  signatureversion: 'signatureVersion',
  expires: 'expires',
};

/**
 * Picks apiKey/signature/signatureVersion/expires whatever their case. When a name appears in
 * several cases, the one sorting last wins, as in ApiServer.verifyRequest's loop over sorted names.
 */
export function signingParams(params: RequestParams): SigningParams {
  const found: SigningParams = { apiKey: undefined, signature: undefined, signatureVersion: undefined, expires: undefined };
  const winners: Partial<Record<keyof SigningParams, string>> = {};
  for (const [name, value] of params) {
    const key = signingNames[name.toLowerCase()];
    if (key === undefined) continue;
    const previous = winners[key];
    if (previous === undefined || name > previous) {
      winners[key] = name;
      found[key] = value;
    }
  }
  return found;
}

/** `response=json` (any case) selects JSON; anything else, or nothing, is XML. */
export type ResponseFormat = 'json' | 'xml';

export function responseFormat(params: RequestParams): ResponseFormat {
  return params.get('response')?.toLowerCase() === 'json' ? 'json' : 'xml';
}

// 0x00-0x09, 0x0B-0x0C, 0x0E-0x1F and 0x7F: every control character but LF and CR.
// eslint-disable-next-line no-control-regex
const controlCharacter = /[\u0000-\u0009\u000B\u000C\u000E-\u001F\u007F]/;

/** ApiServer.checkCharacterInkParams exempts this one parameter (it carries scripts). */
const controlCharactersAllowed = new Set(['activationrule']);

/** The first parameter whose value holds a control character, if any. */
export function parameterWithControlCharacter(params: RequestParams): string | undefined {
  for (const [name, value] of params) {
    if (!controlCharactersAllowed.has(name) && controlCharacter.test(value)) return name;
  }
  return undefined;
}

const mapEntryName = /^([^[\]]+)\[(\d+)\]\.(.+)$/;

/**
 * The `name[i].key=value` parameters of one map parameter, as an array ordered by index
 * (`tags[0].key=env&tags[0].value=prod` → `[{key: 'env', value: 'prod'}]`).
 */
export function mapParameter(params: RequestParams, name: string): Record<string, string>[] | undefined {
  const byIndex = new Map<number, Record<string, string>>();
  for (const [paramName, value] of params) {
    const match = mapEntryName.exec(paramName);
    if (match?.[1] !== name) continue;
    const index = Number(match[2]);
    const entry = byIndex.get(index) ?? {};
    entry[match[3] as string] = value;
    byIndex.set(index, entry);
  }
  if (byIndex.size === 0) return undefined;
  return [...byIndex.entries()].sort(([a], [b]) => a - b).map(([, entry]) => entry);
}
