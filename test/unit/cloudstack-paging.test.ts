import { expect } from 'chai';
import { ApiError } from '../../cloudstack-api/protocol/errors.ts';
import { pageOf, resolvePage } from '../../cloudstack-api/protocol/paging.ts';

function rejection(page: number | undefined, pageSize: number | undefined, max = 500): ApiError {
  try {
    resolvePage('listzones', page, pageSize, max);
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
  throw new Error('expected the page to be refused');
}

describe('cloudstack-api paging (PROTOCOL.md §7)', () => {
  const rows = Array.from({ length: 1203 }, (_, i) => i);

  it('returns the first default.page.size rows when unpaged', () => {
    const page = resolvePage('listzones', undefined, undefined, 500);
    expect(pageOf(rows, page)).to.have.length(500);
    expect(pageOf(rows, page)[0]).to.equal(0);
  });

  it('returns everything unpaged when default.page.size is -1', () => {
    expect(pageOf(rows, resolvePage('listzones', undefined, undefined, -1))).to.have.length(1203);
  });

  it('counts pages from 1', () => {
    expect(pageOf(rows, resolvePage('listzones', 1, 500, 500))[0]).to.equal(0);
    expect(pageOf(rows, resolvePage('listzones', 3, 500, 500))).to.deep.equal(rows.slice(1000));
    expect(pageOf(rows, resolvePage('listzones', 4, 500, 500))).to.deep.equal([]);
  });

  it('treats page 0 or less as the first page, as the server does', () => {
    expect(resolvePage('listzones', 0, 10, 500)).to.deep.equal({ start: 0, size: 10 });
  });

  it('returns everything with pagesize=-1 and no page', () => {
    expect(pageOf(rows, resolvePage('listzones', undefined, -1, 500))).to.have.length(1203);
  });

  const misuse: [string, number | undefined, number | undefined, number, number, string][] = [
    ['pagesize without page', undefined, 20, 431, 9999, '"page" parameter is required when "pagesize" is specified'],
    ['page without pagesize', 2, undefined, 431, 9999, '"pagesize" parameter is required when "page" is specified'],
    ['pagesize above the maximum', 1, 501, 431, 4350, "Page size can't exceed max allowed page size value: 500"],
    ['page with pagesize=-1', 1, -1, 431, 4350, "Can't specify page parameter when pagesize is -1 (Unlimited)"],
    ['a negative pagesize other than -1', 1, -5, 431, 9999, 'Unable to execute API command listzones due to invalid value -5 for parameter pagesize'],
  ];
  for (const [title, page, pageSize, code, csCode, text] of misuse) {
    it(`refuses ${title}`, () => {
      const error = rejection(page, pageSize);
      expect([error.code, error.csErrorCode, error.message]).to.deep.equal([code, csCode, text]);
    });
  }

  it('allows any pagesize when default.page.size is -1', () => {
    expect(resolvePage('listzones', 1, 5000, -1)).to.deep.equal({ start: 0, size: 5000 });
  });
});
