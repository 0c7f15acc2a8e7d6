#!/usr/bin/env bash
# On the primary of the replicated form (docs/deploy.md section 10): makes
# the registry keep its tiles in /var/lib/glassbox/tiles (written after
# every change, by the CLI and by the verifier's writes) and publishes them
# to the tiles bucket with glassbox-tiles-sync (a path unit on the
# checkpoint, a timer every minute; infra/scripts/sync-tiles.sh). Run as
# root after setup-parent.sh, once; running it again rewrites the settings.
#
# usage: enable-tiles-sync.sh s3://BUCKET/PREFIX [TTL]
#   s3://BUCKET/PREFIX   terraform output tiles_bucket, and tiles_prefix
#   TTL                  the checkpoint's max-age in seconds (terraform's
#                        tiles_checkpoint_ttl, default 5)
set -euo pipefail

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//' >&2
  exit 2
}

if [ $# -lt 1 ] || [ $# -gt 2 ]; then usage; fi
dest=$1
ttl=${2:-5}
case $dest in
  s3://?*/?*) ;;
  *) echo "enable-tiles-sync: the destination is s3://BUCKET/PREFIX" >&2; exit 2 ;;
esac
case $ttl in
  ''|*[!0-9]*) echo "enable-tiles-sync: TTL is a number of seconds" >&2; exit 2 ;;
esac
[ "$(id -u)" -eq 0 ] || { echo "enable-tiles-sync: run as root" >&2; exit 2; }
prefix=/usr/local
share=$prefix/share/glassbox
tiles=/var/lib/glassbox/tiles
region=${AWS_REGION:-}
if [ -z "$region" ]; then
  imds=$(curl -fsS -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' \
    http://169.254.169.254/latest/api/token)
  region=$(curl -fsS -H "X-aws-ec2-metadata-token: $imds" \
    http://169.254.169.254/latest/meta-data/placement/region)
fi

# Writes every tile once and remembers the directory in the registry.
runuser -u glassbox -- "$prefix/bin/glassbox" registry --db /var/lib/glassbox/registry.db tiles "$tiles"
cat >/etc/glassbox/tiles-sync.env <<ENV
GLASSBOX_TILES_DIR=$tiles
GLASSBOX_TILES_DEST=$dest
GLASSBOX_TILES_TTL=$ttl
AWS_REGION=$region
ENV
chmod 0644 /etc/glassbox/tiles-sync.env
install -m 0644 "$share/systemd/glassbox-tiles-sync.service" "$share/systemd/glassbox-tiles-sync.path" \
  "$share/systemd/glassbox-tiles-sync.timer" /etc/systemd/system/
systemctl daemon-reload
systemctl enable --now glassbox-tiles-sync.path glassbox-tiles-sync.timer
systemctl start glassbox-tiles-sync.service
echo "enable-tiles-sync: published to $dest (journalctl -u glassbox-tiles-sync)"
