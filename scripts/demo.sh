#!/usr/bin/env bash
# The demo: installs what is missing, builds, writes a demo certs directory (a combined CA bundle,
# node, client and UI certificates at various expiries, one broken file) and runs the daemon on
# it in the foreground. Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
./scripts/build.sh
demo_dir=$PWD/demo
rm -rf "$demo_dir/certs"
./build/tests/crdb-certwatch-gencerts demo "$demo_dir/certs"
cat >"$demo_dir/config.yaml" <<YAML
# Demo configuration: the generated certs directory, polled every 10 seconds.
poll_interval: 10s
files:
  certs_dirs: [$demo_dir/certs]
YAML
address=${DEMO_LISTEN_ADDRESS:-127.0.0.1:9712}
echo
echo "crdb-certwatch demo: open http://$address/ (status page) or http://$address/metrics"
echo "Ctrl-C stops it."
echo
exec ./build/daemon/crdb-certwatch --config.file="$demo_dir/config.yaml" --web.listen-address="$address"
