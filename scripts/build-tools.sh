#!/usr/bin/env bash
# Builds the pinned helm CLI and the offline Kubernetes validator (tools/kubevalidate) into
# .bin/, with Go. Cached: helm is rebuilt only when .bin/helm is missing or another version,
# and `go build` of kubevalidate is incremental, so a second run takes a second or two.
# The first run on a machine with an empty Go cache downloads and compiles helm's modules:
# a few minutes.
#
#   bash scripts/build-tools.sh     # used by scripts/ci-helm.sh and by the chart tests
#
# Safe to run twice at once (two test runs side by side): each binary is built under a
# temporary name and renamed into place, so a reader never sees a half-written file.
set -euo pipefail

HELM_VERSION=v3.19.0
# Kubernetes minor version of the k8s.io modules helm ${HELM_VERSION} is built
# with; passed like helm's own Makefile does, so `helm template` renders for a
# current cluster instead of the v1.20 fallback of a plain `go install`.
HELM_K8S_MAJOR=1
HELM_K8S_MINOR=34

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$ROOT/.bin"
HELM="$BIN/helm"
KV="$BIN/kubevalidate"

mkdir -p "$BIN"
if ! command -v go >/dev/null && [[ -x /usr/local/go/bin/go ]]; then
  export PATH="/usr/local/go/bin:$PATH"
fi
if ! command -v go >/dev/null; then
  echo "Go is required to build helm and kubevalidate into .bin/ (install Go 1.24+, see README's prerequisites)" >&2
  exit 1
fi

installed_helm_version() {
  [[ -x "$HELM" ]] || return 0
  go version -m "$HELM" 2>/dev/null | awk '$1 == "mod" && $2 == "helm.sh/helm/v3" { print $3 }'
}
if [[ "$(installed_helm_version)" == "$HELM_VERSION" ]] && "$HELM" version --short 2>/dev/null | grep -q "^$HELM_VERSION"; then
  echo "helm $HELM_VERSION already in .bin/ (cached)"
else
  echo "building helm $HELM_VERSION with go install (a few minutes on a cold Go cache) ..."
  start=$SECONDS
  tmp="$(mktemp -d "$BIN/.helm-build.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  GOBIN="$tmp" go install \
    -ldflags "-s -w \
      -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION \
      -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=$HELM_K8S_MAJOR \
      -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$HELM_K8S_MINOR \
      -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=$HELM_K8S_MAJOR \
      -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$HELM_K8S_MINOR" \
    "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  mv -f "$tmp/helm" "$HELM"
  echo "built helm $HELM_VERSION in $((SECONDS - start))s"
fi

# go build is incremental: quick when nothing changed.
kv_tmp="$BIN/.kubevalidate.$$"
(cd "$ROOT/tools/kubevalidate" && go build -o "$kv_tmp" .)
mv -f "$kv_tmp" "$KV"
echo "kubevalidate built into .bin/"
