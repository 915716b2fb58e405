/**
 * Micro-benchmark: what opening a sealed handoff record costs a pending poll (records.ts),
 * against parsing the same record in clear and an HMAC of it.
 * Run: node --import tsx bench/record-open.ts
 */
import crypto from 'node:crypto';
import { Sealer } from '../src/crypto';
import { openRecord, sealRecord } from '../src/flows/records';

const sealer = new Sealer([crypto.randomBytes(32)]);
const h = sealer.hasher.digest('device_code', randomDeviceCode());
const key = `handoff:{${h}}`;
const record = {
  clientId: 'cli',
  clientName: 'webex-token CLI',
  scopes: ['spark-admin:people_read', 'spark:people_read'],
  requester: {
    address: '198.51.100.23',
    userAgent:
      'webex-token/1.4.0 (linux; node 20.11.1; GITHUB_REPOSITORY=acme/deploy; GITHUB_RUN_ID=123456789)',
  },
  createdAt: Date.now(),
  expiresAt: Date.now() + 600_000,
  status: 'pending',
  userCodeKey: `ucode:${h}`,
};
const plain = JSON.stringify(record);
const sealed = sealRecord({ sealer }, 'handoff', key, record);
// Only the success path runs here, so these are never called.
const deps = { sealer, store: undefined, logger: undefined, metrics: undefined } as never;
const macKey = crypto.randomBytes(32);

function randomDeviceCode(): string {
  return crypto.randomBytes(32).toString('base64url');
}

function perCallMicros(fn: () => unknown, n = 50_000): number {
  for (let i = 0; i < 2_000; i++) fn();
  const samples: number[] = [];
  for (let round = 0; round < 7; round++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n / 7; i++) fn();
    samples.push(Number(process.hrtime.bigint() - t0) / (n / 7) / 1000);
  }
  return samples.sort((a, b) => a - b)[3]!;
}

const results = {
  recordBytes: plain.length,
  sealedBytes: sealed.length,
  openSealedUs: perCallMicros(() => openRecord(deps, 'handoff', key, sealed)),
  parsePlainUs: perCallMicros(() => JSON.parse(plain)),
  hmacThenParseUs: perCallMicros(() => {
    crypto.createHmac('sha256', macKey).update(key).update(plain).digest();
    return JSON.parse(plain);
  }),
};
console.log(
  JSON.stringify(results, (_, v: unknown) =>
    typeof v === 'number' ? Math.round(v * 100) / 100 : v,
  ),
);
