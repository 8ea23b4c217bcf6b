import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { log } from '../../lib/log.ts';
import type { Runner } from '../../node-daemon/drivers/exec.ts';
import { fileStorageDriver } from '../../node-daemon/drivers/storage/driver.ts';
import { parseTemplateChecksum } from '../../lib/template-checksum.ts';
import { parseMountinfo } from '../../node-daemon/drivers/storage/mounts.ts';
import { nfsMountCommand, nfsMountProblem } from '../../node-daemon/drivers/storage/nfs.ts';
import { secondaryStorageDriver, storeSpecFromUrl } from '../../node-daemon/drivers/storage/secondary.ts';

const pool = { uid: '3f1e2d4c-5b6a-4978-8a9b-0c1d2e3f4a5b', server: 'nfs1.example.com', exportPath: '/export/primary' };
const target = `/var/lib/kumulus/pools/${pool.uid}`;

describe('agent storage: NFS pools (the code path this machine cannot mount)', function () {
  it('builds the mount command', function () {
    expect(nfsMountCommand(pool, target)).to.deep.equal([
      'mount', '-t', 'nfs', '-o', 'hard,timeo=600,retrans=2,noatime', 'nfs1.example.com:/export/primary', target,
    ]);
    expect(nfsMountCommand({ ...pool, server: 'fd00::5', mountOptions: 'vers=4.2' }, target)).to.include('[fd00::5]:/export/primary').and.include('vers=4.2');
  });

  it('rejects bad pools naming the field', function () {
    expect(() => nfsMountCommand({ ...pool, server: 'nfs1;rm -rf /' }, target)).to.throw(/NFS pool server/);
    expect(() => nfsMountCommand({ ...pool, exportPath: 'export' }, target)).to.throw(/exportPath.*absolute/);
    expect(() => nfsMountCommand({ ...pool, mountOptions: 'rw bg' }, target)).to.throw(/mountOptions/);
  });

  it('tells the right mount from a missing or foreign one', function () {
    expect(nfsMountProblem(pool, target, undefined)).to.equal(`${target} is not mounted`);
    expect(nfsMountProblem(pool, target, { mountPoint: target, fsType: 'nfs4', source: 'nfs1.example.com:/export/primary' })).to.equal(undefined);
    expect(nfsMountProblem(pool, target, { mountPoint: target, fsType: 'nfs', source: 'nfs2:/other' })).to.include('has nfs2:/other mounted');
    expect(nfsMountProblem(pool, target, { mountPoint: target, fsType: 'ext4', source: '/dev/vdb' })).to.include('ext4 file system, not NFS');
  });

  it('reads /proc/self/mountinfo, including escaped paths', function () {
    const text = [
      '22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw',
      `90 22 0:50 / ${target} rw,relatime shared:40 - nfs4 nfs1.example.com:/export/primary rw,vers=4.2`,
      '91 22 0:51 / /mnt/with\\040space rw - tmpfs tmpfs rw',
    ].join('\n');
    expect(parseMountinfo(text)).to.deep.equal([
      { mountPoint: '/', fsType: 'ext4', source: '/dev/vda' },
      { mountPoint: target, fsType: 'nfs4', source: 'nfs1.example.com:/export/primary' },
      { mountPoint: '/mnt/with space', fsType: 'tmpfs', source: 'tmpfs' },
    ]);
  });
});

describe('agent storage: template checksums, as CloudStack writes them', function () {
  it('accepts {ALGORITHM}<hex> and a bare MD5, and rejects the rest with the fix', function () {
    expect(parseTemplateChecksum(`{SHA-256}${'A'.repeat(64)}`)).to.deep.equal({ algorithm: 'SHA-256', hash: 'sha256', hex: 'a'.repeat(64) });
    expect(parseTemplateChecksum(`{SHA-384}${'0'.repeat(96)}`).hash).to.equal('sha384');
    expect(parseTemplateChecksum(`{SHA-1}${'0'.repeat(40)}`).hash).to.equal('sha1');
    expect(parseTemplateChecksum(`{MD5}${'0'.repeat(32)}`).hash).to.equal('md5');
    expect(parseTemplateChecksum('F'.repeat(32)), 'CloudStack reads 32 bare hex digits as an MD5').to.deep.equal({ algorithm: 'MD5', hash: 'md5', hex: 'f'.repeat(32) });
    expect(() => parseTemplateChecksum('0'.repeat(64))).to.throw(/spec.checksum: a MD5 digest has 32 hex digits, not 64/);
    expect(() => parseTemplateChecksum(`{SHA-256}${'0'.repeat(40)}`)).to.throw(/64 hex digits, not 40/);
    expect(() => parseTemplateChecksum(`sha256:${'0'.repeat(64)}`)).to.throw(/\{ALGORITHM\}<hex>.*SHA-256/);
    expect(() => parseTemplateChecksum(`{CRC32}${'0'.repeat(8)}`)).to.throw(/one of MD5, SHA-1, SHA-256, SHA-384, SHA-512/);
  });
});

describe('agent storage: NFS pool through the driver, with a fake mount at the NFS boundary', function () {
  it('mounts at <poolMountRoot>/<uid> and reports the pool not ready while nothing is mounted there', async function () {
    const root = await mkdtemp(join(tmpdir(), 'kumulus-nfs-unit-'));
    try {
      const issued: string[][] = [];
      // FAKE NFS: no NFS server exists on this machine, so mount(8) is recorded, not run.
      const fakeMount: Runner = (argv) => {
        issued.push([...argv]);
        return Promise.resolve({ stdout: '', stderr: '' });
      };
      const driver = fileStorageDriver({ hostName: 'h', poolMountRoot: root, runner: fakeMount, logger: log });
      const seen = await driver.applyPool({ type: 'NFS', ...pool });
      expect(issued).to.deep.equal([nfsMountCommand(pool, join(root, pool.uid))]);
      expect(seen.path).to.equal(join(root, pool.uid));
      expect(seen.ready).to.equal(false);
      expect(seen.problem).to.equal(`${join(root, pool.uid)} is not mounted`);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('agent storage: NFS secondary storage, with a fake mount at the NFS boundary', function () {
  it('mounts nfs://server/export at <mountRoot>/<uid> and reports the store not usable while nothing is mounted there', async function () {
    const root = await mkdtemp(join(tmpdir(), 'kumulus-nfs-secondary-'));
    try {
      const issued: string[][] = [];
      // FAKE NFS: no NFS server exists on this machine, so mount(8) is recorded, not run.
      const fakeMount: Runner = (argv) => {
        issued.push([...argv]);
        return Promise.resolve({ stdout: '', stderr: '' });
      };
      const driver = secondaryStorageDriver({ mountRoot: root, run: fakeMount, logger: log });
      const store = storeSpecFromUrl(pool.uid, 'nfs://nfs1.example.com/export/secondary');
      const seen = await driver.apply(store);
      expect(issued).to.deep.equal([['mount', '-t', 'nfs', '-o', 'hard,timeo=600,retrans=2,noatime', 'nfs1.example.com:/export/secondary', join(root, pool.uid)]]);
      expect(seen).to.deep.include({ path: join(root, pool.uid), ready: false, problem: `${join(root, pool.uid)} is not mounted` });
      // A Local store is a directory, made on first use.
      const local = await driver.apply({ type: 'Local', uid: pool.uid, path: join(root, 'local') });
      expect(local).to.deep.include({ path: join(root, 'local'), ready: true });
      expect(issued, 'no mount for a Local store').to.have.length(1);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
