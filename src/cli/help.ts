/**
 * The help texts of `webex-token` (printed to stdout by --help) and the usage lines printed
 * after an argument error. docs/cli.md says the same at more length.
 */
import type { HelpTopic } from './args';

export const USAGE = `Usage:
  webex-token login   --server URL [--scope "a b"] [--oidc github|gitlab] [options]
  webex-token token   --server URL --oidc github|gitlab [--scope "a b"] [options]
  webex-token refresh --server URL [--refresh-token TOKEN] [options]
  webex-token revoke  --server URL [--refresh-token TOKEN] [options]
  webex-token --help | --version

Run "webex-token COMMAND --help" (login, token, refresh, revoke) for the options.`;

const COMMON_HELP = `  -s, --server URL          the webex-scoped-tokens service            WEBEX_TOKEN_SERVER
      --client-id ID        device-flow client id (default: cli)       WEBEX_TOKEN_CLIENT_ID
      --client-secret S     secret of a confidential client            WEBEX_TOKEN_CLIENT_SECRET
  -f, --format F            json | env | token (default: json)         WEBEX_TOKEN_FORMAT
  -o, --output FILE         write tokens to FILE (mode 0600, replaced) WEBEX_TOKEN_OUTPUT
                            instead of stdout
  -q, --quiet               less chatter on stderr                     WEBEX_TOKEN_QUIET
  -h, --help                this help`;

const OIDC_HELP = `      --oidc PROVIDER       github | gitlab: the CI job's OIDC ID token
                            proves which repository and branch it is   WEBEX_TOKEN_OIDC
      --audience AUD        the ID token's audience (default: the
                            server URL, the service's default)         WEBEX_TOKEN_AUDIENCE
      --id-token-variable V GitLab: the id_tokens variable holding the
                            ID token (default: WEBEX_TOKEN_ID_TOKEN)   WEBEX_TOKEN_ID_TOKEN_VARIABLE`;

const EXIT_HELP = `Exit codes: 0 ok, 2 usage or configuration, 3 denied, 4 expired or timed out,
5 server or network error, 130 interrupted (Ctrl-C), 143 stopped (SIGTERM).
When it stops waiting (--timeout, Ctrl-C, SIGTERM) it cancels its request on the server,
so the code can no longer be approved.`;

export const HELP: Record<HelpTopic, string> = {
  main: `webex-token: get Webex tokens from a webex-scoped-tokens service, without a browser
on this machine. A Webex admin approves the request elsewhere; the tokens arrive here.

${USAGE.split('\n\nRun')[0]}

Commands:
  login     ask for tokens; prints a URL and a code for an admin to approve
  token     CI jobs (workload identity): trade the job's OIDC ID token for an access
            token, after an admin approved "login --oidc" for this job once
  refresh   trade a refresh token for fresh tokens (no client secret needed)
  revoke    revoke a refresh token: nobody can refresh with it (or its successors) again

Only the tokens go to stdout; everything else goes to stderr.
${EXIT_HELP}
`,
  login: `Usage: webex-token login --server URL [options]

Starts an OAuth device authorization on the server, shows a Webex admin where to approve
it (URL, code, QR code on a terminal), waits, and prints the tokens.

Options:                                                               env
${COMMON_HELP}
      --scope "a b"         scopes to ask for, space- or comma-separated;
                            repeatable                                 WEBEX_TOKEN_SCOPE
                            Default: none. A server in dynamic mode
                            (the usual) needs at least one and issues
                            exactly those; one in static mode grants
                            its fixed scopes, so --scope can be left
                            out. The server's home page lists them.
      --timeout SECONDS     stop waiting after this long (exit 4);
                            also 90s, 10m, 1h (default: until the
                            code expires)                              WEBEX_TOKEN_TIMEOUT
      --no-qr               never draw the QR code                     WEBEX_TOKEN_NO_QR=1
${OIDC_HELP}
                            With --oidc the request carries the ID token:
                            the admin sees the verified repository and
                            branch, and approving binds the grant to
                            them, for "webex-token token" to use.

Example:
  eval "$(webex-token login -s https://tokens.example.com --scope spark:people_read --format env)"

${EXIT_HELP}
`,
  token: `Usage: webex-token token --server URL --oidc github|gitlab [options]

Workload identity (RFC 8693 token exchange): trades this CI job's OIDC ID token for the
Webex access token of the grant an admin bound to the job with "webex-token login --oidc".
No admin, no stored secret. The ID token comes from the job itself: on GitHub Actions from
ACTIONS_ID_TOKEN_REQUEST_URL/TOKEN (needs "permissions: id-token: write"), on GitLab CI
from the id_tokens variable. No refresh token is issued: run it again for a fresh token.

Options:                                                               env
${COMMON_HELP}
${OIDC_HELP}
      --scope "a b"         narrow the token to these of the grant's
                            scopes (default: all of them)              WEBEX_TOKEN_SCOPE

Example (a GitHub Actions job: the exchange, or on its first run an approval):
  webex-token token -s URL --oidc github -o t.json || { rc=$?; [ "$rc" -eq 4 ] || exit "$rc"
    webex-token login -s URL --oidc github --scope spark:people_read -o t.json; }

Exit codes: 0 ok, 2 usage or configuration (no ID token in this job, an audience or scope
the service refuses), 4 no grant is bound to this job (or its ID token was refused): run
"webex-token login --oidc" once and have an admin approve it, 5 server or network error
(retried with a fresh ID token on GitHub), 130 interrupted, 143 stopped (SIGTERM).
`,
  refresh: `Usage: webex-token refresh --server URL [--refresh-token TOKEN] [options]

Trades a refresh token for a fresh access token through the service. The refresh token
comes from --refresh-token, else WEBEX_REFRESH_TOKEN, else stdin (a bare token, or the
json or env output of an earlier login/refresh). "--refresh-token -" forces stdin.

The service may rotate refresh tokens: each refresh then answers a new one and the one used
stops working (presenting it again revokes the tokens). Keep the new one: use --format json
or env, with --output FILE to replace the old file.

Options:                                                               env
${COMMON_HELP}
      --refresh-token T     the refresh token ("-" reads stdin)        WEBEX_REFRESH_TOKEN

Example:
  webex-token refresh -s https://tokens.example.com < tokens.json --output tokens.json

${EXIT_HELP}
`,
  revoke: `Usage: webex-token revoke --server URL [--refresh-token TOKEN] [options]

Revokes a refresh token at the service (RFC 7009): the service stops refreshing it, and the
tokens approved with it, for good. The refresh token is read as "refresh" reads it (flag,
WEBEX_REFRESH_TOKEN, or stdin). An access token already handed out stays valid at Webex until
it expires.

Options:                                                               env
  -s, --server URL          the webex-scoped-tokens service            WEBEX_TOKEN_SERVER
      --client-id ID        device-flow client id (default: cli)       WEBEX_TOKEN_CLIENT_ID
      --client-secret S     secret of a confidential client            WEBEX_TOKEN_CLIENT_SECRET
      --refresh-token T     the refresh token ("-" reads stdin)        WEBEX_REFRESH_TOKEN
  -q, --quiet               less chatter on stderr                     WEBEX_TOKEN_QUIET
  -h, --help                this help

Example:
  webex-token revoke -s https://tokens.example.com < tokens.json

Exit codes: 0 revoked (or already unknown to the server), 2 usage or configuration,
5 server or network error.
`,
};
