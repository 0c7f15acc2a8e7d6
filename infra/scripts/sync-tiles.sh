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
#   2. The published checkpoint is read and compared: if it is of a larger
#      tree, or of the same size with another root (a rollback or a fork),
#      nothing is copied or replaced (exit 1). The same bytes: nothing to do.
#   3. The tiles the snapshot needs beyond the published tree are copied:
#      for the entry bundles and each level of hash tiles, from the tile
#      that was partial at the published size to the last one at the new
#      size (full tiles as they are, the last one partial, *.p/W), first the
#      full ones, then the partial ones; a few files whatever the size of the
#      log, found from the two sizes alone, never from times or a listing.
#      With no published checkpoint (the first run), or with --full, the
#      whole directory is compared with the prefix instead (`aws s3 sync`:
#      it lists the prefix, about two objects per entry, and copies what is
#      missing).
#   4. Last, the snapshot is put as the checkpoint.
# Nothing is ever deleted: a reader holding an older checkpoint still finds
# its partial tiles (the primary's role may not delete anyway).
#
# Each kind gets its Cache-Control: full tiles never change ("public,
# max-age=31536000, immutable"); the checkpoint and partial tiles are
# replaced ("public, max-age=TTL").
#
# usage: sync-tiles.sh [--full] DIR s3://BUCKET/PREFIX
#   --full   compare the whole directory with the prefix and copy what is
#            missing (after an incident with the bucket; the first run does
#            it anyway)
# environment:
#   GLASSBOX_TILES_TTL   max-age of the checkpoint and partial tiles, in
#                        seconds (default 5; infra/terraform's
#                        tiles_checkpoint_ttl)
#   GLASSBOX_SYNC_LOCK   lock file, so that two runs never overlap (default
#                        $RUNTIME_DIRECTORY, else $TMPDIR, else /tmp, then
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
# Hashes or entries in a full tile (C2SP tlog-tiles).
readonly TILE_WIDTH=256
# A tree size bash's arithmetic holds with room (2^62).
readonly MAX_SIZE=4611686018427387904

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

lock=${GLASSBOX_SYNC_LOCK:-${RUNTIME_DIRECTORY:-${TMPDIR:-/tmp}}/glassbox-tiles-sync.lock}
exec 9>>"$lock"
flock -w "$LOCK_WAIT_S" 9 || { echo "sync-tiles: another run holds $lock" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# A checkpoint's second line is its tree size, its third the root hash.
note_size() {
  local n
  n=$(sed -n 2p "$1")
  case $n in
    ''|*[!0-9]*) return 1 ;;
  esac
  [ "${#n}" -le 19 ] && [ "$n" -le "$MAX_SIZE" ] || return 1
  echo "$((10#$n))"
}
note_root() { sed -n 3p "$1"; }

# 1. The snapshot. The registry replaces the checkpoint by rename, so one
# read sees one whole file.
cp "$dir/checkpoint" "$tmp/checkpoint"
size=$(note_size "$tmp/checkpoint") ||
  { echo "sync-tiles: $dir/checkpoint is not a checkpoint (no tree size)" >&2; exit 1; }

# 2. The published checkpoint.
old=""
if aws s3api get-object --bucket "$bucket" --key "$prefix/checkpoint" \
    "$tmp/published" >/dev/null 2>"$tmp/get.err"; then
  if cmp -s "$tmp/published" "$tmp/checkpoint"; then
    echo "sync-tiles: checkpoint of size $size already published"
    [ "$full" -eq 1 ] || exit 0
  fi
  old=$(note_size "$tmp/published") ||
    { echo "sync-tiles: the published checkpoint has no tree size; not replaced" >&2; exit 1; }
  if [ "$old" -gt "$size" ]; then
    echo "sync-tiles: refused: the published checkpoint is of size $old, this one of $size (a rollback)" >&2
    exit 1
  fi
  if [ "$old" -eq "$size" ] && [ "$(note_root "$tmp/published")" != "$(note_root "$tmp/checkpoint")" ]; then
    echo "sync-tiles: refused: the published checkpoint of size $size has another root (a fork)" >&2
    exit 1
  fi
elif grep -q 'NoSuchKey' "$tmp/get.err"; then
  full=1
else
  # Not "there is none": the comparison cannot be made, so nothing is put.
  echo "sync-tiles: cannot read the published checkpoint:" >&2
  cat "$tmp/get.err" >&2
  exit 1
fi

# A tile's index N in groups of three digits, all but the last prefixed
# with x (1234067: x001/x234/067).
tile_index() {
  local n=$1 out
  out=$(printf '%03d' $((n % 1000)))
  n=$((n / 1000))
  while [ "$n" -gt 0 ]; do
    out=$(printf 'x%03d/%s' $((n % 1000)) "$out")
    n=$((n / 1000))
  done
  echo "$out"
}

# The tiles of one level (or the entry bundles) that a tree with NEW nodes
# at that level needs beyond one with OLD: from the tile that was partial
# at OLD to the last.
tiles_between() {   # tiles_between LEVEL OLD NEW
  local level=$1 from=$2 to=$3 i w p
  [ "$from" -lt "$to" ] || return 0
  for ((i = from / TILE_WIDTH; i * TILE_WIDTH < to; i++)); do
    w=$((to - i * TILE_WIDTH))
    p=tile/$level/$(tile_index "$i")
    [ "$w" -lt "$TILE_WIDTH" ] && p=$p.p/$w
    echo "$p"
  done
}

# 3. The tiles.
if [ "$full" -eq 1 ]; then
  src=$dir
  copy=(aws s3 sync)
else
  src=$tmp/new
  mkdir "$src"
  {
    tiles_between entries "$old" "$size"
    for ((shift_ = 0; (size >> shift_) > 0; shift_ += 8)); do
      tiles_between $((shift_ / 8)) $((old >> shift_)) $((size >> shift_))
    done
  } >"$tmp/list"
  while read -r p; do
    [ -f "$dir/$p" ] || { echo "sync-tiles: $dir/$p is missing: the registry did not write it" >&2; exit 1; }
  done <"$tmp/list"
  (cd "$dir" && xargs -r cp --parents -t "$src") <"$tmp/list"
  copy=(aws s3 cp --recursive)
fi
sync() {
  "${copy[@]}" "$src" "$dest" --only-show-errors --no-progress \
    --content-type application/octet-stream "$@"
}
sync --exclude '*' --include 'tile/*' --exclude '*.p/*' \
  --cache-control "public, max-age=$IMMUTABLE_MAX_AGE, immutable"
sync --exclude '*' --include 'tile/*.p/*' --cache-control "public, max-age=$ttl"

# 4. The checkpoint.
if [ -n "$old" ] && cmp -s "$tmp/published" "$tmp/checkpoint"; then
  exit 0
fi
aws s3 cp "$tmp/checkpoint" "$dest/checkpoint" --only-show-errors --no-progress \
  --content-type 'text/plain; charset=utf-8' --cache-control "public, max-age=$ttl"
echo "sync-tiles: published the checkpoint of size $size"
