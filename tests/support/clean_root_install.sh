#!/usr/bin/env bash
# clean_root_install.sh DEB
# Installs the package DEB in a pristine Debian 12 (bookworm) minbase root, where no `cockroach`
# group exists, and prints what a test asserts as key=value lines: the install result, the user,
# the unit's group settings, and the user's groups after certs directories owned by other groups
# appear and the package is reconfigured. Needs root (chroot, mount) and debootstrap.
#
# The pristine root comes from the cache /work/shared/tools/fresh-debian-check keeps (FRESH_CACHE,
# default <temp dir>/fresh-debian/bookworm-minbase.tar): extracted per run, built once when absent.
# Every step that reaches the network has a deadline, so the script always gets to unmount.
set -euo pipefail
deb=$(realpath "$1")

cache=${FRESH_CACHE:-$(dirname "$(mktemp -u)")/fresh-debian}
mkdir -p "$cache"
base=$cache/bookworm-minbase.tar
if [ ! -s "$base" ]; then
  mirror=$(sed -n 's/^URIs: *\(http[^ ]*debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
  mirror=${mirror:-$(awk '/^deb / && $3 ~ /bookworm$/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null)}
  echo "clean_root_install: building a pristine bookworm root in $cache (once)" >&2
  build=$(mktemp -d "$cache/build-XXXXXX")
  if ! timeout 600 debootstrap --variant=minbase bookworm "$build/root" "$mirror" >"$build.log" 2>&1; then
    tail -20 "$build.log" >&2
    rm -rf --one-file-system "$build"
    exit 1
  fi
  # Written aside and renamed: a concurrent run never extracts half a tarball.
  tar -C "$build/root" -cf "$base.part.$$" . && mv "$base.part.$$" "$base"
  rm -rf --one-file-system "$build" "$build.log"
fi

work=$(mktemp -d "$cache/deb-install-XXXXXX")
root=$work/root
mounts=(proc sys dev)
cleanup() {
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
    umount "$root/${mounts[i]}" 2>/dev/null || umount -l "$root/${mounts[i]}" 2>/dev/null || true
  done
  # Never delete through a mount that is still there (the host's /dev, /sys).
  if findmnt -rn -o TARGET | grep -q "^$root/"; then
    echo "clean_root_install: mounts remain under $root; left in place" >&2
  else
    rm -rf --one-file-system "$work"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$root"
tar -C "$root" -xf "$base"
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
# The same package sources as this machine, so apt-get reaches the same archive.
cp -r /etc/apt/sources.list.d "$root/etc/apt/" 2>/dev/null || true
find "$root/etc/apt/sources.list.d" -type f ! -name 'debian.sources' -delete 2>/dev/null || true
mount -t proc proc "$root/proc"
mount --bind /sys "$root/sys"
mount --bind /dev "$root/dev"
cp "$deb" "$root/tmp/crdb-certwatch.deb"

# Runs a command in the root, killed after 240 s.
in_root() {
  timeout 240 chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"
}
# Fact NAME COMMAND...: prints NAME=<output of COMMAND, lines joined by spaces>.
fact() {
  local name=$1
  shift
  echo "$name=$(in_root "$@" 2>&1 | tr '\n' ' ' | sed 's/ $//')"
}

fact cockroach_group_before sh -c 'getent group cockroach || echo absent'
in_root apt-get update -qq >&2
# apt-get installs the package's runtime Depends from the archive, then the package itself.
set +e
in_root apt-get install -y -qq --no-install-recommends /tmp/crdb-certwatch.deb >&2
echo "install_exit=$?"
set -e
fact user sh -c 'getent passwd crdb-certwatch | cut -d: -f1'
fact unit_group_settings sh -c \
  'grep -E "^(Group|SupplementaryGroups)=" /usr/lib/systemd/system/crdb-certwatch.service || echo none'
fact groups_after_install id -nG crdb-certwatch

# Certificates readable by a group the package has never heard of, named in the config, next to
# a root-owned directory (the user must not join root) and a missing one.
in_root sh -c 'groupadd crdbcerts && mkdir -p /srv/crdb/certs /srv/root-owned &&
  chgrp crdbcerts /srv/crdb/certs && chmod 0750 /srv/crdb/certs &&
  printf "files:\n  certs_dirs:\n    - /srv/crdb/certs\n    - /srv/root-owned\n    - /srv/missing\n" \
    >/etc/crdb-certwatch/config.yaml'
fact reconfigure_exit sh -c 'dpkg-reconfigure crdb-certwatch >/dev/null 2>&1; echo $?'
fact groups_after_reconfigure id -nG crdb-certwatch

# CockroachDB installed after the exporter: its `cockroach` group is joined on the next configure.
in_root groupadd cockroach
fact reconfigure_exit_with_cockroach sh -c 'dpkg-reconfigure crdb-certwatch >/dev/null 2>&1; echo $?'
fact groups_with_cockroach id -nG crdb-certwatch

# What the package ships besides the binary (issue 25): the rules, the dashboard, the copyright.
fact shipped sh -c 'ls -1 /usr/share/crdb-certwatch/grafana/crdb-certwatch.json \
  /usr/share/crdb-certwatch/prometheus/crdb-certwatch.rules.yml /usr/share/doc/crdb-certwatch/copyright'
