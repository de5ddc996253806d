-- Appends one entry to the hash-chained audit log (chain format 2, src/security/audit-chain.ts)
-- and gives its seq. The head row is moved on first: its row lock, held to commit, makes
-- concurrent appenders on any instance wait, and PostgreSQL gives the waiter the head as the
-- first one left it. Why a function and not two CTEs of the calling statement: a statement that
-- waited for the head re-checks its UPDATE (EvalPlanQual), and in a CTE that re-check starts the
-- calling statement's whole plan again (the case page's has about fifteen subplans); here it
-- starts only this UPDATE's.
CREATE FUNCTION haven_audit_append(p_at timestamptz, p_actor_id uuid, p_actor_login text, p_action text, p_target text,
                                   p_ip text, p_details jsonb, p_content_hash text)
RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  moved record;
BEGIN
  UPDATE audit_head SET seq = seq + 1, prev_hash = hash,
         hash = encode(sha256(convert_to(hash || chr(10) || (seq + 1)::text || chr(10) || p_content_hash, 'UTF8')), 'hex')
   WHERE id = 1
  RETURNING seq, prev_hash, hash INTO moved;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'the audit chain has no head row (audit_head): was migration 0003 applied?';
  END IF;
  INSERT INTO audit_log (seq, at, actor_id, actor_login, action, target, ip, details, prev_hash, hash, format)
  VALUES (moved.seq, p_at, p_actor_id, p_actor_login, p_action, p_target, p_ip, p_details, moved.prev_hash, moved.hash, 2);
  RETURN moved.seq;
END $$;
