import { open, readFile, rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Runs `fn` while holding an exclusive lock file, so that concurrent processes (two test runs,
 * a test run and `kumulus local`) never do the same expensive work into the same place. The file
 * records the holder's pid; a lock whose holder has died is taken over, so a killed process
 * never wedges the next one.
 */
export async function withFileLock<T>(
  path: string,
  fn: () => Promise<T>,
  onWait: (holderPid: number) => void = () => undefined,
): Promise<T> {
  let announced = false;
  for (;;) {
    try {
      const handle = await open(path, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number.parseInt(await readFile(path, 'utf8').catch(() => ''), 10);
      if (Number.isInteger(holder) && holder > 0 && !isAlive(holder)) {
        await rm(path, { force: true });
        continue;
      }
      if (!announced && Number.isInteger(holder)) onWait(holder);
      announced = true;
      await sleep(1000);
    }
  }
  try {
    return await fn();
  } finally {
    await rm(path, { force: true });
  }
}
