/**
 * The float16 encoder against its definition over EVERY float32 bit pattern (2³² values, in
 * chunks of 2²⁴): `encodeFloat16Into` (the bulk, table-driven conversion the teacher cache
 * writes with) must give the bits of `toFloat16Bits` (round to nearest, ties to even) for each
 * one, and report the first value beyond ±65504 (NaN not) where the definition says. Not a
 * speed benchmark: a check too long for the test suite (the tests sample the same comparison).
 *
 *     npx tsx bench/run.ts float16-check
 *
 * Prints the number of mismatches (and the first few), exits 1 when there are any.
 */
import { encodeFloat16Into, FLOAT16_MAX, toFloat16Bits } from '../trainer/distill/cache/float16';

export function run(): void {
  const chunk = 1 << 24;
  const bits = new Uint32Array(chunk);
  const values = new Float32Array(bits.buffer);
  const out = new Uint16Array(chunk);
  let mismatches = 0;
  const t0 = performance.now();
  for (let start = 0; start < 2 ** 32; start += chunk) {
    for (let k = 0; k < chunk; k++) bits[k] = start + k;
    const beyond = encodeFloat16Into(values, out);
    let firstBeyond = -1;
    for (let k = 0; k < chunk; k++) {
      const v = values[k]!;
      if (firstBeyond < 0 && Math.abs(v) > FLOAT16_MAX) firstBeyond = k;
      if (out[k] !== toFloat16Bits(v) && !(Number.isNaN(v) && (out[k]! & 0x7c00) === 0x7c00 && (out[k]! & 0x3ff) !== 0)) {
        if (mismatches++ < 5) console.log(`bits 0x${bits[k]!.toString(16)}: bulk 0x${out[k]!.toString(16)}, definition 0x${toFloat16Bits(v).toString(16)}`);
      }
    }
    if (beyond !== firstBeyond) {
      mismatches++;
      console.log(`chunk at 0x${start.toString(16)}: first value beyond ±${FLOAT16_MAX} at ${beyond}, the definition says ${firstBeyond}`);
    }
  }
  console.log(`${mismatches} mismatch(es) over 2^32 float32 bit patterns (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
  if (mismatches > 0) process.exitCode = 1;
}
