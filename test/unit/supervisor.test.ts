import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { startSupervisor } from '../../lib/controlplane/supervisor.ts';

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await sleep(50);
  }
  return false;
}

describe('process supervisor', () => {
  it('stops a child and everything it forked', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kumulus-sup-'));
    try {
      const supervisor = startSupervisor(dir);
      const child = supervisor.start('sleeper', 'sh', ['-c', 'sleep 1000 & sleep 1000 & wait']);
      expect(groupAlive(child.pid)).to.equal(true);
      await supervisor.stopAll(2000);
      expect(groupAlive(child.pid)).to.equal(false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('leaves no process or folder behind when its parent is SIGKILLed', async function () {
    this.timeout(20_000);
    const fixture = join(import.meta.dirname, '..', 'support', 'fixtures', 'supervised-parent.ts');
    const parent = spawn(process.execPath, [fixture], { stdio: ['ignore', 'pipe', 'inherit'] });
    const first = await new Promise<string>((resolve) => createInterface({ input: parent.stdout }).once('line', resolve));
    const { pid, dir } = JSON.parse(first) as { pid: number; dir: string };
    expect(groupAlive(pid)).to.equal(true);
    parent.kill('SIGKILL');
    expect(await waitUntil(() => !groupAlive(pid), 10_000), 'supervised group still alive').to.equal(true);
    const dirGone = () => stat(dir).then(() => false, () => true);
    expect(await waitUntil(dirGone, 5_000), 'state folder still present').to.equal(true);
  });
});
