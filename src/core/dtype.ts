/** Element types. float32 is the default; float64 is for gradient checks; int32 for labels and indices. */
export type DType = 'float32' | 'float64' | 'int32';
export type TypedArray = Float32Array | Float64Array | Int32Array;

export const DTYPES: readonly DType[] = ['float32', 'float64', 'int32'];

export function bytesPerElement(dtype: DType): number {
  return dtype === 'float64' ? 8 : 4;
}

export function isFloat(dtype: DType): boolean {
  return dtype !== 'int32';
}

export function newTypedArray(dtype: DType, size: number): TypedArray {
  switch (dtype) {
    case 'float32':
      return new Float32Array(size);
    case 'float64':
      return new Float64Array(size);
    case 'int32':
      return new Int32Array(size);
  }
}

export function checkDType(op: string, dtype: unknown): DType {
  if (dtype === 'float32' || dtype === 'float64' || dtype === 'int32') return dtype;
  throw new TypeError(`${op}: unknown dtype ${JSON.stringify(dtype)}; expected one of ${DTYPES.join(', ')}`);
}

/** The dtype a typed array holds, or undefined for other arrays. */
export function dtypeOfArray(a: unknown): DType | undefined {
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Float64Array) return 'float64';
  if (a instanceof Int32Array) return 'int32';
  return undefined;
}
