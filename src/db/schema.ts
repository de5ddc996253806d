import { sql } from 'drizzle-orm';
import { bigint, boolean, customType, index, integer, jsonb, pgTable, primaryKey, smallint, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';

// The whole data model. Timestamps come from the application's clock, not the database's,
// so that expiry rules can be tested with a controllable clock.
const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

export const roles = pgTable('roles', {
  id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
  name: text('name').notNull().unique(),
  internalPermissions: text('internal_permissions').array().notNull().default(sql`'{}'::text[]`),
  externalPermissions: text('external_permissions').array().notNull().default(sql`'{}'::text[]`),
  createdAt: ts('created_at').notNull(),
});

export const users = pgTable(
  'users',
  {
    id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
    // Stored lower-cased: login names are case-insensitive.
    login: text('login').notNull(),
    fullName: text('full_name').notNull(),
    email: text('email').notNull(),
    roleId: uuid('role_id').notNull().references(() => roles.id),
    loginActive: boolean('login_active').notNull().default(true),
    passwordHash: text('password_hash'),
    passwordChangedAt: ts('password_changed_at'),
    mustChangePassword: boolean('must_change_password').notNull().default(false),
    mfaEnabled: boolean('mfa_enabled').notNull().default(false),
    // 'email' | 'app' | 'passkey' while mfa_enabled; null otherwise.
    mfaMethod: text('mfa_method'),
    // Base32 TOTP secret of the 'app' method. The last accepted time step makes every code single use.
    mfaTotpSecret: text('mfa_totp_secret'),
    mfaTotpLastStep: bigint('mfa_totp_last_step', { mode: 'number' }),
    // An administrator asked this user to enrol at the next login.
    mfaEnrolRequired: boolean('mfa_enrol_required').notNull().default(false),
    // When the owner was last warned that someone who knows their password is trying codes (at most daily).
    mfaCodeWarningAt: ts('mfa_code_warning_at'),
    lastLoginAt: ts('last_login_at'),
    // Case access (DESIGN §1.4): the offices and programs whose cases this user may see; empty = all.
    offices: text('offices').array().notNull().default(sql`'{}'::text[]`),
    programs: text('programs').array().notNull().default(sql`'{}'::text[]`),
    createdAt: ts('created_at').notNull(),
    updatedAt: ts('updated_at').notNull(),
  },
  // E-mail addresses are stored lower-cased; the index makes them unique regardless of case.
  (t) => [uniqueIndex('users_login_key').on(t.login), uniqueIndex('users_email_key').on(sql`lower(${t.email})`)],
);

export const passwordHistory = pgTable(
  'password_history',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    userId: uuid('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
    passwordHash: text('password_hash').notNull(),
    createdAt: ts('created_at').notNull(),
  },
  (t) => [index('password_history_user_idx').on(t.userId, t.createdAt)],
);

export const sessions = pgTable(
  'sessions',
  {
    // SHA-256 of the cookie's token: the token itself is never stored.
    id: text('id').primaryKey(),
    userId: uuid('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
    // The login step this session is at: 'mfa' (code not yet given), 'password_change',
    // 'mfa_enrol' (role requires MFA, none yet) or 'full'. Every step taken rotates the id.
    stage: text('stage').notNull(),
    // The pending WebAuthn challenge of this session (registration or authentication).
    webauthnChallenge: text('webauthn_challenge'),
    createdAt: ts('created_at').notNull(),
    lastSeenAt: ts('last_seen_at').notNull(),
    // The absolute end, set at the password step and carried through every rotation of the id.
    expiresAt: ts('expires_at').notNull(),
    // When the user last proved every factor they have (at login, or re-authenticating): changes
    // to MFA need it to be recent. Carried through rotations like expires_at.
    authenticatedAt: ts('authenticated_at').notNull(),
    // Re-authentication in two steps: when the password was confirmed, waiting for the factor.
    passwordConfirmedAt: ts('password_confirmed_at'),
    // New recovery codes waiting to be shown once, sealed with a key derived from this
    // session's token (which the database never holds).
    recoveryCodesSealed: text('recovery_codes_sealed'),
    // A personal access token just created, sealed the same way, until its page shows it once.
    newApiTokenSealed: text('new_api_token_sealed'),
    // An SSO identity whose first link the user confirmed with their password: it is linked
    // only when this login reaches its last step (MFA passed), never before (sso/links.ts).
    pendingSsoLink: text('pending_sso_link'),
    // How this login's first factor was proved (security/mfa.ts FirstFactor): an SSO sign-in is
    // never asked to change its password, at any step of that login.
    firstFactor: text('first_factor').notNull().default('password'),
    ip: text('ip'),
    userAgent: text('user_agent'),
  },
  (t) => [index('sessions_user_idx').on(t.userId)],
);

export const loginThrottle = pgTable('login_throttle', {
  // 'login:<name>', 'ip:<address>' or 'device:<user id>:<device hash>'.
  key: text('key').primaryKey(),
  failures: integer('failures').notNull(),
  nextAt: ts('next_at').notNull(),
  updatedAt: ts('updated_at').notNull(),
});

export const knownDevices = pgTable(
  'known_devices',
  {
    userId: uuid('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
    deviceHash: text('device_hash').notNull(),
    createdAt: ts('created_at').notNull(),
    lastLoginAt: ts('last_login_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.deviceHash] })],
);

export const setupTokens = pgTable('setup_tokens', {
  tokenHash: text('token_hash').primaryKey(),
  createdAt: ts('created_at').notNull(),
  expiresAt: ts('expires_at').notNull(),
  usedAt: ts('used_at'),
});

export const siteSettings = pgTable('site_settings', {
  key: text('key').primaryKey(),
  value: text('value').notNull(),
  updatedAt: ts('updated_at').notNull(),
});

/**
 * The head of the audit chain: the last entry's number and hash, in one row that every append
 * locks (UPDATE … RETURNING), so that concurrent appenders, on any instance, extend one chain.
 */
export const auditHead = pgTable('audit_head', {
  id: integer('id').primaryKey(),
  seq: bigint('seq', { mode: 'number' }).notNull(),
  hash: text('hash').notNull(),
  /** The hash before the last append: the appending statement reads it back as the new entry's prev_hash. */
  prevHash: text('prev_hash').notNull().default(''),
});

/**
 * What this database knows of the key file: a check value of its search key (kind 'search'),
 * the id of the current master key ('current'), and master keys a rotation has retired
 * ('retired'). Haven refuses to start with a key file that is not this database's, or that is
 * older than its last rotation; a trigger refuses data keys wrapped by a retired key.
 */
export const sealingKeys = pgTable('sealing_keys', {
  id: text('id').primaryKey(),
  // 'search' | 'current' | 'retired'
  kind: text('kind').notNull(),
  checkValue: text('check_value'),
  addedAt: ts('added_at').notNull(),
});

/** Data changes made once by code at start (with their audit entries), after the SQL migrations. */
export const dataMigrations = pgTable('data_migrations', {
  name: text('name').primaryKey(),
  appliedAt: ts('applied_at').notNull(),
});

export const auditLog = pgTable(
  'audit_log',
  {
    seq: bigint('seq', { mode: 'number' }).primaryKey(),
    at: ts('at').notNull(),
    actorId: uuid('actor_id'),
    actorLogin: text('actor_login'),
    action: text('action').notNull(),
    target: text('target'),
    ip: text('ip'),
    details: jsonb('details'),
    prevHash: text('prev_hash').notNull(),
    hash: text('hash').notNull(),
    /** How `hash` was computed (security/audit-chain.ts): 1 in JavaScript over the whole entry, 2 in the appending statement. */
    format: smallint('format').notNull().default(1),
  },
  (t) => [index('audit_log_action_idx').on(t.action, t.at)],
);

// ---- Multifactor authentication (DESIGN §1.3) ----------------------------------------

/** E-mailed codes: 6 digits, 15 minutes, single use; a new one kills the user's older ones. */
export const mfaEmailCodes = pgTable(
  'mfa_email_codes',
  {
    id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
    userId: uuid('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
    // 'login' (the challenge) or 'enrol' (confirming the address while enabling the method).
    purpose: text('purpose').notNull(),
    codeHash: text('code_hash').notNull(),
    createdAt: ts('created_at').notNull(),
    expiresAt: ts('expires_at').notNull(),
    usedAt: ts('used_at'),
  },
  (t) => [index('mfa_email_codes_user_idx').on(t.userId, t.purpose)],
);

/** An enrolment in progress: the method chosen and, for 'app', the secret not yet confirmed. */
export const mfaEnrolments = pgTable('mfa_enrolments', {
  userId: uuid('user_id').primaryKey().references(() => users.id, { onDelete: 'cascade' }),
  method: text('method').notNull(),
  totpSecret: text('totp_secret'),
  createdAt: ts('created_at').notNull(),
});

/** Ten one-time recovery codes per enrolment, stored hashed. */
export const mfaRecoveryCodes = pgTable(
  'mfa_recovery_codes',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    userId: uuid('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
    codeHash: text('code_hash').notNull(),
    usedAt: ts('used_at'),
  },
  (t) => [index('mfa_recovery_codes_user_idx').on(t.userId)],
);

/** Passkeys / security keys registered with @simplewebauthn/server. */
export const webauthnCredentials = pgTable(
  'webauthn_credentials',
  {
    // The credential id, base64url.
    id: text('id').primaryKey(),
    userId: uuid('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
    publicKey: text('public_key').notNull(),
    counter: bigint('counter', { mode: 'number' }).notNull(),
    transports: text('transports').array().notNull().default(sql`'{}'::text[]`),
    createdAt: ts('created_at').notNull(),
    lastUsedAt: ts('last_used_at'),
  },
  (t) => [index('webauthn_credentials_user_idx').on(t.userId)],
);

/**
 * Devices that passed the MFA step (cookie mfa_daily_secret_key): remembered for 24 hours
 * after the last successful login on that device. Rows die with the user's password or MFA
 * changes, an administrator's reset and deactivation.
 */
export const mfaTrustedDevices = pgTable(
  'mfa_trusted_devices',
  {
    userId: uuid('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
    secretHash: text('secret_hash').notNull(),
    lastLoginAt: ts('last_login_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.secretHash] })],
);

// ---- Outgoing mail and jobs (DESIGN §1.9, §3.1) ----------------------------------------

/** Every outgoing message is written here first; the mail job sends it. Nothing is deleted. */
export const mailOutbox = pgTable(
  'mail_outbox',
  {
    id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
    toAddress: text('to_address').notNull(),
    subject: text('subject').notNull(),
    textBody: text('text_body').notNull(),
    // 'queued' (waiting or retrying), 'sent', or 'failed' (gave up; see docs/OPERATIONS.md).
    status: text('status').notNull(),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: ts('next_attempt_at').notNull(),
    lastError: text('last_error'),
    createdAt: ts('created_at').notNull(),
    sentAt: ts('sent_at'),
  },
  (t) => [index('mail_outbox_status_idx').on(t.status, t.nextAttemptAt), index('mail_outbox_created_idx').on(t.createdAt)],
);

/** One row per run of a scheduled job, on whichever instance ran it. */
export const jobRuns = pgTable(
  'job_runs',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    job: text('job').notNull(),
    startedAt: ts('started_at').notNull(),
    finishedAt: ts('finished_at'),
    // 'running', 'ok' or 'error'.
    outcome: text('outcome').notNull(),
    details: jsonb('details'),
  },
  (t) => [index('job_runs_job_idx').on(t.job, t.startedAt)],
);

// ---- Cases and intake (DESIGN §1.4, §1.5, §2.4) -----------------------------------------

/**
 * The lookups administrators edit: offices, programs, funding codes and case statuses. A value
 * in use is never deleted, only made inactive, so that old cases keep their meaning.
 */
export const lookups = pgTable(
  'lookups',
  {
    // 'office' | 'program' | 'funding_code' | 'case_status'
    kind: text('kind').notNull(),
    value: text('value').notNull(),
    active: boolean('active').notNull().default(true),
    position: integer('position').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.kind, t.value] })],
);

/** The poverty guideline by household size (annual dollars), editable by administrators. */
export const povertyGuidelines = pgTable('poverty_guidelines', {
  householdSize: integer('household_size').primaryKey(),
  amount: integer('amount').notNull(),
  updatedAt: ts('updated_at').notNull(),
});

/**
 * The intake sequence, in `position` order. Kinds are fixed in code (security/intake-stages.ts):
 * 'problem', 'eligibility', 'question' (an administrator's yes/no screening question),
 * 'identity', 'adverse', 'conflicts'. A halting stage carries its referral text.
 */
export const intakeStages = pgTable('intake_stages', {
  id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
  position: integer('position').notNull(),
  kind: text('kind').notNull(),
  question: text('question'),
  // The answer to a 'question' stage that halts the application: 'yes' or 'no'.
  haltOn: text('halt_on'),
  referral: text('referral').notNull().default(''),
});

/**
 * An application in progress. Identity data (`identity`, `adverse_parties`) exists here only
 * between the identity stage and the end: a halt erases it, and completion moves it to the
 * client and the case. A halted application keeps only what screened it.
 */
export const intakeApplications = pgTable(
  'intake_applications',
  {
    id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
    workerId: uuid('worker_id').notNull().references(() => users.id),
    // The sequence as it stood when the application began (a copy of intake_stages), so that an
    // administrator's edit never changes an application under way; and the index of the next one.
    stages: jsonb('stages').notNull(),
    nextStage: integer('next_stage').notNull(),
    // 'open' | 'halted' | 'completed'
    status: text('status').notNull(),
    problemCode: text('problem_code'),
    postalCode: text('postal_code'),
    county: text('county'),
    householdSize: integer('household_size'),
    annualIncome: integer('annual_income'),
    // Answers to screening questions: { <stage id>: 'yes' | 'no' }.
    answers: jsonb('answers').notNull().default(sql`'{}'::jsonb`),
    incomeOverrideReason: text('income_override_reason'),
    // While the income halt waits for an override decision.
    incomeHalt: text('income_halt'),
    // The identity typed at the identity stage, as JSON sealed under the application's own data
    // key (keys/service.ts): names, date of birth and SSN are never stored in clear.
    dataKey: text('data_key'),
    identitySealed: text('identity_sealed'),
    adverseParties: text('adverse_parties').array(),
    haltReason: text('halt_reason'),
    haltMessage: text('halt_message'),
    referral: text('referral'),
    caseId: uuid('case_id'),
    createdAt: ts('created_at').notNull(),
    updatedAt: ts('updated_at').notNull(),
  },
  (t) => [index('intake_applications_worker_idx').on(t.workerId, t.createdAt)],
);

export const clients = pgTable(
  'clients',
  {
    id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
    firstName: text('first_name').notNull(),
    lastName: text('last_name').notNull(),
    aliases: text('aliases').array().notNull().default(sql`'{}'::text[]`),
    // The client's own data key, wrapped by a master key (keys/service.ts), and what it seals:
    // the date of birth (YYYY-MM-DD) and the SSN (digits only: 9, or 4 under ssn_digits=last4).
    dataKey: text('data_key').notNull(),
    dobSealed: text('dob_sealed'),
    ssnSealed: text('ssn_sealed'),
    // A keyed hash (HMAC with the key file's search key) of the date of birth: search and the
    // conflict check compare it, so no date is stored in clear.
    dobHash: text('dob_hash'),
    // 9 or 4: how many SSN digits are sealed, so that switching to last4 can count full SSNs
    // without opening them. Null without an SSN.
    ssnLength: smallint('ssn_length'),
    phone: text('phone'),
    phoneDigits: text('phone_digits'),
    email: text('email'),
    language: text('language'),
    householdSize: integer('household_size'),
    annualIncome: integer('annual_income'),
    // Who created the client through the API (POST /api/v1/clients): until the client has a
    // case, only they may open one for it. Null for clients created by intake.
    createdBy: uuid('created_by').references(() => users.id, { onDelete: 'set null' }),
    // Normalized "first last" and aliases, one per line: trigram and prefix search.
    searchName: text('search_name').notNull(),
    // Double Metaphone codes of every name and alias: sounds-like search and conflict candidates.
    nameKeys: text('name_keys').array().notNull(),
    createdAt: ts('created_at').notNull(),
    updatedAt: ts('updated_at').notNull(),
  },
  (t) => [
    index('clients_name_keys_idx').using('gin', t.nameKeys),
    index('clients_search_name_trgm_idx').using('gin', sql`${t.searchName} gin_trgm_ops`),
    index('clients_dob_hash_idx').on(t.dobHash),
    index('clients_phone_idx').on(t.phoneDigits),
  ],
);

/** Case numbers YY-NNNNNN: one counter row per year, moved on with UPDATE … RETURNING (a row lock). */
export const caseNumberCounters = pgTable('case_number_counters', {
  year: integer('year').primaryKey(),
  last: integer('last').notNull(),
});

export const cases = pgTable(
  'cases',
  {
    id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
    number: text('number').notNull(),
    clientId: uuid('client_id').notNull().references(() => clients.id),
    problemCode: text('problem_code').notNull(),
    office: text('office'),
    program: text('program'),
    fundingCode: text('funding_code'),
    status: text('status'),
    // security/disposition.ts: changed only by its actions.
    disposition: text('disposition').notNull(),
    rejectReason: text('reject_reason'),
    referral: text('referral'),
    closingCode: text('closing_code'),
    postalCode: text('postal_code'),
    county: text('county'),
    incomeOverrideReason: text('income_override_reason'),
    createdBy: uuid('created_by').references(() => users.id),
    createdAt: ts('created_at').notNull(),
    updatedAt: ts('updated_at').notNull(),
    closedAt: ts('closed_at'),
    // Another address for mail to this case (DESIGN §1.9): <mail_alias>@<inbound domain>, set on
    // the case page; lowercase, unique (security/mail-alias.ts).
    mailAlias: text('mail_alias'),
  },
  (t) => [
    uniqueIndex('cases_number_key').on(t.number),
    index('cases_client_idx').on(t.clientId),
    index('cases_created_idx').on(t.createdAt),
    uniqueIndex('cases_mail_alias_key').on(t.mailAlias),
  ],
);

/**
 * Each case's client-name words ("w:smith") and their Double Metaphone keys ("k:SM0"), with
 * the case's creation time: search by one name word reads the newest cases of that word straight
 * from the index, however common the name. Kept by triggers on cases and clients (migration 0006).
 */
export const caseNameTerms = pgTable(
  'case_name_terms',
  {
    term: text('term').notNull(),
    caseId: uuid('case_id')
      .notNull()
      .references(() => cases.id, { onDelete: 'cascade' }),
    createdAt: ts('created_at').notNull(),
    /** A word as spelled, not a sound key. */
    spelled: boolean('spelled').notNull(),
  },
  (t) => [primaryKey({ columns: [t.caseId, t.term] }), index('case_name_terms_recent_idx').on(t.term, t.createdAt.desc(), t.caseId)],
);

/** Who works on a case: 'staff' (assigned by cases_edit) or 'intake' (took the application). */
export const caseAssignments = pgTable(
  'case_assignments',
  {
    caseId: uuid('case_id').notNull().references(() => cases.id),
    userId: uuid('user_id').notNull().references(() => users.id),
    kind: text('kind').notNull(),
    assignedAt: ts('assigned_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.caseId, t.userId] }), index('case_assignments_user_idx').on(t.userId, t.caseId)],
);

/** Append-only (a trigger refuses UPDATE and DELETE): a correction is a new note. */
export const caseNotes = pgTable(
  'case_notes',
  {
    id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
    caseId: uuid('case_id').notNull().references(() => cases.id),
    authorId: uuid('author_id').references(() => users.id),
    at: ts('at').notNull(),
    text: text('text').notNull(),
  },
  (t) => [index('case_notes_case_idx').on(t.caseId, t.at)],
);

const bytea = customType<{ data: Buffer; driverData: Buffer }>({ dataType: () => 'bytea' });

/**
 * A document on a case (issue 11): an upload, or an e-mail attachment. Its name and its
 * SHA-256 are sealed under its own data key, and its bytes are in document_chunks, sealed
 * chunk by chunk. A row exists only once every chunk is stored (one transaction).
 */
export const documents = pgTable(
  'documents',
  {
    id: uuid('id').primaryKey(),
    caseId: uuid('case_id').notNull().references(() => cases.id),
    dataKey: text('data_key').notNull(),
    nameSealed: text('name_sealed').notNull(),
    // The SHA-256 (hex) of the exact bytes uploaded: `haven documents verify` recomputes it.
    sha256Sealed: text('sha256_sealed').notNull(),
    // Sniffed from the bytes, never taken from the upload's own claim.
    contentType: text('content_type').notNull(),
    size: bigint('size', { mode: 'number' }).notNull(),
    chunks: integer('chunks').notNull(),
    // 'upload' | 'mail'
    source: text('source').notNull(),
    uploadedBy: uuid('uploaded_by').references(() => users.id),
    createdAt: ts('created_at').notNull(),
  },
  (t) => [index('documents_case_idx').on(t.caseId, t.createdAt)],
);

/** A document's bytes, in sealed chunks of at most DOCUMENT_CHUNK_BYTES (documents/service.ts). */
export const documentChunks = pgTable(
  'document_chunks',
  {
    documentId: uuid('document_id')
      .notNull()
      .references(() => documents.id, { onDelete: 'cascade' }),
    seq: integer('seq').notNull(),
    data: bytea('data').notNull(),
  },
  (t) => [primaryKey({ columns: [t.documentId, t.seq] })],
);

/**
 * Mail filed on a case (DESIGN §1.9): one row per message and case, keyed by the message's
 * identity, so that a sender retrying after a dropped connection does not file it twice.
 */
export const inboundMessages = pgTable(
  'inbound_messages',
  {
    caseId: uuid('case_id')
      .notNull()
      .references(() => cases.id),
    // SHA-256 of the Message-ID header, or of the whole message when it has none.
    messageKey: text('message_key').notNull(),
    // The note it became (no foreign key: case_notes refuses TRUNCATE itself, append-only).
    noteId: uuid('note_id'),
    receivedAt: ts('received_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.caseId, t.messageKey] })],
);

export const adverseParties = pgTable(
  'adverse_parties',
  {
    id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
    caseId: uuid('case_id').notNull().references(() => cases.id),
    fullName: text('full_name').notNull(),
    searchName: text('search_name').notNull(),
    nameKeys: text('name_keys').array().notNull(),
  },
  (t) => [
    index('adverse_parties_case_idx').on(t.caseId),
    index('adverse_parties_name_keys_idx').using('gin', t.nameKeys),
    index('adverse_parties_search_name_trgm_idx').using('gin', sql`${t.searchName} gin_trgm_ops`),
  ],
);

/**
 * A possible conflict found at intake: who was checked, whom they matched, the score and the
 * reasons, and the decision a user recorded ('conflict', 'no_conflict', 'review').
 */
export const conflictResults = pgTable(
  'conflict_results',
  {
    id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
    applicationId: uuid('application_id'),
    caseId: uuid('case_id').references(() => cases.id),
    // 'applicant' | 'adverse'
    subjectKind: text('subject_kind').notNull(),
    subjectName: text('subject_name').notNull(),
    // 'client' | 'adverse'
    matchedKind: text('matched_kind').notNull(),
    matchedName: text('matched_name').notNull(),
    matchedCaseId: uuid('matched_case_id'),
    score: integer('score').notNull(),
    reasons: text('reasons').array().notNull(),
    decision: text('decision').notNull(),
    decidedBy: uuid('decided_by').references(() => users.id),
    decidedAt: ts('decided_at'),
  },
  (t) => [index('conflict_results_case_idx').on(t.caseId), index('conflict_results_application_idx').on(t.applicationId)],
);

// ---- Backups (DESIGN §1.10) ----------------------------------------------------------------

/**
 * Every backup Haven started, with the step it is at (so any instance's Admin > Backups can
 * follow it). The files and their manifest in HAVEN_BACKUP_DIR are the backup itself; this is
 * its history, failures included. status: 'running', 'ok', 'failed', or 'interrupted' (a run
 * that was still 'running' when the next one began: its process died).
 */
export const backupRuns = pgTable(
  'backup_runs',
  {
    id: text('id').primaryKey(),
    // 'scheduled' | 'manual'
    trigger: text('trigger').notNull(),
    startedAt: ts('started_at').notNull(),
    finishedAt: ts('finished_at'),
    status: text('status').notNull(),
    step: text('step').notNull(),
    bytes: bigint('bytes', { mode: 'number' }),
    error: text('error'),
  },
  (t) => [index('backup_runs_started_idx').on(t.startedAt)],
);

/**
 * Every restore test: which backup, when, how long the restore took, and what failed (one line).
 * status: 'running', 'passed', 'failed', 'interrupted'.
 */
export const backupChecks = pgTable(
  'backup_checks',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    backupId: text('backup_id').notNull(),
    startedAt: ts('started_at').notNull(),
    finishedAt: ts('finished_at'),
    status: text('status').notNull(),
    step: text('step').notNull(),
    durationMs: integer('duration_ms'),
    reason: text('reason'),
    details: jsonb('details'),
  },
  (t) => [index('backup_checks_backup_idx').on(t.backupId, t.startedAt), index('backup_checks_started_idx').on(t.startedAt)],
);

/**
 * The site's failover mode, one row (id 1). It lives in the database so that every Haven
 * instance sees it, and it replicates to the standby with everything else: while the primary
 * is down, the standby still says which generation it belongs to. `generation` goes up by one
 * at each promotion, so that a node that was primary before (and comes back) loses to the one
 * promoted after it.
 */
export const failoverState = pgTable('failover_state', {
  id: integer('id').primaryKey(),
  readOnly: boolean('read_only').notNull().default(false),
  readOnlySince: ts('read_only_since'),
  changedBy: text('changed_by'),
  generation: integer('generation').notNull().default(1),
  promotedAt: ts('promoted_at'),
});

/**
 * Networks (Admin > Locations, DESIGN §1.6). A request's address picks the network whose range
 * holds it most specifically (security/locations.ts): its Internal flag picks which of the
 * role's permission sets applies, its timeout replaces the site's idle timeout, and its forced
 * role caps what sessions from it may do. `ranges` holds normalized CIDRs.
 */
export const networks = pgTable(
  'networks',
  {
    id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
    name: text('name').notNull(),
    ranges: text('ranges').array().notNull(),
    internal: boolean('internal').notNull().default(false),
    timeoutMinutes: integer('timeout_minutes'),
    forcedRoleId: uuid('forced_role_id').references(() => roles.id),
    createdAt: ts('created_at').notNull(),
    updatedAt: ts('updated_at').notNull(),
  },
  (t) => [uniqueIndex('networks_name_key').on(sql`lower(${t.name})`)],
);

/**
 * Personal access tokens (DESIGN §1.7, My Preferences > API tokens). Only the SHA-256 of the
 * token is kept: it is 256 random bits, so a fast hash is enough to make the stored value useless.
 * A token works while it is not revoked or expired and its user is active with API Access where
 * the call comes from; deactivating the user revokes every token they have.
 */
export const apiTokens = pgTable(
  'api_tokens',
  {
    id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
    userId: uuid('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    tokenHash: text('token_hash').notNull(),
    createdAt: ts('created_at').notNull(),
    expiresAt: ts('expires_at').notNull(),
    lastUsedAt: ts('last_used_at'),
    lastUsedIp: text('last_used_ip'),
    revokedAt: ts('revoked_at'),
  },
  (t) => [uniqueIndex('api_tokens_hash_key').on(t.tokenHash), index('api_tokens_user_idx').on(t.userId)],
);

/**
 * API calls counted per token and per address in one-minute windows (security/api-rate.ts), in
 * the database so that every instance counts the same calls.
 */
export const apiRateWindows = pgTable('api_rate_windows', {
  // 'token:<id>' or 'ip:<address>'.
  key: text('key').primaryKey(),
  windowStart: ts('window_start').notNull(),
  calls: integer('calls').notNull(),
});

/**
 * Single sign-on providers (DESIGN §1.1, Admin > Single Sign On, `haven sso add`). The client
 * secret is sealed like a client's SSN (its own data key, wrapped by the master key): a copy of
 * the database alone cannot sign in at the identity provider as Haven.
 */
export const ssoProviders = pgTable(
  'sso_providers',
  {
    id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
    // The name in /login/sso/:provider: lower-case letters, digits and hyphens.
    name: text('name').notNull(),
    kind: text('kind').notNull(),
    issuer: text('issuer').notNull(),
    clientId: text('client_id').notNull(),
    dataKey: text('data_key').notNull(),
    clientSecretSealed: text('client_secret_sealed').notNull(),
    hostedDomain: text('hosted_domain'),
    // Whether the provider's `amr` claim, when it shows a second factor, stands for Haven's MFA step.
    trustAmr: boolean('trust_amr').notNull().default(false),
    // The role of accounts this provider may create (with sso_allow_account_creation); null: none.
    newAccountRoleId: uuid('new_account_role_id').references(() => roles.id),
    createdAt: ts('created_at').notNull(),
    updatedAt: ts('updated_at').notNull(),
  },
  (t) => [uniqueIndex('sso_providers_name_key').on(t.name)],
);

/**
 * A Haven account's identity at a provider, by issuer and subject (Entra ID: `tid:oid`); never by
 * e-mail. One identity per account and provider.
 */
export const ssoIdentities = pgTable(
  'sso_identities',
  {
    id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
    userId: uuid('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
    providerId: uuid('provider_id').notNull().references(() => ssoProviders.id, { onDelete: 'cascade' }),
    issuer: text('issuer').notNull(),
    subject: text('subject').notNull(),
    // What the provider said the address was when the link was made (shown to administrators).
    email: text('email'),
    // 'password' (the user's Haven password), 'administrator', or 'created' (a new account).
    linkedBy: text('linked_by').notNull(),
    linkedAt: ts('linked_at').notNull(),
    lastLoginAt: ts('last_login_at'),
  },
  (t) => [uniqueIndex('sso_identities_subject_key').on(t.issuer, t.subject), uniqueIndex('sso_identities_user_provider_key').on(t.userId, t.providerId)],
);

/**
 * Identities that signed in at a provider but are linked to no account yet: an administrator
 * may link one to an account (Admin > Single Sign On). Kept 30 days.
 */
export const ssoLinkRequests = pgTable(
  'sso_link_requests',
  {
    id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
    providerId: uuid('provider_id').notNull().references(() => ssoProviders.id, { onDelete: 'cascade' }),
    issuer: text('issuer').notNull(),
    subject: text('subject').notNull(),
    email: text('email'),
    name: text('name'),
    requestedAt: ts('requested_at').notNull(),
    ip: text('ip'),
  },
  (t) => [uniqueIndex('sso_link_requests_subject_key').on(t.issuer, t.subject)],
);

/** The site's SSO policy: one row (id 1). Changed only with the checks of sso/service.ts. */
export const ssoPolicy = pgTable('sso_policy', {
  id: integer('id').primaryKey(),
  policy: text('policy').notNull(),
  breakGlassUserId: uuid('break_glass_user_id').references(() => users.id, { onDelete: 'set null' }),
  updatedAt: ts('updated_at').notNull(),
});
