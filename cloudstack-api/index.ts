/**
 * The CloudStack-compatible API: what bin/ and the command modules use.
 *
 * Wiring (see createApiApp):
 *   const app = createApiApp({
 *     auth,          // Authenticator: API key → user and secret, password login, session user, role
 *     sessions,      // SessionStore: shared by all replicas (Kubernetes-backed in deployments)
 *     commands: createCommandTable([...discoveryCommands(options), ...otherGroups]),
 *     settings,      // () => ProtocolSettings, read per request (global settings)
 *   });
 *   app.listen(8080);
 *
 * Commands: defineCommand({ name, kind, description, params, handle, map | mapItem }) checks
 * the declaration against catalogue.json at startup; handlers throw the ApiErrors of
 * protocol/errors.ts (entityNotFound, permissionDenied, ...) and get the caller in ctx.caller.
 */
export { createApiApp } from './app.ts';
export { type ApiDependencies, type ApiRequest, type ApiResponse, createRequestHandler } from './dispatch.ts';
export {
  type AsyncDefinition,
  type Command,
  type CommandContext,
  type CommandDefinition,
  type CommandTable,
  createCommandTable,
  defineCommand,
  type FlatDefinition,
  jobObjectOutcome,
  type ListDefinition,
  type ObjectDefinition,
  type SuccessDefinition,
} from './commands/define.ts';
export { type Capabilities, defaultCapabilities, discoveryCommands, type DiscoveryOptions } from './commands/discovery.ts';
export type { ParamSpec, ParamSpecs, ParamValues } from './commands/params.ts';
export { type CatalogueEntry, catalogueEntry } from './commands/catalogue.ts';
export { AccountType, type AccountTypeValue, type Authenticator, type Caller, isRootAdmin, type LoginRequest, type LoginResult } from './protocol/auth.ts';
export type { SessionKeyCheckLocations, SessionRecord, SessionStore } from './protocol/sessions.ts';
export { createInMemorySessionStore } from './protocol/memory-session-store.ts';
export { defaultProtocolSettings, type ProtocolSettings } from './protocol/settings.ts';
export { asyncJobFields, type AsyncJobView, type JobOutcome, JobStatus } from './protocol/jobs.ts';
export { formatApiDate } from './protocol/dates.ts';
export * as errors from './protocol/errors.ts';
