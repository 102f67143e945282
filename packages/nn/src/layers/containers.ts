import type { Tensor } from '@normgrad/core';
import { Module } from '../module.js';

function checkModule(op: string, value: unknown, label: string): Module {
  if (!(value instanceof Module)) throw new Error(`${op}: ${label} is not a Module`);
  return value;
}

/**
 * A list of modules (PyTorch's nn.ModuleList): its children are named `0`, `1`, ...; it has no
 * forward of its own (iterate over it in the owner's forward).
 */
export class ModuleList extends Module {
  private readonly items: Module[];

  constructor(modules: Iterable<Module> = []) {
    super();
    this.items = [...modules].map((m, i) => checkModule('ModuleList', m, `item ${i}`));
  }

  override namedChildren(): [string, Module][] {
    return this.items.map((m, i): [string, Module] => [String(i), m]);
  }

  get length(): number {
    return this.items.length;
  }

  /** The module at index (negative counts from the end). */
  at(index: number): Module {
    const m = Number.isInteger(index) ? this.items.at(index) : undefined;
    if (!m) throw new Error(`ModuleList: index ${index} is out of range for ${this.items.length} modules`);
    return m;
  }

  append(module: Module): this {
    this.items.push(checkModule('ModuleList.append', module, 'the argument'));
    return this;
  }

  extend(modules: Iterable<Module>): this {
    for (const m of modules) this.append(m);
    return this;
  }

  insert(index: number, module: Module): this {
    if (!Number.isInteger(index)) throw new Error(`ModuleList.insert: index must be an integer, got ${index}`);
    this.items.splice(index, 0, checkModule('ModuleList.insert', module, 'the argument'));
    return this;
  }

  [Symbol.iterator](): Iterator<Module> {
    return this.items[Symbol.iterator]();
  }

  forward(): Tensor {
    throw new Error('ModuleList: has no forward; call its modules from the owning module\'s forward');
  }
}

/**
 * Modules under string keys (PyTorch's nn.ModuleDict), kept in insertion order; children are
 * named by their keys. It has no forward of its own.
 */
export class ModuleDict extends Module {
  private readonly items = new Map<string, Module>();

  constructor(modules: Record<string, Module> | Iterable<[string, Module]> = {}) {
    super();
    const entries = Symbol.iterator in modules ? [...(modules as Iterable<[string, Module]>)] : Object.entries(modules);
    for (const [key, m] of entries) this.set(key, m);
  }

  override namedChildren(): [string, Module][] {
    return [...this.items.entries()];
  }

  get size(): number {
    return this.items.size;
  }

  has(key: string): boolean {
    return this.items.has(key);
  }

  get(key: string): Module {
    const m = this.items.get(key);
    if (!m) throw new Error(`ModuleDict: no module under key '${key}' (keys: ${[...this.items.keys()].join(', ')})`);
    return m;
  }

  set(key: string, module: Module): this {
    if (typeof key !== 'string' || key === '' || key.includes('.')) throw new Error(`ModuleDict: keys must be non-empty strings without '.', got ${JSON.stringify(key)}`);
    this.items.set(key, checkModule('ModuleDict', module, `the value under '${key}'`));
    return this;
  }

  delete(key: string): boolean {
    return this.items.delete(key);
  }

  keys(): string[] {
    return [...this.items.keys()];
  }

  values(): Module[] {
    return [...this.items.values()];
  }

  entries(): [string, Module][] {
    return [...this.items.entries()];
  }

  forward(): Tensor {
    throw new Error('ModuleDict: has no forward; call its modules from the owning module\'s forward');
  }
}
