import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * The Python `cs` client's command on this machine: `cloudstack` from the Debian package `cs`,
 * `cs` from PyPI; undefined when neither is installed.
 */
export async function csCommand(): Promise<string | undefined> {
  for (const candidate of ['cs', 'cloudstack']) {
    try {
      const { stdout } = await run(candidate, ['--help'], { timeout: 20_000 });
      if (stdout.includes('Cloudstack API command')) return candidate;
    } catch {
      // not this one
    }
  }
  return undefined;
}
