#!/bin/sh
# Installs the Debian packages the node agent and its e2e tests need, and only the missing
# ones: `npm test` and `npm start` run this on every start, so it must cost a dpkg query
# when the host is already prepared.
#
#   libvirt-daemon-system, libvirt-clients  libvirtd and virsh (the hypervisor driver)
#   qemu-system-x86, qemu-utils             KVM guests and qemu-img (volumes)
#   dnsmasq-base                            per-network DHCP/DNS (the network driver)
#   nftables, iproute2                      bridge filtering, links, VXLAN, netns
#   busybox-static                          udhcpc, ping and nslookup inside the network tests' namespaces
#   cpio, mtools, kmod                      the guest template's initramfs and its boot partition
#                                           (node-daemon/guest-template; its kernel, busybox and
#                                           syslinux come from packages it downloads itself)
#   genisoimage                             the VMs' config drives (ISO9660), and isoinfo in their tests
#   nfs-common                              mount.nfs for NFS primary storage
#   cs                                      the Python CloudStack client, a real client in API tests
#   mmdebstrap, buildah                     `npm run image`: Debian root file systems, OCI images
#   containerd, runc                        the container runtime of the test harness's real node
#   containernetworking-plugins             its pod network (bridge, host-local, portmap)
set -eu

packages="libvirt-daemon-system libvirt-clients qemu-system-x86 qemu-utils dnsmasq-base
nftables iproute2 busybox-static cpio mtools kmod genisoimage nfs-common
cs
mmdebstrap buildah containerd runc containernetworking-plugins"

missing=""
for p in $packages; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$status" = "installed" ] || missing="$missing $p"
done

if [ -z "$missing" ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "ensure-host-packages: missing Debian packages:$missing; run this script as root to install them" >&2
  exit 1
fi

echo "ensure-host-packages: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# Another apt client (unattended upgrades, a parallel run) may hold the lock: wait for it.
apt-get -o DPkg::Lock::Timeout=600 update -qq
# shellcheck disable=SC2086 # word splitting of the package list is intended
apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends $missing >&2
