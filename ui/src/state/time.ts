// Times as the desk shows them: a wall clock ("14:02") and ages ("5 min ago").

function formatTime(iso: string | null | undefined, timeZone: string | undefined, seconds: boolean): string {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  return new Intl.DateTimeFormat("en-GB", {
    hour: "2-digit",
    minute: "2-digit",
    ...(seconds ? { second: "2-digit" } : {}),
    hourCycle: "h23",
    timeZone,
  }).format(date);
}

/** "14:02" in the machine's time zone (or `timeZone`, for tests); "" for an unreadable time. */
export function clock(iso: string | null | undefined, timeZone?: string): string {
  return formatTime(iso, timeZone, false);
}

/** "14:02:07", for the details panel where seconds matter. */
export function clockSeconds(iso: string | null | undefined, timeZone?: string): string {
  return formatTime(iso, timeZone, true);
}

/** "just now", "40 s", "5 min", "3 h 10 min", "2 days". */
export function age(ms: number): string {
  if (ms < 5_000) return "just now";
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s} s`;
  const min = Math.floor(s / 60);
  if (min < 60) return `${min} min`;
  const h = Math.floor(min / 60);
  if (h < 24) return min % 60 === 0 ? `${h} h` : `${h} h ${min % 60} min`;
  const days = Math.floor(h / 24);
  return days === 1 ? "1 day" : `${days} days`;
}

/** "5 min ago", "just now". */
export function ago(ms: number): string {
  const a = age(ms);
  return a === "just now" ? a : `${a} ago`;
}

/** A stay in minutes: "45 min", "1 h 11 min" (the words the Rust side uses too). */
export function stay(minutes: number | null | undefined): string {
  if (minutes == null || !Number.isFinite(minutes)) return "";
  const m = Math.max(0, Math.round(minutes));
  return m >= 60 ? `${Math.floor(m / 60)} h ${m % 60} min` : `${m} min`;
}

/** Milliseconds since `iso` at `now`; null for a missing or unreadable time. */
export function since(iso: string | null | undefined, now: number): number | null {
  if (!iso) return null;
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return null;
  return Math.max(0, now - t);
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/**
 * A calendar date (`YYYY-MM-DD`, no time zone) as staff write it: "28 Nov 2026", never
 * "11/28" or "28/11". Unreadable text is shown as it is.
 */
export function writtenDate(day: string | null | undefined): string {
  if (!day) return "";
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  const month = m ? MONTHS[Number(m[2]) - 1] : undefined;
  if (!m || !month) return day;
  return `${Number(m[3])} ${month} ${m[1]}`;
}
