// Loading the CRDT's WebAssembly outside the board page: the module ships
// next to the bundle (dist/crdt.wasm); Node reads the file, a browser
// fetches it. Go's wasm_exec.js is bundled in (crdtdoc.ts imports it).
import { startCRDT } from '../../src/crdtdoc';

/** Where the module comes from: a URL, its bytes, or a compiled module. */
export type WasmSource = string | URL | ArrayBuffer | Uint8Array | WebAssembly.Module;

/** Starts the CRDT's WebAssembly once (later calls share the first). */
export function loadWasm(source?: WasmSource): Promise<void> {
  return startCRDT(async (imports) => {
    if (source instanceof WebAssembly.Module) return WebAssembly.instantiate(source, imports);
    if (source instanceof ArrayBuffer || source instanceof Uint8Array) return (await WebAssembly.instantiate(source as BufferSource, imports)).instance;
    const url = source ? new URL(String(source), import.meta.url) : new URL('./crdt.wasm', import.meta.url);
    if (url.protocol === 'file:') {
      // Node: read the file (the module name in a variable keeps browser bundlers from resolving it).
      const fsName = 'node:fs/promises';
      const fs = (await import(/* @vite-ignore */ fsName)) as { readFile(u: URL): Promise<Uint8Array> };
      return (await WebAssembly.instantiate((await fs.readFile(url)) as BufferSource, imports)).instance;
    }
    try {
      return (await WebAssembly.instantiateStreaming(fetch(url), imports)).instance;
    } catch {
      // Served without application/wasm: compile from bytes.
      const buf = await (await fetch(url)).arrayBuffer();
      return (await WebAssembly.instantiate(buf, imports)).instance;
    }
  });
}
