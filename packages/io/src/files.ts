import type { Tensor } from '@normgrad/core';
import { parse, serialize, type ParsedSafetensors, type SafetensorsOptions } from './safetensors.js';

interface FileSystem {
  readFileSync(path: string): Uint8Array;
  writeFileSync(path: string, data: Uint8Array): void;
}

/**
 * Node's fs, looked up when a file function runs (process.getBuiltinModule, Node >= 20.16), so
 * that importing @normgrad/io reaches no Node built-in and the package bundles for the browser.
 */
function fileSystem(entryPoint: string): FileSystem {
  const process = (globalThis as { process?: { getBuiltinModule?(name: string): unknown } }).process;
  const fs = process?.getBuiltinModule?.('node:fs') as FileSystem | undefined;
  if (fs === undefined) {
    throw new Error(`${entryPoint}: needs Node's fs (Node >= 20.16); in a browser use serializeSafetensors / deserializeSafetensors on bytes`);
  }
  return fs;
}

function checkPath(entryPoint: string, path: unknown): asserts path is string {
  if (typeof path !== 'string' || path === '') throw new Error(`${entryPoint}: path must be a non-empty string, got ${JSON.stringify(path)}`);
}

/** Writes the tensors (and metadata) to a safetensors file at path. */
export function saveSafetensors(tensors: Record<string, Tensor>, path: string, options: SafetensorsOptions = {}): void {
  checkPath('saveSafetensors', path);
  const bytes = serialize('saveSafetensors', tensors, options);
  const fs = fileSystem('saveSafetensors');
  try {
    fs.writeFileSync(path, bytes);
  } catch (error) {
    throw new Error(`saveSafetensors: cannot write ${path}: ${(error as Error).message}`);
  }
}

/** The tensors of the safetensors file at path. */
export function loadSafetensors(path: string): Record<string, Tensor> {
  return read('loadSafetensors', path).tensors;
}

/** Tensors, metadata and stored dtypes of the safetensors file at path. */
export function readSafetensors(path: string): ParsedSafetensors {
  return read('readSafetensors', path);
}

function read(entryPoint: string, path: string): ParsedSafetensors {
  checkPath(entryPoint, path);
  const fs = fileSystem(entryPoint);
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(path);
  } catch (error) {
    throw new Error(`${entryPoint}: cannot read ${path}: ${(error as Error).message}`);
  }
  return parse(`${entryPoint}: ${path}`, bytes);
}
