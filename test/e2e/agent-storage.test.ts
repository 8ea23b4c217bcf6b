import { createHash, randomUUID } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { log } from '../../lib/log.ts';
import { fileStorageDriver } from '../../node-daemon/drivers/storage/driver.ts';
import { cachedTemplatePath } from '../../node-daemon/drivers/storage/template-cache.ts';
import type { PoolSpec, TemplateSource } from '../../node-daemon/drivers/storage/types.ts';

const exec = promisify(execFile);

describe('agent storage driver on real file systems and qemu-img', function () {
  this.timeout(60_000);
  const logger = log.child({ test: 'agent-storage' });
  let dir: string;
  let server: Server;
  let baseUrl: string;
  let requests = 0;
  let image: Buffer;
  let imageSha256: string;
  let sharedMount: string | undefined;

  before(async function () {
    dir = await mkdtemp(join(tmpdir(), 'kumulus-storage-'));
    await exec('qemu-img', ['create', '-q', '-f', 'qcow2', join(dir, 'image.qcow2'), '32M']);
    image = await readFile(join(dir, 'image.qcow2'));
    imageSha256 = createHash('sha256').update(image).digest('hex');
    // A template server that is slow on purpose, so concurrent fills overlap.
    server = createServer((req, res) => {
      requests++;
      setTimeout(() => res.end(image), 300);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async function () {
    server?.close();
    if (sharedMount) await exec('umount', [sharedMount]).catch(() => undefined);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const template = (checksum: string): TemplateSource => ({ uid: randomUUID(), format: 'qcow2', checksum, url: `${baseUrl}/t.qcow2` });

  it('reports capacity and a heartbeat for a local directory pool', async function () {
    const driver = fileStorageDriver({ hostName: 'host-a', logger });
    const pool: PoolSpec = { type: 'Local', uid: randomUUID(), path: join(dir, 'local') };
    const before = await driver.observePool(pool);
    expect(before.ready).to.equal(false);
    expect(before.problem).to.include('does not exist');
    const seen = await driver.applyPool(pool);
    expect(seen.ready).to.equal(true);
    expect(seen.capacityBytes).to.be.greaterThan(0);
    expect(seen.availableBytes).to.be.within(1, seen.capacityBytes);
    expect(seen.usedBytes).to.be.within(0, seen.capacityBytes);
    expect(seen.heartbeatAt?.getTime()).to.be.closeTo(Date.now(), 5000);
    const statfs = (await exec('stat', ['-f', '-c', '%b %S', pool.path])).stdout.split(' ').map(Number);
    expect(seen.capacityBytes).to.equal((statfs[0] ?? 0) * (statfs[1] ?? 0));
  });

  it('verifies a SharedMountPoint is really mounted, and reports the mounted file system’s capacity', async function () {
    const driver = fileStorageDriver({ hostName: 'host-a', logger });
    const path = join(dir, 'shared');
    await mkdir(path);
    const pool: PoolSpec = { type: 'SharedMountPoint', uid: randomUUID(), path };
    const unmounted = await driver.applyPool(pool);
    expect(unmounted.ready).to.equal(false);
    expect(unmounted.problem).to.include('is not a mount point');

    await exec('mount', ['-t', 'tmpfs', '-o', 'size=64m', 'kumulus-e2e-shared', path]);
    sharedMount = path;
    const mounted = await driver.applyPool(pool);
    expect(mounted.ready).to.equal(true);
    expect(mounted.capacityBytes).to.equal(64 * 1024 * 1024);
    expect(mounted.heartbeatAt).to.be.instanceOf(Date);
  });

  it('rejects a template with a bad checksum and leaves no file behind', async function () {
    const driver = fileStorageDriver({ hostName: 'host-a', logger });
    const pool: PoolSpec = { type: 'Local', uid: randomUUID(), path: join(dir, 'bad') };
    await driver.applyPool(pool);
    const bad = template(`{SHA-256}${'0'.repeat(64)}`);
    let error: Error | undefined;
    await driver.ensureTemplate(pool, bad).catch((err: Error) => (error = err));
    expect(error?.message).to.include('bad checksum').and.include(`{SHA-256}${imageSha256}`);
    expect(await readdir(join(pool.path, '.kumulus-templates'))).to.deep.equal([]);

    const unknownAlgorithm = await driver.ensureTemplate(pool, template('{CRC32}1234')).catch((err: Error) => err.message);
    expect(unknownAlgorithm).to.include('spec.checksum').and.include('SHA-256');
  });

  it('fills one template once for concurrent volume creations, across driver instances', async function () {
    const pool: PoolSpec = { type: 'Local', uid: randomUUID(), path: join(dir, 'shared-cache') };
    const first = fileStorageDriver({ hostName: 'host-a', logger });
    // A second driver has its own in-memory state, like a second process: only the lock file
    // can keep it from downloading too.
    const second = fileStorageDriver({ hostName: 'host-a', logger });
    await first.applyPool(pool);
    const good = template(`{SHA-256}${imageSha256}`);
    requests = 0;
    const paths = await Promise.all([
      ...Array.from({ length: 5 }, () => first.ensureTemplate(pool, good)),
      ...Array.from({ length: 5 }, () => second.ensureTemplate(pool, good)),
    ]);
    expect(requests, 'downloads').to.equal(1);
    expect(new Set(paths)).to.deep.equal(new Set([cachedTemplatePath(pool.path, good)]));
    expect(await readdir(join(pool.path, '.kumulus-templates'))).to.deep.equal([`${good.uid}.qcow2`]);

    const roots = [randomUUID(), randomUUID(), randomUUID()];
    await Promise.all(roots.map((uid) => first.applyVolume(pool, { kind: 'root', uid, template: good, sizeBytes: 64 * 1024 * 1024 })));
    expect(requests).to.equal(1);
    for (const uid of roots) {
      const volume = await first.observeVolume(pool, uid);
      expect(volume?.backingFile).to.equal(paths[0]);
      expect(volume?.virtualSizeBytes).to.equal(64 * 1024 * 1024);
    }
  });

  it('fills the cache from secondary storage (a mounted path) as well as from a URL', async function () {
    const driver = fileStorageDriver({ hostName: 'host-a', logger });
    const pool: PoolSpec = { type: 'Local', uid: randomUUID(), path: join(dir, 'from-secondary') };
    await driver.applyPool(pool);
    const before = requests;
    const fromSecondary: TemplateSource = {
      uid: randomUUID(),
      format: 'qcow2',
      checksum: `{SHA-256}${imageSha256}`,
      secondaryPath: join(dir, 'image.qcow2'),
      url: `${baseUrl}/t.qcow2`,
    };
    const path = await driver.ensureTemplate(pool, fromSecondary);
    expect(requests, 'secondary storage is preferred over the URL').to.equal(before);
    expect(createHash('sha256').update(await readFile(path)).digest('hex')).to.equal(imageSha256);
    const wrongFormat = await driver
      .ensureTemplate(pool, { ...fromSecondary, uid: randomUUID(), format: 'raw' })
      .catch((err: Error) => err.message);
    expect(wrongFormat).to.include('format mismatch: qemu-img info says the image is qcow2, but the template says RAW');
  });

  it('creates, grows, refuses to shrink and deletes a data volume; recreating an existing one does nothing', async function () {
    const driver = fileStorageDriver({ hostName: 'host-a', logger });
    const pool: PoolSpec = { type: 'Local', uid: randomUUID(), path: join(dir, 'data') };
    await driver.applyPool(pool);
    const uid = randomUUID();
    expect(await driver.applyVolume(pool, { kind: 'data', uid, sizeBytes: 16 * 1024 * 1024 })).to.deep.equal(['create']);
    expect(await driver.applyVolume(pool, { kind: 'data', uid, sizeBytes: 16 * 1024 * 1024 })).to.deep.equal([]);
    expect(await driver.applyVolume(pool, { kind: 'data', uid, sizeBytes: 32 * 1024 * 1024 })).to.deep.equal(['resize']);
    expect((await driver.observeVolume(pool, uid))?.virtualSizeBytes).to.equal(32 * 1024 * 1024);
    const shrink = await driver.applyVolume(pool, { kind: 'data', uid, sizeBytes: 8 * 1024 * 1024 }).catch((err: Error) => err.message);
    expect(shrink).to.include('sizeBytes').and.include('only grow');
    const tooSmallRoot = await driver
      .applyVolume(pool, { kind: 'root', uid: randomUUID(), template: template(`{SHA-256}${imageSha256}`), sizeBytes: 1024 })
      .catch((err: Error) => err.message);
    expect(tooSmallRoot).to.include('smaller than its template');
    await driver.deleteVolume(pool, uid);
    expect(await driver.observeVolume(pool, uid)).to.equal(undefined);
    await driver.deleteVolume(pool, uid);

    // An agent killed inside qemu-img create leaves the temporary file: deleting the volume takes it too.
    const killed = randomUUID();
    await writeFile(join(dir, 'data', `${killed}.qcow2.part`), 'half an image');
    await driver.deleteVolume(pool, killed);
    expect(await readdir(join(dir, 'data')).then((names) => names.filter((n) => n.startsWith(killed)))).to.deep.equal([]);
  });
});
