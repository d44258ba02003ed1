#!/usr/bin/env bash
# The Kubernetes manifests (deploy/kubernetes), checked without a cluster. One CTest entry per
# case: tests/kubernetes_test.sh CASE SOURCE_DIR BINARY.
#   render        kubectl kustomize renders every overlay; the sidecar is patched into the
#                 StatefulSet with every hardening setting the README promises; the preflight
#                 example renders a Job that runs `preflight` on a staged and a live Secret
#   schema        every rendered object is valid against the offline Kubernetes and Prometheus
#                 Operator schemas (tests/k8s-schema, installed by `npm ci` in scripts/test.sh)
#   broken        the schema check refuses deliberately broken objects (it can fail at all)
#   rule          the committed PrometheusRule equals `crdb-certwatch rules --format=prometheus-operator`
#   config        the ConfigMaps' configs pass `crdb-certwatch --config.check`
#   containerfile what the Containerfile COPYs exists, and the user it runs as is not root
#   upstream      the Helm and operator sidecar patches applied to fixtures of those StatefulSets
# A missing kubectl or node_modules fails under CI=true and skips (exit 77) elsewhere.
set -euo pipefail
case_name=$1
root=$2
binary=${3:-}
k8s=$root/deploy/kubernetes
schema=$root/tests/k8s-schema
overlays=(sidecar cluster cluster-web-config)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
need() {  # need TOOL_OR_PATH HOW_TO_INSTALL
  if [ -e "$1" ] || command -v "$1" >/dev/null 2>&1; then return 0; fi
  if [ "${CI:-}" = "true" ]; then fail "$1 is missing under CI ($2)"; fi
  echo "SKIPPED: $1 is missing ($2)" >&2
  exit 77
}
render() {  # render OVERLAY: the rendered stream on stdout; kustomize's deprecation notes dropped
  kubectl kustomize "$k8s/$1" 2>"$work/$1.err" || {
    cat "$work/$1.err" >&2
    fail "kubectl kustomize deploy/kubernetes/$1"
  }
}
validate() {
  need "$schema/node_modules/kubernetes-models" "npm ci --prefix tests/k8s-schema (scripts/test.sh)"
  node "$schema/validate.js" "$@"
}

case $case_name in
render)
  need kubectl "Debian 12: apt-get install kubernetes-client"
  for overlay in "${overlays[@]}"; do
    render "$overlay" >"$work/$overlay.yaml"
    grep -q '^kind: PrometheusRule$' "$work/$overlay.yaml" || fail "$overlay: no PrometheusRule"
    grep -q '^kind: ServiceMonitor$' "$work/$overlay.yaml" || fail "$overlay: no ServiceMonitor"
    grep -q '^kind: Service$' "$work/$overlay.yaml" || fail "$overlay: no Service"
    grep -q '^kind: ConfigMap$' "$work/$overlay.yaml" || fail "$overlay: no ConfigMap"
  done
  # What the README promises, judged on the rendered objects.
  need "$schema/node_modules/yaml" "npm ci --prefix tests/k8s-schema (scripts/test.sh)"
  node "$schema/check-rendered.js" "$work/sidecar.yaml" "$work/cluster.yaml" \
    "$work/cluster-web-config.yaml" || fail "the rendered objects break a promise"
  echo "rendered ${#overlays[@]} overlays"
  # The preflight example (issue 24): a Job, not an exporter, so it has an overlay of its own.
  render preflight >"$work/preflight.yaml"
  grep -q '^kind: Job$' "$work/preflight.yaml" || fail "preflight: no Job"
  grep -q -- '- preflight$' "$work/preflight.yaml" || fail "preflight: the Job does not run preflight"
  grep -q -- '- --cert-type=node$' "$work/preflight.yaml" || fail "preflight: no --cert-type for the Secret"
  echo "rendered the preflight Job"
  ;;
schema)
  need kubectl "Debian 12: apt-get install kubernetes-client"
  files=()
  for overlay in "${overlays[@]}" preflight; do
    render "$overlay" >"$work/$overlay.yaml"
    files+=("$work/$overlay.yaml")
  done
  validate "${files[@]}" || fail "an object is not valid against its schema"
  ;;
broken)
  # Each broken object alone: each must be refused on its own.
  for object in "$root"/tests/k8s-schema/broken/*.yaml; do
    if validate "$object" >"$work/out" 2>&1; then
      cat "$work/out" >&2
      fail "$(basename "$object") was accepted"
    fi
    grep -q '^INVALID ' "$work/out" || { cat "$work/out" >&2; fail "$(basename "$object"): no INVALID line"; }
    echo "refused as expected: $(basename "$object"): $(grep '^INVALID ' "$work/out" | head -1)"
  done
  validate "$root/tests/k8s-schema/broken/../valid.yaml" >/dev/null || fail "valid.yaml was refused"
  ;;
rule)
  printf '{}\n' >"$work/empty.yaml"
  "$binary" rules --format=prometheus-operator --config.file="$work/empty.yaml" >"$work/rule.yaml"
  diff -u "$k8s/base/prometheusrule.yaml" "$work/rule.yaml" ||
    fail "deploy/kubernetes/base/prometheusrule.yaml is stale: run scripts/regen-deploy.sh"
  ;;
config)
  # The configs the ConfigMaps carry load in the daemon as it is.
  for config in "$k8s/cluster/config.yaml" "$k8s/sidecar/config.yaml" "$k8s/preflight/config.yaml"; do
    "$binary" --config.check --config.file="$config" || fail "${config#"$root"/} does not load"
  done
  ;;
containerfile)
  file=$k8s/Containerfile
  grep -q '^FROM debian:bookworm' "$file" || fail "the Containerfile is not based on Debian bookworm"
  # Every COPY source, relative to the build context (the repository root), must exist.
  while read -r source; do
    [ -e "$root/$source" ] || fail "COPY $source: no such file in the repository"
    echo "COPY source exists: $source"
  done < <(awk '/^COPY / && !/--from=/ { for (i = 2; i < NF; ++i) if ($i !~ /^--/) print $i }' "$file")
  user=$(awk '/^USER / { u = $2 } END { print u }' "$file")
  [ -n "$user" ] || fail "no USER: the image would run as root"
  uid=${user%%:*}
  case $uid in
  0 | root) fail "USER $user is root" ;;
  *[!0-9]*) fail "USER $user: give a numeric uid, so runAsNonRoot can verify it" ;;
  esac
  grep -q "runAsUser: $uid\$" "$k8s/sidecar/sidecar-patch.yaml" ||
    fail "the sidecar's runAsUser is not the image's uid $uid"
  grep -q "runAsUser: $uid\$" "$k8s/cluster/deployment.yaml" ||
    fail "the Deployment's runAsUser is not the image's uid $uid"
  echo "USER $user"
  ;;
upstream)
  # The sidecar patches applied as they are to the Helm chart's and the operator's StatefulSets
  # (hand-written representations kept as fixtures), with the Helm post-renderer too.
  need kubectl "Debian 12: apt-get install kubernetes-client"
  need "$schema/node_modules/yaml" "npm ci --prefix tests/k8s-schema (scripts/test.sh)"
  for layout in helm:certs-secret:certs operator:certs:emptydir; do
    IFS=: read -r name renewed loaded <<<"$layout"
    fixture=$root/tests/fixtures/kubernetes/$name-statefulset.yaml
    mkdir -p "$work/$name"
    cp "$k8s/$name"/kustomization.yaml "$k8s/$name"/sidecar-patch.yaml "$k8s/$name"/config.yaml \
      "$work/$name/"
    cp "$fixture" "$work/$name/rendered.yaml"
    render_dir=$work/$name
    kubectl kustomize "$render_dir" >"$work/$name.out" 2>"$work/$name.err" || {
      cat "$work/$name.err" >&2
      fail "kubectl kustomize of the $name overlay"
    }
    node "$schema/check-upstream.js" "$fixture" "$work/$name.out" "$renewed" "$loaded" ||
      fail "the $name patch does not apply as it is"
    validate "$work/$name.out" || fail "the patched $name StatefulSet is not valid"
    if [ -n "$binary" ]; then
      "$binary" --config.check --config.file="$k8s/$name/config.yaml" ||
        fail "deploy/kubernetes/$name/config.yaml does not load"
    fi
  done
  "$k8s/helm/post-renderer.sh" <"$root/tests/fixtures/kubernetes/helm-statefulset.yaml" \
    >"$work/post-rendered.yaml" 2>"$work/post.err" || { cat "$work/post.err" >&2; fail "post-renderer.sh"; }
  node "$schema/check-upstream.js" "$root/tests/fixtures/kubernetes/helm-statefulset.yaml" \
    "$work/post-rendered.yaml" certs-secret certs || fail "the Helm post-renderer's output"
  ;;
*)
  fail "unknown case $case_name"
  ;;
esac
