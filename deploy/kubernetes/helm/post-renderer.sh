#!/bin/sh
# Helm post-renderer: patches the crdb-certwatch sidecar into the chart's StatefulSet.
#   helm install cockroachdb cockroachdb/cockroachdb --post-renderer deploy/kubernetes/helm/post-renderer.sh
# Helm writes every rendered manifest on stdin and takes the result from stdout. The manifests are
# rendered in a copy of this directory, so concurrent runs do not share files.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$here/kustomization.yaml" "$here/sidecar-patch.yaml" "$here/config.yaml" "$work/"
cat >"$work/rendered.yaml"
kubectl kustomize "$work"
