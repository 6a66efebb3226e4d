// `npm run golden:update`: rewrites every golden config (test/golden/<case>/http.conf) from
// its input/ fixtures. The only writer of goldens: the tests compare and never write.
// Review the diff (`git diff test/golden`) before committing it.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import { expectedPath, goldenCases, renderCase } from '../test/golden/cases.ts';

const cases = goldenCases();
if (!cases.length) throw new Error('no golden case found under test/golden/');
for (const name of cases) {
  const file = expectedPath(name);
  const text = renderCase(name);
  const before = existsSync(file) ? readFileSync(file, 'utf8') : undefined;
  if (before === text) {
    console.log(`unchanged ${relative(process.cwd(), file)}`);
    continue;
  }
  writeFileSync(file, text);
  console.log(`${before === undefined ? 'created' : 'updated'} ${relative(process.cwd(), file)}: review with git diff`);
}
