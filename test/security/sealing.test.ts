// Envelope encryption's pure functions (src/security/sealing.ts), attacked: a sealed value
// moved to another row or column, a flipped byte, another record's data key, a data key
// unwrapped for another record, a wrapped key whose master key is gone.
import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import {
  newDataKey,
  newKeyId,
  openBytes,
  openValue,
  sealBytes,
  sealValue,
  SealingError,
  unwrapDataKey,
  wrapDataKey,
  wrappingKeyId,
  type SealedPlace,
} from '../../src/security/sealing.ts';

const place: SealedPlace = { table: 'clients', column: 'ssn', row: '7b1c1f0e-8d7a-4d3b-9a55-0c1f2e3d4c5b' };
const placeArb = fc.record({
  table: fc.stringMatching(/^[a-z_]{1,20}$/),
  column: fc.stringMatching(/^[a-z_]{1,20}$/),
  row: fc.uuid(),
});

describe('sealBytes / openBytes (document chunks)', () => {
  test('any bytes round-trip, and only for their own place', () => {
    const key = newDataKey();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }).map((a) => Buffer.from(a)), placeArb, placeArb, (bytes, where, elsewhere) => {
        const sealed = sealBytes(key, bytes, where);
        expect(sealed.length).toBe(bytes.length + 28);
        expect(openBytes(key, sealed, where)).toEqual(bytes);
        fc.pre(where.table !== elsewhere.table || where.column !== elsewhere.column || where.row !== elsewhere.row);
        expect(() => openBytes(key, sealed, elsewhere)).toThrow(SealingError);
      }),
    );
  });

  test('a flipped bit, a cut or an added byte is refused', () => {
    const key = newDataKey();
    const sealed = sealBytes(key, Buffer.from('Lease agreement, page 1'), place);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: sealed.length * 8 - 1 }), (bit) => {
        const flipped = Buffer.from(sealed);
        flipped[bit >> 3]! ^= 1 << (bit & 7);
        expect(() => openBytes(key, flipped, place)).toThrow(SealingError);
      }),
    );
    expect(() => openBytes(key, sealed.subarray(0, sealed.length - 1), place)).toThrow(SealingError);
    expect(() => openBytes(key, Buffer.concat([sealed, Buffer.from([0])]), place)).toThrow(SealingError);
    expect(() => openBytes(key, Buffer.alloc(10), place)).toThrow(SealingError);
  });
});

describe('sealValue / openValue', () => {
  test('any text or bytes round-trip, and the sealed form is ASCII that does not contain them', () => {
    const key = newDataKey();
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'grapheme', maxLength: 200 }), fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a))), placeArb, (value, where) => {
        const sealed = sealValue(key, value, where);
        expect(sealed).toMatch(/^s1\.[A-Za-z0-9_-]+$/);
        const opened = openValue(key, sealed, where);
        expect(typeof value === 'string' ? opened.toString('utf8') : opened).toEqual(value);
        if (typeof value === 'string' && value.length >= 4) expect(sealed).not.toContain(value);
      }),
    );
  });

  test('the same value sealed twice differs (a fresh IV each time)', () => {
    const key = newDataKey();
    expect(sealValue(key, '123-45-6789', place)).not.toBe(sealValue(key, '123-45-6789', place));
  });

  test('a sealed value copied to another row, column or table does not open', () => {
    const key = newDataKey();
    fc.assert(
      fc.property(placeArb, placeArb, fc.string({ maxLength: 40 }), (from, to, value) => {
        fc.pre(from.table !== to.table || from.column !== to.column || from.row !== to.row);
        expect(() => openValue(key, sealValue(key, value, from), to)).toThrow(SealingError);
      }),
    );
  });

  test('any flipped bit, truncation or extension is refused', () => {
    const key = newDataKey();
    const sealed = sealValue(key, '1984-03-21', place);
    const raw = Buffer.from(sealed.slice(3), 'base64url');
    fc.assert(
      fc.property(fc.integer({ min: 0, max: raw.length * 8 - 1 }), (bit) => {
        const flipped = Buffer.from(raw);
        flipped[bit >> 3]! ^= 1 << (bit & 7);
        expect(() => openValue(key, `s1.${flipped.toString('base64url')}`, place)).toThrow(SealingError);
      }),
    );
    expect(() => openValue(key, `s1.${raw.subarray(0, raw.length - 1).toString('base64url')}`, place)).toThrow(SealingError);
    expect(() => openValue(key, `s1.${Buffer.concat([raw, Buffer.from([0])]).toString('base64url')}`, place)).toThrow(SealingError);
    for (const junk of ['', 's1.', 's1.!!', 'x1.' + sealed.slice(3), sealed + '=']) expect(() => openValue(key, junk, place)).toThrow(SealingError);
  });

  test("another record's data key does not open it", () => {
    expect(() => openValue(newDataKey(), sealValue(newDataKey(), 'x', place), place)).toThrow(SealingError);
  });

  test('a place with an empty part or a line break is refused (the parts could run into each other)', () => {
    const key = newDataKey();
    for (const bad of [{ ...place, row: '' }, { ...place, table: 'a\nb' }, { ...place, column: '' }]) expect(() => sealValue(key, 'x', bad)).toThrow(SealingError);
  });
});

describe('wrapDataKey / unwrapDataKey', () => {
  const master = { id: newKeyId(), key: newDataKey() };
  const masters = new Map([[master.id, master.key]]);

  test('a wrapped data key names its master key and unwraps to the same bytes', () => {
    const dataKey = newDataKey();
    const wrapped = wrapDataKey(master, dataKey, place);
    expect(wrappingKeyId(wrapped)).toBe(master.id);
    expect(unwrapDataKey(masters, wrapped, place)).toEqual(dataKey);
  });

  test('a data key wrapped for one record does not unwrap for another (no swapping keys between rows)', () => {
    const wrapped = wrapDataKey(master, newDataKey(), place);
    expect(() => unwrapDataKey(masters, wrapped, { ...place, row: '00000000-0000-4000-8000-000000000001' })).toThrow(SealingError);
  });

  test('without its master key it does not unwrap, and the error names the missing key', () => {
    const wrapped = wrapDataKey(master, newDataKey(), place);
    expect(() => unwrapDataKey(new Map([[newKeyId(), newDataKey()]]), wrapped, place)).toThrow(new RegExp(master.id));
  });

  test('a wrapped key relabelled with another master key id does not unwrap under that key', () => {
    const other = { id: newKeyId(), key: newDataKey() };
    const wrapped = wrapDataKey(master, newDataKey(), place);
    const relabelled = wrapped.replace(master.id, other.id);
    expect(() => unwrapDataKey(new Map([[other.id, other.key]]), relabelled, place)).toThrow(SealingError);
  });

  test('malformed wrapped keys are refused', () => {
    for (const junk of ['', 'w1.', 'w1.short.abc', `w1.${master.id}.`, `w2.${master.id}.abcd`, 's1.abcd']) expect(() => unwrapDataKey(masters, junk, place)).toThrow(SealingError);
  });
});
