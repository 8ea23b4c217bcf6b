import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { chmod, copyFile, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { withFileLock } from '../../lib/file-lock.ts';

const exec = promisify(execFile);

export interface GuestImage {
  kernel: string;
  initrd: string;
  /** Kernel command line: serial console, so the guest's output lands in the domain's log. */
  cmdline: string;
  /** A small blank qcow2 root-disk template and its checksum, served to the template cache. */
  template: { path: string; format: 'qcow2'; checksum: string };
}

// Loaded in dependency order: Debian builds virtio and virtio-net as modules.
const modules = [
  'net/core/failover.ko',
  'drivers/net/net_failover.ko',
  'drivers/virtio/virtio_ring.ko',
  'drivers/virtio/virtio.ko',
  'drivers/virtio/virtio_pci_legacy_dev.ko',
  'drivers/virtio/virtio_pci_modern_dev.ko',
  'drivers/virtio/virtio_pci.ko',
  'drivers/net/virtio_net.ko',
  'drivers/block/virtio_blk.ko',
];

const init = `#!/bin/sh
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in ${modules.map((m) => m.split('/').at(-1)).join(' ')}; do insmod /lib/modules/$m; done
echo "kumulus-guest: booted $(uname -r)"
ip link set lo up
i=0
while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
ip link set eth0 up
echo "kumulus-guest: eth0 $(cat /sys/class/net/eth0/address) disks: $(ls /sys/block | tr '\\n' ' ')"
udhcpc -i eth0 -s /udhcpc.script -O mtu -t 60 -T 1 -A 1 -b
while :; do sleep 3600; done
`;

const udhcpcScript = `#!/bin/sh
case "$1" in
  deconfig)
    ip addr flush dev "$interface"
    ;;
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/$mask" dev "$interface"
    [ -n "$mtu" ] && ip link set "$interface" mtu "$mtu"
    [ -n "$router" ] && ip route replace default via "\${router%% *}"
    echo "kumulus-guest: lease ip=$ip/$mask router=$router dns=$dns hostname=$hostname mtu=$mtu server=$serverid"
    ;;
esac
`;

async function kernelVersion(): Promise<string> {
  const versions = (await readdir('/lib/modules')).filter((v) => /-amd64$/.test(v));
  for (const v of versions.sort().reverse()) {
    if (await stat(`/boot/vmlinuz-${v}`).then(() => true, () => false)) return v;
  }
  throw new Error(
    'no Debian kernel for the test guest: /boot/vmlinuz-*-amd64 with /lib/modules is missing; run scripts/ensure-host-packages.sh (linux-image-amd64)',
  );
}

async function build(dir: string, version: string): Promise<void> {
  const root = await mkdtemp(join(dir, 'initrd-'));
  try {
    for (const sub of ['bin', 'proc', 'sys', 'dev', 'lib/modules']) await mkdir(join(root, sub), { recursive: true });
    await copyFile('/bin/busybox', join(root, 'bin', 'busybox'));
    await chmod(join(root, 'bin', 'busybox'), 0o755);
    const { stdout } = await exec('/bin/busybox', ['--list']);
    for (const applet of stdout.split('\n').filter((a) => a && a !== 'busybox')) {
      await exec('ln', ['-sf', 'busybox', join(root, 'bin', applet)]);
    }
    for (const m of modules) await copyFile(`/lib/modules/${version}/kernel/${m}`, join(root, 'lib/modules', m.split('/').at(-1) ?? m));
    await writeFile(join(root, 'init'), init, { mode: 0o755 });
    await writeFile(join(root, 'udhcpc.script'), udhcpcScript, { mode: 0o755 });
    await exec('sh', ['-c', `cd '${root}' && find . | cpio -o -H newc --quiet | gzip -1 > '${join(dir, 'initrd.img.part')}'`]);
    await rename(join(dir, 'initrd.img.part'), join(dir, 'initrd.img'));
    await copyFile(`/boot/vmlinuz-${version}`, join(dir, 'vmlinuz'));
    await exec('qemu-img', ['create', '-q', '-f', 'qcow2', join(dir, 'template.qcow2'), '64M']);
    const digest = createHash('sha256').update(await readFile(join(dir, 'template.qcow2'))).digest('hex');
    await writeFile(join(dir, 'template.sha256'), digest);
    await writeFile(join(dir, 'complete'), new Date().toISOString());
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

/**
 * A tiny bootable guest from Debian packages: the host's linux-image kernel and an initramfs of
 * busybox-static plus the virtio modules, whose init brings up eth0 and runs udhcpc. Built once
 * and cached under ~/.cache/kumulus/ (keyed by kernel version and init scripts).
 */
export async function tinyGuestImage(): Promise<GuestImage> {
  const version = await kernelVersion();
  const key = createHash('sha256').update(`${version}\n${init}\n${udhcpcScript}`).digest('hex').slice(0, 12);
  const cacheRoot = join(homedir(), '.cache', 'kumulus');
  const dir = join(cacheRoot, `guest-${version}-${key}`);
  await mkdir(cacheRoot, { recursive: true });
  if (!(await stat(join(dir, 'complete')).then(() => true, () => false))) {
    await withFileLock(`${dir}.lock`, async () => {
      if (await stat(join(dir, 'complete')).then(() => true, () => false)) return;
      await rm(dir, { recursive: true, force: true });
      await mkdir(dir, { recursive: true });
      await build(dir, version);
    });
  }
  return {
    kernel: join(dir, 'vmlinuz'),
    initrd: join(dir, 'initrd.img'),
    cmdline: 'console=ttyS0 panic=-1 quiet loglevel=3',
    template: {
      path: join(dir, 'template.qcow2'),
      format: 'qcow2',
      checksum: `sha256:${(await readFile(join(dir, 'template.sha256'), 'utf8')).trim()}`,
    },
  };
}
