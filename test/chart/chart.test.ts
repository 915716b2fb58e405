/**
 * Helm chart tests: render helm/webex-scoped-tokens with the pinned helm in .bin/ and check
 * what the cluster would run against what the app really understands.
 *
 * Needs .bin/helm and .bin/kubevalidate: `bash scripts/ci-helm.sh` builds both (pinned, cached).
 * Run: npm test -- --selectProjects chart
 */
import { test } from '@jest/globals';
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
];
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
  ports?: { name?: string; containerPort: number }[];
  env?: EnvVar[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  securityContext?: SecurityContext;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  startupProbe?: Probe;
  volumeMounts?: { name: string; mountPath: string }[];
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
        volumes?: { name: string; emptyDir?: object }[];
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

function requireTools(): void {
  for (const tool of [HELM, KUBEVALIDATE]) {
    if (!fs.existsSync(tool)) {
      assert.fail(
        `${path.relative(ROOT, tool)} is missing: run "bash scripts/ci-helm.sh" first ` +
          '(it builds the pinned helm and the kubevalidate tool into .bin/)',
      );
    }
  }
}

function helmTemplate(args: string[]): { ok: boolean; stdout: string; stderr: string } {
  requireTools();
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
    // The app container runs as the image's user and may write only to /tmp.
    const app = appContainer(objs);
    assert.equal(app.securityContext?.runAsUser, 10001);
    const pod = appDeployment(objs).spec.template.spec;
    assert.deepEqual(
      app.volumeMounts?.map((m) => m.mountPath),
      ['/tmp'],
    );
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
    assert.deepEqual(unknown, [], `${c.name}: env names unknown to src/config.ts`);
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
  assert.equal(all(objs, 'Deployment').length, 1, 'no bundled Redis');

  // With the bundled Redis, only its own Secret is rendered.
  const bundled = render([
    '--set',
    'ingress.hosts[0].host=t.example.com',
    '--set',
    'existingSecret=my-creds',
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
