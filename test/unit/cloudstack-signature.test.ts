import { expect } from 'chai';
import { parseTzDate } from '../../cloudstack-api/protocol/dates.ts';
import { canonicalRequest, expiryAcceptable, javaUrlEncode, sign, signatureMatches } from '../../cloudstack-api/protocol/signature.ts';
import { specSignature } from '../support/cloudstack-client.ts';

const secret = 's3cr3t';
const listZones = { command: 'listZones', response: 'json', apiKey: 'KEY123' };
const deploy = {
  command: 'deployVirtualMachine',
  response: 'json',
  apiKey: 'KEY123',
  zoneid: '7b6a3a1e-0000-4000-8000-000000000001',
  name: 'web 01',
  displayname: 'Web (prod) *#1/é',
  'details[0].cpuNumber': '2',
};

/** PROTOCOL.md §2, "Signature test vectors" (secret `s3cr3t`). */
const vectors: { title: string; params: Record<string, string>; canonical: string; signature: string }[] = [
  {
    title: '#1 listZones',
    params: listZones,
    canonical: 'apikey=key123&command=listzones&response=json',
    signature: 'y8s52VmNNYtF5iUXUP38VOuMsmQ=',
  },
  {
    title: '#2 listZones, v3 with expires',
    params: { ...listZones, signatureVersion: '3', expires: '2030-01-01T00:00:00+0000' },
    canonical: 'apikey=key123&command=listzones&expires=2030-01-01t00%3a00%3a00%2b0000&response=json&signatureversion=3',
    signature: 'YjXfqkjUjnaJ6/vSrB/kZhvxvaI=',
  },
  {
    title: '#3 deployVirtualMachine with spaces, brackets, * # / and é',
    params: deploy,
    canonical:
      'apikey=key123&command=deployvirtualmachine&details[0].cpunumber=2&displayname=web%20%28prod%29%20*%231%2f%c3%a9&name=web%2001&response=json&zoneid=7b6a3a1e-0000-4000-8000-000000000001',
    signature: 'vM/xXHsThH2Fjo5sSgI+J2DvPy0=',
  },
  {
    title: '#4 as #3 with ~ (Java escapes it)',
    params: { ...deploy, displayname: 'Web ~ (prod) *#1/é' },
    canonical:
      'apikey=key123&command=deployvirtualmachine&details[0].cpunumber=2&displayname=web%20%7e%20%28prod%29%20*%231%2f%c3%a9&name=web%2001&response=json&zoneid=7b6a3a1e-0000-4000-8000-000000000001',
    signature: 'KFfHmgpH4zLs+QLQJDB0+tELCRQ=',
  },
  {
    title: '#5 listZones name=zone one',
    params: { ...listZones, name: 'zone one' },
    canonical: 'apikey=key123&command=listzones&name=zone%20one&response=json',
    signature: 'YkFKH4Sq6ZLO98KW2hnvh0AREWM=',
  },
];

describe('cloudstack-api signatures (PROTOCOL.md §2)', () => {
  for (const vector of vectors) {
    it(`reproduces test vector ${vector.title}`, () => {
      const params = new Map(Object.entries(vector.params));
      expect(canonicalRequest(params)).to.equal(vector.canonical);
      expect(sign(canonicalRequest(params), secret)).to.equal(vector.signature);
      expect(signatureMatches(params, vector.signature, secret)).to.equal(true);
    });

    it(`the spec client signs test vector ${vector.title} identically`, () => {
      expect(specSignature(vector.params, secret)).to.equal(vector.signature);
    });
  }

  it('leaves out the signature parameter, in any case, from what is signed', () => {
    const withSignature = new Map(Object.entries({ ...listZones, Signature: 'whatever' }));
    expect(canonicalRequest(withSignature)).to.equal('apikey=key123&command=listzones&response=json');
  });

  it('sorts names as received, upper case before lower case, before lower-casing', () => {
    const params = new Map([
      ['b', '1'],
      ['B', '2'],
      ['a', '3'],
    ]);
    expect(canonicalRequest(params)).to.equal('b=2&a=3&b=1');
  });

  it('encodes values as java.net.URLEncoder does', () => {
    expect(javaUrlEncode('AZaz09.-*_')).to.equal('AZaz09.-*_');
    expect(javaUrlEncode('a b')).to.equal('a+b');
    expect(javaUrlEncode('~')).to.equal('%7E');
    expect(javaUrlEncode('/:+=&?')).to.equal('%2F%3A%2B%3D%26%3F');
    expect(javaUrlEncode('é€')).to.equal('%C3%A9%E2%82%AC');
    expect(javaUrlEncode('😀')).to.equal('%F0%9F%98%80');
  });

  it('rejects a wrong signature, a wrong secret and a tampered parameter', () => {
    const params = new Map(Object.entries(listZones));
    const good = 'y8s52VmNNYtF5iUXUP38VOuMsmQ=';
    expect(signatureMatches(params, 'y8s52VmNNYtF5iUXUP38VOuMsmQ', secret)).to.equal(false);
    expect(signatureMatches(params, good.replace('y', 'z'), secret)).to.equal(false);
    expect(signatureMatches(params, good, 'other')).to.equal(false);
    expect(signatureMatches(new Map([...params, ['name', 'x']]), good, secret)).to.equal(false);
  });

  it('accepts the raw ~ that cs, cmk and the Go SDK sign (vector #4 as those clients compute it)', () => {
    const params = new Map(Object.entries({ ...deploy, displayname: 'Web ~ (prod) *#1/é' }));
    const rawTilde = canonicalRequest(params).replace('%7e', '~');
    expect(signatureMatches(params, sign(rawTilde, secret), secret)).to.equal(true);
  });

  it('accepts * escaped as %2a, as the Debian Go SDK and csclient sign it', () => {
    const params = new Map(Object.entries(deploy));
    const escapedStar = canonicalRequest(params).replace('*', '%2a');
    expect(signatureMatches(params, sign(escapedStar, secret), secret)).to.equal(true);
  });

  it('does not extend the tolerance to anything but ~ and *', () => {
    const params = new Map(Object.entries({ ...listZones, name: 'a/b' }));
    const rawSlash = canonicalRequest(params).replace('%2f', '/');
    expect(signatureMatches(params, sign(rawSlash, secret), secret)).to.equal(false);
  });
});

describe('cloudstack-api v3 expiry (PROTOCOL.md §2 step 7)', () => {
  const now = Date.UTC(2026, 0, 1, 12, 0, 0);
  const lenient = { enforceTimestamps: false };
  const strict = { enforceTimestamps: true };

  it('parses the accepted expires forms', () => {
    const expected = Date.UTC(2030, 0, 1);
    expect(parseTzDate('2030-01-01T00:00:00Z')).to.equal(expected);
    expect(parseTzDate('2030-01-01T00:00:00+00:00')).to.equal(expected);
    expect(parseTzDate('2030-01-01T00:00:00+0000')).to.equal(expected);
    expect(parseTzDate('2030-01-01T00:00:00.000000Z')).to.equal(expected);
    expect(parseTzDate('2030-01-01T02:00:00+0200')).to.equal(expected);
    expect(parseTzDate('2029-12-31T19:00:00-05:00')).to.equal(expected);
  });

  it('refuses what is not an ISO-8601 timestamp with an offset', () => {
    for (const text of ['2030-01-01T00:00:00', '2030-01-01', 'tomorrow', '2030-02-30T00:00:00Z', '2030-13-01T00:00:00Z', '']) {
      expect(parseTzDate(text), text).to.equal(undefined);
    }
  });

  it('requires a future expires with signatureVersion=3', () => {
    expect(expiryAcceptable('3', '2026-01-01T12:05:00Z', now, lenient)).to.equal(true);
    expect(expiryAcceptable('3', '2026-01-01T11:59:59Z', now, lenient)).to.equal(false);
    expect(expiryAcceptable('3', undefined, now, lenient)).to.equal(false);
    expect(expiryAcceptable('3', 'soon', now, lenient)).to.equal(false);
  });

  it('ignores expires without signatureVersion=3', () => {
    expect(expiryAcceptable(undefined, '2000-01-01T00:00:00Z', now, lenient)).to.equal(true);
    expect(expiryAcceptable('2', undefined, now, lenient)).to.equal(true);
  });

  it('with enforce.post.requests.and.timestamps, requires v3 and at most 15 minutes ahead', () => {
    expect(expiryAcceptable(undefined, undefined, now, strict)).to.equal(false);
    expect(expiryAcceptable('3', '2026-01-01T12:14:00Z', now, strict)).to.equal(true);
    expect(expiryAcceptable('3', '2026-01-01T12:16:00Z', now, strict)).to.equal(false);
    expect(expiryAcceptable('3', '2026-01-01T12:16:00Z', now, lenient)).to.equal(true);
  });
});
