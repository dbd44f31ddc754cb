// Starts the y-websocket server (@y/websocket-server's own bin, in memory:
// YPERSISTENCE unset) on 127.0.0.1:$PORT for the peer benchmarks
// (bench/README.md, "Peers").
process.env.HOST = '127.0.0.1'
process.env.PORT = process.env.PORT || '18282'
delete process.env.YPERSISTENCE
await import('./node_modules/@y/websocket-server/src/server.js')
