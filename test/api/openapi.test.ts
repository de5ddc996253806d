// /api/v1/openapi.json (DESIGN §1.7): an OpenAPI 3.1 document generated from the routes' own
// schemas, valid against the OpenAPI schema, describing every API route of the access table
// and nothing else; /api/v1/docs says the same in words.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Validator } from '@seriousme/openapi-schema-validator';
import { startTestHaven, type TestHaven } from '../helpers/app.ts';
import { accessTable } from '../../src/web/access.ts';

describe('the OpenAPI document', () => {
  let haven: TestHaven;
  let document: { openapi: string; paths: Record<string, Record<string, { security?: unknown; requestBody?: unknown; responses?: Record<string, unknown>; parameters?: unknown[] }>>; components: { securitySchemes: Record<string, unknown> } };

  beforeAll(async () => {
    haven = await startTestHaven('pglite');
    const r = await haven.server.inject({ method: 'GET', url: '/api/v1/openapi.json' });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toMatch(/^application\/json/);
    document = JSON.parse(r.body);
  });
  afterAll(async () => {
    await haven?.close();
  });

  test('is valid OpenAPI 3.1', async () => {
    expect(document.openapi).toBe('3.1.0');
    const result = await new Validator().validate(structuredClone(document) as never);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });

  test('describes every API route of the access table, and no page', () => {
    const routes = accessTable(haven.server).filter((r) => r.url.startsWith('/api/v1/') && !['/api/v1/openapi.json', '/api/v1/docs'].includes(r.url) && r.method !== 'HEAD');
    const described = Object.entries(document.paths).flatMap(([path, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`));
    const expected = routes.map((r) => `${r.method} ${r.url.replace(/:(\w+)/g, '{$1}')}`);
    expect(described.sort()).toEqual(expected.sort());
    expect(described).toEqual(expect.arrayContaining(['GET /api/v1/me', 'GET /api/v1/users', 'POST /api/v1/clients', 'POST /api/v1/cases', 'GET /api/v1/cases', 'GET /api/v1/cases/{id}', 'POST /api/v1/cases/{id}/notes']));
  });

  test('each operation needs the bearer token, and documents its body, its answer and its errors', () => {
    expect(document.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
    for (const [path, methods] of Object.entries(document.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        expect(op.security, `${method} ${path}`).toEqual([{ bearerAuth: [] }]);
        expect(Object.keys(op.responses ?? {}), `${method} ${path}`).toEqual(expect.arrayContaining([method === 'post' ? '201' : '200', '400', '401', '403', '404', '429']));
        if (method === 'post') expect(op.requestBody, `${method} ${path}`).toBeDefined();
      }
    }
    const clientBody = JSON.stringify(document.paths['/api/v1/clients']!.post!.requestBody);
    for (const field of ['first_name', 'last_name', 'date_of_birth', 'ssn']) expect(clientBody).toContain(field);
  });

  test('/api/v1/docs lists the operations for people', async () => {
    const r = await haven.server.inject({ method: 'GET', url: '/api/v1/docs' });
    expect(r.statusCode).toBe(200);
    expect(r.body).toContain('Authorization: Bearer hvn_');
    expect(r.body).toMatch(/<code>POST<\/code><\/td><td><code>\/api\/v1\/cases\/\{id\}\/notes<\/code>/);
  });
});
