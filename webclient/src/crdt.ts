// The board CRDT in the page: the module comes from the compile main.ts
// started early, or from Vite's asset URL. The wrapper itself is
// crdtdoc.ts, which the SDK (webclient/sdk) shares.
import wasmUrl from './gen/crdt.wasm?url';
import { startCRDT } from './crdtdoc';

export * from './crdtdoc';

declare global {
  /** The module, compiling since the page started (main.ts). */
  var corkboardWasm: Promise<WebAssembly.Module> | undefined;
}

/** Loads and starts the WebAssembly module once. */
export function loadCRDT(): Promise<void> {
  return startCRDT(async (imports) => {
    const inst = await instantiate(imports);
    performance.mark('corkboard:wasm-compiled');
    return inst;
  });
}

async function instantiate(imports: WebAssembly.Imports): Promise<WebAssembly.Instance> {
  const early = globalThis.corkboardWasm;
  if (early) {
    try {
      return await WebAssembly.instantiate(await early, imports);
    } catch {
      /* fetch or compile failed there: try again below */
    }
  }
  try {
    return (await WebAssembly.instantiateStreaming(fetch(wasmUrl), imports)).instance;
  } catch {
    // A server without application/wasm: compile from bytes.
    const buf = await (await fetch(wasmUrl)).arrayBuffer();
    return (await WebAssembly.instantiate(buf, imports)).instance;
  }
}
