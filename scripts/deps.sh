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
  # the runbooks the daemon serves at /runbooks/ are markdown, rendered by md4c
  libmd4c-dev libmd4c-html0-dev
  # real parts the tests run: PostgreSQL, Prometheus, Alertmanager, systemd-analyze, packaging
  postgresql prometheus prometheus-alertmanager systemd dpkg-dev file procps
  # the package installed in a clean Debian root (tests/support/clean_root_install.sh)
  debootstrap
  # the benchmark harness scrapes with curl; hostile_files_test handshakes with it and proves
  # with strace that no .key file is opened
  curl strace
  # grafana_test serves a node certificate for the probe with `openssl s_server`
  openssl
  # the suite fails on code that .clang-format would change
  clang-format
  # audit_test renders the audit report in a real headless browser and counts its PDF pages
  chromium poppler-utils
)
# tests/kubernetes_test.sh needs kubectl (Debian 12 ships it as kubernetes-client); the Grafana and
# Kubernetes tests need node and npm for their offline schema packages. Each only when missing,
# since another vendor's package of the same command (the Kubernetes project's kubectl,
# NodeSource's nodejs, which brings its own npm) conflicts with Debian's.
command -v kubectl >/dev/null 2>&1 || packages+=(kubernetes-client)
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)
# The test-time npm packages (tests/grafana-schema, tests/k8s-schema), pinned by their committed
# lock files; `npm ci` again only when a lock file changed.
npm_tooling() {
  local dir
  for dir in tests/grafana-schema tests/k8s-schema; do
    [ "$dir/node_modules/.package-lock.json" -nt "$dir/package-lock.json" ] && continue
    echo "deps: npm ci in $dir" >&2
    npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error >/dev/null && continue
    # A root whose trust store lacks the CA of the network's TLS proxy (a pristine chroot) cannot
    # verify the registry's certificate. The committed lock file pins every package by its sha512
    # integrity, which npm ci checks on what it downloads, so the content stays verified.
    echo "deps: npm ci failed in $dir; again without TLS verification (the lock file's" \
      "integrity hashes still verify every package)" >&2
    npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error --strict-ssl=false >/dev/null
  done
}

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && { npm_tooling; exit 0; }

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
npm_tooling
