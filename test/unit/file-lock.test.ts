import { expect } from 'chai';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { withFileLock } from '../../lib/file-lock.ts';

describe('withFileLock', () => {
  let dir = '';
  beforeEach(async () => (dir = await mkdtemp(join(tmpdir(), 'kumulus-lock-'))));
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('runs holders one at a time and removes the lock afterwards', async () => {
    const lock = join(dir, 'x.lock');
    const order: string[] = [];
    const holder = (name: string) =>
      withFileLock(lock, async () => {
        order.push(`${name}+`);
        await sleep(50);
        order.push(`${name}-`);
      });
    await Promise.all([holder('a'), holder('b')]);
    expect(order).to.have.length(4);
    expect(order[0]?.slice(0, 1)).to.equal(order[1]?.slice(0, 1));
    expect(order[2]?.slice(0, 1)).to.equal(order[3]?.slice(0, 1));
    await stat(lock).then(
      () => expect.fail('lock file left behind'),
      () => undefined,
    );
  });

  it('takes over a lock whose holder process is dead', async () => {
    const lock = join(dir, 'stale.lock');
    await writeFile(lock, '999999999');
    let ran = false;
    await withFileLock(lock, async () => {
      ran = true;
      expect(await readFile(lock, 'utf8')).to.equal(String(process.pid));
    });
    expect(ran).to.equal(true);
  });
});
