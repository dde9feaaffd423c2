#!/usr/bin/env bash
# Install every build, test and runtime dependency of sluice from Debian packages.
# Idempotent: when everything is present it only runs dpkg-query and returns.
set -euo pipefail
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
)
missing=()
for p in "${PKGS[@]}"; do
  # NodeSource's nodejs bundles npm and conflicts with Debian's npm package.
  if [ "$p" = npm ] && command -v npm >/dev/null 2>&1; then continue; fi
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
