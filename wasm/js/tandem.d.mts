// TypeScript resolves types of tandem.mjs from this file; the declarations live in tandem.d.ts.
export * from './tandem.js';
