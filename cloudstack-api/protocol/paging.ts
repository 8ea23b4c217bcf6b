import { invalidValue, pageRequired, pageSizeRequired, pageSizeTooLarge, pageWithUnlimitedPageSize } from './errors.ts';

/**
 * Paging of list commands (BaseListCmd, PROTOCOL.md §7): `page` and `pagesize` come together,
 * pages count from 1, `pagesize=-1` means everything (and then `page` must be absent), and
 * without either a list returns its first `default.page.size` rows. `count` is always the total.
 */

export const UNLIMITED = -1;

export interface Page {
  /** Index of the first row of the page. */
  readonly start: number;
  /** Rows in the page, or undefined for all of them. */
  readonly size: number | undefined;
}

/**
 * @param label the command as parameter errors name it (errors.commandLabel)
 * @param defaultPageSize the `default.page.size` setting (500 unless changed; -1 = no limit)
 */
export function resolvePage(label: string, page: number | undefined, pageSize: number | undefined, defaultPageSize: number): Page {
  if (pageSize !== undefined && pageSize < UNLIMITED) throw invalidValue(label, 'pagesize', String(pageSize));
  if (pageSize !== undefined && pageSize !== UNLIMITED && page === undefined) throw pageRequired();
  if (pageSize === undefined && page !== undefined) throw pageSizeRequired();
  if (pageSize !== undefined && defaultPageSize !== UNLIMITED && pageSize > defaultPageSize) throw pageSizeTooLarge(defaultPageSize);
  if (pageSize === UNLIMITED && page !== undefined) throw pageWithUnlimitedPageSize();

  const size = pageSize ?? defaultPageSize;
  if (size === UNLIMITED) return { start: 0, size: undefined };
  const start = page !== undefined && page > 0 ? size * (page - 1) : 0;
  return { start, size };
}

export function pageOf<T>(rows: readonly T[], page: Page): readonly T[] {
  if (page.size === undefined) return rows;
  return rows.slice(page.start, page.start + page.size);
}
