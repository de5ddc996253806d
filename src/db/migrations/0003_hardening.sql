CREATE TABLE "audit_head" (
	"id" integer PRIMARY KEY NOT NULL,
	"seq" bigint NOT NULL,
	"hash" text NOT NULL
);
--> statement-breakpoint
-- The chain so far: its last entry, or the genesis hash when the log is empty.
INSERT INTO "audit_head" ("id", "seq", "hash")
SELECT 1, COALESCE((SELECT "seq" FROM "audit_log" ORDER BY "seq" DESC LIMIT 1), 0),
       COALESCE((SELECT "hash" FROM "audit_log" ORDER BY "seq" DESC LIMIT 1), repeat('0', 64));
--> statement-breakpoint
CREATE TABLE "data_migrations" (
	"name" text PRIMARY KEY NOT NULL,
	"applied_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "sessions" ADD COLUMN "authenticated_at" timestamp with time zone;--> statement-breakpoint
UPDATE "sessions" SET "authenticated_at" = "created_at";--> statement-breakpoint
ALTER TABLE "sessions" ALTER COLUMN "authenticated_at" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "sessions" ADD COLUMN "password_confirmed_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "sessions" ADD COLUMN "recovery_codes_sealed" text;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "mfa_code_warning_at" timestamp with time zone;--> statement-breakpoint
-- E-mail addresses become unique regardless of case. A site where two accounts share one must
-- give each its own address first: the upgrade stops here, with this message, and changes nothing.
DO $$
BEGIN
  IF EXISTS (SELECT lower("email") FROM "users" GROUP BY lower("email") HAVING count(*) > 1) THEN
    RAISE EXCEPTION 'Two or more accounts share an e-mail address (ignoring case). Give each account its own address, then start Haven again.';
  END IF;
END $$;--> statement-breakpoint
CREATE UNIQUE INDEX "users_email_key" ON "users" USING btree (lower("email"));
