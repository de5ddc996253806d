// Driving intake as a plain HTML client would: open each stage, post its fields, follow the redirect.
import { expect } from 'vitest';
import type { TestClient, TestResponse } from '../helpers/client.ts';

export interface Applicant {
  problem_code?: string;
  postal_code?: string;
  county?: string;
  household_size?: string;
  annual_income?: string;
  first_name?: string;
  last_name?: string;
  date_of_birth?: string;
  ssn?: string;
  phone?: string;
  email?: string;
  adverse_parties?: string;
}

export const APPLICANT: Required<Applicant> = {
  problem_code: '63',
  postal_code: '02139',
  county: 'Middlesex',
  household_size: '2',
  annual_income: '18000',
  first_name: 'Maria',
  last_name: 'Gonzalez',
  date_of_birth: '1984-03-21',
  ssn: '123-45-6789',
  phone: '(617) 555-0123',
  email: 'maria@example.org',
  adverse_parties: 'Acme Property Management\nJohn Landlord',
};

const STAGE_FIELDS: Record<string, (keyof Applicant)[]> = {
  problem_code: ['problem_code', 'postal_code', 'county'],
  household_size: ['household_size', 'annual_income'],
  first_name: ['first_name', 'last_name', 'date_of_birth', 'ssn', 'phone', 'email'],
  adverse_parties: ['adverse_parties'],
};

/**
 * Runs an application through every stage until it halts, fails validation or becomes a case.
 * The conflict stage is submitted with its defaults (each possible conflict "review needed").
 */
export async function runIntake(client: TestClient, applicant: Applicant): Promise<{ outcome: 'case' | 'halted' | 'invalid'; url: string; page: TestResponse }> {
  let url = '/intake';
  let page = await client.get(url);
  expect(page.status).toBe(200);
  for (let step = 0; step < 10; step++) {
    const first = Object.keys(STAGE_FIELDS).find((f) => page.body.includes(`name="${f}"`));
    const fields: Record<string, string | string[]> = {};
    if (first) for (const f of STAGE_FIELDS[first]!) if (applicant[f] !== undefined) fields[f] = applicant[f]!;
    else {
      // The conflict stage: keep each default decision.
      fields.conflict_id = [...page.body.matchAll(/name="conflict_id" value="([^"]+)"/g)].map((m) => m[1]!);
      fields.conflict_decision = fields.conflict_id.map(() => 'review');
    }
    const answer = await client.post(url, fields);
    if (answer.status === 400) return { outcome: 'invalid', url, page: answer };
    expect(answer.status, answer.body.slice(0, 500)).toBe(303);
    url = answer.location!.split('?')[0]!;
    page = await client.get(answer.location!);
    if (url.startsWith('/cases/')) return { outcome: 'case', url, page };
    if (page.body.includes('id="intake-halted"')) return { outcome: 'halted', url, page };
  }
  throw new Error('intake did not end');
}
