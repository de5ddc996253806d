import type { FastifyInstance } from 'fastify';

export interface TestResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  location?: string;
}

/**
 * A browser-like client over Fastify's inject: keeps cookies, reads each page's CSRF token
 * and submits forms as plain HTML forms would.
 */
export class TestClient {
  readonly cookies = new Map<string, string>();
  csrf = '';

  constructor(
    private readonly server: FastifyInstance,
    private readonly ip = '203.0.113.10',
  ) {}

  private remember(response: { cookies: { name: string; value: string; maxAge?: number; expires?: Date }[] }) {
    for (const c of response.cookies) {
      const expired = c.maxAge === 0 || (c.expires && c.expires.getTime() < Date.now()) || c.value === '';
      if (expired) this.cookies.delete(c.name);
      else this.cookies.set(c.name, c.value);
    }
  }

  private toResponse(r: Awaited<ReturnType<FastifyInstance['inject']>>): TestResponse {
    this.remember(r);
    const match = /name="_csrf" value="([^"]+)"/.exec(r.body);
    if (match) this.csrf = match[1]!;
    return { status: r.statusCode, headers: r.headers as TestResponse['headers'], body: r.body, location: r.headers.location as string | undefined };
  }

  async get(url: string, headers: Record<string, string> = {}): Promise<TestResponse> {
    const r = await this.server.inject({ method: 'GET', url, cookies: Object.fromEntries(this.cookies), remoteAddress: this.ip, headers });
    return this.toResponse(r);
  }

  /** Posts a form; `_csrf` is the last token seen unless the fields say otherwise. */
  async post(url: string, fields: Record<string, string | string[]>, headers: Record<string, string> = {}): Promise<TestResponse> {
    const body = new URLSearchParams();
    if (!('_csrf' in fields) && this.csrf) body.append('_csrf', this.csrf);
    for (const [k, v] of Object.entries(fields)) for (const one of Array.isArray(v) ? v : [v]) body.append(k, one);
    const r = await this.server.inject({
      method: 'POST',
      url,
      payload: body.toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      cookies: Object.fromEntries(this.cookies),
      remoteAddress: this.ip,
    });
    return this.toResponse(r);
  }

  /** Opens the page first (for its CSRF token), then submits the form. */
  async submit(pageUrl: string, fields: Record<string, string | string[]>, action = pageUrl): Promise<TestResponse> {
    await this.get(pageUrl);
    return this.post(action, fields);
  }

  async login(login: string, password: string): Promise<TestResponse> {
    return this.submit('/login', { login, password }, '/login');
  }
}

/** The text of every element with role="alert" on a page. */
export function alerts(html: string): string[] {
  return [...html.matchAll(/role="alert"[^>]*>([^<]*)</g)].map((m) => m[1]!.trim());
}
