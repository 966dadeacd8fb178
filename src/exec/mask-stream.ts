// Masking as a Node stream, for a job started through node:child_process (the fallback when the build made no
// native addon; see run.ts). The masking itself is MaskCarry's (mask.ts).

import { Transform, type TransformCallback } from "node:stream";
import { MaskCarry, type Pattern } from "./mask.js";

/** A Transform that masks `patterns` in the bytes passing through it. */
export class Masker extends Transform {
  private readonly carry: MaskCarry;

  constructor(patterns: Pattern[]) {
    super();
    this.carry = new MaskCarry(patterns);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    const out = this.carry.write(chunk);
    done(null, out.length > 0 ? out : undefined);
  }

  override _flush(done: TransformCallback): void {
    const out = this.carry.end();
    done(null, out.length > 0 ? out : undefined);
  }
}
