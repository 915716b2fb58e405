#!/usr/bin/env bash
# Helm chart CI: build the pinned helm CLI and the offline validator into .bin/,
# lint and render the chart for the default values and every ci/*-values.yaml
# case, validate each rendering strictly against the Kubernetes API types, and
# prove that the checks really reject bad input.
#
#   bash scripts/ci-helm.sh           # from anywhere inside the repository
#
# Needs Go (modules come through the Go module proxy). No cluster, no Docker.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$ROOT/.bin"
CHART="$ROOT/helm/webex-scoped-tokens"
HELM="$BIN/helm"
KV="$BIN/kubevalidate"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

pass() { printf 'PASS %s\n' "$*"; }
fail() {
  printf 'FAIL %s\n' "$*" >&2
  exit 1
}

# --- tools ------------------------------------------------------------------
# The same pinned, cached build the chart tests use.
bash "$ROOT/scripts/build-tools.sh"
"$HELM" version --short
(cd "$ROOT/tools/kubevalidate" && PATH="/usr/local/go/bin:$PATH" go test ./...)
pass "kubevalidate built and its own tests pass"

# --- values for the default case ----------------------------------------------
# The chart needs the Webex credentials, a host with TLS and the allowed org; a
# fixed key and Redis password keep the rendering reproducible (otherwise they are generated).
DEFAULT_SET=(
  --set webex.clientId=ci-client-id
  --set webex.clientSecret=ci-client-secret
  --set 'ingress.hosts[0].host=tokens.example.com'
  --set 'ingress.tls[0].secretName=tokens-tls'
  --set 'ingress.tls[0].hosts[0]=tokens.example.com'
  --set config.allowedOrgIds=6f5d3c2b-1a09-4e8f-9d7c-6b5a4f3e2d1c
  --set-string 'config.allowedScopes=spark-admin:people_read spark:people_read'
)

# --- lint ---------------------------------------------------------------------
"$HELM" lint --strict "$CHART" "${DEFAULT_SET[@]}" >"$WORK/lint.log" 2>&1 || {
  cat "$WORK/lint.log"
  fail "helm lint --strict (default values)"
}
pass "helm lint --strict (default values + required --set)"

shopt -s nullglob
cases=("$CHART"/ci/*-values.yaml)
((${#cases[@]} > 0)) || fail "no ci/*-values.yaml cases in $CHART/ci"
for values in "${cases[@]}"; do
  name="$(basename "$values")"
  "$HELM" lint --strict "$CHART" -f "$values" >"$WORK/lint.log" 2>&1 || {
    cat "$WORK/lint.log"
    fail "helm lint --strict ($name)"
  }
  pass "helm lint --strict ($name)"
done

# --- render + strict offline validation -----------------------------------------
render_and_validate() {
  local label="$1"
  shift
  "$HELM" template wst "$CHART" --namespace tokens "$@" >"$WORK/rendered.yaml" ||
    fail "helm template ($label)"
  "$KV" "$WORK/rendered.yaml" || fail "kubevalidate ($label)"
  pass "helm template + kubevalidate ($label)"
}
render_and_validate "default values" "${DEFAULT_SET[@]}"
for values in "${cases[@]}"; do
  render_and_validate "$(basename "$values")" -f "$values"
done

# --- the checks must reject bad input -------------------------------------------
# 1. A Deployment with an unknown field must fail strict validation.
BROKEN="$ROOT/tools/kubevalidate/testdata/broken-deployment.yaml"
if "$KV" "$BROKEN" >"$WORK/broken.log" 2>&1; then
  cat "$WORK/broken.log"
  fail "kubevalidate accepted $BROKEN (unknown field spec.replicaz)"
fi
grep -q 'spec.replicaz' "$WORK/broken.log" || {
  cat "$WORK/broken.log"
  fail "kubevalidate rejected the broken Deployment without naming spec.replicaz"
}
pass "a Deployment with unknown field spec.replicaz is rejected: $(grep -m1 'replicaz' "$WORK/broken.log")"

# 2. The same for a real rendering with a typo injected into the pod spec.
"$HELM" template wst "$CHART" "${DEFAULT_SET[@]}" |
  sed 's/^      automountServiceAccountToken: false$/      automountServiceAccountTokn: false/' >"$WORK/typo.yaml"
grep -q automountServiceAccountTokn "$WORK/typo.yaml" || fail "could not inject the typo into the rendering"
if "$KV" "$WORK/typo.yaml" >"$WORK/typo.log" 2>&1; then
  fail "kubevalidate accepted a rendering with spec.template.spec.automountServiceAccountTokn"
fi
pass "a rendering with a misspelt pod field is rejected"

# 3. Bad values must fail: type and shape errors in the chart's JSON schema
#    (checked by lint, template and install alike), cross-field rules in the
#    templates (checked by template and install; helm lint only reports a
#    template `fail` as INFO).
bad_values_message() { grep -m1 -iE "$1" "$WORK/bad.log" | sed 's/^[[:space:]]*//' | cut -c1-160; }
expect_schema_rejected() {
  local label="$1" pattern="$2"
  shift 2
  if "$HELM" lint --strict "$CHART" "${DEFAULT_SET[@]}" "$@" >"$WORK/bad.log" 2>&1; then
    cat "$WORK/bad.log"
    fail "helm lint accepted bad values ($label)"
  fi
  if "$HELM" template wst "$CHART" "${DEFAULT_SET[@]}" "$@" >"$WORK/bad.log" 2>&1; then
    fail "helm template accepted bad values ($label)"
  fi
  grep -qiE "$pattern" "$WORK/bad.log" || {
    cat "$WORK/bad.log"
    fail "bad values ($label) failed without the expected message /$pattern/"
  }
  pass "schema rejects bad values at lint and template time ($label): $(bad_values_message "$pattern")"
}
expect_render_rejected() {
  local label="$1" pattern="$2"
  shift 2
  if "$HELM" template wst "$CHART" "${DEFAULT_SET[@]}" "$@" >"$WORK/bad.log" 2>&1; then
    fail "helm template accepted bad values ($label)"
  fi
  grep -qiE "$pattern" "$WORK/bad.log" || {
    cat "$WORK/bad.log"
    fail "bad values ($label) failed without the expected message /$pattern/"
  }
  pass "template rejects bad values ($label): $(bad_values_message "$pattern")"
}
expect_schema_rejected 'replicaCount: "two"' 'replicaCount' --set-string replicaCount=two
expect_schema_rejected 'unknown top-level key replicas' 'replicas' --set replicas=3
expect_schema_rejected 'config.logLevel: loud' 'logLevel' --set config.logLevel=loud
expect_schema_rejected 'encryptionKey not 32 bytes' 'encryptionKey' --set encryptionKey=c2hvcnQ=
expect_schema_rejected 'no Webex client secret' 'clientSecret' --set webex.clientSecret=
expect_schema_rejected 'no public URL (ingress off, no publicUrl)' 'ingress' --set ingress.enabled=false
expect_render_rejected 'two Redis sources' 'exactly one Redis' --set redis.url=redis://elsewhere:6379
expect_render_rejected 'grace period shorter than the drain' 'terminationGracePeriodSeconds' --set terminationGracePeriodSeconds=10
expect_render_rejected 'existingSecret plus inline credentials' 'existingSecret is set' --set existingSecret=mine
expect_render_rejected 'empty org allowlist' 'allowedOrgIds is empty' --set config.allowedOrgIds=
# No TLS: DEFAULT_SET without its two ingress.tls entries.
NO_TLS_SET=("${DEFAULT_SET[@]:0:6}" "${DEFAULT_SET[@]:10}")
if "$HELM" template wst "$CHART" "${NO_TLS_SET[@]}" >"$WORK/bad.log" 2>&1; then
  fail "helm template accepted an Ingress without TLS"
fi
grep -q 'Ingress has no TLS' "$WORK/bad.log" || { cat "$WORK/bad.log"; fail "no TLS refused without the expected message"; }
pass "template rejects an Ingress without TLS: $(bad_values_message 'Ingress has no TLS')"
"$HELM" template wst "$CHART" "${NO_TLS_SET[@]}" --set ingress.allowPlainHttp=true >/dev/null \
  || fail "ingress.allowPlainHttp=true should allow an Ingress without TLS"
pass "ingress.allowPlainHttp=true renders an Ingress without TLS on purpose"

echo "ci-helm: all chart checks passed"
