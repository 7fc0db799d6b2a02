/**
 * How the desk writes times: always UTC, always these shapes, so a time in a chat reply, a log
 * line and a CLI table reads the same. Inputs are epoch milliseconds (or a Date).
 */

type When = number | Date;

const iso = (t: When): string => (t instanceof Date ? t : new Date(t)).toISOString();

/** "2026-11-27": the UTC day (daily keys, ledgers, budgets) */
export const utcDay = (t: When): string => iso(t).slice(0, 10);

/** "2026-11-27 09:05" */
export const utcMinute = (t: When): string => iso(t).slice(0, 16).replace('T', ' ');

/** "2026-11-27 09:05 UTC": a time shown on its own */
export const utcAt = (t: When): string => `${utcMinute(t)} UTC`;

/** "2026-11-27 09:05:33" */
export const utcSecond = (t: When): string => iso(t).slice(0, 19).replace('T', ' ');

/** "09:05:33": the time of day */
export const utcClock = (t: When): string => iso(t).slice(11, 19);

/** "09:05" */
export const utcHourMinute = (t: When): string => iso(t).slice(11, 16);
