/**
 * Helm chart tests: render helm/webex-scoped-tokens with the pinned helm in .bin/ and check
 * what the cluster would run against what the app really understands.
 *
 * Needs .bin/helm and .bin/kubevalidate: the chart project's globalSetup
 * (test/jest/chart-tools.ts) and the `beforeAll` hook here run scripts/build-tools.sh, which
 * builds both with Go (pinned; cached in .bin/, so only a first run on a cold Go cache is slow).
 * Run: npm test -- --selectProjects chart
 */
import { beforeAll, test } from '@jest/globals';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import Koa from 'koa';
import { configEnvNames, loadConfig } from '../../src/config';
import { healthRouter } from '../../src/routes/health';
import type { Store } from '../../src/store/store';

const ROOT = path.resolve(__dirname, '..', '..');
const CHART = path.join(ROOT, 'helm', 'webex-scoped-tokens');
const HELM = path.join(ROOT, '.bin', 'helm');
const KUBEVALIDATE = path.join(ROOT, '.bin', 'kubevalidate');

// Fixed secrets keep renderings reproducible (otherwise the chart generates them).
const KEY_A = Buffer.alloc(32, 1).toString('base64');
const KEY_B = Buffer.alloc(32, 2).toString('base64');
const BASE = [
  '--set',
  'webex.clientId=test-client-id',
  '--set',
  'webex.clientSecret=test-client-secret',
  '--set',
  'ingress.hosts[0].host=tokens.example.com',
  // Dynamic mode needs the integration's ticked scopes in production.
  '--set',
  'config.allowedScopes=spark-admin:people_read spark:people_read',
  '--set',
  'ingress.tls[0].secretName=tokens-tls',
  '--set',
  'ingress.tls[0].hosts[0]=tokens.example.com',
  '--set',
  'config.allowedOrgIds=6f5d3c2b-1a09-4e8f-9d7c-6b5a4f3e2d1c',
];
/** What every install now needs besides credentials: TLS at the ingress and the allowed org. */
const TLS_AND_ORG = BASE.slice(6);
const FIXED = [...BASE, '--set', `encryptionKey=${KEY_A}`, '--set', 'redis.password=redispass'];

// ---- minimal shapes of the rendered objects this file reads --------------------------------

interface Meta {
  name: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: Meta;
}
interface SecurityContext {
  runAsNonRoot?: boolean;
  runAsUser?: number;
  runAsGroup?: number;
  readOnlyRootFilesystem?: boolean;
  allowPrivilegeEscalation?: boolean;
  privileged?: boolean;
  capabilities?: { drop?: string[]; add?: string[] };
  seccompProfile?: { type: string };
}
interface KeyRef {
  name: string;
  key: string;
  optional?: boolean;
}
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: KeyRef; configMapKeyRef?: KeyRef };
}
interface Probe {
  httpGet?: { path: string; port: string | number };
  tcpSocket?: { port: string | number };
}
interface Container {
  name: string;
  image: string;
  args?: string[];
  ports?: { name?: string; containerPort: number }[];
  env?: EnvVar[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  securityContext?: SecurityContext;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  startupProbe?: Probe;
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}
interface Deployment extends K8sObject {
  spec: {
    replicas?: number;
    template: {
      metadata: Meta;
      spec: {
        automountServiceAccountToken?: boolean;
        securityContext?: SecurityContext;
        terminationGracePeriodSeconds?: number;
        containers: Container[];
        volumes?: {
          name: string;
          emptyDir?: object;
          secret?: { secretName: string; items?: { key: string; path: string }[] };
        }[];
      };
    };
  };
}
interface DataObject extends K8sObject {
  data?: Record<string, string>;
}
interface Ingress extends K8sObject {
  spec: { rules: { host: string }[]; tls?: { hosts: string[] }[] };
}

// ---- rendering -----------------------------------------------------------------------------

/** Builds (or finds cached) the pinned helm and kubevalidate; a cold Go cache takes minutes. */
beforeAll(() => {
  const r = spawnSync('bash', [path.join(ROOT, 'scripts', 'build-tools.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (r.error) throw r.error;
  assert.equal(
    r.status,
    0,
    `scripts/build-tools.sh could not build helm and kubevalidate:\n${r.stdout}\n${r.stderr}`,
  );
  for (const tool of [HELM, KUBEVALIDATE]) assert.ok(fs.existsSync(tool), `${tool} was built`);
}, 30 * 60_000);

function helmTemplate(args: string[]): { ok: boolean; stdout: string; stderr: string } {
  const r = spawnSync(HELM, ['template', 'wst', CHART, '--namespace', 'tokens', ...args], {
    encoding: 'utf8',
  });
  if (r.error) throw r.error;
  return { ok: r.status === 0, stdout: r.stdout, stderr: r.stderr };
}

function render(args: string[]): K8sObject[] {
  const out = helmTemplate(args);
  assert.ok(out.ok, `helm template ${args.join(' ')} failed:\n${out.stderr}`);
  const r = spawnSync(KUBEVALIDATE, ['--to-json'], { input: out.stdout, encoding: 'utf8' });
  if (r.error) throw r.error;
  assert.equal(r.status, 0, `kubevalidate --to-json failed:\n${r.stderr}`);
  return JSON.parse(r.stdout) as K8sObject[];
}

function validateStrictly(args: string[]): void {
  const out = helmTemplate(args);
  assert.ok(out.ok, out.stderr);
  const r = spawnSync(KUBEVALIDATE, ['--quiet'], { input: out.stdout, encoding: 'utf8' });
  assert.equal(r.status, 0, `strict validation failed:\n${r.stderr}`);
}

function all<T extends K8sObject>(objs: K8sObject[], kind: string): T[] {
  return objs.filter((o) => o.kind === kind) as T[];
}

function one<T extends K8sObject>(objs: K8sObject[], kind: string, name?: string): T {
  const found = objs.filter(
    (o) => o.kind === kind && (name === undefined || o.metadata.name === name),
  );
  assert.equal(
    found.length,
    1,
    `expected one ${kind}${name ? ` ${name}` : ''}, found ${found.length}`,
  );
  return found[0] as T;
}

function appDeployment(objs: K8sObject[]): Deployment {
  const found = all<Deployment>(objs, 'Deployment').filter(
    (d) => d.spec.template.metadata.labels?.['app.kubernetes.io/component'] === 'server',
  );
  assert.equal(found.length, 1, 'expected exactly one application Deployment');
  return found[0] as Deployment;
}

function appContainer(objs: K8sObject[]): Container {
  const containers = appDeployment(objs).spec.template.spec.containers;
  assert.equal(containers.length, 1);
  return containers[0] as Container;
}

function decode(value: string): string {
  return Buffer.from(value, 'base64').toString('utf8');
}

/**
 * The environment the app container would see: ConfigMap keys through envFrom, explicit env
 * values, and secret keys resolved from rendered Secrets (or a placeholder for a Secret the
 * chart does not render, e.g. existingSecret).
 */
function containerEnv(
  objs: K8sObject[],
  placeholders: Record<string, string> = {},
): Map<string, string> {
  const c = appContainer(objs);
  const env = new Map<string, string>();
  const lookup = (kind: 'ConfigMap' | 'Secret', ref: KeyRef): string | undefined => {
    const obj = all<DataObject>(objs, kind).find((o) => o.metadata.name === ref.name);
    if (!obj) return placeholders[`${ref.name}/${ref.key}`];
    const raw = obj.data?.[ref.key];
    if (raw === undefined) return undefined;
    return kind === 'Secret' ? decode(raw) : raw;
  };
  for (const from of c.envFrom ?? []) {
    assert.ok(!from.secretRef, 'secrets are mapped key by key, never with envFrom');
    const cm = one<DataObject>(objs, 'ConfigMap', from.configMapRef?.name);
    for (const [k, v] of Object.entries(cm.data ?? {})) env.set(k, v);
  }
  for (const e of c.env ?? []) {
    let value: string | undefined = e.value;
    if (e.valueFrom?.secretKeyRef) value = lookup('Secret', e.valueFrom.secretKeyRef);
    if (e.valueFrom?.configMapKeyRef) value = lookup('ConfigMap', e.valueFrom.configMapKeyRef);
    const optional =
      e.valueFrom?.secretKeyRef?.optional === true ||
      e.valueFrom?.configMapKeyRef?.optional === true;
    if (value === undefined && optional) continue;
    assert.ok(value !== undefined, `env ${e.name}: its source is neither rendered nor stubbed`);
    env.set(e.name, value);
  }
  return env;
}

/** Every env name the chart sets on the app container, whatever its source. */
function envNamesSet(objs: K8sObject[]): string[] {
  const c = appContainer(objs);
  const names = (c.env ?? []).map((e) => e.name);
  for (const from of c.envFrom ?? []) {
    if (from.configMapRef) {
      const cm = one<DataObject>(objs, 'ConfigMap', from.configMapRef.name);
      names.push(...Object.keys(cm.data ?? {}));
    }
  }
  return names;
}

const ciCases = fs
  .readdirSync(path.join(CHART, 'ci'))
  .filter((f) => f.endsWith('-values.yaml'))
  .sort();

/** Every values case the chart ships: the documented default install and ci/*-values.yaml. */
const cases: { name: string; args: string[]; placeholders: Record<string, string> }[] = [
  { name: 'default install (bundled Redis, generated key)', args: BASE, placeholders: {} },
  ...ciCases.map((f) => ({
    name: `ci/${f}`,
    args: ['-f', path.join(CHART, 'ci', f)],
    // production-values.yaml uses Secrets managed outside the chart.
    placeholders: {
      'webex-scoped-tokens-credentials/CLIENT_ID': 'external-client-id',
      'webex-scoped-tokens-credentials/CLIENT_SECRET': 'external-client-secret',
      'webex-scoped-tokens-credentials/TOKEN_ENCRYPTION_KEY': KEY_B,
      'webex-scoped-tokens-redis/url': 'rediss://:pw@redis.example.com:6380/0',
      // cluster-values.yaml and sentinel-values.yaml: passwords from the operator's Secrets.
      'redis-cluster/redis-password': 'cluster-password',
      'redis/redis-password': 'redis-password',
      'redis/sentinel-password': 'sentinel-password',
    },
  })),
];

// ---- tests ---------------------------------------------------------------------------------

test('the chart ships production-like ci values cases', () => {
  assert.ok(ciCases.includes('production-values.yaml'), `ci cases: ${ciCases.join(', ')}`);
});

test('every values case renders manifests that pass strict Kubernetes validation', () => {
  for (const c of cases) validateStrictly(c.args);
});

test('app and Redis pods run with a restricted security context and no API token', () => {
  for (const c of cases) {
    const objs = render(c.args);
    for (const d of all<Deployment>(objs, 'Deployment')) {
      const where = `${c.name}: Deployment ${d.metadata.name}`;
      const pod = d.spec.template.spec;
      assert.equal(
        pod.automountServiceAccountToken,
        false,
        `${where}: automountServiceAccountToken`,
      );
      assert.equal(pod.securityContext?.runAsNonRoot, true, `${where}: pod runAsNonRoot`);
      assert.equal(
        pod.securityContext?.seccompProfile?.type,
        'RuntimeDefault',
        `${where}: pod seccomp`,
      );
      for (const container of pod.containers) {
        const sc = container.securityContext;
        const at = `${where} container ${container.name}`;
        assert.ok(sc, `${at}: securityContext missing`);
        assert.equal(sc.runAsNonRoot, true, `${at}: runAsNonRoot`);
        assert.ok(Number.isInteger(sc.runAsUser) && (sc.runAsUser ?? 0) > 0, `${at}: numeric user`);
        assert.equal(sc.readOnlyRootFilesystem, true, `${at}: readOnlyRootFilesystem`);
        assert.equal(sc.allowPrivilegeEscalation, false, `${at}: allowPrivilegeEscalation`);
        assert.notEqual(sc.privileged, true, `${at}: privileged`);
        assert.deepEqual(sc.capabilities?.drop, ['ALL'], `${at}: capabilities.drop`);
        assert.equal(sc.capabilities?.add, undefined, `${at}: capabilities.add`);
        assert.equal(sc.seccompProfile?.type, 'RuntimeDefault', `${at}: seccompProfile`);
      }
    }
    for (const sa of all<K8sObject & { automountServiceAccountToken?: boolean }>(
      objs,
      'ServiceAccount',
    )) {
      assert.equal(sa.automountServiceAccountToken, false, `${c.name}: ServiceAccount`);
    }
    // The app container runs as the image's user and may write only to /tmp (a Redis CA
    // from a Secret is mounted read-only).
    const app = appContainer(objs);
    assert.equal(app.securityContext?.runAsUser, 10001);
    const pod = appDeployment(objs).spec.template.spec;
    assert.deepEqual(
      app.volumeMounts?.filter((m) => !m.readOnly).map((m) => m.mountPath),
      ['/tmp'],
    );
    assert.equal(app.volumeMounts?.[0]?.mountPath, '/tmp');
    const tmp = pod.volumes?.find((v) => v.name === app.volumeMounts?.[0]?.name);
    assert.ok(tmp?.emptyDir, '/tmp is an emptyDir');
  }
});

test('probes target the real /healthz and /readyz routes on the named http port', async () => {
  const objs = render(FIXED);
  const c = appContainer(objs);
  const http8080 = c.ports?.find((p) => p.name === 'http');
  assert.equal(http8080?.containerPort, 8080);
  assert.equal(containerEnv(objs).get('PORT'), '8080', 'the app listens on the probed port');
  assert.deepEqual(c.livenessProbe?.httpGet, { path: '/healthz', port: 'http' });
  assert.deepEqual(c.startupProbe?.httpGet, { path: '/healthz', port: 'http' });
  assert.deepEqual(c.readinessProbe?.httpGet, { path: '/readyz', port: 'http' });
  const service = one<K8sObject & { spec: { ports: { targetPort: string }[] } }>(
    objs,
    'Service',
    'wst-webex-scoped-tokens',
  );
  assert.equal(service.spec.ports[0]?.targetPort, 'http');

  // Ask the app's own health router what those paths answer, with a store that is up and down.
  let storeUp = true;
  const store = {
    ping: async () => {
      if (!storeUp) throw new Error('store down');
    },
  } as unknown as Store;
  const app = new Koa();
  app.use(healthRouter({ store }).routes());
  const server = http.createServer(app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const status = async (p: string | undefined): Promise<number> => (await fetch(base + p)).status;
  try {
    assert.equal(await status(c.livenessProbe?.httpGet?.path), 200);
    assert.equal(await status(c.readinessProbe?.httpGet?.path), 200);
    storeUp = false;
    assert.equal(await status(c.livenessProbe?.httpGet?.path), 200, 'liveness ignores the store');
    assert.equal(await status(c.readinessProbe?.httpGet?.path), 503, 'readiness follows the store');
  } finally {
    server.close();
  }
});

test('checksum annotations are stable and change when config or secrets change', () => {
  const annotations = (args: string[]): Record<string, string> =>
    appDeployment(render(args)).spec.template.metadata.annotations ?? {};
  const base = annotations(FIXED);
  assert.match(base['checksum/config'] ?? '', /^[0-9a-f]{64}$/);
  assert.match(base['checksum/secret'] ?? '', /^[0-9a-f]{64}$/);
  assert.deepEqual(annotations(FIXED), base, 'same values, same checksums');

  const logLevel = annotations([...FIXED, '--set', 'config.logLevel=debug']);
  assert.notEqual(logLevel['checksum/config'], base['checksum/config']);
  assert.equal(logLevel['checksum/secret'], base['checksum/secret']);

  const secret = annotations([...FIXED, '--set', 'webex.clientSecret=rotated-secret']);
  assert.notEqual(secret['checksum/secret'], base['checksum/secret']);
  assert.equal(secret['checksum/config'], base['checksum/config']);

  const key = annotations([...FIXED, '--set', `encryptionKey=${KEY_B}`]);
  assert.notEqual(key['checksum/secret'], base['checksum/secret']);
});

test('every env var the chart sets is a key of the config schema', () => {
  const known = new Set(configEnvNames);
  for (const c of cases) {
    const names = envNamesSet(render(c.args));
    assert.ok(names.length > 10, `${c.name}: suspiciously few env vars: ${names.join(' ')}`);
    const unknown = names.filter((n) => !known.has(n));
    assert.deepEqual(unknown, [], `${c.name}: env names unknown to src/config/`);
    assert.equal(new Set(names).size, names.length, `${c.name}: an env var is set twice`);
  }
});

test('every setting required in production is set, and the app config loads', () => {
  const required = [
    'CLIENT_ID',
    'CLIENT_SECRET',
    'PUBLIC_URL',
    'TOKEN_ENCRYPTION_KEY',
    'REDIS_URL',
  ];
  for (const c of cases) {
    const env = containerEnv(render(c.args), c.placeholders);
    assert.equal(env.get('NODE_ENV'), 'production', `${c.name}: NODE_ENV`);
    assert.equal(env.get('TRUST_PROXY'), 'true', `${c.name}: TRUST_PROXY behind an ingress`);
    for (const name of required) {
      assert.ok(env.get(name), `${c.name}: ${name} must be set and non-empty`);
    }
    const config = loadConfig(Object.fromEntries(env), {
      configDir: path.join(ROOT, 'config'),
    });
    assert.equal(config.env, 'production');
    assert.ok(config.redis, `${c.name}: Redis configured`);
    assert.equal(config.encryptionKeys[0]?.length, 32, `${c.name}: a 32-byte key`);
    assert.ok(config.publicUrl.startsWith('https://'), `${c.name}: https PUBLIC_URL`);
    assert.equal(config.port, 8080);
  }
});

test('the default install generates a 32-byte encryption key and a Redis password', () => {
  const objs = render(BASE);
  const secret = one<DataObject>(objs, 'Secret', 'wst-webex-scoped-tokens');
  const key = decode(secret.data?.TOKEN_ENCRYPTION_KEY ?? '');
  assert.equal(Buffer.from(key, 'base64').length, 32);
  assert.notEqual(key, KEY_A);
  const redis = one<DataObject>(objs, 'Secret', 'wst-webex-scoped-tokens-redis');
  const password = decode(redis.data?.['redis-password'] ?? '');
  assert.ok(password.length >= 32, 'a long random Redis password');
  assert.equal(
    decode(redis.data?.['redis-url'] ?? ''),
    `redis://:${password}@wst-webex-scoped-tokens-redis:6379/0`,
  );
  assert.equal(containerEnv(objs).get('REDIS_URL'), decode(redis.data?.['redis-url'] ?? ''));
  // No plaintext secret lands in the ConfigMap.
  const cm = one<DataObject>(objs, 'ConfigMap');
  const secretNames = ['CLIENT_SECRET', 'TOKEN_ENCRYPTION_KEY', 'REDIS_URL', 'DEVICE_CLIENTS'];
  for (const name of secretNames) assert.equal(cm.data?.[name], undefined, `${name} in ConfigMap`);
});

test('PUBLIC_URL and REDIRECT_URI derive from the first ingress host unless set', () => {
  const twoHosts = [
    ...FIXED,
    '--set',
    'ingress.hosts[0].host=first.example.com',
    '--set',
    'ingress.hosts[1].host=second.example.com',
  ];
  let objs = render(twoHosts);
  let env = containerEnv(objs);
  assert.equal(env.get('PUBLIC_URL'), 'https://first.example.com');
  assert.equal(env.get('REDIRECT_URI'), 'https://first.example.com/oauth');
  const ingress = one<Ingress>(objs, 'Ingress');
  assert.deepEqual(
    ingress.spec.rules.map((r) => r.host),
    ['first.example.com', 'second.example.com'],
  );

  objs = render([...FIXED, '--set', 'publicUrl=https://tokens.corp.example/']);
  env = containerEnv(objs);
  assert.equal(env.get('PUBLIC_URL'), 'https://tokens.corp.example');
  assert.equal(env.get('REDIRECT_URI'), 'https://tokens.corp.example/oauth');

  env = containerEnv(render([...FIXED, '--set', 'redirectUri=https://cb.example.com/oauth']));
  assert.equal(env.get('PUBLIC_URL'), 'https://tokens.example.com');
  assert.equal(env.get('REDIRECT_URI'), 'https://cb.example.com/oauth');
});

test('existingSecret: the chart renders no Secret and reads the named one', () => {
  const args = [
    ...TLS_AND_ORG,
    '--set',
    'ingress.hosts[0].host=tokens.example.com',
    '--set',
    'existingSecret=my-creds',
    '--set',
    'redis.enabled=false',
    '--set',
    'redis.existingSecret=my-redis',
    '--set',
    'redis.existingSecretKey=url',
    '--set',
    'config.allowedScopes=spark-admin:people_read spark:people_read',
  ];
  const objs = render(args);
  assert.deepEqual(all(objs, 'Secret'), [], 'no Secret rendered');
  const refs = Object.fromEntries(
    (appContainer(objs).env ?? [])
      .filter((e) => e.valueFrom?.secretKeyRef)
      .map((e) => [e.name, e.valueFrom?.secretKeyRef]),
  );
  assert.deepEqual(refs.CLIENT_ID, { name: 'my-creds', key: 'CLIENT_ID' });
  assert.deepEqual(refs.CLIENT_SECRET, { name: 'my-creds', key: 'CLIENT_SECRET' });
  assert.deepEqual(refs.TOKEN_ENCRYPTION_KEY, { name: 'my-creds', key: 'TOKEN_ENCRYPTION_KEY' });
  assert.deepEqual(refs.DEVICE_CLIENTS, {
    name: 'my-creds',
    key: 'DEVICE_CLIENTS',
    optional: true,
  });
  assert.deepEqual(refs.REDIS_URL, { name: 'my-redis', key: 'url' });
  assert.deepEqual(refs.HTTPS_PROXY, { name: 'my-creds', key: 'HTTPS_PROXY', optional: true });
  assert.equal(all(objs, 'Deployment').length, 1, 'no bundled Redis');

  // With the bundled Redis, only its own Secret is rendered.
  const bundled = render([
    ...TLS_AND_ORG,
    '--set',
    'ingress.hosts[0].host=t.example.com',
    '--set',
    'existingSecret=my-creds',
    '--set',
    'config.allowedScopes=spark-admin:people_read spark:people_read',
  ]);
  assert.deepEqual(
    all(bundled, 'Secret').map((s) => s.metadata.name),
    ['wst-webex-scoped-tokens-redis'],
  );

  // Inline credentials next to existingSecret are refused rather than ignored.
  const both = helmTemplate([...BASE, '--set', 'existingSecret=my-creds']);
  assert.equal(both.ok, false);
  assert.match(both.stderr, /existingSecret is set/);
});

test('PodDisruptionBudget only when more than one pod runs', () => {
  const pdbs = (extra: string[]) => all(render([...FIXED, ...extra]), 'PodDisruptionBudget');
  assert.equal(pdbs(['--set', 'replicaCount=1']).length, 0);
  assert.equal(pdbs(['--set', 'replicaCount=2']).length, 1);
  assert.equal(pdbs([]).length, 1, 'default: 2 replicas and a PDB');
  assert.equal(appDeployment(render(FIXED)).spec.replicas, 2);
  const hpa = ['--set', 'autoscaling.enabled=true', '--set', 'replicaCount=1'];
  assert.equal(pdbs([...hpa, '--set', 'autoscaling.minReplicas=1']).length, 0);
  assert.equal(pdbs([...hpa, '--set', 'autoscaling.minReplicas=2']).length, 1);
  const withHpa = render([...FIXED, ...hpa]);
  assert.equal(appDeployment(withHpa).spec.replicas, undefined, 'the HPA owns replicas');
  assert.equal(all(withHpa, 'HorizontalPodAutoscaler').length, 1);
});

test('pods get longer to stop than the app takes to drain', () => {
  for (const grace of [25, 60]) {
    const objs = render([...FIXED, '--set', `config.shutdownGraceSeconds=${grace}`]);
    const env = containerEnv(objs);
    assert.equal(env.get('SHUTDOWN_GRACE_SECONDS'), String(grace));
    const period = appDeployment(objs).spec.template.spec.terminationGracePeriodSeconds ?? 30;
    assert.ok(period > grace + 5, `terminationGracePeriodSeconds ${period} > ${grace} + preStop 5`);
  }
});

test('bad values fail at render time with a message naming the value', () => {
  const typed = helmTemplate([...FIXED, '--set-string', 'replicaCount=two']);
  assert.equal(typed.ok, false);
  assert.match(typed.stderr, /replicaCount/);
  const unknown = helmTemplate([...FIXED, '--set', 'replicas=3']);
  assert.equal(unknown.ok, false);
  assert.match(unknown.stderr, /additional properties 'replicas'/);
  const noHost = helmTemplate(['--set', 'webex.clientId=a', '--set', 'webex.clientSecret=b']);
  assert.equal(noHost.ok, false);
  assert.match(noHost.stderr, /hosts/);
});

test('an Ingress without TLS is refused unless allowPlainHttp; nginx redirects http to https', () => {
  // BASE without its TLS lines (it names client, host, allowed scopes, TLS, then the org).
  const noTls = [
    ...BASE.slice(0, 8),
    '--set',
    'config.allowedOrgIds=6f5d3c2b-1a09-4e8f-9d7c-6b5a4f3e2d1c',
  ];
  const refused = helmTemplate(noTls);
  assert.equal(refused.ok, false);
  assert.match(refused.stderr, /the Ingress has no TLS.*ingress\.allowPlainHttp=true/);
  const plain = one<Ingress>(render([...noTls, '--set', 'ingress.allowPlainHttp=true']), 'Ingress');
  assert.equal(plain.spec.tls, undefined);
  assert.equal(plain.metadata.annotations?.['nginx.ingress.kubernetes.io/ssl-redirect'], undefined);
  for (const c of cases) {
    for (const ingress of all<Ingress>(render(c.args), 'Ingress')) {
      assert.ok(ingress.spec.tls?.length, `${c.name}: TLS`);
      assert.equal(
        ingress.metadata.annotations?.['nginx.ingress.kubernetes.io/ssl-redirect'],
        'true',
        `${c.name}: ssl-redirect`,
      );
    }
  }
  // Annotations of the user's own are kept next to it.
  const annotated = one<Ingress>(
    render([...FIXED, '--set', 'ingress.annotations.cert-manager\\.io/cluster-issuer=le']),
    'Ingress',
  );
  assert.equal(annotated.metadata.annotations?.['cert-manager.io/cluster-issuer'], 'le');
  assert.equal(
    annotated.metadata.annotations?.['nginx.ingress.kubernetes.io/ssl-redirect'],
    'true',
  );
});

test('an empty org allowlist is refused unless allowAnyOrg is set on purpose', () => {
  const noOrg = BASE.slice(0, 12); // BASE without its org line
  const refused = helmTemplate(noOrg);
  assert.equal(refused.ok, false);
  assert.match(refused.stderr, /allowedOrgIds is empty.*config\.allowAnyOrg=true/);
  const env = containerEnv(
    render([...noOrg, '--set', 'config.allowAnyOrg=true', ...FIXED.slice(-4)]),
  );
  assert.equal(env.get('ALLOW_ANY_ORG'), 'true');
  assert.equal(env.get('ALLOWED_ORG_IDS'), undefined);
  const config = loadConfig(Object.fromEntries(env));
  assert.deepEqual(config.allowedOrgIds, [], 'the app accepts it in production with ALLOW_ANY_ORG');
  assert.equal(containerEnv(render(FIXED)).get('ALLOW_ANY_ORG'), 'false');
});

test('NetworkPolicy by default: only the ingress controller reaches the app, only the app reaches Redis', () => {
  type Peer = {
    namespaceSelector?: { matchLabels?: Record<string, string> };
    podSelector?: object;
  };
  type Policy = K8sObject & {
    spec: {
      podSelector: { matchLabels: Record<string, string> };
      policyTypes: string[];
      ingress: { from?: Peer[]; ports?: { port: string | number }[] }[];
    };
  };
  const policies = all<Policy>(render(FIXED), 'NetworkPolicy');
  assert.equal(policies.length, 2, 'app and Redis');
  const app = policies.find((p) => p.metadata.name === 'wst-webex-scoped-tokens')!;
  assert.deepEqual(app.spec.policyTypes, ['Ingress', 'Egress']);
  assert.equal(app.spec.ingress.length, 1, 'one source without a ServiceMonitor');
  assert.deepEqual(app.spec.ingress[0]!.from?.[0]?.namespaceSelector?.matchLabels, {
    'kubernetes.io/metadata.name': 'ingress-nginx',
  });
  assert.deepEqual(app.spec.ingress[0]!.ports, [{ port: 'http', protocol: 'TCP' }]);
  const redis = policies.find((p) => p.metadata.name === 'wst-webex-scoped-tokens-redis')!;
  assert.equal(redis.spec.ingress.length, 1);
  assert.ok(redis.spec.ingress[0]!.from?.[0]?.podSelector, 'only the app pods');
  const off = all(render([...FIXED, '--set', 'networkPolicy.enabled=false']), 'NetworkPolicy');
  assert.equal(off.length, 0, 'can be turned off');
});

test('the bundled Redis gets its password from a config file in its Secret, never the command line', () => {
  const objs = render(FIXED);
  const redis = all<Deployment>(objs, 'Deployment').find(
    (d) => d.spec.template.metadata.labels?.['app.kubernetes.io/component'] === 'redis',
  )!;
  const pod = redis.spec.template.spec;
  const container = pod.containers[0]!;
  const spec = JSON.stringify(pod);
  assert.ok(!spec.includes('redispass'), 'the password is nowhere in the pod spec');
  assert.ok(!(container.args ?? []).includes('--requirepass'), 'no --requirepass argument');
  assert.equal(container.env, undefined, 'no password in the environment either');
  assert.equal(container.args?.[1], '/etc/redis-secret/redis.conf');
  const mount = container.volumeMounts?.find((m) => m.mountPath === '/etc/redis-secret');
  const volume = pod.volumes?.find((v) => v.name === mount?.name);
  assert.equal(volume?.secret?.secretName, 'wst-webex-scoped-tokens-redis');
  assert.deepEqual(volume?.secret?.items, [{ key: 'redis.conf', path: 'redis.conf' }]);
  const secret = one<DataObject>(objs, 'Secret', 'wst-webex-scoped-tokens-redis');
  assert.equal(decode(secret.data?.['redis.conf'] ?? ''), 'requirepass redispass\n');
  // The same restricted security context as the app's pod.
  const appPod = appDeployment(objs).spec.template.spec;
  const shape = (sc: SecurityContext | undefined) => ({ ...sc, runAsUser: 0, runAsGroup: 0 });
  assert.deepEqual(shape(container.securityContext), shape(appContainer(objs).securityContext));
  const podShape = (sc: (SecurityContext & { fsGroup?: number }) | undefined) => ({
    ...sc,
    runAsUser: 0,
    runAsGroup: 0,
    fsGroup: 0,
  });
  assert.deepEqual(podShape(pod.securityContext), podShape(appPod.securityContext));
});

test('workload issuers: a values list becomes WORKLOAD_ISSUERS JSON; unset leaves the feature off', () => {
  assert.equal(containerEnv(render(FIXED)).has('WORKLOAD_ISSUERS'), false);
  const prod = cases.find((c) => c.name === 'ci/production-values.yaml');
  assert.ok(prod);
  const env = containerEnv(render(prod.args), prod.placeholders);
  const config = loadConfig(Object.fromEntries(env), { configDir: path.join(ROOT, 'config') });
  assert.deepEqual(
    config.workload.issuers.map((i) => [i.name, i.issuer, i.audience]),
    [
      ['github', 'https://token.actions.githubusercontent.com', config.publicUrl],
      ['gitlab', 'https://gitlab.example.com', config.publicUrl],
    ],
  );
  const bad = helmTemplate([...FIXED, '--set', 'config.workloadIssuers[0]=bitbucket']);
  assert.equal(bad.ok, false);
  assert.match(bad.stderr, /workloadIssuers/);
});

test('dynamic mode without config.allowedScopes fails at render time, saying to copy the integration scopes', () => {
  const missing = helmTemplate([...FIXED, '--set', 'config.allowedScopes=']);
  assert.equal(missing.ok, false);
  assert.match(missing.stderr, /config\.allowedScopes is required.*copy the scope list/);
  const staticMode = helmTemplate([
    ...FIXED,
    '--set',
    'config.allowedScopes=',
    '--set',
    'config.scopesMode=static',
    '--set',
    'config.scopes=spark-admin:people_read',
  ]);
  assert.equal(staticMode.ok, true, staticMode.stderr);
});

test('proxy values: URLs in the Secret, NO_PROXY in the ConfigMap, the proxy port open in the NetworkPolicy', () => {
  const objs = render([
    ...FIXED,
    '--set',
    'proxy.httpsProxy=http://user:pw@proxy.example.com:3128',
    '--set',
    'proxy.noProxy=.svc',
    '--set',
    'networkPolicy.enabled=true',
  ]);
  const env = containerEnv(objs);
  assert.equal(env.get('HTTPS_PROXY'), 'http://user:pw@proxy.example.com:3128');
  assert.equal(env.get('NO_PROXY'), '.svc');
  const cm = one<DataObject>(objs, 'ConfigMap');
  assert.equal(cm.data?.HTTPS_PROXY, undefined, 'proxy credentials stay out of the ConfigMap');
  const config = loadConfig(Object.fromEntries(env), { configDir: path.join(ROOT, 'config') });
  assert.equal(config.webex.proxy.httpsProxy, 'http://user:pw@proxy.example.com:3128');
  const policy = JSON.stringify(all(objs, 'NetworkPolicy'));
  assert.match(policy, /"port":3128/);
  assert.equal(containerEnv(render(FIXED)).get('HTTPS_PROXY'), undefined, 'no proxy by default');
});

test('the bundled Redis keeps an append-only file on a kept PersistentVolumeClaim by default; values turn it off or size it', () => {
  const redisPod = (objs: K8sObject[]) => {
    const d = one<Deployment>(objs, 'Deployment', 'wst-webex-scoped-tokens-redis');
    return d.spec.template.spec;
  };
  const argAfter = (args: string[], flag: string) => args[args.indexOf(flag) + 1];
  type PodVolume = {
    name: string;
    emptyDir?: object;
    persistentVolumeClaim?: { claimName: string };
  };
  type Claim = K8sObject & {
    spec: { resources: { requests: { storage: string } }; storageClassName?: string };
  };

  const objs = render(FIXED);
  const claim = one<Claim>(objs, 'PersistentVolumeClaim', 'wst-webex-scoped-tokens-redis-data');
  assert.equal(claim.spec.resources.requests.storage, '1Gi');
  assert.equal(claim.metadata.annotations?.['helm.sh/resource-policy'], 'keep');
  const pod = redisPod(objs);
  const args = (pod.containers[0] as Container & { args: string[] }).args;
  assert.equal(argAfter(args, '--appendonly'), 'yes');
  assert.equal(argAfter(args, '--appendfsync'), 'everysec');
  assert.equal(argAfter(args, '--save'), '', 'no RDB snapshots: the append-only file is the copy');
  const data = (pod.volumes as PodVolume[]).find((v) => v.name === 'data');
  assert.equal(data?.persistentVolumeClaim?.claimName, claim.metadata.name);

  const sized = render([
    ...FIXED,
    '--set',
    'redis.persistence.size=5Gi',
    '--set',
    'redis.persistence.storageClass=fast',
    '--set',
    'redis.persistence.appendfsync=always',
  ]);
  const bigger = one<Claim>(sized, 'PersistentVolumeClaim');
  assert.equal(bigger.spec.resources.requests.storage, '5Gi');
  assert.equal(bigger.spec.storageClassName, 'fast');
  const sizedArgs = (redisPod(sized).containers[0] as Container & { args: string[] }).args;
  assert.equal(argAfter(sizedArgs, '--appendfsync'), 'always');

  const existing = render([...FIXED, '--set', 'redis.persistence.existingClaim=my-claim']);
  assert.deepEqual(all(existing, 'PersistentVolumeClaim'), []);
  const mine = (redisPod(existing).volumes as PodVolume[]).find((v) => v.name === 'data');
  assert.equal(mine?.persistentVolumeClaim?.claimName, 'my-claim');

  const off = render([...FIXED, '--set', 'redis.persistence.enabled=false']);
  assert.deepEqual(all(off, 'PersistentVolumeClaim'), []);
  const offArgs = (redisPod(off).containers[0] as Container & { args: string[] }).args;
  assert.equal(argAfter(offArgs, '--appendonly'), 'no');
  assert.ok((redisPod(off).volumes as PodVolume[]).find((v) => v.name === 'data')?.emptyDir);

  const bad = helmTemplate([...FIXED, '--set', 'redis.persistence.appendfsync=sometimes']);
  assert.equal(bad.ok, false, 'an unknown appendfsync is refused at render time');
});
