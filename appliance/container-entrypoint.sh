#!/bin/sh
# Entry point of the OpenKCM container (appliance/Containerfile; docs/appliance.md "Containers"). Runs as the
# non-root user openkcm. The first start provisions the data volume exactly as the appliance's first boot does
# (PKI, MasterKey per /etc/openkcm/openkcm.conf, governance database); later starts only serve.
set -eu
root=/opt/openkcm/current
if [ ! -e /var/lib/openkcm/.firstboot-done ]; then
  OPENKCM_USER=$(id -un) "$root/node/bin/node" "$root/libexec/firstboot.mjs"
fi
exec "$root/bin/openkcm" serve --data-dir /var/lib/openkcm "$@"
