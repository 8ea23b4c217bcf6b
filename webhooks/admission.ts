import type { KubeObject } from '../lib/kube-client.ts';
import { LIMIT_EXCEEDED } from '../lib/resource-limits.ts';

/**
 * AdmissionReview v1 in and out, and the contract each kind's admission module fulfils. A kind
 * contributes defaults (mutating) and checks (validating); this module turns them into the
 * apiserver's wire format. Every refusal names the field and says how to fix it.
 */

export type Operation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';

export interface FieldError {
  /** The JSON path of the offending field, e.g. `spec.startIp`. */
  field: string;
  /** What is wrong and how to fix it, e.g. `must not be after spec.endIp; swap the two`. */
  message: string;
  /** Set when the value is fine but a resource limit is reached: refused 403 Forbidden, as Kubernetes' ResourceQuota refuses. */
  reason?: typeof LIMIT_EXCEEDED;
}


export interface AdmissionRequest<T extends KubeObject = KubeObject> {
  uid: string;
  kind: { group: string; version: string; kind: string };
  resource: { group: string; version: string; resource: string };
  subResource?: string;
  name?: string;
  namespace?: string;
  operation: Operation;
  userInfo: { username?: string; groups?: string[] };
  object?: T | null;
  oldObject?: T | null;
  dryRun?: boolean;
}

export interface AdmissionReview {
  apiVersion: 'admission.k8s.io/v1';
  kind: 'AdmissionReview';
  request?: AdmissionRequest;
  response?: AdmissionResponse;
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: { code: number; reason: string; message: string; details?: { causes: { field: string; message: string; reason: string }[] } };
  patchType?: 'JSONPatch';
  patch?: string;
}

/** What one kind plugs into the webhook server. */
export interface KindAdmission<T extends KubeObject = KubeObject> {
  group: string;
  version: string;
  kind: string;
  plural: string;
  /** Fills in defaults on a copy of the object; runs on CREATE and UPDATE (the request says which, and holds the old object). */
  applyDefaults?: (object: T, request: AdmissionRequest<T>) => void | Promise<void>;
  /** Returns every problem found; an empty list admits the request. */
  validate?: (request: AdmissionRequest<T>) => FieldError[] | Promise<FieldError[]>;
  /** The operations validated; CREATE and UPDATE when not given. */
  validateOperations?: Operation[];
}

export type JsonPatchOperation = { op: 'add' | 'replace'; path: string; value: unknown } | { op: 'remove'; path: string };

const pointer = (segments: string[]) => segments.map((s) => `/${s.replaceAll('~', '~0').replaceAll('/', '~1')}`).join('');

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The JSON Patch that turns `before` into `after`: objects are merged key by key, arrays replaced whole. */
export function jsonPatch(before: unknown, after: unknown, path: string[] = []): JsonPatchOperation[] {
  if (isPlainObject(before) && isPlainObject(after)) {
    const ops: JsonPatchOperation[] = [];
    for (const key of Object.keys(before)) if (!(key in after)) ops.push({ op: 'remove', path: pointer([...path, key]) });
    for (const [key, value] of Object.entries(after)) {
      if (!(key in before)) ops.push({ op: 'add', path: pointer([...path, key]), value });
      else ops.push(...jsonPatch(before[key], value, [...path, key]));
    }
    return ops;
  }
  return JSON.stringify(before) === JSON.stringify(after) ? [] : [{ op: 'replace', path: pointer(path), value: after }];
}

export function deny(uid: string, errors: FieldError[]): AdmissionResponse {
  const forbidden = errors.every((e) => e.reason === LIMIT_EXCEEDED);
  return {
    uid,
    allowed: false,
    status: {
      code: forbidden ? 403 : 422,
      reason: forbidden ? 'Forbidden' : 'Invalid',
      message: errors.map((e) => `${e.field}: ${e.message}`).join('; '),
      details: { causes: errors.map((e) => ({ field: e.field, message: e.message, reason: e.reason ?? 'FieldValueInvalid' })) },
    },
  };
}

const allow = (uid: string): AdmissionResponse => ({ uid, allowed: true });

export function lookupKey(group: string, kind: string): string {
  return `${group}/${kind}`;
}

export function admissionIndex(kinds: KindAdmission[]): Map<string, KindAdmission> {
  return new Map(kinds.map((k) => [lookupKey(k.group, k.kind), k]));
}

export async function mutate(request: AdmissionRequest, kinds: Map<string, KindAdmission>): Promise<AdmissionResponse> {
  const admission = kinds.get(lookupKey(request.kind.group, request.kind.kind));
  if (!admission?.applyDefaults || !request.object || request.subResource) return allow(request.uid);
  const defaulted = structuredClone(request.object);
  await admission.applyDefaults(defaulted, request);
  const ops = jsonPatch(request.object, defaulted);
  if (ops.length === 0) return allow(request.uid);
  return { uid: request.uid, allowed: true, patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(ops)).toString('base64') };
}

export async function validate(request: AdmissionRequest, kinds: Map<string, KindAdmission>): Promise<AdmissionResponse> {
  const admission = kinds.get(lookupKey(request.kind.group, request.kind.kind));
  const operations = admission?.validateOperations ?? ['CREATE', 'UPDATE'];
  if (!admission?.validate || request.subResource || !operations.includes(request.operation)) return allow(request.uid);
  const errors = await admission.validate(request);
  return errors.length === 0 ? allow(request.uid) : deny(request.uid, errors);
}
