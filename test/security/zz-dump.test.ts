import { test } from 'vitest';
import { startTestHaven } from '../helpers/app.ts';
import { accessTable } from '../../src/web/access.ts';
test('dump', async () => {
  const h = await startTestHaven('pglite');
  for (const r of accessTable(h.server)) {
    const s = r.schema as any;
    const keys = (z: any) => { if (!z) return '-'; let d = z; const chain=[]; while (d && !d.shape && d._zod?.def?.innerType) { chain.push(d._zod.def.type); d = d._zod.def.innerType; } return chain.join('>') + (d?.shape ? '{' + Object.keys(d.shape).join(',') + '}' : d?._zod?.def?.type); };
    console.log(r.method, r.url, r.access, 'body', keys(s.body), 'q', keys(s.querystring), 'p', keys(s.params));
  }
  await h.close();
}, 60000);
