/**
 * CloudStack's two date shapes: responses carry `yyyy-MM-dd'T'HH:mm:ssZ`
 * (`2021-09-29T17:50:11+0530`), and v3 signatures carry an ISO-8601 `expires` with an offset.
 */

function pad(value: number, width = 2): string {
  return String(value).padStart(width, '0');
}

/** A response date, in UTC: `2026-01-02T03:04:05+0000`. */
export function formatApiDate(date: Date): string {
  return (
    `${pad(date.getUTCFullYear(), 4)}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())}` +
    `T${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}+0000`
  );
}

const tzDate = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|([+-])(\d{2}):?(\d{2}))$/;

/**
 * Parses a v3 `expires` (DateUtil.parseTZDateString): `2030-01-01T00:00:00Z`, `…+00:00` or
 * `…+0000`, with an optional fraction. Returns epoch milliseconds, or undefined when the text
 * is not such a timestamp or names an impossible date.
 */
export function parseTzDate(text: string): number | undefined {
  const match = tzDate.exec(text);
  if (!match) return undefined;
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return undefined;
  const utc = Date.UTC(year, month - 1, day, hour, minute, second);
  if (new Date(utc).getUTCDate() !== day) return undefined;
  const fraction = match[7] === undefined ? 0 : Math.floor(Number(`0.${match[7]}`) * 1000);
  const offsetMinutes = match[8] === 'Z' ? 0 : (match[9] === '-' ? -1 : 1) * (Number(match[10]) * 60 + Number(match[11]));
  return utc + fraction - offsetMinutes * 60_000;
}

const plainDate = /^(\d{4})-(\d{2})-(\d{2})$/;
const plainDateTime = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/;

/**
 * Parses a `date` parameter: `yyyy-MM-dd`, or with `withTime` also `yyyy-MM-dd HH:mm:ss`
 * (the form listEvents and a few others accept). Strict, like the server's non-lenient format.
 */
export function parseParamDate(text: string, withTime: boolean): Date | undefined {
  const match = plainDate.exec(text) ?? (withTime ? plainDateTime.exec(text) : null);
  if (!match) return undefined;
  const [year, month, day, hour = 0, minute = 0, second = 0] = match.slice(1).map(Number);
  if (year === undefined || month === undefined || day === undefined) return undefined;
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return undefined;
  const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  return date.getUTCDate() === day ? date : undefined;
}
