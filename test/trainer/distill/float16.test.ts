/** float32 ⇄ float16 conversion of the teacher cache: IEEE 754 binary16, round to nearest even. */
import { encodeFloat16Into, float16ToFloat32, float32ToFloat16, fromFloat16Bits, toFloat16Bits } from '../../../trainer/distill';

describe('toFloat16Bits', () => {
  test.each([
    ['+0', 0, 0x0000],
    ['−0', -0, 0x8000],
    ['1', 1, 0x3c00],
    ['−2', -2, 0xc000],
    ['1/3 (rounds down)', 1 / 3, 0x3555],
    ['largest finite', 65504, 0x7bff],
    ['just below the overflow tie', 65519.99, 0x7bff],
    ['overflow tie 65520 → Inf (0x7bff is odd)', 65520, 0x7c00],
    ['1e6 → Inf', 1e6, 0x7c00],
    ['+Inf', Infinity, 0x7c00],
    ['−Inf', -Infinity, 0xfc00],
    ['smallest normal 2^-14', 2 ** -14, 0x0400],
    ['largest subnormal', 1023 * 2 ** -24, 0x03ff],
    ['smallest subnormal 2^-24', 2 ** -24, 0x0001],
    ['2^-25 is a tie → even (0)', 2 ** -25, 0x0000],
    ['just above 2^-25 → smallest subnormal', 2 ** -25 * 1.001, 0x0001],
    ['3·2^-25 is a tie between 1 and 2 units → 2', 3 * 2 ** -25, 0x0002],
    ['below half the smallest subnormal → 0', 2 ** -26, 0x0000],
    ['negative subnormal', -5 * 2 ** -24, 0x8005],
    ['float32 subnormal → 0', 1e-40, 0x0000],
    ['normal tie 1 + 2^-11 → 1 (even)', 1 + 2 ** -11, 0x3c00],
    ['normal tie 1 + 3·2^-11 → 1 + 2^-9 (even)', 1 + 3 * 2 ** -11, 0x3c02],
    ['subnormal rounding carries into the smallest normal', (1023.5 + 0.25) * 2 ** -24, 0x0400],
  ])('%s', (_what, value, bits) => {
    expect(toFloat16Bits(value)).toBe(bits);
  });

  test('NaN stays NaN', () => {
    const h = toFloat16Bits(NaN);
    expect(h & 0x7c00).toBe(0x7c00);
    expect(h & 0x03ff).not.toBe(0);
    expect(fromFloat16Bits(h)).toBeNaN();
  });

  test('every finite float16 survives a round trip through float32', () => {
    const bits = new Uint16Array(65536).map((_, i) => i);
    const values = float16ToFloat32(bits);
    const back = float32ToFloat16(values);
    for (let h = 0; h < 65536; h++) {
      if (Number.isNaN(values[h])) continue;
      if (back[h] !== h) throw new Error(`0x${h.toString(16)} → ${values[h]} → 0x${back[h].toString(16)}`);
    }
  });

  test('fromFloat16Bits decodes known values', () => {
    expect(fromFloat16Bits(0x3c00)).toBe(1);
    expect(fromFloat16Bits(0x0001)).toBe(2 ** -24);
    expect(fromFloat16Bits(0x7bff)).toBe(65504);
    expect(fromFloat16Bits(0xfc00)).toBe(-Infinity);
    expect(Object.is(fromFloat16Bits(0x8000), -0)).toBe(true);
  });

  test('normal values are within half a unit in the last place (2^-11 relative)', () => {
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    let worst = 0;
    for (let i = 0; i < 10000; i++) {
      const v = (rand() - 0.5) * 2 ** (rand() * 30 - 14);
      if (Math.abs(v) < 2 ** -14) continue;
      worst = Math.max(worst, Math.abs(fromFloat16Bits(toFloat16Bits(v)) - v) / Math.abs(v));
    }
    expect(worst).toBeGreaterThan(0);
    expect(worst).toBeLessThanOrEqual(2 ** -11);
  });
});

describe('encodeFloat16Into (the bulk conversion the cache writes with)', () => {
  /** float32 values with the given bit patterns. */
  const fromBits = (bits: number[]) => new Float32Array(Uint32Array.from(bits).buffer);

  test('equals toFloat16Bits bit for bit: every exponent × the rounding-relevant mantissas, both signs', () => {
    // Per exponent: mantissas around the float16 rounding point (low 13 bits 0x0fff/0x1000/0x1001,
    // even and odd kept part), around each subnormal shift's halfway point, and the extremes.
    const mantissas = new Set<number>([0, 1, 0x7fffff, 0x400000, 0x3fffff]);
    for (const kept of [0, 1, 2, 0x3fe, 0x3ff]) for (const low of [0, 1, 0x0fff, 0x1000, 0x1001, 0x1fff]) mantissas.add((kept << 13) | low);
    for (let shift = 0; shift <= 23; shift++) for (const d of [-1, 0, 1]) mantissas.add(((1 << shift) + d) & 0x7fffff);
    const bits: number[] = [];
    for (let exp = 0; exp < 256; exp++) for (const m of mantissas) for (const sign of [0, 0x80000000]) bits.push((sign | (exp << 23) | m) >>> 0);
    const values = fromBits(bits);
    const out = new Uint16Array(values.length);
    encodeFloat16Into(values, out);
    for (let i = 0; i < values.length; i++) {
      const want = toFloat16Bits(values[i]!);
      if (out[i] !== want) throw new Error(`bits 0x${bits[i]!.toString(16)} (${values[i]}): bulk 0x${out[i]!.toString(16)}, scalar 0x${want.toString(16)}`);
    }
  });

  test('equals toFloat16Bits on a million random bit patterns', () => {
    let seed = 12345;
    const next = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0);
    const values = fromBits(Array.from({ length: 1_000_000 }, next));
    const out = float32ToFloat16(values);
    for (let i = 0; i < values.length; i++) if (out[i] !== toFloat16Bits(values[i]!)) throw new Error(`value ${values[i]}: 0x${out[i]!.toString(16)} vs 0x${toFloat16Bits(values[i]!).toString(16)}`);
  });

  test('reports the first value beyond ±65504 (±Infinity too, NaN not), and converts the rest', () => {
    const out = new Uint16Array(6);
    expect(encodeFloat16Into(new Float32Array([1, 65504, -65504, NaN, 0, 2]), out)).toBe(-1);
    expect(encodeFloat16Into(new Float32Array([1, 65505, -1e9, 0]), out)).toBe(1);
    expect(encodeFloat16Into(new Float32Array([0, -Infinity]), out)).toBe(1);
    expect(Array.from(out.subarray(0, 2))).toEqual([0x0000, 0xfc00]);
  });

  test('refuses an output shorter than the input', () => {
    expect(() => encodeFloat16Into(new Float32Array(3), new Uint16Array(2))).toThrow(/3 values need 3 outputs, out holds 2/);
  });
});
