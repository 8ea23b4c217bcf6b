import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { verifiedCopy } from '../../node-daemon/drivers/storage/download.ts';
import { commandRunner } from '../../node-daemon/drivers/exec.ts';

describe('template copies: ISO images, checked like disks', function () {
  const run = commandRunner();
  let dir: string;
  let iso: string;
  before(async function () {
    dir = await mkdtemp(join(tmpdir(), 'kumulus-copy-'));
    await mkdir(join(dir, 'content'));
    await writeFile(join(dir, 'content', 'README'), 'an installer\n');
    iso = join(dir, 'installer.iso');
    await run(['genisoimage', '-quiet', '-V', 'INSTALLER', '-o', iso, join(dir, 'content')]);
  });
  after(async function () {
    await rm(dir, { recursive: true, force: true });
  });

  it('copies an ISO9660 image registered as ISO, with its checksum, and refuses a disk image registered as ISO', async function () {
    const sha256 = createHash('sha256').update(await readFile(iso)).digest('hex');
    const copy = await verifiedCopy({ source: `file://${iso}`, target: join(dir, 'store', 'a.iso'), format: 'iso', checksum: `{SHA-256}${sha256}`, run });
    expect(copy.sha256).to.equal(`{SHA-256}${sha256}`);
    expect(await readdir(join(dir, 'store'))).to.deep.equal(['a.iso']);

    const disk = join(dir, 'disk.qcow2');
    await run(['qemu-img', 'create', '-q', '-f', 'qcow2', disk, '1M']);
    const refused = await verifiedCopy({ source: disk, target: join(dir, 'store', 'b.iso'), format: 'iso', run }).catch((err: Error) => err.message);
    expect(refused).to.match(/^format mismatch: qemu-img info says the image is qcow2, but the template says ISO/);
    const raw = join(dir, 'zeros.raw');
    await writeFile(raw, Buffer.alloc(65536));
    const notIso = await verifiedCopy({ source: raw, target: join(dir, 'store', 'c.iso'), format: 'iso', run }).catch((err: Error) => err.message);
    expect(notIso).to.match(/^format mismatch: the image is not ISO9660 \(no CD001 signature\)/);
    const isoAsRaw = await verifiedCopy({ source: iso, target: join(dir, 'store', 'd.raw'), format: 'raw', run }).catch((err: Error) => err.message);
    expect(isoAsRaw).to.match(/^format mismatch: qemu-img info says the image is iso, but the template says RAW; register it with format ISO/);
    expect(await readdir(join(dir, 'store')), 'nothing but the good copy, no partial file').to.deep.equal(['a.iso']);
  });
});
