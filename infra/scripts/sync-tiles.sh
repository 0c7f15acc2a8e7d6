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
#      The first run (or --full) is `aws s3 sync`, which lists the whole
#      prefix and copies what is missing. Later runs copy only the files
#      linked into DIR since the last successful run began (less a margin),
#      by their change time (ctime: the registry links each tile into place,
#      which sets it), with `aws s3 cp --recursive` of those alone: a run's
#      cost follows the change, not the log (the prefix holds about two
#      objects per entry, as every partial tile stays). A run that fails
#      does not move its mark, so the next one covers its files.
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
# usage: sync-tiles.sh [--full] DIR s3://BUCKET/PREFIX
#   --full   compare the whole prefix with DIR and copy what is missing
#            (after an incident, or to check the bucket; the first run
#            does it anyway)
# environment:
#   GLASSBOX_TILES_TTL   max-age of the checkpoint and partial tiles, in
#                        seconds (default 5; infra/terraform's
#                        tiles_checkpoint_ttl)
#   GLASSBOX_SYNC_STATE  where the lock and the last run's mark are kept
#                        (default $STATE_DIRECTORY, else $TMPDIR, else /tmp);
#                        one per DIR and destination
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
# A file linked this long before a run's mark still goes out with the next
# run: covers the clocks' granularity (a file sent twice is the same bytes).
readonly MARK_MARGIN_S=60

full=0
if [ "${1:-}" = --full ]; then
  full=1
  shift
fi
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

state=${GLASSBOX_SYNC_STATE:-${STATE_DIRECTORY:-${TMPDIR:-/tmp}}}
[ -d "$state" ] || { echo "sync-tiles: $state is not a directory" >&2; exit 2; }
exec 9>>"$state/glassbox-tiles-sync.lock"
flock -w "$LOCK_WAIT_S" 9 || { echo "sync-tiles: another run holds $state/glassbox-tiles-sync.lock" >&2; exit 1; }
# One mark per directory and destination.
mark=$state/glassbox-tiles-sync.$(printf '%s\n%s\n' "$(readlink -f "$dir")" "$dest" | sha256sum | cut -c1-16).mark
[ -e "$mark" ] || full=1

tmp=$(mktemp -d)
trap 'rm -rf "$tmp" "$mark.new"' EXIT
# This run's mark, before anything is read: the next run copies the files
# linked after it.
touch -d "-$MARK_MARGIN_S seconds" "$mark.new"

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
if [ "$full" -eq 1 ]; then
  src=$dir
  copy=(aws s3 sync)
else
  # The files linked since the last run's mark, under their own paths.
  src=$tmp/new
  mkdir "$src"
  if [ -d "$dir/tile" ]; then
    (cd "$dir" && find tile -type f -cnewer "$mark" -print0) |
      (cd "$dir" && xargs -0 -r cp --parents -t "$src")
  fi
  copy=(aws s3 cp --recursive)
fi
sync() {
  "${copy[@]}" "$src" "$dest" --only-show-errors --no-progress \
    --content-type application/octet-stream "$@"
}
sync --exclude '*' --include 'tile/*' --exclude '*.p/*' \
  --cache-control "public, max-age=$IMMUTABLE_MAX_AGE, immutable"
sync --exclude '*' --include 'tile/*.p/*' --cache-control "public, max-age=$ttl"

# 3. The checkpoint, after the published one is compared with it.
if aws s3api get-object --bucket "$bucket" --key "$prefix/checkpoint" \
    "$tmp/published" >/dev/null 2>"$tmp/get.err"; then
  if cmp -s "$tmp/published" "$tmp/checkpoint"; then
    mv "$mark.new" "$mark"
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
mv "$mark.new" "$mark"
echo "sync-tiles: published the checkpoint of size $size"
