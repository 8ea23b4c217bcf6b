/**
 * SSHKeyPair: Ready with its MD5 fingerprint (CloudStack's), or Error when the public key holds
 * no valid key. One created without a public key gets a generated RSA pair: the private key
 * goes first into a Secret owned by the key pair (the record that survives a crash), then the
 * public key into spec.publicKey. Whoever hands the private key out (the CloudStack API, or a
 * user with kubectl) reads and deletes that Secret; Kumulus keeps no other copy.
 */
import { SSHKeyPair, type SSHKeyPairObject } from '../crds/index.ts';
import type { ReconcileContext, ReconcileResult, Request } from '../lib/controller.ts';
import { isAlreadyExists, isConflict, isNotFound, keyOf, type KubeObject, type ResourceType } from '../lib/kube-client.ts';
import type { Manager } from '../lib/manager.ts';
import { ownerReference } from '../lib/ownership.ts';
import { generateSshKeyPair, PRIVATE_KEY_DATA, privateKeySecretName, PUBLIC_KEY_DATA, sshFingerprint } from '../lib/ssh-keys.ts';
import type { ComputeContext } from './compute-context.ts';
import { OPERATOR_FIELD_MANAGER, clientFor, operatorStatus } from './infra-context.ts';
import { commitFailure, commitStatus } from '../lib/status.ts';

const SECRETS: ResourceType = { group: '', version: 'v1', plural: 'secrets', kind: 'Secret', namespaced: true };
const WRITER = operatorStatus({ fields: ['fingerprint'], conditions: ['Ready'] });

interface Secret extends KubeObject {
  type?: string;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

export function registerSSHKeyPairController(manager: Manager, ctx: ComputeContext): void {
  const informer = ctx.compute.sshKeyPairs;
  const client = clientFor<SSHKeyPairObject>(ctx, SSHKeyPair);
  const secrets = ctx.client.resource<Secret>(SECRETS);

  /** The generated public key: the one already recorded in the Secret, or a new pair recorded there first. */
  const generatedPublicKey = async (pair: SSHKeyPairObject, signal: AbortSignal): Promise<string> => {
    const key = { namespace: pair.metadata.namespace, name: privateKeySecretName(pair.metadata.name ?? '') };
    const recorded = (secret: Secret) => Buffer.from(secret.data?.[PUBLIC_KEY_DATA] ?? '', 'base64').toString();
    try {
      const existing = await secrets.get(key, { signal });
      if ((existing.metadata.ownerReferences ?? []).some((r) => r.uid === pair.metadata.uid) && recorded(existing)) return recorded(existing);
      throw new Error(`Secret ${keyOf(existing)} exists and is not this key pair's; delete or rename it so the private key can be stored there`);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    const generated = await generateSshKeyPair(`${pair.metadata.name ?? ''}@kumulus`);
    const secret: Secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        ...key,
        ownerReferences: [ownerReference(pair, { controller: true })],
        annotations: { 'compute.kumulus.io/handed-out-once': 'read the private key, then delete this Secret: Kumulus keeps no other copy' },
      },
      type: 'kubernetes.io/ssh-auth',
      stringData: { [PRIVATE_KEY_DATA]: generated.privateKey, [PUBLIC_KEY_DATA]: generated.publicKey },
    };
    try {
      await secrets.create(secret, { fieldManager: OPERATOR_FIELD_MANAGER, signal });
      ctx.events.event(pair, { reason: 'CREATE.SSH.KEYPAIR', note: `key pair generated; its private key is in Secret ${key.name} until it is read and deleted` });
      return generated.publicKey;
    } catch (err) {
      // A previous pass (before a crash) recorded its pair: use that one.
      if (!isAlreadyExists(err)) throw err;
      return recorded(await secrets.get(key, { signal }));
    }
  };

  const reconcile = async (rctx: ReconcileContext, request: Request): Promise<ReconcileResult | void> => {
    const pair = informer.get(request);
    if (!pair || pair.metadata.deletionTimestamp !== undefined) return;
    try {
      const publicKey = pair.spec.publicKey;
      if (publicKey === undefined) {
        const generated = await generatedPublicKey(pair, rctx.signal);
        // Against the version read: a key the user set meanwhile wins, and this pass is redone.
        await client.patch(
          { namespace: pair.metadata.namespace, name: pair.metadata.name ?? '' },
          { metadata: { resourceVersion: pair.metadata.resourceVersion }, spec: { publicKey: generated } },
          'merge',
          { fieldManager: OPERATOR_FIELD_MANAGER, signal: rctx.signal },
        );
        return;
      }
      const fingerprint = sshFingerprint(publicKey);
      const from = pair.status?.state;
      const desired = fingerprint
        ? { state: 'Ready', fields: { fingerprint }, conditions: [{ type: 'Ready', status: 'True' as const, reason: 'Ready', message: '' }] }
        : {
            state: 'Error',
            fields: {},
            conditions: [{ type: 'Ready', status: 'False' as const, reason: 'InvalidPublicKey', message: 'spec.publicKey holds no valid key: its base64 part does not decode to a key of the type it names; register the key again' }],
          };
      const wrote = await commitStatus(client, pair, WRITER, desired, rctx.signal, ctx.now());
      if (wrote && from === undefined && fingerprint) ctx.events.event(pair, { reason: 'REGISTER.SSH.KEYPAIR', note: `fingerprint ${fingerprint}` });
    } catch (err) {
      if (isNotFound(err)) return;
      if (isConflict(err)) return { requeue: true };
      await commitFailure(client, pair, WRITER, err, rctx.signal).catch(() => undefined);
      throw err;
    }
  };

  manager.addController<SSHKeyPairObject>({ name: 'sshkeypair', for: informer, reconcile });
}
