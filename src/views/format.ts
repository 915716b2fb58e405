/** A lifetime as a human duration and an absolute UTC time. */
export function lifetime(
  seconds: number,
  now: number,
): { duration: string; iso: string; utc: string } {
  const at = new Date(now + seconds * 1000);
  return { duration: humanDuration(seconds), iso: at.toISOString(), utc: utc(at.getTime()) };
}

export function humanDuration(seconds: number): string {
  const days = Math.floor(seconds / 86400);
  const hours = Math.floor((seconds % 86400) / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  const parts: string[] = [];
  if (days) parts.push(`${days} day${days === 1 ? '' : 's'}`);
  if (hours) parts.push(`${hours} hour${hours === 1 ? '' : 's'}`);
  if (!days && minutes) parts.push(`${minutes} minute${minutes === 1 ? '' : 's'}`);
  if (parts.length === 0) parts.push(`${Math.max(0, Math.round(seconds))} seconds`);
  return parts.join(' ');
}

export function utc(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, ' UTC');
}

/**
 * The requester's user agent as the approval page shows it: "unknown" when the client did not
 * name itself, i.e. sent nothing or only its HTTP library's default (Node's fetch sends `node`),
 * which says nothing an approver can use.
 */
export function claimedUserAgent(userAgent: string): string {
  const ua = userAgent.trim();
  return /^(node|undici|node-fetch(\/[\w.]+)?|axios(\/[\w.]+)?|)$/i.test(ua) ? 'unknown' : ua;
}
