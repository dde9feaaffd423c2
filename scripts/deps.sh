#!/usr/bin/env bash
# Install every build, test and runtime dependency of sluice from Debian packages.
# Idempotent: when everything is present it only runs dpkg-query and returns.
set -euo pipefail
# --syslog-ng: also unpack Debian's syslog-ng-core into /opt/sluice-peers/syslog-ng (benchmarks
# only). It conflicts with rsyslog (both provide system-log-daemon), so it is extracted with
# dpkg-deb rather than installed; its libraries are the packages listed below.
if [ "${1:-}" = --syslog-ng ]; then
  dest=/opt/sluice-peers/syslog-ng
  if [ ! -x "$dest/usr/sbin/syslog-ng" ]; then
    tmp=$(mktemp -d) && chmod 755 "$tmp"
    (cd "$tmp" && apt-get download syslog-ng-core >/dev/null 2>&1 || { apt-get update -qq && apt-get download syslog-ng-core; })
    mkdir -p "$dest" && dpkg-deb -x "$tmp"/syslog-ng-core_*.deb "$dest" && rm -rf "$tmp"
  fi
  shift
fi
PKGS=(
  build-essential cmake ninja-build pkg-config clang clang-14 libclang-rt-14-dev llvm-14
  clang-format
  libyaml-dev libpcre2-dev libmicrohttpd-dev libxxhash-dev
  libcmocka-dev libjansson-dev libedit-dev libsqlite3-dev sqlite3
  publicsuffix tzdata
  curl netcat-openbsd python3
  nodejs npm libsnappy-dev libzstd-dev zlib1g-dev
  libzmq3-dev libsodium-dev libc-ares-dev flatbuffers-compiler python3-flatbuffers python3-zmq
  dnsmasq-base libcurl4-openssl-dev prometheus-pushgateway
  librdkafka-dev librabbitmq-dev libpq-dev
  rabbitmq-server postgresql python3-pika python3-confluent-kafka python3-psycopg2
  libgnutls28-dev gnutls-bin rsyslog rsyslog-gnutls python3-sklearn python3-numpy bsdutils openssl
  libivykis0 libnet1 libjson-c5 libpcre3 libwrap0 libglib2.0-0 libcap2
  chromium
)
missing=()
for p in "${PKGS[@]}"; do
  # NodeSource's nodejs bundles npm and conflicts with Debian's npm package.
  if [ "$p" = npm ] && command -v npm >/dev/null 2>&1; then continue; fi
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# The web console's npm packages (esbuild and uPlot to rebuild web/console/dist, playwright-core
# for tests/integ/console.sh, which drives the chromium above): npm ci once per lock file.
web="$(cd "$(dirname "${BASH_SOURCE[0]}")/../web/console" && pwd)"
if ! cmp -s "$web/package-lock.json" "$web/node_modules/.sluice-lock" 2>/dev/null; then
  echo "deps: npm ci in web/console"
  (cd "$web" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  cp "$web/package-lock.json" "$web/node_modules/.sluice-lock"
fi
