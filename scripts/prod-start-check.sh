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
(cd "$work" && NODE_ENV=production PORT="$port" HOST=127.0.0.1 \
  PUBLIC_URL="https://tokens.example.test" CLIENT_ID=ci-client-id CLIENT_SECRET=ci-client-secret \
  REDIS_URL="$REDIS_URL" REDIS_PREFIX="$prefix" TOKEN_ENCRYPTION_KEY="$(head -c 32 /dev/urandom | base64)" \
  exec "${image_cmd[@]}") >"$work/service.log" 2>&1 &
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
