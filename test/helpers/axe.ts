import { AxeBuilder } from '@axe-core/playwright';
import type { Page } from 'playwright-core';
import { expect } from 'vitest';

/**
 * Runs axe-core (WCAG 2.0/2.1 A and AA) on the page as it is now and fails on any violation.
 * Colour-contrast checks that axe cannot decide ("incomplete") fail too: they are to be fixed,
 * not ignored (issue 9).
 */
export async function expectAccessible(page: Page, what = new URL(page.url()).pathname): Promise<void> {
  const results = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  const violations = results.violations.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).slice(0, 5).join(', ')}`);
  const undecidedContrast = results.incomplete
    .filter((v) => v.id === 'color-contrast' || v.id === 'color-contrast-enhanced')
    .flatMap((v) => v.nodes.map((n) => `${v.id} undecided: ${n.target.join(' ')} (${n.any.map((c) => c.message).join('; ')})`))
    .filter((line) => !line.includes('color-contrast-enhanced'));
  expect([...violations, ...undecidedContrast], `axe on ${what}`).toEqual([]);
}

/**
 * Runs `expectAccessible` on every page still open in the given browser contexts: registered as
 * an `afterEach` by the journey tests, so that every page a step ends on is checked.
 */
export async function expectOpenPagesAccessible(contexts: readonly { pages(): Page[] }[]): Promise<void> {
  for (const context of contexts) {
    for (const page of context.pages()) {
      if (page.isClosed() || !/^https:/.test(page.url())) continue;
      await page.waitForLoadState('load').catch(() => {});
      await expectAccessible(page);
    }
  }
}
