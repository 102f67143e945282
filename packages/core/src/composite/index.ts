export * from './elementwise.js';
export * from './reduce.js';
export * from './shape.js';
export * from './windows.js';
export * from './indexing.js';
