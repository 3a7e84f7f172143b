/**
 * IEEE 754 binary16 ⇄ binary32 conversion for the teacher cache (Node 20 has no Float16Array).
 * float32 → float16 rounds to nearest, ties to even, like a hardware conversion: values at or
 * above 65520 become ±Infinity, values below half the smallest subnormal (2^-25) become ±0,
 * subnormals are kept, NaN stays NaN (quiet). float16 → float32 is exact.
 */

/** Largest finite float16 value. */
export const FLOAT16_MAX = 65504;

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Bits of the float16 nearest to `value` (ties to even). */
export function toFloat16Bits(value: number): number {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp32 = (x >>> 23) & 0xff;
  const mant32 = x & 0x7fffff;
  if (exp32 === 0xff) return sign | 0x7c00 | (mant32 !== 0 ? 0x200 | (mant32 >>> 13) : 0); // Inf / NaN
  const exp16 = exp32 - 127 + 15;
  if (exp16 >= 0x1f) return sign | 0x7c00; // beyond the largest binade: overflow to ±Inf
  if (exp16 <= 0) {
    // Subnormal result: value = m · 2^(exp16 − 38) with the implicit bit, i.e. m >> (14 − exp16) units of 2^-24.
    if (exp16 < -10) return sign; // < 2^-25: rounds to 0 (even at the tie, 2^-25 exactly, needs exp16 = −10)
    const m = mant32 | 0x800000;
    const shift = 14 - exp16; // 14..24
    let half = m >>> shift;
    const rest = m & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rest > halfway || (rest === halfway && (half & 1) === 1)) half++; // may carry into the smallest normal: correct
    return sign | half;
  }
  let half = (exp16 << 10) | (mant32 >>> 13);
  const rest = mant32 & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (half & 1) === 1)) half++; // a carry may reach 0x7c00 = Inf: correct
  return sign | half;
}

/** The float16 with bits `h` as a number (exact). */
export function fromFloat16Bits(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24; // zero / subnormal
  if (exp === 0x1f) return mant === 0 ? sign * Infinity : NaN;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** Every float16 decoded once: decoding a record is then one table lookup per value. */
let decodeTable: Float32Array | undefined;
function table(): Float32Array {
  if (!decodeTable) {
    decodeTable = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) decodeTable[h] = fromFloat16Bits(h);
  }
  return decodeTable;
}

/** float32 values → float16 bits (`out` reused when given). */
export function float32ToFloat16(values: ArrayLike<number>, out: Uint16Array = new Uint16Array(values.length)): Uint16Array {
  encodeFloat16Into(values instanceof Float32Array ? values : Float32Array.from(values), out);
  return out;
}

/** Bits of |65504|, the largest finite float16, as a float32: anything above (and not NaN) is out of range. */
const FLOAT16_MAX_BITS32 = 0x477fe000;

/**
 * The bulk encoder's tables, indexed by a float32's top 9 bits (sign and exponent): the result's
 * sign and exponent bits (`BASE`), how far the mantissa shifts right (`SHIFT`: 13 for float16
 * normals, 14–24 for subnormals, 25 to flush to zero) and the implicit leading bit to put back
 * before shifting (`IMPLICIT`, subnormals only). Overflow and Inf/NaN exponents give 0x7c00 and
 * a shift that leaves nothing of the mantissa; NaN gets its payload afterwards. With them, every
 * value is one rounded shift and no data-dependent branch: attention maps mix zeros, subnormals
 * and normals in no predictable order.
 */
const BASE = new Uint16Array(512);
const SHIFT = new Uint8Array(512);
const IMPLICIT = new Int32Array(512);
for (let i = 0; i < 512; i++) {
  const sign = (i & 0x100) << 7;
  const exp16 = (i & 0xff) - 112; // float16's biased exponent for this float32 exponent
  if (exp16 >= 31) [BASE[i], SHIFT[i]] = [sign | 0x7c00, 24]; // overflow, Inf, NaN: mantissa shifted out
  else if (exp16 >= 1) [BASE[i], SHIFT[i]] = [sign | (exp16 << 10), 13]; // normal
  else [BASE[i], SHIFT[i], IMPLICIT[i]] = [sign, Math.min(25, 14 - exp16), 0x800000]; // subnormal; < 2^-25 → 0
}

/**
 * float32 values → float16 bits in `out`, the same rounding as `toFloat16Bits` (the
 * definition; tests check the two agree bit for bit) in one pass over the float32 bit patterns —
 * the teacher cache converts tens of millions of values per shard on the stage's critical path.
 * @returns the index of the first value beyond ±FLOAT16_MAX (±Infinity included, NaN not), or −1.
 */
export function encodeFloat16Into(values: Float32Array, out: Uint16Array): number {
  if (out.length < values.length) throw new RangeError(`encodeFloat16Into: ${values.length} values need ${values.length} outputs, out holds ${out.length}`);
  const bits = new Int32Array(values.buffer, values.byteOffset, values.length);
  let beyond = -1;
  for (let i = 0; i < bits.length; i++) {
    const x = bits[i]!;
    const e = x >>> 23;
    const shift = SHIFT[e]!;
    const m = (x & 0x7fffff) | IMPLICIT[e]!;
    // Round to nearest, ties to even: add half a unit less one, plus the kept part's lowest bit.
    // A carry moves into the exponent (up to 0x7c00, Infinity) or from subnormal to normal, as it should.
    out[i] = BASE[e]! + ((m + (1 << (shift - 1)) - 1 + ((m >>> shift) & 1)) >>> shift);
    if ((x & 0x7fffffff) > FLOAT16_MAX_BITS32) {
      // Rare: beyond float16's range (an error for the cache), or NaN (kept, quiet, payload's top bits).
      const abs = x & 0x7fffffff;
      if (abs > 0x7f800000) out[i] = ((x >>> 16) & 0x8000) | 0x7e00 | ((abs >>> 13) & 0x1ff);
      else if (beyond < 0) beyond = i;
    }
  }
  return beyond;
}

/** float16 bits → float32 values (`out` reused when given). */
export function float16ToFloat32(bits: Uint16Array, out: Float32Array = new Float32Array(bits.length)): Float32Array {
  const t = table();
  for (let i = 0; i < bits.length; i++) out[i] = t[bits[i]];
  return out;
}
