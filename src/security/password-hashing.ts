// How passwords are hashed (DESIGN §1.1: argon2id, OWASP parameters or stronger).
//
// Haven uses RFC 9106 §4's second recommended option, argon2id with t=3, p=4 and m=64 MiB
// (also argon2-cffi's default), rather than OWASP's floor (m=19 MiB, t=2, p=1): Haven holds
// SSNs and legal histories, and a stolen database should cost an attacker about five times
// more per guess. The price is paid at sign-in: about 80 ms of CPU per login (spread over up to
// four threads, so about 25 ms of waiting), measured by `npm run bench`. docs/DECISIONS.md
// gives the numbers.

export interface Argon2Parameters {
  /** KiB. */
  memoryCost: number;
  /** Passes over memory. */
  timeCost: number;
  /** Lanes. */
  parallelism: number;
}

export const PASSWORD_HASH_PARAMETERS: Readonly<Argon2Parameters> = Object.freeze({ memoryCost: 65_536, timeCost: 3, parallelism: 4 });

const ARGON2ID_PHC = /^\$argon2id\$v=19\$m=(\d{1,10}),t=(\d{1,10}),p=(\d{1,3})\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/;

/** The parameters of a stored argon2id (version 0x13) hash in PHC string format, or null for anything else. */
export function parseArgon2idParameters(stored: string): Argon2Parameters | null {
  const match = ARGON2ID_PHC.exec(stored);
  if (!match) return null;
  return { memoryCost: Number(match[1]), timeCost: Number(match[2]), parallelism: Number(match[3]) };
}

/**
 * Whether a stored hash should be replaced, at the next correct password, by one made with
 * today's parameters: anything that is not argon2id version 0x13 with exactly those parameters
 * (weaker hashes from an older Haven are upgraded as their owners sign in).
 */
export function needsRehash(stored: string, current: Readonly<Argon2Parameters> = PASSWORD_HASH_PARAMETERS): boolean {
  const found = parseArgon2idParameters(stored);
  return (
    found === null ||
    found.memoryCost !== current.memoryCost ||
    found.timeCost !== current.timeCost ||
    found.parallelism !== current.parallelism
  );
}
