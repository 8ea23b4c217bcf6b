/**
 * SSH key pairs as CloudStack hands them out: createSSHKeyPair generates an RSA key whose
 * private half is returned once (PEM), and every key pair shows the MD5 fingerprint of its
 * public key, colon-separated. The operator and the CloudStack API both use these.
 */
import { createHash, generateKeyPair as generate } from 'node:crypto';
import { promisify } from 'node:util';

const generateRsa = promisify(generate);

/** The Secret that holds a generated key pair's private key until it has been handed out (and deleted). */
export function privateKeySecretName(keyPairName: string): string {
  return `${keyPairName}-private-key`;
}

/** Data keys of that Secret, as Kubernetes' kubernetes.io/ssh-auth type names them. */
export const PRIVATE_KEY_DATA = 'ssh-privatekey';
export const PUBLIC_KEY_DATA = 'ssh-publickey';

function sshString(bytes: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

/** An SSH mpint: big-endian, with a zero byte in front when the top bit is set (it is unsigned). */
function sshMpint(unsigned: Buffer): Buffer {
  let start = 0;
  while (start < unsigned.length - 1 && unsigned[start] === 0) start++;
  const trimmed = unsigned.subarray(start);
  return sshString((trimmed[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed);
}

export interface GeneratedKeyPair {
  /** One OpenSSH line: `ssh-rsa AAAA... <comment>`. */
  publicKey: string;
  /** PEM (PKCS#1, `BEGIN RSA PRIVATE KEY`), as CloudStack returns it. */
  privateKey: string;
}

/** A 2048-bit RSA key pair, as CloudStack's createSSHKeyPair makes. */
export async function generateSshKeyPair(comment: string): Promise<GeneratedKeyPair> {
  const { publicKey, privateKey } = await generateRsa('rsa', { modulusLength: 2048 });
  const jwk = publicKey.export({ format: 'jwk' });
  const blob = Buffer.concat([sshString(Buffer.from('ssh-rsa')), sshMpint(Buffer.from(jwk.e ?? '', 'base64url')), sshMpint(Buffer.from(jwk.n ?? '', 'base64url'))]);
  return {
    publicKey: `ssh-rsa ${blob.toString('base64')} ${comment}`.trim(),
    privateKey: privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
  };
}

/**
 * The MD5 fingerprint of an OpenSSH public key line (`aa:bb:...`), as CloudStack shows it, or
 * undefined when the line holds no well-formed key blob of the type it names.
 */
export function sshFingerprint(publicKeyLine: string): string | undefined {
  const [type, data] = publicKeyLine.trim().split(/\s+/);
  if (!type || !data || !/^[A-Za-z0-9+/]+=*$/.test(data)) return undefined;
  const blob = Buffer.from(data, 'base64');
  if (blob.length < 4) return undefined;
  const nameLength = blob.readUInt32BE(0);
  if (blob.subarray(4, 4 + nameLength).toString() !== type) return undefined;
  return createHash('md5').update(blob).digest('hex').replace(/(..)(?!$)/g, '$1:');
}
