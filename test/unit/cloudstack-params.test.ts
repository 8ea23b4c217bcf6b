import { expect } from 'chai';
import { compileParams } from '../../cloudstack-api/commands/params.ts';
import { ApiError } from '../../cloudstack-api/protocol/errors.ts';
import {
  mapParameter,
  parameterWithControlCharacter,
  parseRequestParams,
  responseFormat,
  signingParams,
  unpackParamNames,
} from '../../cloudstack-api/protocol/params.ts';

function caught(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
  throw new Error('expected an ApiError');
}

describe('cloudstack-api request parameters (PROTOCOL.md §1)', () => {
  it('merges query and form body, the first value of a repeated name winning', () => {
    const params = parseRequestParams('command=listZones&name=first&name=second', 'name=body&zoneid=z1&command=other');
    expect(params.get('command')).to.equal('listZones');
    expect(params.get('name')).to.equal('first');
    expect(params.get('zoneid')).to.equal('z1');
  });

  it('form-decodes UTF-8: + is a space, percent escapes are bytes', () => {
    const params = parseRequestParams('name=zone+one&display=Web%20%28prod%29%20%C3%A9&plus=a%2Bb', '');
    expect(params.get('name')).to.equal('zone one');
    expect(params.get('display')).to.equal('Web (prod) é');
    expect(params.get('plus')).to.equal('a+b');
  });

  it('keeps names exactly as received, and empty values', () => {
    const params = parseRequestParams('zoneId=a&zoneid=b&empty=&flag', '');
    expect(params.get('zoneId')).to.equal('a');
    expect(params.get('zoneid')).to.equal('b');
    expect(params.get('empty')).to.equal('');
    expect(params.get('flag')).to.equal('');
  });

  it('matches apiKey, signature, signatureVersion and expires in any case', () => {
    const signing = signingParams(parseRequestParams('APIKEY=k&SIGNATURE=s&signatureversion=3&EXPIRES=e', ''));
    expect(signing).to.deep.equal({ apiKey: 'k', signature: 's', signatureVersion: '3', expires: 'e' });
  });

  it('takes command and response only under their exact lower-case names', () => {
    const params = parseRequestParams('Command=listZones&Response=json', '');
    expect(params.get('command')).to.equal(undefined);
    expect(responseFormat(params)).to.equal('xml');
  });

  it('answers XML unless response=json (in any case)', () => {
    expect(responseFormat(parseRequestParams('', ''))).to.equal('xml');
    expect(responseFormat(parseRequestParams('response=xml', ''))).to.equal('xml');
    expect(responseFormat(parseRequestParams('response=yaml', ''))).to.equal('xml');
    expect(responseFormat(parseRequestParams('response=json', ''))).to.equal('json');
    expect(responseFormat(parseRequestParams('response=JSON', ''))).to.equal('json');
  });

  it('finds control characters in values (TAB included, LF and CR excepted)', () => {
    expect(parameterWithControlCharacter(parseRequestParams('name=a%0Ab%0Dc', ''))).to.equal(undefined);
    expect(parameterWithControlCharacter(parseRequestParams('ok=1&name=a%09b', ''))).to.equal('name');
    expect(parameterWithControlCharacter(parseRequestParams('name=%00', ''))).to.equal('name');
    expect(parameterWithControlCharacter(parseRequestParams('name=%7F', ''))).to.equal('name');
    expect(parameterWithControlCharacter(parseRequestParams('name=%1F', ''))).to.equal('name');
    expect(parameterWithControlCharacter(parseRequestParams('activationrule=a%09b', ''))).to.equal(undefined);
  });

  it('gathers map parameters by index', () => {
    const params = parseRequestParams('tags[1].key=tier&tags[1].value=web&tags[0].key=env&tags[0].value=prod&other[0].key=x', '');
    expect(mapParameter(params, 'tags')).to.deep.equal([
      { key: 'env', value: 'prod' },
      { key: 'tier', value: 'web' },
    ]);
    expect(mapParameter(params, 'details')).to.equal(undefined);
  });

  it('unpacks names as ParamUnpackWorker does: lower-cased up to the first [, a map\'s field names kept', () => {
    const unpacked = unpackParamNames(parseRequestParams('command=listTemplates&pageSize=10&PAGE=1&IpToNetworkList[0].networkId=n&details[0].cpuNumber=2&pagesize=99', ''));
    expect([...unpacked]).to.deep.equal([
      ['command', 'listTemplates'],
      ['pagesize', '10'],
      ['page', '1'],
      ['iptonetworklist[0].networkId', 'n'],
      ['details[0].cpuNumber', '2'],
    ]);
  });
});

describe('cloudstack-api parameter validation (ajv)', () => {
  const parse = compileParams('listthings', {
    id: { type: 'uuid', description: 'id' },
    ids: { type: 'list', items: 'uuid', description: 'ids' },
    name: { type: 'string', description: 'name', required: true },
    short: { type: 'string', description: 'short', length: 4 },
    flag: { type: 'boolean', description: 'flag' },
    count: { type: 'integer', description: 'count' },
    big: { type: 'long', description: 'big' },
    small: { type: 'short', description: 'small' },
    day: { type: 'date', description: 'day' },
    when: { type: 'date', description: 'when', withTime: true },
    kind: { type: 'string', description: 'kind', oneOf: ['Basic', 'Advanced'] },
    names: { type: 'list', description: 'names' },
    tags: { type: 'map', description: 'tags' },
  });
  const run = (query: string) => parse(parseRequestParams(`name=n&${query}`, ''));

  it('converts values to their types', () => {
    const values = run(
      'id=7b6a3a1e-0000-4000-8000-000000000001&ids=7b6a3a1e-0000-4000-8000-000000000001,,7b6a3a1e-0000-4000-8000-000000000002' +
        '&flag=TRUE&count=-42&big=9007199254740991&small=7&day=2026-02-28&when=2026-02-28+10:11:12&kind=Basic&names=a,b&tags[0].key=k&tags[0].value=v',
    );
    expect(values).to.deep.include({
      name: 'n',
      id: '7b6a3a1e-0000-4000-8000-000000000001',
      ids: ['7b6a3a1e-0000-4000-8000-000000000001', '7b6a3a1e-0000-4000-8000-000000000002'],
      flag: true,
      count: -42,
      big: Number.MAX_SAFE_INTEGER,
      small: 7,
      kind: 'Basic',
      names: ['a', 'b'],
      tags: [{ key: 'k', value: 'v' }],
    });
    expect(values.day?.toISOString()).to.equal('2026-02-28T00:00:00.000Z');
    expect(values.when?.toISOString()).to.equal('2026-02-28T10:11:12.000Z');
  });

  it('treats a blank integer as absent, as the server does', () => {
    expect(run('count=').count).to.equal(undefined);
  });

  it('accepts -1 as an id (CloudStack\'s "all" marker)', () => {
    expect(run('id=-1').id).to.equal('-1');
  });

  const failures: [string, string, string][] = [
    ['missing required', 'count=1', 'Unable to execute API command listthings due to missing parameter name'],
    ['upper-case uuid', 'name=n&id=7B6A3A1E-0000-4000-8000-000000000001', 'Unable to execute API command listthings due to invalid value. Invalid parameter id value=7B6A3A1E-0000-4000-8000-000000000001 due to incorrect long value format, or entity does not exist or due to incorrect parameter annotation for the field in api cmd class.'],
    ['uuid in a list', 'name=n&ids=7b6a3a1e-0000-4000-8000-000000000001,nope', 'Unable to execute API command listthings due to invalid value. Invalid parameter ids value=nope due to incorrect long value format, or entity does not exist or due to incorrect parameter annotation for the field in api cmd class.'],
    ['boolean', 'name=n&flag=yes', 'Unable to execute API command listthings due to invalid value yes for parameter flag'],
    ['integer', 'name=n&count=12abc', 'Unable to execute API command listthings due to invalid value 12abc for parameter count'],
    ['integer overflow', 'name=n&count=2147483648', 'Unable to execute API command listthings due to invalid value 2147483648 for parameter count'],
    ['short overflow', 'name=n&small=40000', 'Unable to execute API command listthings due to invalid value 40000 for parameter small'],
    ['long', 'name=n&big=1.5', 'Unable to execute API command listthings due to invalid value 1.5 for parameter big'],
    ['date', 'name=n&day=28/02/2026', 'Unable to parse date 28/02/2026 for command listthings, please pass dates in the format mentioned in the api documentation'],
    ['impossible date', 'name=n&day=2026-02-30', 'Unable to parse date 2026-02-30 for command listthings, please pass dates in the format mentioned in the api documentation'],
    ['date with time where only a date is allowed', 'name=n&day=2026-02-28+10:11:12', 'Unable to parse date 2026-02-28 10:11:12 for command listthings, please pass dates in the format mentioned in the api documentation'],
    ['too long', 'name=n&short=abcde', 'Unable to execute API command listthings due to invalid value. Value greater than max allowed length 4 for param: short'],
    ['default length 255', `name=${'x'.repeat(256)}`, 'Unable to execute API command listthings due to invalid value. Value greater than max allowed length 255 for param: name'],
    ['not one of', 'name=n&kind=Fancy', 'Unable to execute API command listthings due to invalid value Fancy for parameter kind; use one of: Basic, Advanced'],
  ];
  for (const [title, query, text] of failures) {
    it(`rejects a malformed value (${title}) with 431 and CloudStack's text`, () => {
      const error = caught(() => parse(parseRequestParams(query, '')));
      expect(error.code).to.equal(431);
      expect(error.csErrorCode).to.equal(9999);
      expect(error.message).to.equal(text);
    });
  }
});
