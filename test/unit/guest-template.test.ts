import { expect } from 'chai';
import { moduleLoadOrder } from '../../node-daemon/guest-template/build.ts';
import { firstPartition, masterBootRecord, PARTITION_TYPE_FAT16_LBA } from '../../node-daemon/guest-template/mbr.ts';

describe('guest template: the disk’s partition table', function () {
  it('holds the boot code, one active partition addressed by LBA, and the signature', function () {
    const bootCode = Buffer.alloc(440, 0xab);
    const mbr = masterBootRecord(bootCode, 2048, 129024);
    expect(mbr.length).to.equal(512);
    expect(mbr.subarray(0, 440).equals(bootCode)).to.equal(true);
    expect(firstPartition(mbr)).to.deep.equal({ bootable: true, type: PARTITION_TYPE_FAT16_LBA, startLba: 2048, sectors: 129024 });
    expect(mbr.subarray(462, 510).every((b) => b === 0), 'the other three entries are empty').to.equal(true);
    expect([mbr[510], mbr[511]]).to.deep.equal([0x55, 0xaa]);
  });

  it('refuses boot code or extents that do not fit', function () {
    expect(() => masterBootRecord(Buffer.alloc(441), 2048, 1)).to.throw(/441 bytes do not fit in 440/);
    expect(() => masterBootRecord(Buffer.alloc(440), 0, 1)).to.throw(/startLba: 0/);
    expect(() => masterBootRecord(Buffer.alloc(440), 2048, 2 ** 32)).to.throw(/sectors/);
    expect(() => firstPartition(Buffer.alloc(512))).to.throw(/0x55AA/);
  });
});

describe('guest template: kernel modules', function () {
  const modulesDep = [
    'kernel/drivers/virtio/virtio_ring.ko:',
    'kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko',
    'kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko',
    'kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko',
    'kernel/net/core/failover.ko:',
    'kernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko',
    'kernel/drivers/scsi/sr_mod.ko: kernel/drivers/cdrom/cdrom.ko',
    'kernel/drivers/cdrom/cdrom.ko:',
    '',
  ].join('\n');

  it('loads dependencies first, each module once', function () {
    expect(moduleLoadOrder(modulesDep, ['virtio_net', 'virtio_blk', 'sr-mod'])).to.deep.equal([
      'kernel/drivers/virtio/virtio_ring.ko',
      'kernel/drivers/virtio/virtio.ko',
      'kernel/net/core/failover.ko',
      'kernel/drivers/net/net_failover.ko',
      'kernel/drivers/net/virtio_net.ko',
      'kernel/drivers/block/virtio_blk.ko',
      'kernel/drivers/cdrom/cdrom.ko',
      'kernel/drivers/scsi/sr_mod.ko',
    ]);
  });

  it('names a module the kernel does not ship as one', function () {
    expect(() => moduleLoadOrder(modulesDep, ['isofs'])).to.throw(/kernel module isofs is not in modules.dep/);
  });
});
