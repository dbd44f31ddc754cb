// Go's wasm_exec.js (copied into src/gen by `make webclient`) defines globalThis.Go.
declare module '*/wasm_exec.js';
