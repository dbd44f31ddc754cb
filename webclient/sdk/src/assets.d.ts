// Vite's asset imports, as the web client's modules use them (their types
// come from vite/client there; the SDK's declarations do without Vite).
declare module '*?url' {
  const url: string;
  export default url;
}
