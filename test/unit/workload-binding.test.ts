import assert from 'node:assert/strict';
import { describe, test } from '@jest/globals';
import {
  availableWidths,
  bindingFor,
  describeBinding,
  matchesBinding,
  parseSubject,
  type BindingWidth,
} from '../../src/workload/binding';

const ISS = 'https://token.actions.githubusercontent.com';
const AUD = 'https://tokens.example.com';
const GH_MAIN = 'repo:acme/deploy:ref:refs/heads/main';
const GL_MAIN = 'project_path:grp/proj:ref_type:branch:ref:main';

const job = (sub: string, over: Partial<{ issuer: string; audience: string }> = {}) => ({
  issuer: over.issuer ?? ISS,
  audience: over.audience ?? AUD,
  sub,
});

function bound(sub: string, width: BindingWidth) {
  return bindingFor(job(sub), width);
}

describe('workload subjects', () => {
  test('GitHub and GitLab subjects parse into repository and branch', () => {
    assert.deepEqual(parseSubject(GH_MAIN), {
      shape: 'github',
      repository: 'acme/deploy',
      branch: 'main',
    });
    assert.deepEqual(parseSubject('repo:acme/deploy:ref:refs/heads/feature/x-1'), {
      shape: 'github',
      repository: 'acme/deploy',
      branch: 'feature/x-1',
    });
    assert.deepEqual(parseSubject('repo:acme/deploy:pull_request'), {
      shape: 'github',
      repository: 'acme/deploy',
      branch: undefined,
    });
    assert.deepEqual(parseSubject('repo:acme/deploy:ref:refs/tags/v1'), {
      shape: 'github',
      repository: 'acme/deploy',
      branch: undefined,
    });
    assert.deepEqual(parseSubject(GL_MAIN), {
      shape: 'gitlab',
      repository: 'grp/proj',
      branch: 'main',
    });
    assert.deepEqual(parseSubject('project_path:a/b/c:ref_type:tag:ref:v2'), {
      shape: 'gitlab',
      repository: 'a/b/c',
      branch: undefined,
    });
  });

  test('anything else is not a known shape and cannot be widened', () => {
    for (const sub of [
      'custom-subject',
      'repo:acme:ref:refs/heads/main',
      'repo:acme/deploy/extra:ref:refs/heads/main',
      'project_path:proj:ref_type:branch:ref:main',
      'project_path:g/p:ref_type:weird:ref:main',
      'project_path:g/p:ref_type:branch:ref:a:b',
    ]) {
      assert.equal(parseSubject(sub), null, sub);
      assert.deepEqual(availableWidths(sub), ['subject'], sub);
    }
    assert.throws(() => bindingFor(job('custom-subject'), 'repository'), /not available/);
  });
});

describe('workload bindings', () => {
  test('the default binding matches only the exact subject, issuer and audience', () => {
    const b = bindingFor(job(GH_MAIN));
    assert.equal(b.width, 'subject');
    assert.equal(matchesBinding(b, job(GH_MAIN)), true);
    assert.equal(matchesBinding(b, job('repo:acme/deploy:ref:refs/heads/dev')), false);
    assert.equal(matchesBinding(b, job('repo:acme/other:ref:refs/heads/main')), false);
    assert.equal(matchesBinding(b, job('repo:acme/deploy:ref:refs/heads/main2')), false);
    assert.equal(matchesBinding(b, job(GH_MAIN, { issuer: 'https://gitlab.com' })), false);
    assert.equal(matchesBinding(b, job(GH_MAIN, { audience: 'https://other.example' })), false);
  });

  test('GitHub, any branch: other branches of the repository match; tags, PRs and other repositories do not', () => {
    const b = bound(GH_MAIN, 'any_branch');
    assert.equal(matchesBinding(b, job('repo:acme/deploy:ref:refs/heads/dev')), true);
    assert.equal(matchesBinding(b, job('repo:acme/deploy:ref:refs/heads/feat/a')), true);
    assert.equal(matchesBinding(b, job('repo:acme/deploy:ref:refs/tags/v1')), false);
    assert.equal(matchesBinding(b, job('repo:acme/deploy:pull_request')), false);
    assert.equal(matchesBinding(b, job('repo:acme/deploy:environment:prod')), false);
    assert.equal(matchesBinding(b, job('repo:acme/deploy-x:ref:refs/heads/main')), false);
    assert.equal(matchesBinding(b, job('repo:acme/deplo:ref:refs/heads/main')), false);
    assert.equal(matchesBinding(b, job('repo:evil/deploy:ref:refs/heads/main')), false);
    assert.equal(
      matchesBinding(b, job('project_path:acme/deploy:ref_type:branch:ref:main')),
      false,
      'a GitLab project of the same path is another repository',
    );
    assert.equal(
      matchesBinding(b, job('repo:acme/deploy:ref:refs/heads/dev', { issuer: 'https://x' })),
      false,
    );
  });

  test('GitHub, whole repository: every job of the repository matches, no other repository', () => {
    const b = bound(GH_MAIN, 'repository');
    for (const sub of [
      'repo:acme/deploy:ref:refs/heads/dev',
      'repo:acme/deploy:ref:refs/tags/v1',
      'repo:acme/deploy:pull_request',
      'repo:acme/deploy:environment:prod',
    ]) {
      assert.equal(matchesBinding(b, job(sub)), true, sub);
    }
    assert.equal(matchesBinding(b, job('repo:acme/deploy2:ref:refs/heads/main')), false);
    assert.equal(matchesBinding(b, job('repo:acme/deploy')), false);
  });

  test('GitLab, any branch and whole repository', () => {
    const anyBranch = bound(GL_MAIN, 'any_branch');
    assert.equal(
      matchesBinding(anyBranch, job('project_path:grp/proj:ref_type:branch:ref:dev')),
      true,
    );
    assert.equal(
      matchesBinding(anyBranch, job('project_path:grp/proj:ref_type:tag:ref:v1')),
      false,
    );
    assert.equal(
      matchesBinding(anyBranch, job('project_path:grp/proj/sub:ref_type:branch:ref:main')),
      false,
      'a subproject is another repository',
    );
    assert.equal(
      matchesBinding(anyBranch, job('project_path:grp/proj2:ref_type:branch:ref:main')),
      false,
    );
    const whole = bound(GL_MAIN, 'repository');
    assert.equal(matchesBinding(whole, job('project_path:grp/proj:ref_type:tag:ref:v1')), true);
    assert.equal(matchesBinding(whole, job('project_path:grp/x:ref_type:tag:ref:v1')), false);
  });

  test('the page sentence spells out what each width lets through', () => {
    assert.match(describeBinding(bound(GH_MAIN, 'subject')), /exactly repo:acme\/deploy/);
    assert.match(describeBinding(bound(GH_MAIN, 'any_branch')), /any branch of acme\/deploy/);
    assert.match(describeBinding(bound(GL_MAIN, 'repository')), /pull requests/);
  });
});
