/** How the apiserver's refusals reach callers: ApiError, the predicates over it, retryOnConflict and retryWhileAdmissionUnavailable. */
import * as k8s from '@kubernetes/client-node';
import { setTimeout as sleep } from 'node:timers/promises';
import { errorMessage } from './error-message.ts';
import type { Logger } from './log.ts';

/** A failed API call. `code` is the HTTP status; `reason` is the Status reason (Conflict, NotFound...). */
export class ApiError extends Error {
  readonly code: number;
  readonly reason: string;
  readonly status: unknown;
  constructor(code: number, reason: string, message: string, status: unknown) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.reason = reason;
    this.status = status;
  }
}

export function codeOf(err: unknown): number | undefined {
  if (err instanceof ApiError) return err.code;
  if (err instanceof k8s.ApiException) return err.code;
  const code = (err as { statusCode?: unknown; code?: unknown } | null)?.statusCode;
  return typeof code === 'number' ? code : undefined;
}

export const isNotFound = (err: unknown): boolean => codeOf(err) === 404;
export const isConflict = (err: unknown): boolean => codeOf(err) === 409 && (err as ApiError).reason !== 'AlreadyExists';
export const isAlreadyExists = (err: unknown): boolean => err instanceof ApiError && err.reason === 'AlreadyExists';
export const isGone = (err: unknown): boolean => codeOf(err) === 410;

export async function errorFrom(method: string, path: string, response: k8s.ResponseContext): Promise<ApiError> {
  const text = await response.body.text();
  let status: { reason?: string; message?: string } | undefined;
  try {
    status = JSON.parse(text) as typeof status;
  } catch {
    status = undefined;
  }
  const reason = status?.reason ?? String(response.httpStatusCode);
  const message = `${method} ${path}: ${response.httpStatusCode} ${reason}: ${status?.message ?? text.slice(0, 500)}`;
  return new ApiError(response.httpStatusCode, reason, message, status);
}

/**
 * client-go's RetryOnConflict: runs `fn` again (with a fresh read inside it) when it fails
 * with 409 Conflict, up to `steps` times with a short jittered pause.
 */
export async function retryOnConflict<R>(fn: () => Promise<R>, steps = 5, pauseMs = 10): Promise<R> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isConflict(err) || attempt >= steps) throw err;
      await new Promise((resolve) => setTimeout(resolve, pauseMs * (1 + Math.random() * 0.1)));
    }
  }
}

/**
 * The apiserver could not call an admission webhook whose failure policy is Fail (its Service
 * has no ready endpoint yet, or its server is down): the write was refused unchecked, and the
 * same write is admitted once the webhook serves.
 */
export const isAdmissionUnavailable = (err: unknown): boolean => codeOf(err) === 500 && errorMessage(err).includes('failed calling webhook');

/**
 * Runs a start-up write (idempotent, like everything a component does before it serves) until
 * the admission webhooks answer it. At install, the operator and the API start beside the
 * webhooks, and their first writes are refused until the webhooks serve: waiting here, with
 * one log line saying why, costs seconds where exiting cost a crash-loop back-off. Any other
 * error is thrown at once.
 */
export async function retryWhileAdmissionUnavailable<R>(what: string, fn: () => Promise<R>, logger: Logger, pauseMs = 1000): Promise<R> {
  const started = Date.now();
  let refusals = 0;
  for (;;) {
    try {
      const result = await fn();
      if (refusals > 0) logger.info('the admission webhooks answer now', { what, waitedSeconds: Math.round((Date.now() - started) / 1000) });
      return result;
    } catch (err) {
      if (!isAdmissionUnavailable(err)) throw err;
      // Once, then every 30 refusals: enough to see it is still waiting, and on what.
      if (refusals % 30 === 0) logger.warn('waiting for the admission webhooks to serve: the apiserver refuses writes it cannot check (failure policy Fail); retrying', { what, error: errorMessage(err) });
      refusals++;
      await sleep(pauseMs);
    }
  }
}
