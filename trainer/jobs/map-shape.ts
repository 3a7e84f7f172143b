/** Query and key lengths of each attention kind, from a model config (encoder = [image ; text]). */
import type { AttentionKind } from '../model';
import { numPatches, type ModelConfig } from '../model/config';

/** `[Q, K]` of the maps of `kind` in a model with this config. */
export function attentionMapShape(c: ModelConfig, kind: AttentionKind): [number, number] {
  const P = numPatches(c);
  const Lt = c.maxTextLength;
  const Ld = c.maxTargetLength;
  switch (kind) {
    case 'visionSelf':
      return [P, P];
    case 'fusionSelf':
      return c.fusion === 'single-stream' ? [P + Lt, P + Lt] : [Lt, Lt];
    case 'crossImage':
      return [Lt, P];
    case 'decoderSelf':
      return [Ld, Ld];
    case 'decoderCross':
      return [Ld, P + Lt];
  }
}

/** Heads of the stack `kind` belongs to. */
export function headsOf(c: ModelConfig, kind: AttentionKind): number {
  return kind === 'visionSelf' ? c.heads.vision : kind === 'decoderSelf' || kind === 'decoderCross' ? c.heads.decoder : c.heads.fusion;
}
