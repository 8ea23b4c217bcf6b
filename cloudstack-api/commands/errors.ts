import { ApiError as KubeApiError, isAlreadyExists, isConflict } from '../../lib/kube-client.ts';
import { exceededTextOf, LIMIT_EXCEEDED } from '../../lib/resource-limits.ts';
import { entityNotFound, internalError, invalidParameterValue, permissionDenied, resourceAllocation } from '../protocol/errors.ts';
import type { CommandContext } from './define.ts';

/**
 * Kubernetes refusals in CloudStack's words: a resource limit reached is 535 with CloudStack's
 * text, any other 403 is permission denied (531), a webhook's or
 * CEL's refusal is a parameter error (431) naming the parameters behind the object fields, a
 * vanished target is the "entity does not exist" text, anything else an internal error.
 */

export interface Refusal {
  /** The command as parameter errors name it (`createzone`). */
  readonly label: string;
  /** The id the command was given, for a target that vanished. */
  readonly id?: string;
  /** Object fields to the parameters that set them, where the default rule guesses wrong. */
  readonly params?: Readonly<Record<string, string>>;
  /** What the caller tried (`create user bob`): a refusal by RBAC then says the caller may not do that. */
  readonly action?: string;
}

interface KubeStatus {
  message?: string;
  reason?: string;
  details?: { causes?: { field?: string; message?: string; reason?: string }[] };
}

/**
 * The CloudStack parameter behind an object field: an explicit mapping, else `spec.zoneRef.name`
 * → `zoneid` and `spec.startIp` → `startip` (CloudStack's names are the fields, lower-cased).
 */
export function parameterOf(field: string, params: Readonly<Record<string, string>> = {}): string {
  const plain = field.replace(/^\./, '');
  for (let candidate = plain; candidate !== ''; candidate = candidate.replace(/(\[[^\]]*\]|\.[^.[]*)$/, '')) {
    const mapped = params[candidate];
    if (mapped !== undefined) return mapped;
    if (!/[.[]/.test(candidate)) break;
  }
  const ref = /^spec\.(\w+)Ref\.name$/.exec(plain);
  if (ref) return `${ref[1]!.toLowerCase()}id`;
  const simple = /^spec\.(\w+)$/.exec(plain);
  if (simple) return simple[1]!.toLowerCase();
  return plain;
}

const VALUE_PREFIX = /^(?:Invalid value|Unsupported value|Required value|Duplicate value|Forbidden|Too many|Too long)(?:: (?:"(?:[^"\\]|\\.)*"|[^:]+))?: /;

/** The problems in an apiserver refusal, each as `parameter: message`, the same words the webhook or CEL used. */
export function refusalProblems(status: KubeStatus, params?: Readonly<Record<string, string>>): string[] {
  const causes = status.details?.causes?.filter((c) => c.message) ?? [];
  if (causes.length > 0) {
    return causes.map((c) => {
      const message = (c.message ?? '').replace(VALUE_PREFIX, '');
      // A rule over the whole spec (immutability) names no parameter.
      return c.field && c.field !== 'spec' ? `${parameterOf(c.field, params)}: ${message}` : message;
    });
  }
  const message = (status.message ?? '').replace(/^admission webhook "[^"]*" denied the request: /, '');
  return [message];
}

/** Throws the CloudStack error for a failed Kubernetes call (CloudStack errors pass through). */
export function failure(err: unknown, ctx: CommandContext, refusal: Refusal): never {
  if (!(err instanceof KubeApiError)) throw err;
  const status = (err.status ?? {}) as KubeStatus;
  // A resource limit the admission webhook found reached: CloudStack's ResourceAllocationException.
  const limit = err.code === 403 ? status.details?.causes?.find((c) => c.reason === LIMIT_EXCEEDED) : undefined;
  if (limit) throw resourceAllocation(exceededTextOf(limit.message ?? '') ?? limit.message ?? err.message);
  if (err.code === 403) {
    throw permissionDenied(
      refusal.action !== undefined
        ? `Account ${ctx.caller.accountName} does not have permission to ${refusal.action}`
        : `Account ${ctx.caller.accountName} does not have permission for ${ctx.command}: ${status.message ?? err.message}`,
    );
  }
  if (err.code === 404) throw entityNotFound(refusal.label, 'id', refusal.id ?? '');
  // A uid precondition that no longer holds: the object of that name is another one now.
  if (err.code === 409 && err.reason === 'Conflict' && /precondition/i.test(err.message)) throw entityNotFound(refusal.label, 'id', refusal.id ?? '');
  if (err.code === 422 || err.code === 400 || (err.code === 409 && !isConflict(err) && !isAlreadyExists(err))) {
    const problems = refusalProblems(status, refusal.params).filter((problem) => problem !== '');
    throw invalidParameterValue(problems.length > 0 ? problems.join('; ') : err.message);
  }
  ctx.log.error('kubernetes call failed', { error: err.message });
  throw internalError(err.message);
}
