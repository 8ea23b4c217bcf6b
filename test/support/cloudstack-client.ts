import { createHmac } from 'node:crypto';
import { catalogueEntry, replyProblems } from './response-fidelity.ts';

/**
 * A CloudStack API client written from shared/cloudstack-api/PROTOCOL.md alone (it imports
 * nothing from cloudstack-api/), so tests that drive the server with it check the server
 * against the specification rather than against itself: §2 signing (v1, v3 with expires),
 * §3 sessions (login over POST, JSESSIONID and sessionkey as cookie and parameter), §4 JSON
 * envelopes, §5 job polling, §7 paging. Every JSON reply to a catalogued command is held to
 * the catalogue's field types and the fidelity rules of response-fidelity.ts; a reply that
 * breaks them throws, so every test that calls a command checks its response.
 */

export interface CloudStackClientOptions {
  /** e.g. `http://127.0.0.1:8080/client/api` */
  readonly endpoint: string;
  readonly apiKey?: string;
  readonly secretKey?: string;
  /** 3 adds `signatureVersion=3` and `expires` (default); 1 signs without them. */
  readonly signatureVersion?: 1 | 3;
  /** How far ahead a v3 request expires. */
  readonly expiresInSeconds?: number;
  readonly method?: 'GET' | 'POST';
  readonly response?: 'json' | 'xml';
  /** false: return replies unchecked (tests of the protocol's own failure paths). */
  readonly fidelity?: boolean;
}

export interface RequestOptions {
  readonly method?: 'GET' | 'POST';
  readonly response?: 'json' | 'xml' | 'none';
  /** Leave the request unsigned (and outside any session). */
  readonly unsigned?: boolean;
  /** Replace the computed signature (to test rejection). */
  readonly signature?: string;
  /** Parameters added after signing (to test tampering). */
  readonly afterSigning?: Readonly<Record<string, string>>;
  /** Extra raw cookies, sent as they are. */
  readonly cookies?: Readonly<Record<string, string>>;
}

export interface CloudStackReply {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  /** The one top-level key of a JSON reply (`listzonesresponse`). */
  readonly envelope: string | undefined;
  /** What is under it. */
  readonly body: Record<string, unknown>;
}

/** §2 step 3: java.net.URLEncoder.encode(value, "UTF-8"), then `+` → `%20`. */
export function specEncode(value: string): string {
  let out = '';
  for (const byte of new TextEncoder().encode(value)) {
    const char = String.fromCharCode(byte);
    if (/[A-Za-z0-9.\-*_]/.test(char)) out += char;
    else if (char === ' ') out += '%20';
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** §2 steps 1-6: the signature of a request's parameters (all of them but `signature`). */
export function specSignature(params: Readonly<Record<string, string>>, secretKey: string): string {
  const names = Object.keys(params)
    .filter((name) => name.toLowerCase() !== 'signature')
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const canonical = names
    .map((name) => `${name}=${specEncode(params[name] as string)}`)
    .join('&')
    .toLowerCase();
  return createHmac('sha1', secretKey).update(canonical).digest('base64');
}

/** `yyyy-MM-ddTHH:mm:ss+0000`, the form the Python `cs` client sends. */
function expiresAt(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19)}+0000`;
}

export interface CloudStackClient {
  request(command: string, params?: Readonly<Record<string, string>>, options?: RequestOptions): Promise<CloudStackReply>;
  /** §3: POST login; keeps the JSESSIONID and sessionkey cookies and sends the key as a parameter afterwards. */
  login(username: string, password: string, domain?: string): Promise<CloudStackReply>;
  logout(): Promise<CloudStackReply>;
  /** The cookies currently held. */
  readonly cookies: ReadonlyMap<string, string>;
  /** §7, as `cs --fetch-list` does: pagesize=500, page 1..n until `count` rows are held. */
  listAll(command: string, params?: Readonly<Record<string, string>>): Promise<Record<string, unknown>[]>;
  /** §5: polls queryAsyncJobResult until the job leaves jobstatus 0; returns the final reply body. */
  waitForJob(jobid: string, options?: { intervalMs?: number; timeoutMs?: number }): Promise<Record<string, unknown>>;
}

export function createCloudStackClient(options: CloudStackClientOptions): CloudStackClient {
  const cookies = new Map<string, string>();
  /** The command that started each job this client saw submitted, for its jobresult's shape. */
  const jobCommands = new Map<string, string>();

  function checked(command: string, params: Readonly<Record<string, string>>, reply: CloudStackReply): CloudStackReply {
    if (options.fidelity === false || reply.envelope === undefined || catalogueEntry(command) === undefined) return reply;
    const jobid = reply.body['jobid'];
    if (reply.status === 200 && typeof jobid === 'string' && command !== 'queryAsyncJobResult') jobCommands.set(jobid, command);
    const problems = replyProblems(command, reply.status, reply.body, command === 'queryAsyncJobResult' ? jobCommands.get(params['jobid'] ?? '') : undefined, params);
    if (problems.length > 0) throw new Error(`the ${command} reply breaks the specification:\n  ${problems.join('\n  ')}\n${reply.text.slice(0, 2000)}`);
    return reply;
  }

  function remember(headers: Headers): void {
    for (const line of headers.getSetCookie()) {
      const [pair = '', ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const expired = attributes.some((attribute) => /^\s*max-age\s*=\s*0\s*$/i.test(attribute));
      if (expired) cookies.delete(name);
      else cookies.set(name, pair.slice(eq + 1).trim());
    }
  }

  async function send(params: Record<string, string>, method: 'GET' | 'POST', extraCookies?: Readonly<Record<string, string>>): Promise<CloudStackReply> {
    const encoded = new URLSearchParams(params).toString();
    const jar = new Map([...cookies, ...Object.entries(extraCookies ?? {})]);
    const headers: Record<string, string> = {};
    if (jar.size > 0) headers['cookie'] = [...jar].map(([name, value]) => `${name}=${value}`).join('; ');
    let response: Response;
    if (method === 'GET') {
      response = await fetch(`${options.endpoint}?${encoded}`, { headers });
    } else {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      response = await fetch(options.endpoint, { method: 'POST', headers, body: encoded });
    }
    remember(response.headers);
    const text = await response.text();
    let envelope: string | undefined;
    let body: Record<string, unknown> = {};
    if ((response.headers.get('content-type') ?? '').startsWith('application/json')) {
      const parsed = JSON.parse(text) as Record<string, Record<string, unknown>>;
      const keys = Object.keys(parsed);
      if (keys.length !== 1) throw new Error(`a JSON reply must have exactly one top-level key, got ${keys.join(', ')}`);
      envelope = keys[0];
      body = parsed[envelope as string] ?? {};
    }
    return { status: response.status, headers: response.headers, text, envelope, body };
  }

  const client: CloudStackClient = {
    cookies,
    async request(command, params = {}, requestOptions = {}) {
      const all: Record<string, string> = { command, ...params };
      const response = requestOptions.response ?? options.response ?? 'json';
      if (response !== 'none') all['response'] = response;
      const sessionKey = cookies.get('sessionkey');
      if (!requestOptions.unsigned && sessionKey !== undefined) {
        all['sessionkey'] = sessionKey;
      } else if (!requestOptions.unsigned && options.apiKey !== undefined && options.secretKey !== undefined) {
        all['apiKey'] = options.apiKey;
        if ((options.signatureVersion ?? 3) === 3) {
          all['signatureVersion'] = '3';
          all['expires'] = expiresAt(Date.now() + (options.expiresInSeconds ?? 600) * 1000);
        }
        all['signature'] = requestOptions.signature ?? specSignature(all, options.secretKey);
      }
      Object.assign(all, requestOptions.afterSigning);
      return checked(command, params, await send(all, requestOptions.method ?? options.method ?? 'GET', requestOptions.cookies));
    },
    async login(username, password, domain) {
      const params: Record<string, string> = { command: 'login', username, password, response: 'json' };
      if (domain !== undefined) params['domain'] = domain;
      return send(params, 'POST');
    },
    async logout() {
      return send({ command: 'logout', response: 'json' }, 'POST');
    },
    async listAll(command, params = {}) {
      const rows: Record<string, unknown>[] = [];
      for (let page = 1; ; page++) {
        const reply = await client.request(command, { ...params, page: String(page), pagesize: '500' });
        if (reply.status !== 200) throw new Error(`${command} page ${page}: HTTP ${reply.status} ${reply.text}`);
        const key = Object.keys(reply.body).find((name) => name !== 'count');
        const items = key === undefined ? [] : (reply.body[key] as Record<string, unknown>[]);
        rows.push(...items);
        const count = typeof reply.body['count'] === 'number' ? reply.body['count'] : 0;
        if (items.length === 0 || rows.length >= count) return rows;
      }
    },
    async waitForJob(jobid, { intervalMs = 1000, timeoutMs = 300_000 } = {}) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const reply = await client.request('queryAsyncJobResult', { jobid });
        if (reply.status !== 200) throw new Error(`queryAsyncJobResult ${jobid}: HTTP ${reply.status} ${reply.text}`);
        if (reply.body['jobstatus'] !== 0) return reply.body;
        if (Date.now() > deadline) throw new Error(`job ${jobid} still pending after ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, intervalMs));
      }
    },
  };
  return client;
}
