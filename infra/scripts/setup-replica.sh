#!/usr/bin/env bash
# Sets up a Glassbox verifier replica (Amazon Linux 2023; the replicated
# form, docs/deploy.md section 10): no enclave, no nginx (the load
# balancer terminates TLS), only glassbox-verifier --mirror, which keeps a
# verified copy of the log from its tiles (docs/verifier.md "Mirror") and
# answers verify and every read from it.
#   - Glassbox built from the source tarball DIST, with libcbor and
#     libmicrohttpd from Debian's source tarballs (pinned by SHA-256, as in
#     setup-parent.sh);
#   - a system user glassbox, /etc/glassbox, /var/lib/glassbox;
#   - the challenge key shared with the primary and the other replicas,
#     from Secrets Manager (waiting for it, bounded, if nobody put it yet);
#   - /etc/glassbox/verifier.conf for the mirror, and
#     glassbox-verifier.service, which catches up before it listens.
# Run as root; the launch template's user data runs it at first boot.
#
# usage: setup-replica.sh DIST.tar.gz
# environment (user data sets them):
#   GLASSBOX_MIRROR_URL        the tiles (https://CLOUDFRONT_DOMAIN/)
#   GLASSBOX_LOG_KEY           the log's key, pinned (--log-key)
#   GLASSBOX_CHALLENGE_SECRET  the Secrets Manager secret of the challenge key
#   GLASSBOX_REPLICA_PORT      the verifier's port (default 8080)
#   GLASSBOX_MIRROR_INTERVAL   seconds between rounds (default 10)
#   GLASSBOX_NONCE_TTL         a challenge's life (default 300)
#   GLASSBOX_THREADS           worker threads (default 0: the verifier's)
#   GLASSBOX_CHALLENGE_RATE    challenges per client and second (default 0:
#                              off; behind the load balancer every client
#                              comes from its addresses)
#   AWS_REGION                 the region (Secrets Manager's endpoint)
set -euo pipefail

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//' >&2
  exit 2
}

# Waiting for the challenge key: 120 tries 30 s apart (an hour), then the
# boot fails and the autoscaling group replaces the instance.
readonly SECRET_TRIES=120
readonly SECRET_PAUSE_S=30

[ $# -eq 1 ] || usage
[ "$(id -u)" -eq 0 ] || { echo "setup-replica: run as root" >&2; exit 2; }
dist=$(readlink -f "$1")
[ -r "$dist" ] || { echo "setup-replica: cannot read $dist" >&2; exit 2; }
url=${GLASSBOX_MIRROR_URL:?GLASSBOX_MIRROR_URL is the tiles URL}
log_key=${GLASSBOX_LOG_KEY:?GLASSBOX_LOG_KEY is the log key}
secret=${GLASSBOX_CHALLENGE_SECRET:?GLASSBOX_CHALLENGE_SECRET names the challenge key}
port=${GLASSBOX_REPLICA_PORT:-8080}
interval=${GLASSBOX_MIRROR_INTERVAL:-10}
nonce_ttl=${GLASSBOX_NONCE_TTL:-300}
threads=${GLASSBOX_THREADS:-0}
crate=${GLASSBOX_CHALLENGE_RATE:-0}
for n in "$port" "$interval" "$nonce_ttl" "$threads" "$crate"; do
  case $n in
    ''|*[!0-9]*) echo "setup-replica: $n is not a number" >&2; exit 2 ;;
  esac
done
case $url in
  https://*/) ;;
  *) echo "setup-replica: GLASSBOX_MIRROR_URL is https://HOST/" >&2; exit 2 ;;
esac
prefix=/usr/local
share=$prefix/share/glassbox

declare -A src_url=(
  [libcbor]=https://deb.debian.org/debian/pool/main/libc/libcbor/libcbor_0.8.0.orig.tar.gz
  [libmicrohttpd]=https://deb.debian.org/debian/pool/main/libm/libmicrohttpd/libmicrohttpd_0.9.75.orig.tar.xz
)
declare -A src_sha256=(
  [libcbor]=618097166ea4a54499646998ccaa949a5816e6a665cf1d6df383690895217c8b
  [libmicrohttpd]=796e7e217a4802679fcac667a4e98501c53185dcf50ca0583870e84192620131
)

step() { echo "setup-replica: $*"; }

step "packages"
dnf install -y -q --allowerasing gcc make cmake pkgconf-pkg-config openssl-devel \
  sqlite-devel jansson-devel gpgme-devel libyaml-devel nettle-devel gmp-devel \
  zlib-devel libcurl-devel gnupg2 jq tar xz curl openssl
command -v aws >/dev/null || dnf install -y -q awscli-2

build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT
for lib in libcbor libmicrohttpd; do
  [ -e "$prefix/lib/.glassbox-$lib" ] && continue
  step "building $lib from Debian's source"
  file=$build/$(basename "${src_url[$lib]}")
  curl -fsSL --retry 3 -o "$file" "${src_url[$lib]}"
  echo "${src_sha256[$lib]}  $file" | sha256sum -c --quiet -
  mkdir "$build/$lib"
  tar -xf "$file" -C "$build/$lib" --strip-components=1
  if [ "$lib" = libmicrohttpd ]; then
    (cd "$build/$lib" && ./configure -q --prefix="$prefix" --disable-https \
      --disable-doc --disable-examples --disable-curl >/dev/null &&
      make -s -j"$(nproc)" >/dev/null && make -s install >/dev/null)
  else
    cmake -S "$build/$lib" -B "$build/$lib/build" -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_INSTALL_PREFIX="$prefix" -DBUILD_SHARED_LIBS=ON -DWITH_TESTS=OFF \
      -DWITH_EXAMPLES=OFF >/dev/null
    cmake --build "$build/$lib/build" -j"$(nproc)" >/dev/null
    cmake --install "$build/$lib/build" >/dev/null
  fi
  touch "$prefix/lib/.glassbox-$lib"
done
printf '%s/lib\n%s/lib64\n' "$prefix" "$prefix" >/etc/ld.so.conf.d/glassbox.conf
ldconfig

step "building Glassbox"
mkdir "$build/glassbox"
tar -xzf "$dist" -C "$build/glassbox"
src=$build/glassbox
[ -f "$src/CMakeLists.txt" ] || src=$(dirname "$(find "$build/glassbox" -maxdepth 2 -name CMakeLists.txt | head -n1)")
PKG_CONFIG_PATH=$prefix/lib/pkgconfig:$prefix/lib64/pkgconfig \
  cmake -S "$src" -B "$src/build" -DCMAKE_BUILD_TYPE=Release -DGB_TESTS=OFF \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_INSTALL_PREFIX="$prefix" >/dev/null
cmake --build "$src/build" -j"$(nproc)" >/dev/null
cmake --install "$src/build" >/dev/null

step "user, folders"
id glassbox >/dev/null 2>&1 ||
  useradd --system --home-dir /var/lib/glassbox --shell /sbin/nologin glassbox
install -d -m 0750 -o root -g glassbox /etc/glassbox
install -d -m 0700 -o glassbox -g glassbox /var/lib/glassbox

step "the shared challenge key from $secret"
key=""
for ((try = 1; try <= SECRET_TRIES; try++)); do
  if key=$(aws secretsmanager get-secret-value --secret-id "$secret" \
      --query SecretString --output text 2>/dev/null) && [[ $key =~ ^[0-9a-f]{64}$ ]]; then
    break
  fi
  key=""
  step "no challenge key in the secret yet (64 hex digits; docs/deploy.md section 10); try $try of $SECRET_TRIES"
  sleep "$SECRET_PAUSE_S"
done
[ -n "$key" ] || { echo "setup-replica: no challenge key: not starting" >&2; exit 1; }
(umask 077 && printf '%s\n' "$key" >/var/lib/glassbox/challenge-key.new)
chown glassbox:glassbox /var/lib/glassbox/challenge-key.new
mv /var/lib/glassbox/challenge-key.new /var/lib/glassbox/challenge-key
key=""

step "verifier: mirror of $url"
{
  echo "# glassbox-verifier --help; written by setup-replica.sh. A read-only"
  echo "# mirror of the log's tiles (docs/verifier.md \"Mirror\")."
  echo "listen = 0.0.0.0:$port"
  echo "db = /var/lib/glassbox/mirror.db"
  echo "mirror = $url"
  echo "log-key = $log_key"
  echo "mirror-interval = $interval"
  echo "challenge-key = /var/lib/glassbox/challenge-key"
  echo "nonce-ttl = $nonce_ttl"
  echo "challenge-rate = $crate"
  [ "$threads" -gt 0 ] && echo "threads = $threads"
  # The load balancer's addresses change: no peer's X-Forwarded-For is
  # believed, and the per-client limit is off unless challenge-rate says.
  echo "trusted-proxy ="
} >/etc/glassbox/verifier.conf
chmod 0640 /etc/glassbox/verifier.conf
chgrp glassbox /etc/glassbox/verifier.conf
install -m 0644 "$share/systemd/glassbox-verifier.service" /etc/systemd/system/
systemctl daemon-reload
systemctl enable glassbox-verifier.service
systemctl restart glassbox-verifier.service
step "done: the load balancer sends traffic once /readyz on port $port is 200"
