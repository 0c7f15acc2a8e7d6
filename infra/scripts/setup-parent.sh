#!/usr/bin/env bash
# Sets up a Glassbox parent instance (Amazon Linux 2023, enclaves enabled):
#   - nitro-cli and its allocator (CPUs and memory for the enclave);
#   - Glassbox built from the source tarball DIST (git archive of the
#     checkout), with libcbor and libmicrohttpd, which AL2023 does not
#     package (or not at Debian 12's version), built from Debian's source
#     tarballs, pinned by their SHA-256;
#   - a system user glassbox (group ne), /etc/glassbox, /var/lib/glassbox;
#   - the systemd units (enclave runner, parent bridge, verifier) and nginx
#     with TLS in front of the verifier;
#   - the parent's configuration (parent-config.sh): the bridge, the
#     enclave's one way out to KMS in AWS_REGION (allowlist; glassbox-parent
#     serves vsock port 8000 itself, in place of nitro-enclaves-vsock-proxy,
#     which is disabled), its credentials and sealed-key service, the sealed
#     blob's folder (/var/lib/glassbox/sealed); glassbox-vsock-proxy.service
#     (the drop-in for AWS's unit, docs/parent.md) is installed, not enabled;
#   - the CloudWatch agent: the daemons' logs (copied from the journal to
#     /var/log/glassbox by glassbox-logs@.service) to the log group, and
#     their /metrics as CloudWatch metrics (infra/cloudwatch);
#   - the enclave image from the image bucket, when there is one.
# Run as root; the instance's user data runs it at first boot. It can run
# again (an upgrade): existing configuration, keys and data are kept.
#
# usage: setup-parent.sh DIST.tar.gz
# environment (user data sets them):
#   GLASSBOX_BUCKET          image bucket (enclaves/app.eif is fetched)
#   GLASSBOX_ENCLAVE_CPUS    allocator cpu_count (default 2)
#   GLASSBOX_ENCLAVE_MIB     allocator memory_mib (default 2048)
#   GLASSBOX_BRIDGE_PORT     glassbox-parent's TCP port (default 6300)
#   GLASSBOX_ENCLAVE_PORT    the enclave's vsock port (default 5000)
#   GLASSBOX_HOSTNAME        the verifier's DNS name, for nginx and TLS
#   AWS_REGION               the region, whose KMS endpoint the enclave may
#                            reach (default: the instance's, from IMDSv2)
#   GLASSBOX_NAME            the deployment's name, the metrics' Deployment
#                            dimension (default glassbox)
#   GLASSBOX_LOG_GROUP       the daemons' log group (default /NAME/instance)
#   GLASSBOX_METRICS_LOG_GROUP  the metrics' log group (embedded metric
#                            format; default /NAME/metrics)
set -euo pipefail

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//' >&2
  exit 2
}

[ $# -eq 1 ] || usage
[ "$(id -u)" -eq 0 ] || { echo "setup-parent: run as root" >&2; exit 2; }
dist=$(readlink -f "$1")
[ -r "$dist" ] || { echo "setup-parent: cannot read $dist" >&2; exit 2; }
cpus=${GLASSBOX_ENCLAVE_CPUS:-2}
mib=${GLASSBOX_ENCLAVE_MIB:-2048}
bridge=${GLASSBOX_BRIDGE_PORT:-6300}
eport=${GLASSBOX_ENCLAVE_PORT:-5000}
host=${GLASSBOX_HOSTNAME:-$(hostname -f)}
name=${GLASSBOX_NAME:-glassbox}
log_group=${GLASSBOX_LOG_GROUP:-/$name/instance}
metrics_group=${GLASSBOX_METRICS_LOG_GROUP:-/$name/metrics}
prefix=/usr/local
share=$prefix/share/glassbox

# Debian's source tarballs of the two libraries AL2023 lacks; the SHA-256
# are those of the signed .dsc files of Debian 12 (libcbor 0.8.0-2,
# libmicrohttpd 0.9.75-6).
declare -A src_url=(
  [libcbor]=https://deb.debian.org/debian/pool/main/libc/libcbor/libcbor_0.8.0.orig.tar.gz
  [libmicrohttpd]=https://deb.debian.org/debian/pool/main/libm/libmicrohttpd/libmicrohttpd_0.9.75.orig.tar.xz
)
declare -A src_sha256=(
  [libcbor]=618097166ea4a54499646998ccaa949a5816e6a665cf1d6df383690895217c8b
  [libmicrohttpd]=796e7e217a4802679fcac667a4e98501c53185dcf50ca0583870e84192620131
)

step() { echo "setup-parent: $*"; }

step "packages"
# --allowerasing: AL2023 ships curl-minimal and gnupg2-minimal, which the
# full packages replace. The AWS CLI comes with the AMI.
dnf install -y -q --allowerasing aws-nitro-enclaves-cli aws-nitro-enclaves-cli-devel \
  gcc make cmake pkgconf-pkg-config openssl-devel sqlite-devel jansson-devel \
  gpgme-devel libyaml-devel nettle-devel gmp-devel zlib-devel gnupg2 \
  nginx jq tar xz curl libcurl-devel openssl amazon-cloudwatch-agent logrotate
command -v aws >/dev/null || dnf install -y -q awscli-2

step "allocator: $cpus vCPUs, $mib MiB for the enclave"
install -d -m 0755 /etc/nitro_enclaves
cat >/etc/nitro_enclaves/allocator.yaml <<EOF
# Written by Glassbox setup-parent.sh.
---
memory_mib: $mib
cpu_count: $cpus
EOF
systemctl enable --now nitro-enclaves-allocator.service

build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT
for lib in libcbor libmicrohttpd; do
  if [ -e "$prefix/lib/.glassbox-$lib" ]; then
    continue
  fi
  step "building $lib from Debian's source"
  file=$build/$(basename "${src_url[$lib]}")
  curl -fsSL --retry 3 -o "$file" "${src_url[$lib]}"
  echo "${src_sha256[$lib]}  $file" | sha256sum -c --quiet -
  mkdir "$build/$lib"
  tar -xf "$file" -C "$build/$lib" --strip-components=1
  if [ "$lib" = libmicrohttpd ]; then
    # Autotools; no TLS (nginx terminates it), no docs or examples.
    (cd "$build/$lib" && ./configure -q --prefix="$prefix" --disable-https \
      --disable-doc --disable-examples --disable-curl >/dev/null &&
      make -s -j"$(nproc)" >/dev/null && make -s install >/dev/null)
  else
    opts=(-DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$prefix"
      -DBUILD_SHARED_LIBS=ON -DWITH_TESTS=OFF -DWITH_EXAMPLES=OFF)
    cmake -S "$build/$lib" -B "$build/$lib/build" "${opts[@]}" >/dev/null
    cmake --build "$build/$lib/build" -j"$(nproc)" >/dev/null
    cmake --install "$build/$lib/build" >/dev/null
  fi
  touch "$prefix/lib/.glassbox-$lib"
done
echo "$prefix/lib" >/etc/ld.so.conf.d/glassbox.conf
echo "$prefix/lib64" >>/etc/ld.so.conf.d/glassbox.conf
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

step "user, folders, configuration"
getent group ne >/dev/null || groupadd --system ne
id glassbox >/dev/null 2>&1 ||
  useradd --system --home-dir /var/lib/glassbox --shell /sbin/nologin glassbox
usermod -aG ne glassbox
install -d -m 0750 -o root -g glassbox /etc/glassbox
install -d -m 0700 -o glassbox -g glassbox /var/lib/glassbox /etc/glassbox/tls
region=${AWS_REGION:-}
if [ -z "$region" ]; then
  imds=$(curl -fsS -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' \
    http://169.254.169.254/latest/api/token)
  region=$(curl -fsS -H "X-aws-ec2-metadata-token: $imds" \
    http://169.254.169.254/latest/meta-data/placement/region)
fi
# The sealed signer key's blob (nothing secret in it: docs/deploy.md).
install -d -m 0700 -o glassbox -g glassbox /var/lib/glassbox/sealed
GLASSBOX_BRIDGE_PORT=$bridge GLASSBOX_ENCLAVE_PORT=$eport \
  "$share/scripts/parent-config.sh" /etc/glassbox "$region"
chgrp glassbox /etc/glassbox/parent.conf /etc/glassbox/outbound.yaml /etc/glassbox/parent.env
chmod 0640 /etc/glassbox/parent.conf /etc/glassbox/outbound.yaml /etc/glassbox/parent.env
if [ ! -e /etc/glassbox/verifier.conf ]; then
  cat >/etc/glassbox/verifier.conf <<EOF
# glassbox-verifier --help. nginx terminates TLS in front of it.
listen = 127.0.0.1:8080
db = /var/lib/glassbox/registry.db
token-file = /etc/glassbox/token
threads = 4
EOF
fi
if [ ! -e /etc/glassbox/token ]; then
  (umask 077 && head -c 32 /dev/urandom | base64 >/etc/glassbox/token)
fi
chown glassbox:glassbox /etc/glassbox/token
chmod 0600 /etc/glassbox/token
if [ ! -e /var/lib/glassbox/registry.db ]; then
  runuser -u glassbox -- "$prefix/bin/glassbox" registry --db /var/lib/glassbox/registry.db \
    init --origin "$host/glassbox" >/dev/null
  step "a new registry; add release managers' keys with: runuser -u glassbox -- glassbox registry --db /var/lib/glassbox/registry.db key add KEY.asc"
fi

step "TLS for $host"
if [ ! -e /etc/glassbox/tls/fullchain.pem ]; then
  # A self-signed stand-in until a real certificate is installed (certbot
  # with --webroot /var/www/acme, or your own); nginx needs one to start.
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -subj "/CN=$host" -addext "subjectAltName=DNS:$host" \
    -keyout /etc/glassbox/tls/privkey.pem -out /etc/glassbox/tls/fullchain.pem 2>/dev/null
  step "WARNING: self-signed certificate in /etc/glassbox/tls; replace it"
fi
chown -R root:root /etc/glassbox/tls
chmod 0600 /etc/glassbox/tls/privkey.pem
install -d -m 0755 /var/www/acme
sed "s/glassbox\.example\.com/$host/g" "$share/nginx/glassbox.conf" >/etc/nginx/conf.d/glassbox.conf
nginx -t

step "enclave image"
if [ -n "${GLASSBOX_BUCKET:-}" ] &&
   aws s3 cp --only-show-errors "s3://$GLASSBOX_BUCKET/enclaves/app.eif" /var/lib/glassbox/enclave.eif.new; then
  mv /var/lib/glassbox/enclave.eif.new /var/lib/glassbox/enclave.eif
  chown glassbox:glassbox /var/lib/glassbox/enclave.eif
  chmod 0644 /var/lib/glassbox/enclave.eif
else
  step "no enclaves/app.eif in the bucket yet: the enclave unit waits for /var/lib/glassbox/enclave.eif"
fi
cat >/etc/glassbox/enclave.env <<EOF
GLASSBOX_ENCLAVE_CPUS=$cpus
GLASSBOX_ENCLAVE_MIB=$mib
GLASSBOX_ENCLAVE_CID=16
GLASSBOX_ENCLAVE_NAME=glassbox
EOF

step "vsock-proxy: glassbox-parent serves the enclave's KMS port"
# parent.conf's outbound listens on vsock port 8000, where AWS's
# nitro-enclaves-vsock-proxy.service would: that unit is disabled below.
# glassbox-vsock-proxy.service (glassbox-parent in vsock-proxy's command
# line) is installed for hosts whose enclave is not Glassbox's; its
# settings are written here so that enabling it (after removing the
# outbound lines of parent.conf) is one command.
if [ ! -e /etc/glassbox/vsock-proxy.env ]; then
  cat >/etc/glassbox/vsock-proxy.env <<EOF
# glassbox-vsock-proxy.service: glassbox-parent vsock-proxy [OPTIONS] PORT REMOTE REMOTE_PORT
# --config /etc/nitro_enclaves/vsock-proxy.yaml (glassbox-parent vsock-proxy --help).
# Not enabled: glassbox-parent.service serves port 8000 (parent.conf).
VSOCK_PROXY_PORT=8000
VSOCK_PROXY_REMOTE=kms.$region.amazonaws.com
VSOCK_PROXY_REMOTE_PORT=443
# -4, -6, -w N (default 4 connections at once)
VSOCK_PROXY_OPTIONS=
EOF
fi

step "logs and metrics: CloudWatch agent to $log_group, $metrics_group"
# glassbox-logs@NAME copies each daemon's journal here; the agent (user
# cwagent) tails the files, logrotate copies and truncates them.
install -d -m 0755 /var/log/glassbox
for d in parent verifier enclave; do
  [ -e "/var/log/glassbox/$d.log" ] || install -m 0644 /dev/null "/var/log/glassbox/$d.log"
done
install -m 0644 "$share/logrotate/glassbox" /etc/logrotate.d/glassbox
cwa=/opt/aws/amazon-cloudwatch-agent
sed -e "s|@LOG_GROUP@|$log_group|g" -e "s|@METRICS_LOG_GROUP@|$metrics_group|g" \
  "$share/cloudwatch/amazon-cloudwatch-agent.json" >"$cwa/etc/amazon-cloudwatch-agent.json"
sed -e "s|@DEPLOYMENT@|$name|g" "$share/cloudwatch/prometheus.yaml" >"$cwa/etc/glassbox-prometheus.yaml"

step "services"
install -m 0644 "$share"/systemd/*.service /etc/systemd/system/
systemctl daemon-reload
# glassbox-parent listens on vsock port 8000 (parent.conf), as AWS's
# vsock-proxy unit would: only one of them can.
systemctl disable --now nitro-enclaves-vsock-proxy.service 2>/dev/null || true
systemctl enable glassbox-enclave.service glassbox-parent.service glassbox-verifier.service nginx.service \
  glassbox-logs@parent.service glassbox-logs@verifier.service glassbox-logs@enclave.service
systemctl restart glassbox-logs@parent.service glassbox-logs@verifier.service glassbox-logs@enclave.service
systemctl restart glassbox-enclave.service || step "the enclave did not start: journalctl -u glassbox-enclave"
systemctl restart glassbox-parent.service glassbox-verifier.service nginx.service
"$cwa/bin/amazon-cloudwatch-agent-ctl" -a fetch-config -m ec2 -s \
  -c "file:$cwa/etc/amazon-cloudwatch-agent.json" >/dev/null ||
  step "the CloudWatch agent did not start: $cwa/logs/amazon-cloudwatch-agent.log"
step "done: verifier at https://$host/ , bridge on port $bridge"
