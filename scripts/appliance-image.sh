#!/usr/bin/env bash
# `npm run appliance:image`: the bootable root file system dist/appliance/openkcm-image-<version>.tar (issue 17;
# docs/appliance.md "The image"). Debian 12 minbase + systemd from Debian's packages (the cached base of
# scripts/appliance-base.sh), the artefact installed by its own libexec/install (the same path an upgrade takes),
# both units enabled, nothing else listening. Boot it with systemd-nspawn, or write it to a disk image.
#
# Usage: scripts/appliance-image.sh [ARTEFACT.tar.gz]   (default: dist/appliance/openkcm-<version>-linux-x64.tar.gz)
# Root only. Prints the image's path as its last line. On a terminal, a progress bar with the step, the elapsed
# time and an ETA from the previous build's step times; quiet (one line per step on stderr) when piped.
set -euo pipefail
cd "$(dirname "$0")/.."
export LC_ALL=C

version=${OPENKCM_APPLIANCE_VERSION:-$(node -p 'require("./package.json").version')}
artefact=${1:-dist/appliance/openkcm-$version-linux-x64.tar.gz}
out=dist/appliance/openkcm-image-$version.tar
CACHE=${OPENKCM_IMAGE_CACHE:-/var/cache/openkcm}
[ "$(id -u)" = 0 ] || { echo "appliance-image: must run as root" >&2; exit 1; }
[ -s "$artefact" ] || { echo "appliance-image: $artefact is missing: run npm run appliance" >&2; exit 1; }
artefact=$(readlink -f "$artefact")

# ---- progress: a bar on a terminal, plain lines when piped ---------------------------------------------------------
STEPS=6
step=0
t0=$(date +%s)
timings="$CACHE/.image-step-times"   # seconds per step of the last build: the ETA's basis
declare -a prev=()
[ -r "$timings" ] && read -r -a prev <"$timings" || true
declare -a took=()
tstep=$t0
progress() {  # progress "label"
  local now; now=$(date +%s)
  [ $step -gt 0 ] && took+=($((now - tstep)))
  tstep=$now
  step=$((step + 1))
  local label=$1
  if [ -t 2 ]; then
    local width=24 filled=$(((step - 1) * 24 / STEPS)) eta="?" rest=0 i
    if [ ${#prev[@]} -eq $STEPS ]; then
      for ((i = step - 1; i < STEPS; i++)); do rest=$((rest + prev[i])); done
      eta="${rest}s"
    fi
    printf '\r\033[K[%-*s] %d/%d %-34s %3ds elapsed, ETA %s' "$width" "$(printf '%*s' "$filled" '' | tr ' ' '#')" \
      "$step" "$STEPS" "$label" "$((now - t0))" "$eta" >&2
  else
    echo "appliance-image: [$step/$STEPS] $label" >&2
  fi
}
finish() {
  local now; now=$(date +%s)
  took+=($((now - tstep)))
  [ -t 2 ] && printf '\r\033[K' >&2
  mkdir -p "$CACHE" && echo "${took[*]}" >"$timings"
}

work=$(mktemp -d "${TMPDIR:-/tmp}/openkcm-image.XXXXXX")
cleanup() { rm -rf --one-file-system "$work"; }
trap cleanup EXIT
R=$work/root

progress "Debian 12 base (cached)"
base=$(bash scripts/appliance-base.sh 2>"$work/base.log" | tail -n 1) || { cat "$work/base.log" >&2; exit 1; }

progress "unpack the base"
mkdir -p "$R"
tar --numeric-owner --xattrs -C "$R" -xf "$base"

progress "install the artefact"
mkdir -p "$R/opt/openkcm"
tar -C "$R/opt/openkcm" -xzf "$artefact"
"$R/opt/openkcm/openkcm-$version/libexec/install" --root "$R" --no-backup >"$work/install.log" 2>&1 || { cat "$work/install.log" >&2; exit 1; }

progress "harden the root file system"
# Identity: made at first boot (an empty machine-id is systemd's "first boot" signal), a fixed hostname.
: >"$R/etc/machine-id"
echo openkcm >"$R/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\topenkcm\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$R/etc/hosts"
# No password logins: root is locked (the console is for the operator with physical access, via a rescue boot).
sed -i 's/^root:[^:]*:/root:*:/' "$R/etc/shadow"
# Nothing listens but OpenKCM: mask what could open a socket or reach out at boot in a minbase system.
for u in systemd-networkd.service systemd-networkd.socket systemd-resolved.service systemd-timesyncd.service \
         apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer; do
  ln -sfn /dev/null "$R/etc/systemd/system/$u"
done
# No core dumps anywhere on the appliance (a core of openkcm could hold key material).
mkdir -p "$R/etc/sysctl.d" "$R/etc/systemd/coredump.conf.d"
echo 'kernel.core_pattern=|/bin/false' >"$R/etc/sysctl.d/50-openkcm-nocore.conf"
printf '[Coredump]\nStorage=none\nProcessSizeMax=0\n' >"$R/etc/systemd/coredump.conf.d/openkcm.conf"
# The journal is persistent so first boot's log (where the shares file is announced) survives a reboot.
mkdir -p "$R/var/log/journal"
rm -rf "$R/var/cache/apt/archives/"*.deb "$R/var/lib/apt/lists/"* "$R/var/log/"*.log "$R/tmp/"*

progress "check the units"
if command -v systemd-analyze >/dev/null 2>&1; then
  systemd-analyze verify --root="$R" --man=no /etc/systemd/system/openkcm.service /etc/systemd/system/openkcm-firstboot.service \
    >"$work/verify.log" 2>&1 || { cat "$work/verify.log" >&2; exit 1; }
fi

progress "write the image"
mkdir -p "$(dirname "$out")"
tar --numeric-owner --xattrs --sort=name -C "$R" -cf "$out.tmp" .
mv -f "$out.tmp" "$out"
finish
echo "appliance-image: $out ($(du -h "$out" | cut -f1), $(( $(date +%s) - t0 ))s)" >&2
readlink -f "$out"
