#!/usr/bin/env bash
# Publishes the registry's tiles directory (`glassbox registry tiles DIR`,
# docs/registry.md "Tiles") to S3, for CloudFront to serve
# (infra/terraform/tiles.tf). glassbox-tiles-sync.service runs it when the
# checkpoint is replaced (a path unit) and every minute (a timer).
#
# The order is what keeps a reader safe: a reader that fetched a checkpoint
# must find every tile it needs.
#   1. The checkpoint is read first (a snapshot). The registry writes a
#      checkpoint only after every tile it needs, so those tiles are all in
#      DIR from that moment on.
#   2. The full tiles and entry bundles (tile/L/N, tile/entries/N) are
#      copied, then the partial ones (*.p/W): everything the snapshot needs,
#      and perhaps newer tiles (harmless: no published checkpoint names them).
#   3. Last, the snapshot is put as the checkpoint, unless the one already
#      published is of a larger tree or of the same size with another root
#      (a rollback or a fork: refused, exit 1, nothing replaced).
# Nothing is ever deleted: a reader holding an older checkpoint still finds
# its partial tiles (the primary's role may not delete anyway).
#
# Each kind gets its Cache-Control: full tiles never change ("public,
# max-age=31536000, immutable"); the checkpoint and partial tiles are
# replaced ("public, max-age=TTL").
#
# usage: sync-tiles.sh DIR s3://BUCKET/PREFIX
# environment:
#   GLASSBOX_TILES_TTL   max-age of the checkpoint and partial tiles, in
#                        seconds (default 5; infra/terraform's
#                        tiles_checkpoint_ttl)
#   GLASSBOX_SYNC_LOCK   lock file, so that two runs never overlap (default
#                        $RUNTIME_DIRECTORY or $TMPDIR or /tmp, then
#                        /glassbox-tiles-sync.lock)
# The AWS CLI's usual environment (AWS_REGION, AWS_ENDPOINT_URL, ...).
# Exit: 0 published (or nothing to publish yet), 1 refused or failed,
# 2 usage.
set -euo pipefail

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//' >&2
  exit 2
}

# A year: CloudFront's and browsers' longest useful lifetime.
readonly IMMUTABLE_MAX_AGE=31536000
# How long to wait for another run to finish before giving up (a run that
# takes longer is stuck; the next trigger tries again).
readonly LOCK_WAIT_S=600

[ $# -eq 2 ] || usage
dir=$1
dest=${2%/}
ttl=${GLASSBOX_TILES_TTL:-5}
case $ttl in
  ''|*[!0-9]*) echo "sync-tiles: GLASSBOX_TILES_TTL is a number of seconds" >&2; exit 2 ;;
esac
case $dest in
  s3://?*/?*) ;;
  *) echo "sync-tiles: the destination is s3://BUCKET/PREFIX" >&2; exit 2 ;;
esac
bucket=${dest#s3://}
prefix=${bucket#*/}
bucket=${bucket%%/*}
[ -d "$dir" ] || { echo "sync-tiles: $dir is not a directory" >&2; exit 2; }
command -v aws >/dev/null || { echo "sync-tiles: the AWS CLI is not installed" >&2; exit 2; }
if [ ! -e "$dir/checkpoint" ]; then
  echo "sync-tiles: no checkpoint in $dir yet: nothing to publish"
  exit 0
fi

lock=${GLASSBOX_SYNC_LOCK:-${RUNTIME_DIRECTORY:-${TMPDIR:-/tmp}}/glassbox-tiles-sync.lock}
exec 9>>"$lock"
flock -w "$LOCK_WAIT_S" 9 || { echo "sync-tiles: another run holds $lock" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# A checkpoint's second line is its tree size, its third the root hash.
note_size() { sed -n 2p "$1"; }
note_root() { sed -n 3p "$1"; }

# 1. The snapshot. The registry replaces the checkpoint by rename, so one
# read sees one whole file.
cp "$dir/checkpoint" "$tmp/checkpoint"
size=$(note_size "$tmp/checkpoint")
case $size in
  ''|*[!0-9]*) echo "sync-tiles: $dir/checkpoint is not a checkpoint (no tree size)" >&2; exit 1 ;;
esac

# 2. The tiles. aws s3 sync copies what is new or changed (by size and
# time); full tiles never change, and a partial tile's name carries its
# width. The later filter wins: everything excluded, then tile/ included,
# then (for the full ones) the partial ones excluded again.
sync() {
  aws s3 sync "$dir" "$dest" --only-show-errors --no-progress \
    --content-type application/octet-stream "$@"
}
sync --exclude '*' --include 'tile/*' --exclude '*.p/*' \
  --cache-control "public, max-age=$IMMUTABLE_MAX_AGE, immutable"
sync --exclude '*' --include 'tile/*.p/*' --cache-control "public, max-age=$ttl"

# 3. The checkpoint, after the published one is compared with it.
if aws s3api get-object --bucket "$bucket" --key "$prefix/checkpoint" \
    "$tmp/published" >/dev/null 2>"$tmp/get.err"; then
  if cmp -s "$tmp/published" "$tmp/checkpoint"; then
    echo "sync-tiles: checkpoint of size $size already published"
    exit 0
  fi
  old=$(note_size "$tmp/published")
  case $old in
    ''|*[!0-9]*) echo "sync-tiles: the published checkpoint has no tree size; not replaced" >&2; exit 1 ;;
  esac
  if [ "$old" -gt "$size" ]; then
    echo "sync-tiles: refused: the published checkpoint is of size $old, this one of $size (a rollback)" >&2
    exit 1
  fi
  if [ "$old" -eq "$size" ] && [ "$(note_root "$tmp/published")" != "$(note_root "$tmp/checkpoint")" ]; then
    echo "sync-tiles: refused: the published checkpoint of size $size has another root (a fork)" >&2
    exit 1
  fi
elif ! grep -q 'NoSuchKey' "$tmp/get.err"; then
  # Not "there is none": the comparison cannot be made, so nothing is put.
  echo "sync-tiles: cannot read the published checkpoint:" >&2
  cat "$tmp/get.err" >&2
  exit 1
fi
aws s3 cp "$tmp/checkpoint" "$dest/checkpoint" --only-show-errors --no-progress \
  --content-type 'text/plain; charset=utf-8' --cache-control "public, max-age=$ttl"
echo "sync-tiles: published the checkpoint of size $size"
