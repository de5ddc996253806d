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
    /** The address requests come from (a test may move it: a session that changes networks). */
    public ip = '203.0.113.10',
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

  /**
   * Uploads a file as a browser's multipart form would (field `file`), the CSRF token in the
   * address as the case page's form carries it. The file name goes into the part's header as
   * UTF-8, as browsers send it.
   */
  async upload(url: string, fileName: string, bytes: Buffer, options: { field?: string; csrf?: string | null; contentType?: string } = {}): Promise<TestResponse> {
    const boundary = `----haven${Math.random().toString(16).slice(2)}`;
    const body = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${options.field ?? 'file'}"; filename="${fileName}"\r\nContent-Type: ${options.contentType ?? 'application/octet-stream'}\r\n\r\n`),
      bytes,
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    const csrf = options.csrf === undefined ? this.csrf : options.csrf;
    const r = await this.server.inject({
      method: 'POST',
      url: csrf === null ? url : `${url}?_csrf=${encodeURIComponent(csrf)}`,
      payload: body,
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
      cookies: Object.fromEntries(this.cookies),
      remoteAddress: this.ip,
    });
    return this.toResponse(r);
  }

  /** GETs a download: the exact bytes and the headers. */
  async download(url: string): Promise<{ status: number; headers: TestResponse['headers']; bytes: Buffer }> {
    const r = await this.server.inject({ method: 'GET', url, cookies: Object.fromEntries(this.cookies), remoteAddress: this.ip });
    this.remember(r);
    return { status: r.statusCode, headers: r.headers as TestResponse['headers'], bytes: r.rawPayload };
  }

  async login(login: string, password: string): Promise<TestResponse> {
    return this.submit('/login', { login, password }, '/login');
  }
}

/** The text of every element with role="alert" on a page. */
export function alerts(html: string): string[] {
  return [...html.matchAll(/role="alert"[^>]*>([^<]*)</g)].map((m) => m[1]!.trim());
}
