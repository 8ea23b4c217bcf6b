import { log as rootLog, type Logger } from '../lib/log.ts';
import { catalogueEntry } from './commands/catalogue.ts';
import { conformFields } from './commands/conform.ts';
import type { CommandContext, CommandTable } from './commands/define.ts';
import { ANONYMOUS_CALLER, type Authenticator, type Caller, isRootAdmin, normaliseDomainPath } from './protocol/auth.ts';
import { contentTypes, type Fields, type ResponseBody, serializeResponseBytes } from './protocol/envelope.ts';
import {
  ApiError,
  badSignature,
  commandNotAvailable,
  controlCharacters,
  ErrorCode,
  internalError,
  invalidSession,
  loginDomainNotFound,
  loginFailed,
  loginRequiresPost,
  missingParameter,
  noCommandSpecified,
  unknownCommand,
  USER_ERROR_MESSAGE,
} from './protocol/errors.ts';
import { parameterWithControlCharacter, parseRequestParams, type RequestParams, responseFormat, type ResponseFormat, signingParams } from './protocol/params.ts';
import {
  expiredCookies,
  newSessionId,
  newSessionKey,
  parseCookies,
  SESSION_COOKIE,
  SESSION_KEY,
  type SessionRecord,
  type SessionStore,
  sessionCookies,
  sessionExpired,
  sessionKeyValid,
  sessionNeedsTouch,
} from './protocol/sessions.ts';
import { defaultProtocolSettings, type ProtocolSettings } from './protocol/settings.ts';
import { expiryAcceptable, signatureMatches } from './protocol/signature.ts';
import { errorMessage } from '../lib/error-message.ts';
import { derivedUuid } from './lists/cache.ts';
import { hostname } from 'node:os';

/**
 * One request through the CloudStack API, as ApiServlet and ApiServer handle it: login and
 * logout first; then a session (JSESSIONID plus session key) or a signed API-key request;
 * then the control-character check and the command from the table. Transport-free, so the
 * express app and the tests drive the same function.
 */

export interface ApiRequest {
  readonly method: string;
  /** The raw query string, without `?`. */
  readonly queryString: string;
  /** The raw `application/x-www-form-urlencoded` body, or ''. */
  readonly formBody: string;
  readonly cookieHeader: string | undefined;
}

export interface ApiResponse {
  readonly status: number;
  readonly contentType: string;
  /** UTF-8. */
  readonly body: Buffer;
  readonly setCookies: readonly string[];
  /** The error text, sent as the X-Description header. */
  readonly description?: string;
}

export interface ApiDependencies {
  readonly auth: Authenticator;
  readonly sessions: SessionStore;
  readonly commands: CommandTable;
  /** Read per request, so changed global settings apply at once. */
  readonly settings?: () => ProtocolSettings;
  readonly log?: Logger;
  readonly now?: () => number;
}

const ERROR_ENVELOPE = 'errorresponse';
const sessionEnvelopes: Record<string, string> = { login: 'loginresponse', logout: 'logoutresponse' };

type Reply = (envelope: string, body: ResponseBody, setCookies?: readonly string[]) => ApiResponse;

function replier(format: ResponseFormat, settings: ProtocolSettings): Reply {
  return (envelope, body, setCookies = []) => {
    const error = body.kind === 'error' ? body.error : undefined;
    return {
      status: error?.code ?? 200,
      contentType: contentTypes[format],
      body: serializeResponseBytes(envelope, body, format, settings.cloudstackVersion),
      setCookies,
      ...(error ? { description: error.message } : {}),
    };
  };
}

/** This API process as CloudStack's management server: a name-based UUID of its host name, stable across restarts. */
const MANAGEMENT_SERVER_ID = derivedUuid('management-server', hostname());

/** Hours east of UTC as Java's Float.toString writes them ("5.5", "-8.0"). */
function timezoneOffset(timezone: string, now: number): string | undefined {
  try {
    const name = new Intl.DateTimeFormat('en-US', { timeZone: timezone, timeZoneName: 'longOffset' })
      .formatToParts(now)
      .find((part) => part.type === 'timeZoneName')?.value;
    const match = /GMT(?:([+-])(\d{2}):(\d{2}))?/.exec(name ?? '');
    if (!match) return undefined;
    const hours = match[1] === undefined ? 0 : (match[1] === '-' ? -1 : 1) * (Number(match[2]) + Number(match[3]) / 60);
    return Number.isInteger(hours) ? hours.toFixed(1) : String(hours);
  } catch {
    return undefined;
  }
}

function loginFields(caller: Caller, session: SessionRecord, settings: ProtocolSettings, now: number): Fields {
  const fields: Fields = {
    timeout: session.timeoutSeconds,
    username: caller.username,
    userid: caller.userId,
    domainid: caller.domainId,
    type: String(caller.accountType),
    account: caller.accountName,
    firstname: caller.firstname,
    lastname: caller.lastname,
    registered: 'false',
    sessionkey: session.sessionKey,
    is2faenabled: 'false',
    is2faverified: 'true',
    issuerfor2fa: settings.issuerFor2fa,
    // CloudStack reports UTC for a user who set no time zone; the UI reads both fields.
    timezone: caller.timezone ?? 'UTC',
    timezoneoffset: timezoneOffset(caller.timezone ?? 'UTC', now) ?? '0.0',
    managementserverid: MANAGEMENT_SERVER_ID,
  };
  return conformFields('login', catalogueEntry('login')?.response.fieldTypes ?? {}, fields);
}

export function createRequestHandler(deps: ApiDependencies): (request: ApiRequest) => Promise<ApiResponse> {
  const settingsOf = deps.settings ?? (() => defaultProtocolSettings);
  const log = deps.log ?? rootLog.child({ component: 'cloudstack-api' });
  const clock = deps.now ?? Date.now;
  const { auth, sessions, commands } = deps;

  /** The envelope an error goes out under (ApiServer.getSerializedApiError). */
  function errorEnvelope(error: ApiError, command: string | undefined): string {
    if (error.code === ErrorCode.unsupportedAction || command === undefined) return ERROR_ENVELOPE;
    return commands.get(command)?.envelope ?? sessionEnvelopes[command] ?? ERROR_ENVELOPE;
  }

  async function login(request: ApiRequest, params: RequestParams, reply: Reply, settings: ProtocolSettings, now: number): Promise<ApiResponse> {
    const fail = (error: ApiError): ApiResponse => reply('loginresponse', { kind: 'error', error });
    if (request.method !== 'POST') return fail(loginRequiresPost());
    const previous = parseCookies(request.cookieHeader).get(SESSION_COOKIE);
    if (previous !== undefined) await sessions.delete(previous);

    const username = params.get('username');
    const password = params.get('password');
    if (username === undefined) return fail(missingParameter('login', 'username'));
    if (password === undefined) return fail(missingParameter('login', 'password'));
    const domainId = params.get('domainid') ?? params.get('domainId');
    const domainPath = normaliseDomainPath(params.get('domain'));

    const result = await auth.login({ username, password, domainId, domainPath });
    if (!result.ok) {
      if (result.reason === 'bad-credentials') return fail(loginFailed(username, result.domain));
      if (domainId !== undefined) return fail(new ApiError(ErrorCode.unauthorized, 'Invalid domain id entered, please enter a valid one'));
      return fail(loginDomainNotFound(domainPath));
    }
    const session: SessionRecord = {
      id: newSessionId(),
      sessionKey: newSessionKey(),
      userId: result.caller.userId,
      createdAt: now,
      lastAccessedAt: now,
      timeoutSeconds: settings.sessionTimeoutSeconds,
    };
    await sessions.create(session);
    log.info('login', { user: result.caller.username, account: result.caller.accountName, domain: result.caller.domainPath });
    const cookies = sessionCookies(session, { secure: settings.secureSessionCookie, sameSite: settings.sessionKeyCookieSameSite });
    return reply('loginresponse', { kind: 'flat', fields: loginFields(result.caller, session, settings, now) }, cookies);
  }

  async function logout(request: ApiRequest, reply: Reply): Promise<ApiResponse> {
    const cookies = parseCookies(request.cookieHeader);
    const id = cookies.get(SESSION_COOKIE);
    if (id !== undefined) await sessions.delete(id);
    return reply('logoutresponse', { kind: 'flat', fields: { description: 'success' } }, expiredCookies(cookies.keys()));
  }

  /** A signed API-key request (ApiServer.verifyRequest); every failure but a role refusal is the same 401. */
  async function verifyApiKey(params: RequestParams, command: string | undefined, settings: ProtocolSettings, now: number): Promise<Caller> {
    if (command === undefined || !commands.has(command)) throw badSignature();
    const signing = signingParams(params);
    if (signing.signature === undefined || signing.apiKey === undefined) throw badSignature();
    if (!expiryAcceptable(signing.signatureVersion, signing.expires, now, { enforceTimestamps: settings.enforceTimestamps })) throw badSignature();
    const key = await auth.findApiKey(signing.apiKey);
    if (key === undefined) throw badSignature();
    // The signature before the role (CloudStack checks the role first): a caller holding only
    // someone's API key, which travels in URLs, learns nothing about that user's role.
    if (!signatureMatches(params, signing.signature, key.secretKey)) throw badSignature();
    if (!auth.isCommandAllowed(key.caller, command)) throw commandNotAvailable(command);
    return key.caller;
  }

  /** A request inside a session (ApiServlet): the session key must match, the user must still be enabled. */
  async function verifySession(session: SessionRecord, params: RequestParams, request: ApiRequest, command: string | undefined, settings: ProtocolSettings, now: number): Promise<Caller> {
    const fromCookie = parseCookies(request.cookieHeader).get(SESSION_KEY);
    if (!sessionKeyValid(session, fromCookie, params.get(SESSION_KEY), settings.sessionKeyCheckLocations)) {
      await sessions.delete(session.id);
      throw invalidSession();
    }
    const caller = await auth.findUser(session.userId);
    if (caller === undefined) {
      await sessions.delete(session.id);
      throw invalidSession();
    }
    if (command === undefined) throw noCommandSpecified();
    if (sessionNeedsTouch(session, now)) await sessions.touch(session.id, now);
    if (!commands.has(command)) throw unknownCommand(command);
    if (!auth.isCommandAllowed(caller, command)) throw commandNotAvailable(command);
    return caller;
  }

  async function currentSession(request: ApiRequest, now: number): Promise<SessionRecord | undefined> {
    const id = parseCookies(request.cookieHeader).get(SESSION_COOKIE);
    if (id === undefined) return undefined;
    const session = await sessions.get(id);
    if (session === undefined) return undefined;
    if (!sessionExpired(session, now)) return session;
    await sessions.delete(id);
    return undefined;
  }

  return async function handle(request) {
    const settings = settingsOf();
    const now = clock();
    const params = parseRequestParams(request.queryString, request.formBody);
    const format = responseFormat(params);
    const reply = replier(format, settings);
    const command = params.get('command');

    let caller: Caller | undefined;
    try {
      if (command === 'login') return await login(request, params, reply, settings, now);
      if (command === 'logout') return await logout(request, reply);

      // Login-page look-ups are answered to anyone, with or without a session (APIAuthenticator commands).
      const anonymous = command !== undefined && commands.get(command)?.anonymous === true;
      const session = anonymous ? undefined : await currentSession(request, now);
      const authenticated = anonymous
        ? ANONYMOUS_CALLER
        : session
          ? await verifySession(session, params, request, command, settings, now)
          : await verifyApiKey(params, command, settings, now);
      caller = authenticated;

      const badParam = parameterWithControlCharacter(params);
      if (badParam !== undefined) throw controlCharacters(badParam);

      // Both verifications refuse a command missing from the table; this only narrows the type.
      const entry = command === undefined ? undefined : commands.get(command);
      if (entry === undefined) throw unknownCommand(command ?? '');
      let commandLog: Logger | undefined;
      const ctx: CommandContext = {
        caller: authenticated,
        command: entry.name,
        // Built on first use: most commands never log.
        get log() {
          commandLog ??= log.child({ command: entry.name, user: authenticated.username, account: authenticated.accountName });
          return commandLog;
        },
        now: new Date(now),
        settings,
        table: commands,
        isAllowed: (name) => auth.isCommandAllowed(authenticated, name),
      };
      return reply(entry.envelope, await entry.execute(params, ctx));
    } catch (thrown) {
      let error: ApiError;
      if (thrown instanceof ApiError) {
        error = thrown;
      } else {
        log.error('command failed', { command, error: thrown instanceof Error ? thrown.stack : String(thrown) });
        error = internalError(errorMessage(thrown));
      }
      // CloudStack hides internal details from everyone but root admins.
      if (error.internal && !(caller && isRootAdmin(caller))) {
        error = new ApiError(error.code, USER_ERROR_MESSAGE, { csErrorCode: error.csErrorCode });
      }
      return reply(errorEnvelope(error, command), { kind: 'error', error });
    }
  };
}
