#!/bin/sh
# Installs (or upgrades to) the OpenKCM artefact this script belongs to (docs/appliance.md "Install" and
# "Upgrade and rollback"). Unpack the artefact anywhere, then run, as root:
#
#   openkcm-<version>/libexec/install [--root DIR] [--no-backup] [--no-restart]
#
# Layout: /opt/openkcm/openkcm-<version>/ (this tree, read-only at run time), /opt/openkcm/current -> the active
# version, /opt/openkcm/previous -> the one before (what rollback returns to), /usr/local/bin/openkcm, the units in
# /etc/systemd/system, the service user from /etc/sysusers.d. /etc/openkcm/openkcm.conf is the operator's and is
# never overwritten; /var/lib/openkcm is never touched except for the backup below.
#
# An upgrade over a running node: stop openkcm.service (it drains), snapshot /var/lib/openkcm to
# /var/backups/openkcm/ (unless --no-backup; the snapshot is what a rollback past a data migration restores), switch
# `current` atomically, start again. The new version migrates the vault and the governance database as it starts.
# --root DIR installs into a root file system without running anything in it (the image build, tests).
set -eu

ROOT=/
BACKUP=1
RESTART=1
while [ $# -gt 0 ]; do
  case "$1" in
    --root) ROOT=$2; shift 2 ;;
    --root=*) ROOT=${1#--root=}; shift ;;
    --no-backup) BACKUP=0; shift ;;
    --no-restart) RESTART=0; shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "install: unknown option $1" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "install: run as root" >&2; exit 1; }

here=$(dirname "$(readlink -f "$0")")
src=$(dirname "$here")
version=$(cat "$src/VERSION")
name=openkcm-$version
R=${ROOT%/}
opt=$R/opt/openkcm
live=0
[ -z "$R" ] && [ -d /run/systemd/system ] && live=1

mkdir -p "$opt"
if [ "$(readlink -f "$src")" != "$(readlink -f "$opt/$name" 2>/dev/null || true)" ]; then
  rm -rf "$opt/.$name.new"
  cp -a "$src" "$opt/.$name.new"
  rm -rf "$opt/$name"
  mv "$opt/.$name.new" "$opt/$name"
fi
old=$(readlink "$opt/current" 2>/dev/null || true)

was_active=0
if [ $live = 1 ] && systemctl is-active --quiet openkcm.service; then
  was_active=1
  echo "install: stopping openkcm.service ($old)"
  t=$(date +%s)
  systemctl stop openkcm.service
  echo "install: stopped ($(( $(date +%s) - t ))s)"
fi
if [ $BACKUP = 1 ] && [ -n "$old" ] && [ "$old" != "$name" ] && [ -d "$R/var/lib/openkcm" ]; then
  mkdir -p "$R/var/backups/openkcm"
  chmod 0700 "$R/var/backups/openkcm"
  snap="$R/var/backups/openkcm/data-$old-$(date -u +%Y%m%dT%H%M%SZ).tar"
  # The service is stopped, so LMDB and the governance database are quiescent and the copy is consistent.
  t=$(date +%s)
  tar --numeric-owner -C "$R/var/lib" -cf "$snap" openkcm
  chmod 0600 "$snap"
  echo "install: data snapshot $snap ($(( $(date +%s) - t ))s)"
fi

if [ -n "$old" ] && [ "$old" != "$name" ]; then ln -sfn "$old" "$opt/previous"; fi
ln -sfn "$name" "$opt/.current.new"
mv -T "$opt/.current.new" "$opt/current"

mkdir -p "$R/etc/systemd/system" "$R/etc/sysusers.d" "$R/etc/tmpfiles.d" "$R/usr/local/bin"
install -m 0644 "$opt/current/systemd/openkcm.service" "$opt/current/systemd/openkcm-firstboot.service" "$R/etc/systemd/system/"
install -m 0644 "$opt/current/sysusers.d/openkcm.conf" "$R/etc/sysusers.d/openkcm.conf"
install -m 0644 "$opt/current/tmpfiles.d/openkcm.conf" "$R/etc/tmpfiles.d/openkcm.conf"
ln -sfn /opt/openkcm/current/bin/openkcm "$R/usr/local/bin/openkcm"

if [ -z "$R" ]; then systemd-sysusers; else systemd-sysusers --root="$R"; fi
gid=$(awk -F: '$1=="openkcm"{print $3}' "$R/etc/group")
mkdir -p "$R/etc/openkcm"
chown "0:$gid" "$R/etc/openkcm"
chmod 0750 "$R/etc/openkcm"
if [ ! -e "$R/etc/openkcm/openkcm.conf" ]; then
  install -m 0640 -o 0 -g "$gid" "$opt/current/etc/openkcm.conf" "$R/etc/openkcm/openkcm.conf"
fi

if [ $live = 1 ]; then
  systemctl daemon-reload
  systemctl enable openkcm-firstboot.service openkcm.service
  if [ $was_active = 1 ] && [ $RESTART = 1 ]; then
    echo "install: starting openkcm.service ($name)"
    # An operator's upgrade is not a crash loop: clear the start rate counter (StartLimitBurst=5 per 300 s counts
    # every start), or a few upgrades and rollbacks in five minutes would leave the unit refusing to start.
    systemctl reset-failed openkcm.service 2>/dev/null || true
    t=$(date +%s)
    # Returns once the unit is active, i.e. its readiness check (ExecStartPost) saw KMIP accept a connection.
    systemctl start openkcm.service
    echo "install: openkcm.service is active ($(( $(date +%s) - t ))s)"
  fi
elif command -v systemctl >/dev/null 2>&1; then
  systemctl --root="${R:-/}" enable openkcm-firstboot.service openkcm.service >/dev/null 2>&1 || \
    systemctl --root="${R:-/}" enable openkcm-firstboot.service openkcm.service
fi
echo "install: $name is current${old:+ (was $old)}"
