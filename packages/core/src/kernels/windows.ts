import { allocate } from '../dtype.js';
import { contiguousData, createNd, dtypeOfNd, type FloatNdArray } from './layout.js';

/** The geometry of a 2-D sliding window over (N, C, H, W): kernel, stride, zero padding, dilation and output plane. */
export interface WindowGeometry {
  kernel: [number, number];
  stride: [number, number];
  padding: [number, number];
  /** Spacing between kernel elements (1: adjacent). */
  dilation: [number, number];
  /** The (H, W) plane the windows slide over (before padding). */
  input: [number, number];
  /** Window positions along H and W. */
  output: [number, number];
}

/**
 * Visits every (window element, position) pair: `visit(column, row)` with the flat index into
 * the (N, C·kh·kw, outH·outW) column array and into the (N, C, H, W) image, or -1 for padding.
 */
function forEachWindowElement(batch: number, channels: number, geometry: WindowGeometry, visit: (column: number, pixel: number) => void): void {
  const [kernelHeight, kernelWidth] = geometry.kernel;
  const [strideHeight, strideWidth] = geometry.stride;
  const [padHeight, padWidth] = geometry.padding;
  const [dilationHeight, dilationWidth] = geometry.dilation;
  const [height, width] = geometry.input;
  const [outHeight, outWidth] = geometry.output;
  let column = 0;
  for (let n = 0; n < batch; n++) {
    for (let c = 0; c < channels; c++) {
      const plane = (n * channels + c) * height * width;
      for (let ki = 0; ki < kernelHeight; ki++) {
        for (let kj = 0; kj < kernelWidth; kj++) {
          for (let oh = 0; oh < outHeight; oh++) {
            const ih = oh * strideHeight - padHeight + ki * dilationHeight;
            const rowInside = ih >= 0 && ih < height;
            for (let ow = 0; ow < outWidth; ow++, column++) {
              const iw = ow * strideWidth - padWidth + kj * dilationWidth;
              visit(column, rowInside && iw >= 0 && iw < width ? plane + ih * width + iw : -1);
            }
          }
        }
      }
    }
  }
}

/** im2col: (N, C, H, W) → (N, C·kh·kw, outH·outW), zeros where a window overlaps the padding. */
export function unfoldKernel(x: FloatNdArray, geometry: WindowGeometry): FloatNdArray {
  const [batch, channels] = x.shape as [number, number];
  const image = contiguousData(x);
  const dtype = dtypeOfNd(x);
  const windowSize = geometry.kernel[0] * geometry.kernel[1];
  const positions = geometry.output[0] * geometry.output[1];
  const columns = allocate(dtype, batch * channels * windowSize * positions);
  forEachWindowElement(batch, channels, geometry, (column, pixel) => {
    if (pixel >= 0) columns[column] = image[pixel]!;
  });
  return createNd(dtype, [batch, channels * windowSize, positions], columns);
}

/** col2im: the adjoint of unfold — each column value is added back to the pixel it came from. */
export function foldKernel(columns: FloatNdArray, channels: number, geometry: WindowGeometry): FloatNdArray {
  const batch = columns.shape[0]!;
  const values = contiguousData(columns);
  const dtype = dtypeOfNd(columns);
  const [height, width] = geometry.input;
  const image = new Float64Array(batch * channels * height * width);
  forEachWindowElement(batch, channels, geometry, (column, pixel) => {
    if (pixel >= 0) image[pixel] = image[pixel]! + values[column]!;
  });
  const out = allocate(dtype, image.length);
  out.set(image);
  return createNd(dtype, [batch, channels, height, width], out);
}
