/**
 * Prints the configuration table for README.md from the convict schema, so the two never
 * disagree. `npm run docs:config` rewrites the README section; a unit test checks it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { configSchema } from '../src/config';

const START = '<!-- config-table:start -->';
const END = '<!-- config-table:end -->';

function formatDefault(key: string, value: unknown): string {
  if (key === 'deviceClients') return 'one public client `cli`';
  if (value === '' || value === undefined) return '—';
  return `\`${String(value)}\``;
}

export function configTable(): string {
  const rows = Object.entries(configSchema).map(([key, spec]) => {
    const secret = 'sensitive' in spec && spec.sensitive ? ' (secret)' : '';
    const doc = spec.doc.replace(/\|/g, '\\|');
    return `| \`${spec.env}\`${secret} | ${formatDefault(key, spec.default)} | ${doc} |`;
  });
  return ['| Variable | Default | What it does |', '| --- | --- | --- |', ...rows].join('\n');
}

export function readmeWithTable(readme: string): string {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) throw new Error(`README.md lacks the ${START} … ${END} markers`);
  return `${readme.slice(0, start + START.length)}\n\n${configTable()}\n\n${readme.slice(end)}`;
}

if (require.main === module) {
  const file = path.resolve(__dirname, '../README.md');
  fs.writeFileSync(file, readmeWithTable(fs.readFileSync(file, 'utf8')));
  console.log('README.md configuration table updated');
}
