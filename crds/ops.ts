/**
 * ops.kumulus.io: the running of the cloud. AsyncJob is how CloudStack's asynchronous
 * commands are answered; Configuration holds the global settings.
 */
import Type from 'typebox';
import {
  Bool,
  KeyedList,
  List,
  Obj,
  PreservedJson,
  ReadinessState,
  Ref,
  Status,
  Str,
  StringEnum,
  StringMap,
  Timestamp,
  Int,
  immutableSpec,
  rule,
} from './common.ts';
import { defineKind } from './kind.ts';

export const OPS_GROUP = 'ops.kumulus.io';

// Annotations of the AsyncJob contract, written by the CloudStack API and read by the operator.
/** The target's metadata.generation the command wrote: the job completes once the controller has observed it. */
export const TARGET_GENERATION_ANNOTATION = 'ops.kumulus.io/target-generation';
/** The item inside the target the job is about (a traffic type, a provider), for its result. */
export const SUBJECT_ANNOTATION = 'ops.kumulus.io/subject';

/**
 * An AsyncJob is created by the API layer for every asynchronous CloudStack command
 * (deployVirtualMachine, startVirtualMachine...). It names its target object and the
 * condition that means success; a controller watches the target and completes the job, so
 * any API replica can answer `queryAsyncJobResult`, even after a restart. jobStatus is
 * CloudStack's: 0 pending, 1 succeeded, 2 failed; state spells the same thing out.
 */
export const AsyncJob = defineKind({
  group: OPS_GROUP,
  kind: 'AsyncJob',
  plural: 'asyncjobs',
  shortNames: ['csjob', 'csasyncjob'],
  scope: 'Namespaced',
  description:
    'A CloudStack asynchronous job: the command, who ran it, the target object and the condition meaning success. Completed by a controller when the target reaches it. jobStatus: 0 pending, 1 succeeded, 2 failed. States: IN_PROGRESS, SUCCEEDED, FAILED.',
  spec: Obj(
    {
      command: Str({ description: 'The CloudStack command, such as deployVirtualMachine.', minLength: 1, maxLength: 128, pattern: '^[a-zA-Z0-9]+$' }),
      userRef: Ref('User', 'The user who ran the command.'),
      targetRef: Obj(
        {
          apiVersion: Str({ description: 'API version of the target, such as compute.kumulus.io/v1alpha1.', minLength: 1, maxLength: 253 }),
          kind: Str({ description: 'Kind of the target, such as VirtualMachine (CloudStack `jobinstancetype`).', minLength: 1, maxLength: 63 }),
          name: Str({ description: 'metadata.name of the target.', minLength: 1, maxLength: 253 }),
          namespace: Type.Optional(Str({ description: 'Namespace of the target; absent for cluster-scoped kinds.', maxLength: 63 })),
          uid: Type.Optional(Str({ description: 'metadata.uid of the target (CloudStack `jobinstanceid`); absent until the target exists.', maxLength: 36 })),
        },
        { description: 'The object the command acts on.' },
      ),
      expectedCondition: Obj(
        {
          type: Str({ description: 'Condition type to wait for, such as Ready or Running.', minLength: 1, maxLength: 316 }),
          status: Type.Optional(StringEnum(['True', 'False'] as const, { description: 'Condition status meaning success.', default: 'True' })),
          deleted: Type.Optional(Bool({ description: 'Success is the target being gone (destroy and delete commands); type is then ignored.' })),
          state: Type.Optional(Str({ description: 'Success also needs the target\'s status.state to be this (such as Maintenance), where the condition alone is reached sooner.', minLength: 1, maxLength: 63 })),
          failOnFalse: Type.Optional(
            Bool({
              description:
                'The job fails (530, with the condition\'s message) when the condition is False at the written generation: its writer reports it could not do what was asked (the agent\'s MediaSynced for attachIso and detachIso). Unknown stays pending.',
            }),
          ),
          annotations: Type.Optional(
            StringMap({
              description:
                'Success is the target carrying these annotation values (tags and details, which no controller observes: the command wrote them, and the job completes once the target shows them); type is then ignored.',
              maxProperties: 256,
            }),
          ),
          absentAnnotations: Type.Optional(
            List(Str({ description: 'An annotation key.', minLength: 1, maxLength: 316 }), { description: 'Annotation keys the target must no longer carry, with annotations (deleted tags and details).', maxItems: 256 }),
          ),
        },
        { description: 'What the target must show for the job to succeed.' },
      ),
    },
    { description: 'The job. Immutable.', validations: [immutableSpec('AsyncJob', 'create a new job')] },
  ),
  status: Status(StringEnum(['IN_PROGRESS', 'SUCCEEDED', 'FAILED'] as const, { description: 'Job state, with CloudStack\'s names.' }), {
    jobStatus: Type.Optional(Int({ description: 'CloudStack jobstatus: 0 pending, 1 succeeded, 2 failed.', minimum: 0, maximum: 2 })),
    jobProcStatus: Type.Optional(Int({ description: 'CloudStack jobprocstatus (progress of a pending job).', minimum: 0 })),
    resultCode: Type.Optional(Int({ description: 'CloudStack jobresultcode: 0 on success, the error code (such as 530) on failure.', minimum: 0, maximum: 9999 })),
    resultType: Type.Optional(StringEnum(['object'] as const, { description: 'CloudStack jobresulttype.' })),
    result: Type.Optional(PreservedJson('The jobresult as the API returns it: the response object, or errorcode and errortext.')),
    created: Type.Optional(Timestamp('When the job was accepted.')),
    completed: Type.Optional(Timestamp('When the job finished.')),
  }),
  columns: [
    { name: 'Command', type: 'string', jsonPath: '.spec.command', description: 'CloudStack command.' },
    { name: 'Kind', type: 'string', jsonPath: '.spec.targetRef.kind', description: 'Target kind.' },
    { name: 'Target', type: 'string', jsonPath: '.spec.targetRef.name', description: 'Target name.' },
    { name: 'User', type: 'string', jsonPath: '.spec.userRef.name', description: 'Who ran it.', priority: 1 },
    { name: 'Result', type: 'integer', jsonPath: '.status.resultCode', description: 'Result code.', priority: 1 },
  ],
});

/**
 * Configuration holds CloudStack's global settings (`listConfigurations`,
 * `updateConfiguration`) as a map from setting name to value, such as
 * `cpu.overprovisioning.factor: "2"`. There is one, named global. status.settings lists
 * every known setting with its effective value and default, so unset ones are visible too.
 */
export const Configuration = defineKind({
  group: OPS_GROUP,
  kind: 'Configuration',
  plural: 'configurations',
  shortNames: ['csconfig', 'csconfiguration'],
  scope: 'Cluster',
  description:
    'CloudStack global settings, as setting name to value (such as vm.allocation.algorithm: firstfit). A singleton named global. status.settings lists the effective value and default of every known setting. States: Pending, Ready, Error.',
  spec: Obj(
    {
      settings: Type.Optional(StringMap({
        description: 'Setting name to value, as strings, with CloudStack\'s names (expunge.delay, cpu.overprovisioning.factor, ...). Unset settings take their default.',
        maxProperties: 1024,
        default: {},
        validations: [rule("self.all(k, k.matches('^[a-zA-Z0-9][a-zA-Z0-9._-]*$'))", 'spec.settings keys must be CloudStack setting names such as expunge.delay (letters, digits, dots, dashes, underscores)')],
      })),
    },
    { description: 'Desired settings.' },
  ),
  status: Status(ReadinessState('configuration'), {
    settings: Type.Optional(
      KeyedList(
        Obj(
          {
            name: Str({ description: 'Setting name.', minLength: 1, maxLength: 255 }),
            value: Str({ description: 'Effective value.', maxLength: 4096 }),
            defaultValue: Str({ description: 'Default value.', maxLength: 4096 }),
            category: Type.Optional(Str({ description: 'CloudStack category, such as Advanced or Network.', maxLength: 64 })),
          },
          { description: 'One setting.' },
        ),
        'name',
        { description: 'Every known setting with its effective value and default.', maxItems: 1024 },
      ),
    ),
    unknownSettings: Type.Optional(
      List(Str({ description: 'A setting name.', maxLength: 255 }), { description: 'Names in spec.settings that Kumulus does not know; they are ignored.', maxItems: 1024 }),
    ),
  }),
  validations: [rule("self.metadata.name == 'global'", "metadata.name must be global: Configuration is a singleton")],
  columns: [],
});

export const opsKinds = [AsyncJob, Configuration] as const;
