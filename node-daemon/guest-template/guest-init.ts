/**
 * What runs inside the local cloud's guest: an init for an initramfs of busybox and a few
 * Debian kernel modules. It does what cloud-init does for a Kumulus VM, in a few lines of
 * shell: it reads the config drive (ConfigDrive v2: an ISO9660 file system labelled config-2)
 * for the hostname, the SSH keys and the user data, and takes an address on every NIC by
 * DHCP. Each step prints one `kumulus-guest:` line on the serial console, which is what
 * tests assert on.
 */

/**
 * The kernel modules the guest loads (with their dependencies, resolved from modules.dep):
 * virtio disks and NICs, the IDE CD-ROM that carries the config drive, and the ACPI power
 * button so that a shutdown or reboot request is answered at once.
 */
export const GUEST_MODULES = ['virtio_pci', 'virtio_blk', 'virtio_net', 'ata_piix', 'sr_mod', 'isofs', 'button', 'evdev'] as const;

export const GUEST_INIT = `#!/bin/sh
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /tmp /run /etc/acpi/PWRF /root/.ssh /mnt/config
say() { echo "kumulus-guest: $*"; }
say "booted $(uname -r)"
for m in $(cat /lib/modules/load-order); do insmod "/lib/modules/$m"; done
ip link set lo up

# The power button (libvirt's ACPI shutdown and reboot) powers off; libvirt restarts the
# domain when it asked for a reboot. acpid logs, and runs the handler, on the console: its
# default log, /var/log/acpid.log, cannot be made here, and acpid would exit at once.
printf '#!/bin/sh\\necho "kumulus-guest: acpi power button: powering off"\\nsync\\npoweroff -f\\n' > /etc/acpi/PWRF/00000080
chmod 755 /etc/acpi/PWRF/00000080
acpid -c /etc/acpi -l /dev/console -p /run/acpid.pid

# The ISO9660 volume label sits at byte 32808 of the device.
config_drive() {
  for dev in /dev/sr* /dev/vd* /dev/hd*; do
    [ -b "$dev" ] || continue
    [ "$(dd if="$dev" bs=1 skip=32808 count=8 2>/dev/null)" = "config-2" ] && { echo "$dev"; return 0; }
  done
  return 1
}
# The drive's JSON is written one member per line (JSON.stringify with indentation), so sed reads it.
member() { sed -n "s/^  \\"$1\\": \\"\\(.*\\)\\",\\{0,1\\}$/\\1/p" "$2" | head -n 1; }

i=0
while ! dev=$(config_drive) && [ $i -lt 30 ]; do sleep 0.1; i=$((i+1)); done
if [ -n "$dev" ] && mount -t iso9660 -o ro "$dev" /mnt/config; then
  dir=/mnt/config/openstack/latest
  md=$dir/meta_data.json
  host=$(member hostname "$md")
  [ -n "$host" ] && hostname "$host" && echo "$host" > /etc/hostname
  sed -n '/^  "public_keys": {$/,/^  }/s/^    "[^"]*": "\\(.*\\)",\\{0,1\\}$/\\1/p' "$md" > /root/.ssh/authorized_keys
  chmod 700 /root/.ssh
  chmod 600 /root/.ssh/authorized_keys
  first=""
  while read -r type blob comment; do
    fp=$(echo "$blob" | base64 -d | md5sum | cut -c1-32 | sed 's/../&:/g; s/:$//')
    say "ssh-key for root: type=$type comment=$comment fingerprint=$fp"
    [ -z "$first" ] && first=\${comment:-$fp}
  done < /root/.ssh/authorized_keys
  say "config-drive hostname=$host ssh-key=$first uuid=$(member uuid "$md") name=$(member name "$md") zone=$(member availability_zone "$md") device=$dev"
  [ -f "$dir/network_data.json" ] && say "network-data links=$(grep -c ethernet_mac_address "$dir/network_data.json")"
  if [ -f "$dir/user_data" ]; then
    say "user-data bytes=$(wc -c < "$dir/user_data") first-line=$(head -n 1 "$dir/user_data")"
    if [ "$(head -c 2 "$dir/user_data")" = "#!" ]; then
      cp "$dir/user_data" /tmp/user-data && chmod 755 /tmp/user-data
      (/tmp/user-data 2>&1 | while read -r line; do say "user-data: $line"; done; say "user-data exit") &
    fi
  fi
else
  say "config-drive none"
fi

for nic in /sys/class/net/eth*; do
  [ -e "$nic" ] || continue
  name=\${nic##*/}
  ip link set "$name" up
  say "nic $name mac=$(cat "$nic/address")"
  udhcpc -f -i "$name" -s /etc/udhcpc.script -O mtu -t 60 -T 1 -A 1 &
done
say "up $(cut -d' ' -f1 /proc/uptime)s"
while :; do sleep 3600; done
`;

export const UDHCPC_SCRIPT = `#!/bin/sh
case "$1" in
  deconfig)
    ip addr flush dev "$interface"
    ;;
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/$mask" dev "$interface"
    [ -n "$mtu" ] && ip link set "$interface" mtu "$mtu"
    [ -n "$router" ] && ip route replace default via "\${router%% *}"
    echo "kumulus-guest: lease $interface ip=$ip/$mask router=$router dns=$dns hostname=$hostname mtu=$mtu server=$serverid uptime=$(cut -d' ' -f1 /proc/uptime)s"
    ;;
esac
`;

/** The boot loader's configuration: no menu, the console on the first serial port. */
export const SYSLINUX_CFG = `SERIAL 0 115200
DEFAULT kumulus
PROMPT 0
TIMEOUT 0
LABEL kumulus
  KERNEL /vmlinuz
  INITRD /initrd.img
  APPEND console=tty0 console=ttyS0,115200 panic=-1 quiet loglevel=3
`;
