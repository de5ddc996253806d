// Kept apart so that `haven help` loads nothing else.
export const USAGE = `usage: haven <command>
  start                                   start Haven
  migrate                                 apply database migrations and exit
  users create --login L --email E --role R [--name N] --password-stdin
  users list                              one line per user: login, role, active, MFA method
  users set-active LOGIN yes|no
  roles list                              one line per role: its name, internal set, external set
  roles grant|revoke ROLE PERMISSION --set internal|external|both
  locations add --name N --cidr C [--cidr C ...] [--internal] [--timeout MINUTES] [--forced-role ROLE]
  locations list                          one line per network: name, internal/external, ranges, timeout, forced role
  locations remove NAME
  sso add NAME --kind google|entra|okta|oidc --issuer URL --client-id ID --client-secret-stdin [--hosted-domain D] [--trust-amr] [--new-account-role ROLE]
  sso list                                the policy, then one line per provider: name, kind, issuer, client id, domain, amr trust, linked accounts
  sso remove NAME
  sso policy off|enabled|required [--break-glass LOGIN]
  sso readiness                           one line per account that could not sign in by SSO, with the reason
  settings get [KEY]                      print KEY=VALUE lines
  settings set KEY VALUE
  ssn truncate                            cut stored full SSNs to their last four digits (after ssn_digits=last4)
  audit verify                            check the audit log's hash chain
  documents verify                        check every document's chunks and SHA-256; list missing or damaged ones
  keys rotate [--batch N]                 new master key; re-wrap every data key online (resumable), then retire the old key
  backup run [--base]                     take an encrypted backup now (--base: with a pg_basebackup); prints its id
  backup list                             one line per finished backup, its id first
  backup verify [ID]                      restore test of backup ID (default: the newest)
  backup restore ID --to URL|DIR [--force]  restore into a new database, or data directory (a server's: its base backup)
  failover status                         which node is the primary, the standby's lag, and the mode
  failover read-only on|off               make every instance refuse writes (reads go to the standby), or take them again
  failover promote                        the primary is gone: promote the standby (after checks) and verify documents
  export --to DIR                         write every table as CSV, with manifest.json, into a new or empty DIR`;
