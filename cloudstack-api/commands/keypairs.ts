import { SSHKeyPair, type SSHKeyPairObject } from '../../crds/index.ts';
import { isAlreadyExists, resourceTypeOf } from '../../lib/kube-client.ts';
import { byCreation, keywordMatches } from '../lists/filters.ts';
import { inScope, SCOPE_PARAMS, scopedNamespaces } from '../lists/scope.ts';
import type { Fields } from '../protocol/envelope.ts';
import { invalidParameterValue } from '../protocol/errors.ts';
import { ownerNamespace } from './compute-support.ts';
import { ownerFields } from './compute-views.ts';
import type { Infra } from './context.ts';
import { type Command, type CommandContext, defineCommand } from './define.ts';
import { failure } from './errors.ts';
import { displayName, objectName } from './names.ts';
import { generateSshKeyPair, sshFingerprint } from '../../lib/ssh-keys.ts';

/**
 * SSH key pairs (PROTOCOL.md §11, ssh-keypairs-userdata): SSHKeyPair objects in the account's
 * namespace, named by CloudStack name; the fingerprint is the one the operator records.
 */

const KEYPAIRS = resourceTypeOf(SSHKeyPair);

export function keyPairFields(infra: Infra, pair: SSHKeyPairObject): Fields {
  return {
    id: pair.metadata.uid,
    name: displayName(pair),
    // The operator records it; right after a create the key itself gives the same one.
    fingerprint: pair.status?.fingerprint ?? (pair.spec.publicKey ? sshFingerprint(pair.spec.publicKey) : undefined),
    ...ownerFields(infra, pair.metadata.namespace),
    domainpath: undefined,
    hasannotations: false,
  };
}

export function keyPairCommands(infra: Infra): Command[] {
  const { cache } = infra;
  const ownScope = { account: { type: 'string', description: 'an optional account for the ssh key. Must be used with domainId.' }, domainid: { type: 'uuid', description: 'an optional domainId for the ssh key. If the account parameter is used, domainId must also be used.', entity: 'domain' } } as const;

  async function namespaceOf(ctx: CommandContext, label: string, p: { account?: string; domainid?: string }): Promise<string> {
    await cache.synced();
    return ownerNamespace(infra, ctx, label, p);
  }

  const named = (namespace: string, name: string) => cache.sshKeyPairs.list().find((k) => k.metadata.namespace === namespace && displayName(k) === name);

  /** Creates the SSHKeyPair as the caller, or CloudStack's text for a name taken in the account. */
  async function createPair(ctx: CommandContext, label: string, namespace: string, name: string, publicKey: string): Promise<SSHKeyPairObject> {
    if (named(namespace, name)) throw invalidParameterValue(`A key pair with name '${name}' already exists.`);
    return infra
      .resource<SSHKeyPairObject>(ctx, SSHKeyPair)
      .create({ apiVersion: SSHKeyPair.apiVersion, kind: SSHKeyPair.kind, metadata: { namespace, name: objectName(name) }, spec: { displayName: name, publicKey } })
      .catch((err: unknown) => {
        if (isAlreadyExists(err)) throw invalidParameterValue(`A key pair with name '${name}' already exists.`);
        return failure(err, ctx, { label, params: { 'spec.publicKey': 'publickey', 'spec.displayName': 'name' } });
      });
  }

  /**
   * createSSHKeyPair: the pair is generated here, in the API process; the SSHKeyPair holds only
   * its public key, and the private key is in this one response, as CloudStack hands it out.
   */
  const createSSHKeyPair = defineCommand({
    name: 'createSSHKeyPair',
    kind: 'object',
    description: 'Create a new keypair and returns the private key',
    params: { name: { type: 'string', description: 'Name of the keypair', required: true }, ...ownScope },
    async handle(p, ctx) {
      const label = 'createsshkeypair';
      const namespace = await namespaceOf(ctx, label, p);
      if (named(namespace, p.name)) throw invalidParameterValue(`A key pair with name '${p.name}' already exists.`);
      const generated = await generateSshKeyPair(`${objectName(p.name)}@kumulus`);
      return { pair: await createPair(ctx, label, namespace, p.name, generated.publicKey), privateKey: generated.privateKey };
    },
    map: ({ pair, privateKey }) => ({ ...keyPairFields(infra, pair), privatekey: privateKey }),
  });

  const registerSSHKeyPair = defineCommand({
    name: 'registerSSHKeyPair',
    kind: 'object',
    description: 'Register a public key in a keypair under a certain name',
    params: {
      name: { type: 'string', description: 'Name of the keypair', required: true },
      publickey: { type: 'string', description: 'Public key material of the keypair', required: true, length: 16384 },
      ...ownScope,
    },
    async handle(p, ctx) {
      const label = 'registersshkeypair';
      const namespace = await namespaceOf(ctx, label, p);
      return createPair(ctx, label, namespace, p.name, p.publickey.trim());
    },
    map: (pair) => keyPairFields(infra, pair),
  });

  const listSSHKeyPairs = defineCommand({
    name: 'listSSHKeyPairs',
    kind: 'list',
    description: 'List registered keypairs',
    params: {
      id: { type: 'uuid', description: 'the ID of the ssh keypair' },
      name: { type: 'string', description: 'A key pair name to look for' },
      fingerprint: { type: 'string', description: 'A public key fingerprint to look for' },
      keyword: { type: 'string', description: 'List by keyword' },
      ...SCOPE_PARAMS,
    },
    async handle(p, ctx) {
      await cache.synced();
      const namespaces = await scopedNamespaces(cache, ctx.caller, p, KEYPAIRS, 'listsshkeypairs', infra.deps.mayList);
      return cache.sshKeyPairs
        .list()
        .filter(
          (k) =>
            inScope(namespaces, k.metadata.namespace) &&
            (p.id === undefined || k.metadata.uid === p.id) &&
            (p.name === undefined || displayName(k) === p.name) &&
            (p.fingerprint === undefined || k.status?.fingerprint === p.fingerprint) &&
            keywordMatches(p.keyword, displayName(k)),
        )
        .sort(byCreation);
    },
    mapItem: (pair) => keyPairFields(infra, pair),
  });

  const deleteSSHKeyPair = defineCommand({
    name: 'deleteSSHKeyPair',
    kind: 'success',
    description: 'Deletes a keypair by name',
    params: { name: { type: 'string', description: 'Name of the keypair', required: true }, ...ownScope },
    async handle(p, ctx) {
      const label = 'deletesshkeypair';
      const namespace = await namespaceOf(ctx, label, p);
      const pair = named(namespace, p.name);
      if (!pair) throw invalidParameterValue(`A key pair with name '${p.name}' does not exist for account ${ctx.caller.accountName} in specified domain id`);
      await infra
        .resource(ctx, SSHKeyPair)
        .delete({ namespace, name: pair.metadata.name ?? '' }, { preconditions: { uid: pair.metadata.uid } })
        .catch((err: unknown) => failure(err, ctx, { label, id: pair.metadata.uid }));
      return undefined;
    },
  });

  return [createSSHKeyPair, registerSSHKeyPair, listSSHKeyPairs, deleteSSHKeyPair];
}
