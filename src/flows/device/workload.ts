/**
 * A device authorization that carries a CI job's OIDC ID token (`subject_token`, RFC 8693's
 * parameter names): verified before the handoff exists, never downgraded to an unverified
 * request; approving binds the grant to the job (workload/binding.ts).
 */
import { HttpError, WorkloadTokenError, invalidRequest } from '../../errors';
import {
  type BindingWidth,
  BINDING_WIDTHS,
  availableWidths,
  bindingFor,
  describeBinding,
  parseSubject,
} from '../../workload/binding';
import type { FlowDeps } from '../context';
import type { HandoffWorkload } from './handoff';

export const JWT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:jwt';

export interface SubjectTokenParams {
  subjectToken: string | undefined;
  subjectTokenType: string | undefined;
}

/**
 * The verified job behind a device authorization, or null when it carried no subject token.
 * Consumes the token's `jti`: the same ID token cannot ask twice.
 */
export async function verifyRequesterWorkload(
  deps: FlowDeps,
  params: SubjectTokenParams,
): Promise<HandoffWorkload | null> {
  const { subjectToken, subjectTokenType } = params;
  if (subjectToken === undefined && subjectTokenType === undefined) return null;
  if (!deps.workload.enabled) {
    throw invalidRequest(
      'This service does not accept CI identities (no WORKLOAD_ISSUERS are configured), so subject_token cannot be used. Leave it out to ask for an ordinary approval, or ask the operators to trust your CI system.',
    );
  }
  if (!subjectToken) {
    throw invalidRequest(
      `subject_token is missing: send the CI job's OIDC ID token with subject_token_type=${JWT_TOKEN_TYPE}.`,
    );
  }
  if (subjectTokenType !== JWT_TOKEN_TYPE) {
    throw invalidRequest(
      `subject_token_type must be ${JWT_TOKEN_TYPE} (the CI job's OIDC ID token).`,
    );
  }
  try {
    const verified = await deps.workload.verify(subjectToken);
    return {
      issuerName: verified.issuerName,
      issuer: verified.issuer,
      audience: verified.audience,
      sub: verified.sub,
      facts: verified.facts,
    };
  } catch (err) {
    if (err instanceof WorkloadTokenError) {
      deps.logger.info(
        {
          event: 'workload_token_refused',
          at: 'device_authorization',
          reason: err.reason,
          issuer: err.issuerName ?? null,
        },
        'a device authorization carried a CI ID token that did not verify; refused',
      );
    }
    throw err;
  }
}

/** The job as audit lines name it: issuer, repository, branch or ref, run. Never the token. */
export function jobOf(workload: HandoffWorkload): Record<string, string | null> {
  const { facts } = workload;
  return {
    issuer: workload.issuerName,
    sub: workload.sub,
    repository: facts.repository ?? facts.project_path ?? null,
    ref: facts.ref ?? null,
    run: facts.run_id ?? facts.pipeline_id ?? null,
  };
}

/** One choice of the approval page's binding question, with its consequence in words. */
export interface WidthChoice {
  width: BindingWidth;
  label: string;
  consequence: string;
  default: boolean;
}

export function widthChoices(workload: HandoffWorkload): WidthChoice[] {
  const parsed = parseSubject(workload.sub);
  const label: Record<BindingWidth, string> = {
    subject: parsed?.branch
      ? `This branch only: ${parsed.branch} of ${parsed.repository}`
      : 'Only jobs with exactly this subject',
    any_branch: `Any branch of ${parsed?.repository ?? workload.sub}`,
    repository: `The whole repository ${parsed?.repository ?? workload.sub}`,
  };
  return availableWidths(workload.sub).map((width) => ({
    width,
    label: label[width],
    consequence: describeBinding(bindingFor(workload, width)),
    default: width === 'subject',
  }));
}

/**
 * The width an Approve form asked for, checked against what this job's subject allows. A
 * request without a verified job takes no width at all.
 */
export function chosenWidth(
  workload: HandoffWorkload | undefined,
  raw: string | undefined,
): BindingWidth | undefined {
  if (!workload) {
    if (raw === undefined || raw === '') return undefined;
    throw widthRefused('This request has no verified CI job, so it cannot be bound to one.');
  }
  const width = (raw === undefined || raw === '' ? 'subject' : raw) as BindingWidth;
  if (!BINDING_WIDTHS.includes(width) || !availableWidths(workload.sub).includes(width)) {
    throw widthRefused('The binding chosen on the form is not one this CI job can be given.');
  }
  return width;
}

function widthRefused(message: string): HttpError {
  return new HttpError(400, 'invalid_request', message, {
    title: 'Binding not accepted',
    hint: 'Go back to the approval page, reload it, and pick one of the choices it offers.',
  });
}
