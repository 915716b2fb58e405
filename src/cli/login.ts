/**
 * `webex-token login`: a device authorization, the instructions for the approving admin,
 * waiting (cancelling the request when this run gives up), and the tokens.
 */
import qrcode from 'qrcode-terminal';
import type { LoginOptions } from './args';
import { type Ctx, connect, emit, jobIdToken } from './context';
import { cancelDeviceAuthorization, pollForTokens, startDeviceAuthorization } from './device';
import { CliError, EXIT, Interrupted, UsageError } from './errors';
import { clean } from './http';
import { type TokenResponse, checkOutputWritable } from './output';
import { WaitStatus, wordsDuration } from './status';
import { subjectTokenParams } from './tokens';

function renderQr(text: string): string {
  let out = '';
  qrcode.generate(text, { small: true }, (qr) => {
    out = qr;
  });
  return out;
}

function localTime(ms: number): string {
  const d = new Date(ms);
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}

export async function login(options: LoginOptions, ctx: Ctx): Promise<number> {
  const { deps } = ctx;
  if (options.output !== undefined && options.output !== '-') {
    await checkOutputWritable(options.output);
  }
  const meta = await connect(options.server, ctx, options.quiet);
  if (options.scopes.length === 0 && meta.scopesMode === 'dynamic') {
    const example = meta.scopesSupported.includes('spark:people_read')
      ? 'spark:people_read'
      : (meta.scopesSupported[0] ?? 'spark:people_read');
    throw new UsageError(
      `no scope given, and ${options.server} issues only the scopes a request names: add --scope "${example}" (several: --scope "a b"), or set WEBEX_TOKEN_SCOPE. The scopes it offers are listed on ${options.server}/`,
      { showUsage: false },
    );
  }
  // With --oidc the ID token is read only now, after every check that could stop the run.
  const idToken = options.oidc !== undefined ? await jobIdToken(options.oidc, ctx) : undefined;
  const auth = await startDeviceAuthorization(
    meta,
    options,
    options.scopes,
    deps,
    idToken !== undefined ? subjectTokenParams(idToken) : {},
  );
  const deadline =
    options.timeoutSeconds !== undefined
      ? deps.clock.now() + options.timeoutSeconds * 1000
      : undefined;
  const stopAt = Math.min(auth.expiresAt, deadline ?? Infinity);
  const complete = auth.verificationUriComplete;

  if (options.quiet) {
    // One line, but still the link with the code filled in: the quickest way for the admin.
    const orOpen = complete !== undefined ? `, or open ${complete}` : '';
    ctx.say(
      `Approve at ${auth.verificationUri} with code ${auth.userCode}${orOpen} (expires in ${wordsDuration(auth.expiresIn * 1000)})`,
    );
  } else {
    const scopes = options.scopes.length > 0 ? options.scopes.join(' ') : "the server's default";
    const lines = [
      '',
      `A Webex admin must approve this request (client ${options.clientId}, scopes: ${scopes}).`,
      ...(options.oidc !== undefined
        ? [
            `It carries this job's ${options.oidc.provider === 'github' ? 'GitHub' : 'GitLab'} ID token: the admin sees the verified repository and branch, and approving binds the grant to this job for "webex-token token --oidc ${options.oidc.provider}".`,
          ]
        : []),
      '',
      `  Open:  ${auth.verificationUri}`,
      `  Code:  ${auth.userCode}`,
      '',
    ];
    if (complete !== undefined) lines.push(`  or open ${complete} (the code is filled in)`, '');
    ctx.say(lines.join('\n'));
    if (ctx.tty && options.qr && complete !== undefined) {
      ctx.io.stderr.write(`${renderQr(complete)}\n`);
    }
    const limit =
      deadline !== undefined && deadline < auth.expiresAt
        ? `; giving up in ${wordsDuration(deadline - deps.clock.now())} (--timeout)`
        : '';
    ctx.say(
      `The code expires in ${wordsDuration(auth.expiresIn * 1000)}, at ${localTime(auth.expiresAt)}${limit}.`,
    );
  }

  const status = new WaitStatus(ctx.io.stderr, {
    live: ctx.tty,
    quiet: options.quiet,
    now: () => deps.clock.now(),
    stopAt,
  });
  status.start();
  let result: Awaited<ReturnType<typeof pollForTokens>>;
  try {
    result = await pollForTokens(
      meta,
      auth,
      {
        clientId: options.clientId,
        clientSecret: options.clientSecret,
        deadline,
        deadlineLabel: `--timeout ${options.timeoutSeconds ?? ''}`.trim(),
      },
      deps,
      {
        onSlowDown: (s) => {
          if (!options.quiet)
            status.note(`webex-token: server asked to slow down; polling every ${s} s`);
        },
        onRetry: (message, attempt) =>
          status.note(`webex-token: ${message}; retrying (${attempt})`),
      },
    );
  } catch (err) {
    status.stop();
    if (gaveUp(err, deadline !== undefined && deadline < auth.expiresAt)) {
      const problem = await cancelDeviceAuthorization(meta, auth, options, deps);
      ctx.say(
        problem === undefined
          ? `webex-token: cancelled the request on the server; the code ${auth.userCode} can no longer be approved`
          : `webex-token: could not cancel the request (${problem}); the code ${auth.userCode} can still be approved until ${localTime(auth.expiresAt)}, but the tokens would reach no one`,
      );
    }
    throw err;
  } finally {
    status.stop();
  }
  const { tokens, approvedBy } = splitApprover(result.tokens);
  // --quiet keeps stderr to the one "Approve at" line (and errors).
  if (approvedBy && !options.quiet) ctx.say(`webex-token: approved by ${approvedBy}`);
  await emit(options, tokens, result.receivedAt, ctx, 'approved');
  return EXIT.ok;
}

/**
 * This run stops waiting on its own (Ctrl-C, SIGTERM, --timeout, the server unreachable): the
 * handoff is cancelled so nobody approves a request whose tokens would reach no one.
 */
function gaveUp(err: unknown, timeoutBeforeExpiry: boolean): boolean {
  if (err instanceof Interrupted) return true;
  if (!(err instanceof CliError)) return false;
  return err.exitCode === EXIT.server || (err.exitCode === EXIT.expired && timeoutBeforeExpiry);
}

/**
 * The service names who approved in its `webex_scoped_tokens.approved_by` extension of the
 * token response: shown on stderr, kept out of the token output.
 */
function splitApprover(response: TokenResponse): {
  tokens: TokenResponse;
  approvedBy: string | undefined;
} {
  const { webex_scoped_tokens: ext, ...tokens } = response;
  const by =
    typeof ext === 'object' && ext !== null
      ? (ext as { approved_by?: { name?: unknown; email?: unknown } }).approved_by
      : undefined;
  const name = typeof by?.name === 'string' && by.name !== '' ? clean(by.name, 100) : undefined;
  const email = typeof by?.email === 'string' && by.email !== '' ? clean(by.email, 200) : undefined;
  const approvedBy =
    name && email ? `${name} <${email}>` : (name ?? (email ? `<${email}>` : undefined));
  return { tokens: tokens as TokenResponse, approvedBy };
}
