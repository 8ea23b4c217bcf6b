/**
 * The shape of one kind's definition: its schema (TypeBox) plus what the CRD needs around
 * it (names, scope, printer columns). Group modules call `defineKind`; generate.ts and
 * index.ts read the results.
 */
import Type, { type Static, type TObject } from 'typebox';
import { API_VERSION, type CelRule } from './common.ts';
import { lazyValidator, type ValidationResult } from './validate.ts';

export type Scope = 'Cluster' | 'Namespaced';

export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  description: string;
  /** 0 shows by default; 1 only with `kubectl get -o wide`. */
  priority?: 0 | 1;
}

export interface KindInput<Spec extends TObject, Status extends TObject> {
  group: string;
  kind: string;
  plural: string;
  shortNames: string[];
  scope: Scope;
  /** What the kind is in CloudStack terms, its lifecycle and states: `kubectl explain <kind>` shows it. */
  description: string;
  spec: Spec;
  status: Status;
  /** The state column and Age are added by defineKind; list the kind's own here. */
  columns: PrinterColumn[];
  /** Rules over the whole object (those needing metadata.name). */
  validations?: CelRule[];
}

/**
 * Object metadata as the apiserver sends it in JSON: timestamps are RFC 3339 strings, as the
 * informer caches and every write return them.
 */
export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: OwnerReference[];
  managedFields?: unknown[];
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export function kindSchema<Spec extends TObject, Status extends TObject>(input: KindInput<Spec, Status>) {
  const apiVersion = `${input.group}/${API_VERSION}`;
  const properties = {
    apiVersion: Type.String({ description: `${apiVersion}`, enum: [apiVersion] }),
    kind: Type.String({ description: input.kind, enum: [input.kind] }),
    metadata: Type.Optional(
      Type.Unsafe<ObjectMeta>({ type: 'object', description: 'Standard object metadata; metadata.uid is the CloudStack id.' }),
    ),
    spec: input.spec,
    status: Type.Optional(input.status),
  };
  const opts: Record<string, unknown> = { description: input.description };
  if (input.validations?.length) opts['x-kubernetes-validations'] = input.validations;
  return Type.Object(properties, opts);
}

/** What every kind has, whatever its schema: what the registry and the generator use. */
export interface KindInfo {
  group: string;
  version: typeof API_VERSION;
  apiVersion: string;
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  scope: Scope;
  description: string;
  schema: TObject;
  /** Default columns first (State among them, then Age), then the priority-1 ones. */
  columns: PrinterColumn[];
  /** Checks a whole object against the schema with ajv (compiled once, on first use). */
  validate: (value: unknown) => ValidationResult;
}

export interface KindDefinition<Spec extends TObject, Status extends TObject> extends KindInfo {
  schema: ReturnType<typeof kindSchema<Spec, Status>>;
  spec: Spec;
  status: Status;
}

const STATE_COLUMN: PrinterColumn = { name: 'State', type: 'string', jsonPath: '.status.state', description: 'The CloudStack state.' };
const AGE_COLUMN: PrinterColumn = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp', description: 'Time since creation.' };

export function defineKind<Spec extends TObject, Status extends TObject>(input: KindInput<Spec, Status>): KindDefinition<Spec, Status> {
  const schema = kindSchema(input);
  const defaults = input.columns.filter((c) => !c.priority);
  const wide = input.columns.filter((c) => c.priority);
  return {
    group: input.group,
    version: API_VERSION,
    apiVersion: `${input.group}/${API_VERSION}`,
    kind: input.kind,
    plural: input.plural,
    singular: input.kind.toLowerCase(),
    shortNames: input.shortNames,
    scope: input.scope,
    description: input.description,
    schema,
    spec: input.spec,
    status: input.status,
    columns: [...defaults, STATE_COLUMN, AGE_COLUMN, ...wide],
    validate: lazyValidator(schema),
  };
}

/** The whole object's TypeScript type, as the apiserver and the caches hold it. */
export type ObjectOf<D extends KindInfo> = Omit<Static<D['schema']>, 'metadata'> & { metadata: ObjectMeta };
/** The spec's TypeScript type. */
export type SpecOf<D extends { spec: TObject }> = Static<D['spec']>;
/** The status's TypeScript type. */
export type StatusOf<D extends { status: TObject }> = Static<D['status']>;
