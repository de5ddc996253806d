import { randomUUID } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config.ts';

/**
 * The audit journal of read-only mode. The standby takes no writes, yet sign-ins, case views
 * and failures must still be audited (DESIGN §1.8): each entry is appended to a file in this
 * instance's data directory, synced before the request goes on, and replayed into the audit
 * chain (failover/service.ts) as soon as a writable primary serves again. Each entry carries
 * an id, so a replay cut short and run again appends nothing twice.
 */
export interface JournalEntry {
  id: string;
  at: string;
  event: { action: string; actor?: { id: string; login: string } | null; target?: string | null; ip?: string | null; details?: Record<string, unknown> };
}

export function auditJournalPath(config: Config): string {
  return join(config.dataDir, 'read-only-audit.jsonl');
}

export function appendToJournal(config: Config, at: Date, event: JournalEntry['event']): void {
  const entry: JournalEntry = { id: randomUUID(), at: at.toISOString(), event };
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const fd = openSync(auditJournalPath(config), 'a', 0o600);
  try {
    writeSync(fd, `${JSON.stringify(entry)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Whether entries wait for replay (a journal, or a replay that was cut short). */
export function journalWaiting(config: Config): boolean {
  const path = auditJournalPath(config);
  return existsSync(path) || existsSync(`${path}.replaying`);
}

/**
 * Takes the journal for replay: it is renamed first, so that entries appended meanwhile (a
 * request still finishing in read-only mode) start a new file instead of being lost. A file
 * left by a replay that was cut short is taken again. A line cut short by a crash is skipped.
 */
export function takeJournal(config: Config): { entries: JournalEntry[]; done(): void } | null {
  const path = auditJournalPath(config);
  const taken = `${path}.replaying`;
  if (!existsSync(taken)) {
    if (!existsSync(path)) return null;
    renameSync(path, taken);
  }
  const entries: JournalEntry[] = [];
  for (const line of readFileSync(taken, 'utf8').split('\n')) {
    if (!line) continue;
    try {
      entries.push(JSON.parse(line) as JournalEntry);
    } catch {
      // The last line of a crashed append: nothing after it was acknowledged.
    }
  }
  return { entries, done: () => unlinkSync(taken) };
}
