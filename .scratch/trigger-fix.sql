CREATE OR REPLACE FUNCTION case_name_terms_for_renamed_clients() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- Most updates of clients change no name (a data key re-wrapped, an SSN cut): leave at once.
  IF NOT EXISTS (SELECT 1 FROM new_clients n JOIN old_clients o ON o.id = n.id
                  WHERE o.search_name IS DISTINCT FROM n.search_name OR o.name_keys IS DISTINCT FROM n.name_keys) THEN
    RETURN NULL;
  END IF;
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
