#!/usr/bin/env bash
# Proves the container image's runtime layout without a Docker engine: the built app plus
# production dependencies only, in a fresh folder, started as the Dockerfile's CMD starts it,
# must turn /readyz green against Redis and exit 0 on SIGTERM.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

: "${REDIS_URL:?REDIS_URL must point at a Redis for the production start check}"
{ [ -f dist/main.js ] && [ -f dist/cli-bundle/webex-token.js ]; } || npm run build

work=$(mktemp -d /tmp/wst-prod-XXXXXX)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
cp -r dist config bin package.json package-lock.json "$work/"
(cd "$work" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error)
[ ! -d "$work/node_modules/typescript" ] || { echo "FAIL: dev dependencies in the production install"; exit 1; }
[ ! -d "$work/node_modules/tsx" ] || { echo "FAIL: tsx in the production install"; exit 1; }

# The image's own CMD (exec form), so this proves what the container runs.
mapfile -t image_cmd < <(node -e "const m=require('fs').readFileSync('Dockerfile','utf8').match(/^CMD (\[.*\])$/m);for(const a of JSON.parse(m[1]))console.log(a)")
port=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
prefix="wst-prodcheck-$$-$RANDOM:"
start_ms=$(date +%s%3N)
metrics_port=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
key="$(head -c 32 /dev/urandom | base64)"
prod_env=(NODE_ENV=production PORT="$port" HOST=127.0.0.1 METRICS_PORT="$metrics_port"
  PUBLIC_URL="https://tokens.example.test" CLIENT_ID=ci-client-id CLIENT_SECRET=ci-client-secret
  ALLOWED_ORG_IDS=6f5d3c2b-1a09-4e8f-9d7c-6b5a4f3e2d1c
  ALLOWED_SCOPES="spark-admin:people_read spark:people_read" REDIS_URL="$REDIS_URL" REDIS_PREFIX="$prefix" TOKEN_ENCRYPTION_KEY="$key")

# Production refuses what would let strangers in, with exit code 2 and a line saying what to do.
refuses() {
  local expect=$1; shift
  local out code=0
  out=$(cd "$work" && env "${prod_env[@]}" "$@" timeout 20 "${image_cmd[@]}" 2>&1) || code=$?
  if [ "$code" -ne 2 ] || ! grep -q "$expect" <<<"$out"; then
    echo "FAIL: NODE_ENV=production $* should refuse to start (exit 2, \"$expect\"); got exit $code: $out"
    exit 1
  fi
  echo "PASS: production refuses $*"
}
refuses "SANDBOX=true is refused" SANDBOX=true
refuses "ALLOW_ANY_ORG=true" ALLOWED_ORG_IDS=
refuses "METRICS_PORT must be set" METRICS_PORT=0

(cd "$work" && exec env "${prod_env[@]}" "${image_cmd[@]}") >"$work/service.log" 2>&1 &
pid=$!

ready=""
for _ in $(seq 1 100); do
  if curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then ready=yes; break; fi
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$ready" ]; then
  echo "FAIL: /readyz never turned green"; cat "$work/service.log"; exit 1
fi
echo "PASS: production layout ready in $(( $(date +%s%3N) - start_ms )) ms"
curl -fsS "http://127.0.0.1:$port/healthz" | grep -q '"ok"' && echo "PASS: /healthz"
curl -fsS "http://127.0.0.1:$port/.well-known/oauth-authorization-server" | grep -q '"issuer":"https://tokens.example.test"' && echo "PASS: metadata issuer"
head -n 1 "$work/service.log" | grep -q '^{' && echo "PASS: JSON logs in production"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/metrics")" = 404 ] \
  || { echo "FAIL: /metrics answered on the public port"; exit 1; }
echo "PASS: no /metrics on the public port"
metrics_text=$(curl -fsS "http://127.0.0.1:$metrics_port/metrics") || metrics_text=""
grep -q '^# HELP wst_' <<<"$metrics_text" || { echo "FAIL: no metrics on METRICS_PORT"; exit 1; }
echo "PASS: /metrics on METRICS_PORT"
# The one-file CLI: served as built, its checksum in the metadata; the packaged CLI runs without tsx.
curl -fsS -o "$work/cli.js" "http://127.0.0.1:$port/cli/webex-token.js"
want=$(curl -fsS "http://127.0.0.1:$port/.well-known/oauth-authorization-server" | node -e "let s='';process.stdin.on('data',(c)=>s+=c).on('end',()=>console.log(JSON.parse(s).webex_scoped_tokens.cli_sha256))")
[ "$(sha256sum "$work/cli.js" | cut -d' ' -f1)" = "$want" ] || { echo "FAIL: /cli/webex-token.js does not match cli_sha256"; exit 1; }
echo "PASS: /cli/webex-token.js matches cli_sha256"
(cd "$work" && node bin/webex-token.js --version >/dev/null) && echo "PASS: bin/webex-token.js runs from the production install"

kill -TERM "$pid"
code=0; wait "$pid" || code=$?
[ "$code" -eq 0 ] || { echo "FAIL: exit code $code after SIGTERM"; cat "$work/service.log"; exit 1; }
echo "PASS: exit 0 after SIGTERM"
redis-cli -u "$REDIS_URL" --scan --pattern "${prefix}*" 2>/dev/null | xargs -r redis-cli -u "$REDIS_URL" del >/dev/null 2>&1 || true
