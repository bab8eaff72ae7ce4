#!/usr/bin/env bash
# The cached Debian 12 base of the appliance image (docs/appliance.md "Image"): debootstrap minbase plus systemd,
# from Debian's own packages, tarred once under $OPENKCM_IMAGE_CACHE (default /var/cache/openkcm) and reused.
#
# The cache key is the recipe (suite, variant, package list, mirror), so changing the recipe builds a new base and
# never reuses a stale one. Reusing the base is safe because it holds only Debian packages: nothing of OpenKCM,
# no keys, no machine-id (systemd makes one at first boot). Security updates reach a cached base only when it is
# rebuilt: `scripts/appliance-base.sh --refresh`, or delete the cache file (CI may also age it out, see .ci/run).
#
# Prints the path of the base tar as its last line. Root only (debootstrap needs chroot and device nodes).
set -euo pipefail

SUITE=bookworm
VARIANT=minbase
# systemd-sysv makes systemd PID 1; nothing else: no network stack, no ssh, no listeners.
INCLUDE=systemd,systemd-sysv
MIRROR=${OPENKCM_DEBIAN_MIRROR:-http://deb.debian.org/debian}
CACHE=${OPENKCM_IMAGE_CACHE:-/var/cache/openkcm}

refresh=0
[ "${1:-}" = "--refresh" ] && refresh=1

if [ "$(id -u)" != 0 ]; then echo "appliance-base: must run as root (debootstrap)" >&2; exit 1; fi
command -v debootstrap >/dev/null || { echo "appliance-base: debootstrap is missing: apt-get install -y debootstrap" >&2; exit 1; }

key=$(printf '%s\n' "$SUITE" "$VARIANT" "$INCLUDE" "$MIRROR" "recipe-v1" | sha256sum | cut -c1-12)
base="$CACHE/debian-$SUITE-$VARIANT-$key.tar"
mkdir -p "$CACHE"
chmod 0755 "$CACHE"

if [ -s "$base" ] && [ $refresh = 0 ]; then
  echo "appliance-base: cached $base" >&2
  echo "$base"
  exit 0
fi

work=$(mktemp -d "$CACHE/.build-XXXXXX")
cleanup() { rm -rf --one-file-system "$work"; }
trap cleanup EXIT
echo "appliance-base: debootstrap $SUITE ($VARIANT + $INCLUDE) from $MIRROR (a few minutes, once)" >&2
debootstrap --variant="$VARIANT" --include="$INCLUDE" "$SUITE" "$work/root" "$MIRROR" >"$work/debootstrap.log" 2>&1 || {
  tail -n 30 "$work/debootstrap.log" >&2
  exit 1
}
# Package caches and lists are not part of the product; the machine-id is made at first boot (systemd-firstboot).
rm -rf "$work/root/var/cache/apt/archives/"*.deb "$work/root/var/lib/apt/lists/"*
: >"$work/root/etc/machine-id"
tar --numeric-owner --xattrs -C "$work/root" -cf "$work/base.tar" .
mv -f "$work/base.tar" "$base"
echo "appliance-base: wrote $base ($(du -h "$base" | cut -f1))" >&2
echo "$base"
