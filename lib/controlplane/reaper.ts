/**
 * The reaper: a detached watchdog that outlives its parent only long enough to clean up.
 * It reads lines from a pipe held by the parent: `group <pgid>` registers a process group,
 * `dir <path>` a folder to remove. When the pipe closes, because the parent stopped cleanly,
 * crashed or was SIGKILLed, it terminates every group (SIGTERM, then SIGKILL after a grace
 * period) and removes the folders. Nothing the control plane started can survive it.
 */
import { rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';

const GRACE_MS = 5000;
const groups = new Set<number>();
const dirs = new Set<string>();

function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

process.on('SIGINT', () => undefined);
process.on('SIGHUP', () => undefined);

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const [verb, ...rest] = line.split(' ');
  const arg = rest.join(' ');
  if (verb === 'group') groups.add(Number(arg));
  else if (verb === 'forget') groups.delete(Number(arg));
  else if (verb === 'dir') dirs.add(arg);
});
lines.on('close', () => {
  void (async () => {
    let alive = [...groups].filter((g) => signalGroup(g, 'SIGTERM'));
    const deadline = Date.now() + GRACE_MS;
    while (alive.length > 0 && Date.now() < deadline) {
      await sleep(100);
      alive = alive.filter((g) => signalGroup(g, 0));
    }
    for (const g of alive) signalGroup(g, 'SIGKILL');
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    process.exit(0);
  })();
});
