#!/usr/bin/env bash
# The GitHub Action's work (action.yml runs this): fetch the webex-token CLI from the service,
# check it against the SHA-256 the service publishes, trade the job's OIDC ID token for a Webex
# access token, mask it, and hand it to later steps. Inputs arrive as INPUT_* variables.
#
#   mode auto (default): `webex-token token --oidc github` (the exchange); when no grant is
#   bound to this job yet (exit 4, invalid_grant), `webex-token login --oidc github`: the
#   first run waits for an admin's approval, which binds the grant to this repository/branch.
set -euo pipefail

fail() {
  echo "::error title=webex-token::$1"
  exit "${2:-2}"
}

server="${INPUT_SERVER:-}"
server="${server%/}"
[ -n "$server" ] || fail 'the "server" input is required (the base URL of the webex-scoped-tokens service)'
loopback='^http://(127\.0\.0\.1|localhost|\[::1\])(:[0-9]+)?(/|$)'
[[ "$server" == https://* || "$server" =~ $loopback ]] ||
  fail "the server must be an https:// URL (got $server)"
mode="${INPUT_MODE:-auto}"
case "$mode" in auto | token | login) ;; *) fail "mode must be auto, token or login (got $mode)" ;; esac
format="${INPUT_FORMAT:-env}"
case "$format" in env | token | json) ;; *) fail "format must be env, token or json (got $format)" ;; esac

command -v node >/dev/null || fail 'Node.js 20 or later is needed on the runner (set the node-version input, or add actions/setup-node before this step)'

work="$(mktemp -d "${RUNNER_TEMP:-/tmp}/webex-token.XXXXXX")"
chmod 700 "$work"
trap 'rm -rf "$work"' EXIT
out="$work/tokens.json"

sha256() {
  node -e 'process.stdout.write(require("crypto").createHash("sha256").update(require("fs").readFileSync(process.argv[1])).digest("hex"))' "$1"
}

# The one-file CLI, from the service itself; WEBEX_TOKEN_CLI points at a local copy instead.
cli="${WEBEX_TOKEN_CLI:-}"
if [ -z "$cli" ]; then
  cli="$work/webex-token.js"
  curl -fsS --max-time 60 -o "$cli" "$server/cli/webex-token.js" ||
    fail "could not download $server/cli/webex-token.js; is the server input right and reachable from the runner?" 5
  expected="$(curl -fsS --max-time 30 "$server/.well-known/oauth-authorization-server" |
    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{const m=JSON.parse(s);process.stdout.write(String((m.webex_scoped_tokens||{}).cli_sha256||""))}catch{}})')" ||
    fail "could not read $server/.well-known/oauth-authorization-server" 5
  [ -n "$expected" ] || fail "$server does not publish cli_sha256 in its metadata; is it a webex-scoped-tokens service?" 5
  actual="$(sha256 "$cli")"
  [ "$actual" = "$expected" ] ||
    fail "the downloaded CLI does not match the SHA-256 the service publishes (got $actual, expected $expected); retry, and tell the operators if it persists" 5
fi

# Settings go through the CLI's environment variables, flags stay few.
export WEBEX_TOKEN_SERVER="$server"
export WEBEX_TOKEN_AUDIENCE="${INPUT_AUDIENCE:-$server}"
[ -z "${INPUT_SCOPE:-}" ] || export WEBEX_TOKEN_SCOPE="$INPUT_SCOPE"
[ -z "${INPUT_CLIENT_ID:-}" ] || export WEBEX_TOKEN_CLIENT_ID="$INPUT_CLIENT_ID"
[ -z "${INPUT_TIMEOUT:-}" ] || export WEBEX_TOKEN_TIMEOUT="$INPUT_TIMEOUT"
export WEBEX_TOKEN_NO_QR=1

run() {
  node "$cli" "$1" --oidc github --format json --output "$out"
}

case "$mode" in
  token | login) run "$mode" ;;
  auto)
    rc=0
    run token || rc=$?
    if [ "$rc" -eq 4 ]; then
      echo "No grant is bound to this job yet (first run): asking an admin to approve; open the URL below."
      run login
    elif [ "$rc" -ne 0 ]; then
      exit "$rc"
    fi
    ;;
esac

# Mask first, before any value can reach the log; the refresh token of a first run is masked
# and dropped: later runs exchange a fresh ID token instead.
FORMAT="$format" OUT="$out" node -e '
const fs = require("fs");
const t = JSON.parse(fs.readFileSync(process.env.OUT, "utf8"));
for (const k of ["access_token", "refresh_token"]) if (t[k]) console.log("::add-mask::" + t[k]);
const append = (file, lines) => { if (file) fs.appendFileSync(file, lines.map((l) => l + "\n").join("")); };
const outputs = [`access-token=${t.access_token}`];
if (t.expires_in !== undefined) outputs.push(`expires-in=${t.expires_in}`);
if (t.expires_at) outputs.push(`expires-at=${t.expires_at}`);
if (t.scope) outputs.push(`scope=${t.scope}`);
if (process.env.FORMAT === "json") {
  const { refresh_token, refresh_token_expires_in, refresh_token_expires_at, ...rest } = t;
  const delim = "WEBEX_TOKEN_JSON_" + require("crypto").randomBytes(8).toString("hex");
  outputs.push(`json<<${delim}`, JSON.stringify(rest), delim);
}
append(process.env.GITHUB_OUTPUT, outputs);
if (process.env.FORMAT === "env") {
  const env = [`WEBEX_ACCESS_TOKEN=${t.access_token}`];
  if (t.expires_at) env.push(`WEBEX_ACCESS_TOKEN_EXPIRES_AT=${t.expires_at}`);
  append(process.env.GITHUB_ENV, env);
}
console.log(`Webex access token ready${t.expires_at ? `, valid until ${t.expires_at}` : ""}${t.scope ? ` (scopes: ${t.scope})` : ""}.`);
'
