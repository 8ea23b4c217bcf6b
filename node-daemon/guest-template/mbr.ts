/** A DOS partition table (MBR) with one bootable partition, for the guest template's disk. */

export const SECTOR = 512;

/** FAT16 addressed by LBA, which the boot loader's MBR code reads through BIOS EDD. */
export const PARTITION_TYPE_FAT16_LBA = 0x0e;

/**
 * The first sector of a disk: bootCode (at most 440 bytes, e.g. syslinux's mbr.bin), then one
 * active partition entry of `sectors` sectors from `startLba`, then the 0x55AA signature. The
 * CHS fields hold the "beyond 8 GiB" marker, so readers use the LBA fields.
 */
export function masterBootRecord(bootCode: Uint8Array, startLba: number, sectors: number, type = PARTITION_TYPE_FAT16_LBA): Buffer {
  if (bootCode.length > 440) throw new Error(`MBR boot code: ${bootCode.length} bytes do not fit in 440`);
  for (const [name, value] of [['startLba', startLba], ['sectors', sectors]] as const) {
    if (!Number.isInteger(value) || value < 1 || value > 0xffffffff) throw new Error(`MBR ${name}: ${value} must be an integer in 1..2^32-1`);
  }
  const mbr = Buffer.alloc(SECTOR);
  mbr.set(bootCode, 0);
  const entry = 446;
  mbr[entry] = 0x80;
  mbr.set([0xfe, 0xff, 0xff], entry + 1);
  mbr[entry + 4] = type;
  mbr.set([0xfe, 0xff, 0xff], entry + 5);
  mbr.writeUInt32LE(startLba, entry + 8);
  mbr.writeUInt32LE(sectors, entry + 12);
  mbr[510] = 0x55;
  mbr[511] = 0xaa;
  return mbr;
}

/** The first partition of an MBR, as masterBootRecord wrote it. */
export function firstPartition(mbr: Uint8Array): { bootable: boolean; type: number; startLba: number; sectors: number } {
  const view = Buffer.from(mbr.buffer, mbr.byteOffset, mbr.byteLength);
  if (view[510] !== 0x55 || view[511] !== 0xaa) throw new Error('not an MBR: the 0x55AA signature is missing');
  return { bootable: view[446] === 0x80, type: view[450] ?? 0, startLba: view.readUInt32LE(454), sectors: view.readUInt32LE(458) };
}
