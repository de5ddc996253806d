CREATE TABLE "case_name_terms" (
	"term" text NOT NULL,
	"case_id" uuid NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"spelled" boolean NOT NULL,
	CONSTRAINT "case_name_terms_case_id_term_pk" PRIMARY KEY("case_id","term")
);
--> statement-breakpoint
ALTER TABLE "case_name_terms" ADD CONSTRAINT "case_name_terms_case_id_cases_id_fk" FOREIGN KEY ("case_id") REFERENCES "public"."cases"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "case_name_terms_recent_idx" ON "case_name_terms" USING btree ("term","created_at" DESC NULLS LAST,"case_id");--> statement-breakpoint
-- The terms of a client's names: each word of search_name (the normalized names and aliases,
-- one per line) as spelled, and each Double Metaphone key of name_keys. Both were computed by
-- the application (clientSearchColumns), so the words and keys are the ones a search computes.
CREATE FUNCTION case_name_terms_of(search_name text, name_keys text[]) RETURNS TABLE (term text, spelled boolean)
  LANGUAGE sql IMMUTABLE AS $$
    SELECT 'w:' || w, true FROM regexp_split_to_table(search_name, '\s+') w WHERE w <> ''
    UNION
    SELECT 'k:' || k, false FROM unnest(name_keys) k WHERE k <> ''
$$;
--> statement-breakpoint
CREATE FUNCTION case_name_terms_for_new_cases() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO case_name_terms (term, case_id, created_at, spelled)
  SELECT t.term, n.id, n.created_at, t.spelled
    FROM new_cases n JOIN clients cl ON cl.id = n.client_id
   CROSS JOIN LATERAL case_name_terms_of(cl.search_name, cl.name_keys) t
  ON CONFLICT DO NOTHING;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER cases_name_terms AFTER INSERT ON cases REFERENCING NEW TABLE AS new_cases
  FOR EACH STATEMENT EXECUTE FUNCTION case_name_terms_for_new_cases();
--> statement-breakpoint
-- A renamed client (or one given other aliases) gets its cases' terms again.
CREATE FUNCTION case_name_terms_for_renamed_clients() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM case_name_terms t
   USING new_clients n JOIN old_clients o ON o.id = n.id JOIN cases c ON c.client_id = n.id
   WHERE t.case_id = c.id
     AND (o.search_name IS DISTINCT FROM n.search_name OR o.name_keys IS DISTINCT FROM n.name_keys);
  INSERT INTO case_name_terms (term, case_id, created_at, spelled)
  SELECT t.term, c.id, c.created_at, t.spelled
    FROM new_clients n JOIN old_clients o ON o.id = n.id JOIN cases c ON c.client_id = n.id
   CROSS JOIN LATERAL case_name_terms_of(n.search_name, n.name_keys) t
   WHERE o.search_name IS DISTINCT FROM n.search_name OR o.name_keys IS DISTINCT FROM n.name_keys
  ON CONFLICT DO NOTHING;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER clients_name_terms AFTER UPDATE ON clients REFERENCING OLD TABLE AS old_clients NEW TABLE AS new_clients
  FOR EACH STATEMENT EXECUTE FUNCTION case_name_terms_for_renamed_clients();
--> statement-breakpoint
INSERT INTO case_name_terms (term, case_id, created_at, spelled)
SELECT t.term, c.id, c.created_at, t.spelled
  FROM cases c JOIN clients cl ON cl.id = c.client_id
 CROSS JOIN LATERAL case_name_terms_of(cl.search_name, cl.name_keys) t;
