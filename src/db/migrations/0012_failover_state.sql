CREATE TABLE "failover_state" (
	"id" integer PRIMARY KEY NOT NULL,
	"read_only" boolean DEFAULT false NOT NULL,
	"read_only_since" timestamp with time zone,
	"changed_by" text,
	"generation" integer DEFAULT 1 NOT NULL,
	"promoted_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "failover_state" ADD CONSTRAINT "failover_state_one_row" CHECK ("id" = 1);--> statement-breakpoint
INSERT INTO "failover_state" ("id") VALUES (1);
