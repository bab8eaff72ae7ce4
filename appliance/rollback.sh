#!/bin/sh
# Rolls a node back to the version before the last upgrade (docs/appliance.md "Upgrade and rollback"), under
# systemd. Run as root on the node:
#
#   /opt/openkcm/current/libexec/rollback [--restore-snapshot [FILE]] [--timeout SECONDS]
#
# Without --restore-snapshot the data directory is kept as it is. That works when no data migration happened
# between the two versions. When the newer version migrated the data (a governance schema or vault format the
# older one does not know), the older one refuses to start on it; this script then puts the newer version back,
# starts it, and exits 1 with the older version's reason. Nothing is lost, and the node serves again.
#
# With --restore-snapshot the data directory is replaced by the snapshot the upgrade took when it left the older
# version (the newest /var/backups/openkcm/data-<older>-*.tar, or FILE). Anything created or changed since the
# upgrade is lost; the data being replaced is itself snapshotted first (data-<newer>-<time>.tar), so this step can
# be undone by upgrading again and restoring that snapshot.
#
# Steps: the older tree's own libexec/install --no-restart (stops openkcm.service, snapshots /var/lib/openkcm,
# points `current` at the older tree and `previous` at the newer one, installs the older tree's units), restore the
# snapshot if asked, start openkcm.service and wait until it is active or has failed.
set -eu

RESTORE=0
SNAPSHOT=
TIMEOUT=180
while [ $# -gt 0 ]; do
  case "$1" in
    --restore-snapshot)
      RESTORE=1; shift
      case "${1:-}" in ''|-*) ;; *) SNAPSHOT=$1; shift ;; esac ;;
    --restore-snapshot=*) RESTORE=1; SNAPSHOT=${1#--restore-snapshot=}; shift ;;
    --timeout) TIMEOUT=$2; shift 2 ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "rollback: unknown option $1" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "rollback: run as root" >&2; exit 1; }
[ -d /run/systemd/system ] || { echo "rollback: needs a running systemd (for a root file system, switch the links by hand)" >&2; exit 1; }

opt=/opt/openkcm
data=/var/lib/openkcm
unit=openkcm.service
cur=$(readlink "$opt/current" 2>/dev/null || true)
prev=$(readlink "$opt/previous" 2>/dev/null || true)
[ -n "$cur" ] || { echo "rollback: $opt/current is missing: nothing is installed" >&2; exit 1; }
[ -n "$prev" ] && [ "$prev" != "$cur" ] || { echo "rollback: $opt/previous is missing: there is no version to roll back to" >&2; exit 1; }
[ -x "$opt/$prev/libexec/install" ] || { echo "rollback: $opt/$prev is gone (deleted after the upgrade?)" >&2; exit 1; }
if [ $RESTORE = 1 ]; then
  if [ -z "$SNAPSHOT" ]; then
    # install names them data-<version>-YYYYmmddTHHMMSSZ.tar: the time pattern keeps 1.2 from matching 1.2-rc1's
    # snapshots, and the sortable time makes the last one the newest.
    ts='[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]T[0-9][0-9][0-9][0-9][0-9][0-9]Z'
    SNAPSHOT=$(ls -1 /var/backups/openkcm/data-"$prev"-$ts.tar 2>/dev/null | sort | tail -n 1 || true)
  fi
  [ -n "$SNAPSHOT" ] && [ -s "$SNAPSHOT" ] || { echo "rollback: no snapshot of $prev in /var/backups/openkcm (was the upgrade run with --no-backup?)" >&2; exit 1; }
  # Checked before anything stops: a snapshot holds exactly one top-level directory, openkcm/.
  tops=$(tar -tf "$SNAPSHOT" | cut -d/ -f1 | sort -u)
  [ "$tops" = openkcm ] || { echo "rollback: $SNAPSHOT is not a snapshot of $data" >&2; exit 1; }
fi

# A unit is active only once its readiness check passed (ExecStartPost), and a start that fails goes through
# Restart=on-failure: the first failed attempt is the answer, no need to wait for the start limit.
wait_started() {
  # reset-failed also clears the start rate counter: an operator's rollback is not a crash loop.
  systemctl reset-failed "$unit" 2>/dev/null || true
  n0=$(systemctl show -p NRestarts --value "$unit")
  since=$(date +%s)
  systemctl start --no-block "$unit"
  while :; do
    state=$(systemctl show -p ActiveState --value "$unit")
    sub=$(systemctl show -p SubState --value "$unit")
    n=$(systemctl show -p NRestarts --value "$unit")
    [ "$state" = active ] && return 0
    if [ "$state" = failed ] || [ "$sub" = auto-restart ] || [ "$n" != "$n0" ]; then return 1; fi
    [ $(( $(date +%s) - since )) -lt "$TIMEOUT" ] || return 1
    sleep 0.5
  done
}

echo "rollback: $cur -> $prev${SNAPSHOT:+ with the data of $SNAPSHOT}"
"$opt/$prev/libexec/install" --no-restart
aside=
if [ $RESTORE = 1 ]; then
  aside=$(dirname "$data")/.openkcm.rollback-$(date -u +%Y%m%dT%H%M%SZ)
  mv "$data" "$aside"
  tar --numeric-owner -xpf "$SNAPSHOT" -C "$(dirname "$data")"
  echo "rollback: $data restored from $SNAPSHOT"
fi

t0=$(date +%s)
if wait_started; then
  [ -z "$aside" ] || rm -rf "$aside"
  echo "rollback: $prev is current and $unit is active ($(( $(date +%s) - t0 ))s); $cur stays in $opt/$cur"
  exit 0
fi

# Refused: say why (the older version's own words from the journal), then put the newer version back.
# _SYSTEMD_UNIT: what the service printed, not systemd's own lines about it.
reason=$(journalctl "_SYSTEMD_UNIT=$unit" --since "@$t0" --no-pager -o cat 2>/dev/null | tail -n 5 || true)
systemctl stop "$unit" || true
echo "rollback: $prev did not start on $data:" >&2
printf '%s\n' "$reason" | sed 's/^/rollback:   /' >&2
if [ -n "$aside" ]; then
  rm -rf "$data"
  mv "$aside" "$data"
fi
"$opt/$cur/libexec/install" --no-restart --no-backup >/dev/null
if wait_started; then
  echo "rollback: REFUSED; $cur is current again and $unit is active." >&2
else
  echo "rollback: REFUSED, and $cur did not start again either: see journalctl -u $unit" >&2
fi
if [ $RESTORE = 0 ]; then
  echo "rollback: if $cur migrated the data, roll back with --restore-snapshot (loses what changed since the upgrade)" >&2
fi
exit 1
