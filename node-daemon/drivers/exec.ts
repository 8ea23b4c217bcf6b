import { execFile } from 'node:child_process';

export interface CommandResult {
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Written to the command's stdin. */
  input?: string;
  timeoutMs?: number;
}

/**
 * Runs one command. Drivers take a Runner rather than calling child_process themselves, so
 * the same driver code can act on the host or inside a network namespace (the e2e "hosts").
 */
export type Runner = (argv: readonly string[], options?: RunOptions) => Promise<CommandResult>;

export class CommandError extends Error {
  readonly argv: readonly string[];
  readonly exitCode: number | null;
  readonly stderr: string;
  constructor(argv: readonly string[], exitCode: number | null, stderr: string) {
    super(`${argv.join(' ')} failed (exit ${exitCode ?? 'signal'}): ${stderr.trim() || '(no stderr)'}`);
    this.argv = argv;
    this.exitCode = exitCode;
    this.stderr = stderr;
  }
}

function execOnce(argv: readonly string[], options: RunOptions): Promise<CommandResult> {
  const [file, ...args] = argv;
  if (file === undefined) return Promise.reject(new Error('empty command'));
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      { maxBuffer: 64 * 1024 * 1024, timeout: options.timeoutMs ?? 120_000, encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (err) {
          const code = typeof err.code === 'number' ? err.code : null;
          reject(new CommandError(argv, code, stderr || err.message));
          return;
        }
        resolve({ stdout, stderr });
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/**
 * A Runner on this host, or inside the named network namespace. nsenter switches only the
 * network namespace: `ip netns exec` also makes a private mount namespace, in which a
 * namespace the driver adds (`ip netns add`, for a network's DHCP service) would not persist.
 */
export function commandRunner(netns?: string): Runner {
  const prefix = netns === undefined ? [] : ['nsenter', `--net=/run/netns/${netns}`, '--'];
  return (argv, options = {}) => execOnce([...prefix, ...argv], options);
}

