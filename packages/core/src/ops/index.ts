import type { Primitive } from '../primitive.js';
import { abs } from './abs.js';
import { add } from './add.js';
import { argmax } from './argmax.js';
import { argsort } from './argsort.js';
import { broadcastTo } from './broadcast-to.js';
import { cast } from './cast.js';
import { compare } from './compare.js';
import { concat } from './concat.js';
import { cos } from './cos.js';
import { div } from './div.js';
import { exp } from './exp.js';
import { fold } from './fold.js';
import { gather } from './gather.js';
import { log } from './log.js';
import { matmul } from './matmul.js';
import { max } from './max.js';
import { maximum } from './maximum.js';
import { mul } from './mul.js';
import { neg } from './neg.js';
import { permute } from './permute.js';
import { pow } from './pow.js';
import { reciprocal } from './reciprocal.js';
import { reshape } from './reshape.js';
import { scatterAdd } from './scatter-add.js';
import { sigmoid } from './sigmoid.js';
import { sign } from './sign.js';
import { sin } from './sin.js';
import { slice } from './slice.js';
import { sqrt } from './sqrt.js';
import { sub } from './sub.js';
import { sum } from './sum.js';
import { tanh } from './tanh.js';
import { unfold } from './unfold.js';
import { unslice } from './unslice.js';
import { where } from './where.js';

/** The closed set of primitives; everything else in the library is a composite of these. */
export const primitives = {
  neg, exp, log, sqrt, reciprocal, abs, sign, sin, cos, tanh, sigmoid,
  add, sub, mul, div, pow, maximum, compare, where,
  sum, max,
  reshape, broadcastTo, permute, slice, unslice, concat,
  matmul, unfold, fold, cast,
  argmax, argsort, gather, scatterAdd,
} satisfies Record<string, Primitive<any>>;

export type PrimitiveName = keyof typeof primitives;
