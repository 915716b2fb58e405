/**
 * Prints the configuration table of docs/configuration.md from the convict schema, so the two
 * never disagree. `npm run docs:config` rewrites that section; a unit test checks it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { configSchema } from '../src/config';

const START = '<!-- config-table:start -->';
const END = '<!-- config-table:end -->';
/** Where the table lives (README links to it). */
export const CONFIG_DOC = path.resolve(__dirname, '../docs/configuration.md');

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

export function docWithTable(readme: string): string {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start < 0 || end < start)
    throw new Error(`docs/configuration.md lacks the ${START} … ${END} markers`);
  return `${readme.slice(0, start + START.length)}\n\n${configTable()}\n\n${readme.slice(end)}`;
}

if (require.main === module) {
  fs.writeFileSync(CONFIG_DOC, docWithTable(fs.readFileSync(CONFIG_DOC, 'utf8')));
  console.log('docs/configuration.md: configuration table updated');
}
