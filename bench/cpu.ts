// CPU accounting shared by the benchmarks: the whole machine (/proc/stat) and a PostgreSQL
// cluster's processes (/proc/<pid>/stat), in clock ticks. Linux only; elsewhere nothing is counted.
import { readdirSync, readFileSync } from 'node:fs';

export const CLOCK_TICK_MS = 10; // USER_HZ is 100 on Linux

/** Busy and total ticks of every CPU since boot. */
export function machineTicks(): { busy: number; total: number } | undefined {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
    return { busy: total - fields[3]! - fields[4]!, total };
  } catch {
    return undefined;
  }
}

/** CPU ticks of the postmaster (with its reaped children) and of its live children: the backends. */
export function clusterTicks(postmasterPidFile: string | undefined): number {
  if (!postmasterPidFile) return 0;
  try {
    const postmaster = Number(readFileSync(postmasterPidFile, 'utf8').split('\n')[0]);
    let ticks = 0;
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      let stat: string;
      try {
        stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      } catch {
        continue; // exited meanwhile
      }
      // Fields after the command name, which may hold spaces: state ppid ... utime(14) stime(15) cutime(16) cstime(17).
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
      const [ppid, utime, stime, cutime, cstime] = [f[1]!, f[11]!, f[12]!, f[13]!, f[14]!];
      if (Number(entry) === postmaster) ticks += utime + stime + cutime + cstime;
      else if (ppid === postmaster) ticks += utime + stime;
    }
    return ticks;
  } catch {
    return 0;
  }
}
