CREATE TABLE "sealing_keys" (
	"id" text PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"check_value" text,
	"added_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
DROP INDEX "clients_dob_idx";--> statement-breakpoint
ALTER TABLE "clients" ADD COLUMN "data_key" text;--> statement-breakpoint
ALTER TABLE "clients" ADD COLUMN "dob_sealed" text;--> statement-breakpoint
ALTER TABLE "clients" ADD COLUMN "ssn_sealed" text;--> statement-breakpoint
ALTER TABLE "clients" ADD COLUMN "dob_hash" text;--> statement-breakpoint
ALTER TABLE "clients" ADD COLUMN "ssn_length" smallint;--> statement-breakpoint
ALTER TABLE "intake_applications" ADD COLUMN "data_key" text;--> statement-breakpoint
ALTER TABLE "intake_applications" ADD COLUMN "identity_sealed" text;--> statement-breakpoint
CREATE INDEX "clients_dob_hash_idx" ON "clients" USING btree ("dob_hash");--> statement-breakpoint
-- The snapshot (meta/0007) describes the schema after the data migration
-- '2026-12-seal-identity' (data-migrations.ts): it seals the clear columns, drops them
-- (clients.date_of_birth, clients.ssn, intake_applications.identity) and makes
-- clients.data_key NOT NULL. Dropping them here would lose them before they are sealed.
--
-- A data key wrapped by a retired master key is refused: once a rotation has retired a key, a
-- process still holding it in memory gets an error instead of storing data that nobody could
-- open again.
CREATE FUNCTION sealing_key_not_retired() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.data_key IS NOT NULL AND EXISTS (
       SELECT 1 FROM sealing_keys WHERE kind = 'retired' AND id = split_part(NEW.data_key, '.', 2)) THEN
    RAISE EXCEPTION 'data key wrapped by master key "%", which a rotation has retired', split_part(NEW.data_key, '.', 2)
      USING ERRCODE = 'HV001';
  END IF;
  RETURN NEW;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER clients_sealing_key BEFORE INSERT OR UPDATE OF data_key ON clients
  FOR EACH ROW EXECUTE FUNCTION sealing_key_not_retired();
--> statement-breakpoint
CREATE TRIGGER intake_applications_sealing_key BEFORE INSERT OR UPDATE OF data_key ON intake_applications
  FOR EACH ROW EXECUTE FUNCTION sealing_key_not_retired();
