/**
 * CloudStack's API errors: the `errorcode` (also the HTTP status), the `cserrorcode` and the
 * texts clients match on, kept verbatim (PROTOCOL.md §6). Every failure the API reports is an
 * ApiError; anything else thrown by a handler becomes a 530.
 */

/** ApiErrorCode: the `errorcode` field and the HTTP status of the response. */
export const ErrorCode = {
  badRequest: 400,
  unauthorized: 401,
  methodNotAllowed: 405,
  apiLimitExceeded: 429,
  malformedParameter: 430,
  paramError: 431,
  unsupportedAction: 432,
  internalError: 530,
  accountError: 531,
  accountResourceLimit: 532,
  insufficientCapacity: 533,
  resourceUnavailable: 534,
  resourceAllocation: 535,
  resourceInUse: 536,
  networkRuleConflict: 537,
} as const;

/** CSExceptionErrorCode: the `cserrorcode` field, naming the server-side exception class. */
export const CsErrorCode = {
  cloudRuntime: 4250,
  accountLimit: 4280,
  insufficientCapacity: 4325,
  invalidParameterValue: 4350,
  permissionDenied: 4365,
  resourceAllocation: 4370,
  resourceInUse: 4375,
  resourceUnavailable: 4380,
  networkRuleConflict: 4360,
  serverApi: 9999,
} as const;

/** The text non-admin callers get instead of internal details (BaseCmd.USER_ERROR_MESSAGE). */
export const USER_ERROR_MESSAGE = 'Internal error executing command, please contact your system administrator';

export class ApiError extends Error {
  readonly code: number;
  /** Absent on the authentication paths, which CloudStack answers without one. */
  readonly csErrorCode: number | undefined;
  /** True for the failures CloudStack hides from non-admin callers (530, 533, 534). */
  readonly internal: boolean;

  constructor(code: number, text: string, options: { csErrorCode?: number; internal?: boolean } = {}) {
    super(text);
    this.name = 'ApiError';
    this.code = code;
    this.csErrorCode = options.csErrorCode;
    this.internal = options.internal ?? false;
  }
}

/**
 * The command label CloudStack puts in parameter errors: its response envelope minus
 * "response", so legacy envelopes show through (`enableStorageMaintenance` reports as
 * `prepareprimarystorageformaintenance`), exactly as the server's getCommandName() does.
 */
export function commandLabel(envelope: string): string {
  return envelope.endsWith('response') ? envelope.slice(0, -'response'.length) : envelope;
}

// Authentication (no cserrorcode on these paths, as in ApiServlet).
export function badSignature(): ApiError {
  return new ApiError(ErrorCode.unauthorized, 'unable to verify user credentials and/or request signature');
}

export function invalidSession(): ApiError {
  return new ApiError(ErrorCode.unauthorized, 'unable to verify user credentials');
}

export function noCommandSpecified(): ApiError {
  return new ApiError(ErrorCode.badRequest, 'no command specified');
}

export function commandNotAvailable(command: string): ApiError {
  return new ApiError(ErrorCode.unauthorized, `The given command '${command}' either does not exist, is not available for user.`, {
    csErrorCode: CsErrorCode.serverApi,
  });
}

export function loginRequiresPost(): ApiError {
  return new ApiError(ErrorCode.methodNotAllowed, 'Please use HTTP POST to authenticate using this API', {
    csErrorCode: CsErrorCode.serverApi,
  });
}

export function loginFailed(username: string, domain: string): ApiError {
  return new ApiError(ErrorCode.accountError, `Failed to authenticate user ${username} in domain ${domain}; please provide valid credentials`);
}

export function loginDomainNotFound(domainPath: string): ApiError {
  return new ApiError(ErrorCode.accountError, `Unable to find the domain from the path ${domainPath}`);
}

// Dispatch.
export function unknownCommand(command: string): ApiError {
  return new ApiError(ErrorCode.unsupportedAction, `Unknown API command: ${command}`, { csErrorCode: CsErrorCode.serverApi });
}

export function controlCharacters(param: string): ApiError {
  return new ApiError(ErrorCode.paramError, `Received value containing illegal ASCII non-printable characters for parameter ${param}`, {
    csErrorCode: CsErrorCode.serverApi,
  });
}

// Parameters (ParamProcessWorker): `label` is commandLabel(envelope).
export function missingParameter(label: string, param: string): ApiError {
  return new ApiError(ErrorCode.paramError, `Unable to execute API command ${label} due to missing parameter ${param}`, {
    csErrorCode: CsErrorCode.serverApi,
  });
}

export function invalidValue(label: string, param: string, value: string): ApiError {
  return new ApiError(ErrorCode.paramError, `Unable to execute API command ${label} due to invalid value ${value} for parameter ${param}`, {
    csErrorCode: CsErrorCode.serverApi,
  });
}

/**
 * Unknown or malformed id. The Go SDK and the Terraform provider read "... due to incorrect
 * long value format, or entity does not exist ..." as "not found": keep it verbatim.
 */
export function entityNotFound(label: string, param: string, value: string): ApiError {
  return new ApiError(
    ErrorCode.paramError,
    `Unable to execute API command ${label} due to invalid value. Invalid parameter ${param} value=${value} due to incorrect long value format, or entity does not exist or due to incorrect parameter annotation for the field in api cmd class.`,
    { csErrorCode: CsErrorCode.serverApi },
  );
}

export function valueTooLong(label: string, param: string, maxLength: number): ApiError {
  return new ApiError(
    ErrorCode.paramError,
    `Unable to execute API command ${label} due to invalid value. Value greater than max allowed length ${maxLength} for param: ${param}`,
    { csErrorCode: CsErrorCode.serverApi },
  );
}

export function unparsableDate(label: string, value: string): ApiError {
  return new ApiError(
    ErrorCode.paramError,
    `Unable to parse date ${value} for command ${label}, please pass dates in the format mentioned in the api documentation`,
    { csErrorCode: CsErrorCode.serverApi },
  );
}

/** A parameter error of our own wording (CloudStack's ServerApiException PARAM_ERROR). */
export function paramError(text: string): ApiError {
  return new ApiError(ErrorCode.paramError, text, { csErrorCode: CsErrorCode.serverApi });
}

// Paging (BaseListCmd).
export function pageRequired(): ApiError {
  return new ApiError(ErrorCode.paramError, '"page" parameter is required when "pagesize" is specified', {
    csErrorCode: CsErrorCode.serverApi,
  });
}

export function pageSizeRequired(): ApiError {
  return new ApiError(ErrorCode.paramError, '"pagesize" parameter is required when "page" is specified', {
    csErrorCode: CsErrorCode.serverApi,
  });
}

export function pageSizeTooLarge(max: number): ApiError {
  return new ApiError(ErrorCode.paramError, `Page size can't exceed max allowed page size value: ${max}`, {
    csErrorCode: CsErrorCode.invalidParameterValue,
  });
}

export function pageWithUnlimitedPageSize(): ApiError {
  return new ApiError(ErrorCode.paramError, "Can't specify page parameter when pagesize is -1 (Unlimited)", {
    csErrorCode: CsErrorCode.invalidParameterValue,
  });
}

// Service-layer failures, for command handlers.
export function invalidParameterValue(text: string): ApiError {
  return new ApiError(ErrorCode.paramError, text, { csErrorCode: CsErrorCode.invalidParameterValue });
}

export function permissionDenied(text: string): ApiError {
  return new ApiError(ErrorCode.accountError, text, { csErrorCode: CsErrorCode.permissionDenied });
}

export function internalError(text: string): ApiError {
  return new ApiError(ErrorCode.internalError, text, { csErrorCode: CsErrorCode.cloudRuntime, internal: true });
}

export function insufficientCapacity(text: string): ApiError {
  return new ApiError(ErrorCode.insufficientCapacity, text, { csErrorCode: CsErrorCode.insufficientCapacity, internal: true });
}

export function resourceUnavailable(text: string): ApiError {
  return new ApiError(ErrorCode.resourceUnavailable, text, { csErrorCode: CsErrorCode.resourceUnavailable, internal: true });
}

export function resourceAllocation(text: string): ApiError {
  return new ApiError(ErrorCode.resourceAllocation, text, { csErrorCode: CsErrorCode.resourceAllocation });
}

export function resourceInUse(text: string): ApiError {
  return new ApiError(ErrorCode.resourceInUse, text, { csErrorCode: CsErrorCode.resourceInUse });
}

export function accountResourceLimit(text: string): ApiError {
  return new ApiError(ErrorCode.accountResourceLimit, text, { csErrorCode: CsErrorCode.accountLimit });
}

export function networkRuleConflict(text: string): ApiError {
  return new ApiError(ErrorCode.networkRuleConflict, text, { csErrorCode: CsErrorCode.networkRuleConflict });
}
