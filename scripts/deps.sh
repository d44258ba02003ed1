#!/usr/bin/env bash
# Installs, from Debian's archive, every package the build, the demo and the tests need.
# Idempotent: does nothing when all are present. Needs root (or sudo) when something is missing.
set -euo pipefail

packages=(
  # toolchain
  g++ cmake ninja-build pkg-config git ca-certificates
  # libraries
  libssl-dev prometheus-cpp-dev libyaml-cpp-dev libspdlog-dev libboost-dev libcli11-dev
  nlohmann-json3-dev libpqxx-dev libpq-dev zlib1g-dev libcrypt-dev catch2 libbenchmark-dev
  # real parts the tests run: PostgreSQL, Prometheus, Alertmanager, systemd-analyze, packaging
  postgresql prometheus prometheus-alertmanager systemd dpkg-dev file procps
  # the package installed in a clean Debian root (tests/support/clean_root_install.sh)
  debootstrap
  # the benchmark harness scrapes with curl; hostile_files_test handshakes with it and proves
  # with strace that no .key file is opened
  curl strace
  # the suite fails on code that .clang-format would change
  clang-format
  # audit_test renders the audit report in a real headless browser and counts its PDF pages
  chromium poppler-utils
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
# Services from these packages are started by the tests themselves, never by the install.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod 755 /usr/sbin/policy-rc.d
  trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
