// How figures read on the page. Amounts arrive from the API as numbers in major units with at most 2 decimals
// (docs/money.md "Minor units"); they are only shown, never computed with.

export function formatAmount(amount: number): string {
  return amount.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
}

/** 75.4 → "1:15"; 3725 → "1:02:05". */
export function formatClock(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return hh > 0 ? `${hh}:${String(mm).padStart(2, '0')}:${ss}` : `${mm}:${ss}`;
}

export function formatPricePerMinute(price: number): string {
  return `${formatAmount(price)} / min`;
}

/**
 * Billed time as the meter shows it: seconds with one decimal (the bill runs in milliseconds, docs/money.md
 * "Rounding"), and from a minute on with the minutes too: 8.2 → "8.2 s", 75.25 → "75.2 s (1:15)". The number comes
 * first, so it reads and parses the same however long the session.
 */
export function formatBilled(seconds: number, decimals = 1): string {
  const text = `${(Math.floor(seconds * 10 ** decimals) / 10 ** decimals).toFixed(decimals)} s`;
  return seconds >= 60 ? `${text} (${formatClock(seconds)})` : text;
}
