CREATE TABLE "networks" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"ranges" text[] NOT NULL,
	"internal" boolean DEFAULT false NOT NULL,
	"timeout_minutes" integer,
	"forced_role_id" uuid,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "networks" ADD CONSTRAINT "networks_forced_role_id_roles_id_fk" FOREIGN KEY ("forced_role_id") REFERENCES "public"."roles"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "networks_name_key" ON "networks" USING btree (lower("name"));