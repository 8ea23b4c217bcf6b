import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

/**
 * Real CloudStack clients as programs the tests run: the Python `cs` client (command
 * `cloudstack`) and a small program over the Go SDK. Each answers a command as the client
 * does, after waiting for its job with the client's own polling.
 */

const run = promisify(execFile);
export type Row = Record<string, unknown>;
export type Keys = { apiKey: string; secretKey: string };

/** A real client: `call` runs one command (waiting for its job, as the client does) and answers `{ <object name>: {...} }`. */
export interface Driver {
  readonly name: string;
  /** Why it cannot run here, or undefined. */
  prepare(): Promise<string | undefined>;
  call(endpoint: string, keys: Keys, command: string, params: Record<string, string>): Promise<Row>;
  cleanup(): Promise<void>;
}

/** The Python `cs` client (Debian package `cs`, command `cloudstack`). */
export const csDriver: Driver = {
  name: 'the Python cs client',
  async prepare() {
    try {
      const { stdout } = await run('cloudstack', ['--help'], { timeout: 20_000 });
      return stdout.includes('COMMAND') ? undefined : 'the command cloudstack is not the Python cs client';
    } catch {
      return 'the Python cs client (Debian package cs, command cloudstack) is not installed';
    }
  },
  async call(endpoint, keys, command, params) {
    const env = { ...process.env, CLOUDSTACK_ENDPOINT: endpoint, CLOUDSTACK_KEY: keys.apiKey, CLOUDSTACK_SECRET: keys.secretKey, CLOUDSTACK_TIMEOUT: '600' };
    const args = ['--quiet', command, ...Object.entries(params).map(([k, v]) => `${k}=${v}`)];
    const { stdout } = await run('cloudstack', args, { env, timeout: 630_000 }).catch((err: unknown) => {
      throw new Error(`cloudstack ${args.join(' ')} failed: ${(err as { stdout?: string }).stdout ?? ''}${(err as { stderr?: string }).stderr ?? String(err)}`);
    });
    // cs prints nothing for an empty answer (a list with no rows is `{}`).
    return stdout.trim() === '' ? {} : (JSON.parse(stdout) as Row);
  },
  cleanup: () => Promise.resolve(),
};

/*
 * The Go SDK, github.com/apache/cloudstack-go/v2, its async client waiting for each job: the
 * program in ./gosdk (go.mod and go.sum pin the SDK) maps a command and its
 * parameters to the SDK's typed call and prints the typed result under its object name. Go
 * fetches the pinned modules through its module proxy, as the control-plane build does
 * (lib/controlplane/go-build.ts); its module and build caches make later builds quick.
 */
const goModule = join(import.meta.dirname, 'gosdk');

export function goDriver(): Driver {
  let dir = '';
  let program = '';
  return {
    name: 'the Go SDK',
    async prepare() {
      try {
        await run('go', ['version'], { timeout: 30_000 });
      } catch {
        return 'the go command is not installed, so the Go SDK program cannot be built';
      }
      dir = await mkdtemp(join(tmpdir(), 'kumulus-gosdk-'));
      program = join(dir, 'gosdk');
      // -mod=readonly: the build uses exactly the committed go.sum; -buildvcs=false: the module sits inside this repository's work tree.
      await run('nice', ['-n', '10', 'go', 'build', '-o', program, '.'], { cwd: goModule, timeout: 840_000, env: { ...process.env, GOFLAGS: '-mod=readonly -buildvcs=false', GOTOOLCHAIN: 'local', GOWORK: 'off' } }).catch((err: unknown) => {
        throw new Error(`building the Go SDK program in ${goModule} failed: ${(err as { stderr?: string }).stderr ?? String(err)}`);
      });
      return undefined;
    },
    async call(endpoint, keys, command, params) {
      const args = [command, ...Object.entries(params).map(([k, v]) => `${k}=${v}`)];
      const { stdout } = await run(program, args, { env: { PATH: process.env['PATH'], CS_ENDPOINT: endpoint, CS_KEY: keys.apiKey, CS_SECRET: keys.secretKey }, timeout: 630_000 }).catch((err: unknown) => {
        throw new Error(`Go SDK ${args.join(' ')} failed: ${(err as { stderr?: string }).stderr ?? String(err)}`);
      });
      const answer = JSON.parse(stdout) as Row;
      // The SDK's list struct carries count and the rows; as cs does, an empty list is {}.
      const list = answer['list'] as { count?: number; virtualmachine?: Row[] } | undefined;
      return list ? (list.count ? list : {}) : answer;
    },
    async cleanup() {
      if (dir) await rm(dir, { recursive: true, force: true });
    },
  };
}
