-- Trigram indexes for name search (pg_trgm: a trusted extension on PostgreSQL 13+, bundled with PGlite).
CREATE EXTENSION IF NOT EXISTS pg_trgm;--> statement-breakpoint
CREATE TABLE "adverse_parties" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"case_id" uuid NOT NULL,
	"full_name" text NOT NULL,
	"search_name" text NOT NULL,
	"name_keys" text[] NOT NULL
);
--> statement-breakpoint
CREATE TABLE "case_assignments" (
	"case_id" uuid NOT NULL,
	"user_id" uuid NOT NULL,
	"kind" text NOT NULL,
	"assigned_at" timestamp with time zone NOT NULL,
	CONSTRAINT "case_assignments_case_id_user_id_pk" PRIMARY KEY("case_id","user_id")
);
--> statement-breakpoint
CREATE TABLE "case_notes" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"case_id" uuid NOT NULL,
	"author_id" uuid,
	"at" timestamp with time zone NOT NULL,
	"text" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "case_number_counters" (
	"year" integer PRIMARY KEY NOT NULL,
	"last" integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE "cases" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"number" text NOT NULL,
	"client_id" uuid NOT NULL,
	"problem_code" text NOT NULL,
	"office" text,
	"program" text,
	"funding_code" text,
	"status" text,
	"disposition" text NOT NULL,
	"reject_reason" text,
	"referral" text,
	"closing_code" text,
	"postal_code" text,
	"county" text,
	"income_override_reason" text,
	"created_by" uuid,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	"closed_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "clients" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"first_name" text NOT NULL,
	"last_name" text NOT NULL,
	"aliases" text[] DEFAULT '{}'::text[] NOT NULL,
	"date_of_birth" date,
	"ssn" text,
	"phone" text,
	"phone_digits" text,
	"email" text,
	"language" text,
	"household_size" integer,
	"annual_income" integer,
	"search_name" text NOT NULL,
	"name_keys" text[] NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "conflict_results" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"application_id" uuid,
	"case_id" uuid,
	"subject_kind" text NOT NULL,
	"subject_name" text NOT NULL,
	"matched_kind" text NOT NULL,
	"matched_name" text NOT NULL,
	"matched_case_id" uuid,
	"score" integer NOT NULL,
	"reasons" text[] NOT NULL,
	"decision" text NOT NULL,
	"decided_by" uuid,
	"decided_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "intake_applications" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"worker_id" uuid NOT NULL,
	"stages" jsonb NOT NULL,
	"next_stage" integer NOT NULL,
	"status" text NOT NULL,
	"problem_code" text,
	"postal_code" text,
	"county" text,
	"household_size" integer,
	"annual_income" integer,
	"answers" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"income_override_reason" text,
	"income_halt" text,
	"identity" jsonb,
	"adverse_parties" text[],
	"halt_reason" text,
	"halt_message" text,
	"referral" text,
	"case_id" uuid,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "intake_stages" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"position" integer NOT NULL,
	"kind" text NOT NULL,
	"question" text,
	"halt_on" text,
	"referral" text DEFAULT '' NOT NULL
);
--> statement-breakpoint
CREATE TABLE "lookups" (
	"kind" text NOT NULL,
	"value" text NOT NULL,
	"active" boolean DEFAULT true NOT NULL,
	"position" integer DEFAULT 0 NOT NULL,
	CONSTRAINT "lookups_kind_value_pk" PRIMARY KEY("kind","value")
);
--> statement-breakpoint
CREATE TABLE "poverty_guidelines" (
	"household_size" integer PRIMARY KEY NOT NULL,
	"amount" integer NOT NULL,
	"updated_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "offices" text[] DEFAULT '{}'::text[] NOT NULL;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "programs" text[] DEFAULT '{}'::text[] NOT NULL;--> statement-breakpoint
ALTER TABLE "adverse_parties" ADD CONSTRAINT "adverse_parties_case_id_cases_id_fk" FOREIGN KEY ("case_id") REFERENCES "public"."cases"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "case_assignments" ADD CONSTRAINT "case_assignments_case_id_cases_id_fk" FOREIGN KEY ("case_id") REFERENCES "public"."cases"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "case_assignments" ADD CONSTRAINT "case_assignments_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "case_notes" ADD CONSTRAINT "case_notes_case_id_cases_id_fk" FOREIGN KEY ("case_id") REFERENCES "public"."cases"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "case_notes" ADD CONSTRAINT "case_notes_author_id_users_id_fk" FOREIGN KEY ("author_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "cases" ADD CONSTRAINT "cases_client_id_clients_id_fk" FOREIGN KEY ("client_id") REFERENCES "public"."clients"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "cases" ADD CONSTRAINT "cases_created_by_users_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "conflict_results" ADD CONSTRAINT "conflict_results_case_id_cases_id_fk" FOREIGN KEY ("case_id") REFERENCES "public"."cases"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "conflict_results" ADD CONSTRAINT "conflict_results_decided_by_users_id_fk" FOREIGN KEY ("decided_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "intake_applications" ADD CONSTRAINT "intake_applications_worker_id_users_id_fk" FOREIGN KEY ("worker_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "adverse_parties_case_idx" ON "adverse_parties" USING btree ("case_id");--> statement-breakpoint
CREATE INDEX "adverse_parties_name_keys_idx" ON "adverse_parties" USING gin ("name_keys");--> statement-breakpoint
CREATE INDEX "adverse_parties_search_name_trgm_idx" ON "adverse_parties" USING gin ("search_name" gin_trgm_ops);--> statement-breakpoint
CREATE INDEX "case_assignments_user_idx" ON "case_assignments" USING btree ("user_id","case_id");--> statement-breakpoint
CREATE INDEX "case_notes_case_idx" ON "case_notes" USING btree ("case_id","at");--> statement-breakpoint
CREATE UNIQUE INDEX "cases_number_key" ON "cases" USING btree ("number");--> statement-breakpoint
CREATE INDEX "cases_client_idx" ON "cases" USING btree ("client_id");--> statement-breakpoint
CREATE INDEX "cases_created_idx" ON "cases" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "clients_name_keys_idx" ON "clients" USING gin ("name_keys");--> statement-breakpoint
CREATE INDEX "clients_search_name_trgm_idx" ON "clients" USING gin ("search_name" gin_trgm_ops);--> statement-breakpoint
CREATE INDEX "clients_dob_idx" ON "clients" USING btree ("date_of_birth");--> statement-breakpoint
CREATE INDEX "clients_phone_idx" ON "clients" USING btree ("phone_digits");--> statement-breakpoint
CREATE INDEX "conflict_results_case_idx" ON "conflict_results" USING btree ("case_id");--> statement-breakpoint
CREATE INDEX "conflict_results_application_idx" ON "conflict_results" USING btree ("application_id");--> statement-breakpoint
CREATE INDEX "intake_applications_worker_idx" ON "intake_applications" USING btree ("worker_id","created_at");--> statement-breakpoint
-- Case notes are append-only: a correction is a new note.
CREATE FUNCTION case_notes_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'case_notes is append-only: add a new note instead';
END;
$$;--> statement-breakpoint
CREATE TRIGGER case_notes_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON case_notes
  FOR EACH STATEMENT EXECUTE FUNCTION case_notes_refuse_change();
