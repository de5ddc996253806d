ALTER TABLE "audit_head" ADD COLUMN "prev_hash" text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE "audit_log" ADD COLUMN "format" smallint DEFAULT 1 NOT NULL;