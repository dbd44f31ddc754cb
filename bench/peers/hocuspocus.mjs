// Starts a Hocuspocus server (in memory, no extensions) on 127.0.0.1:$PORT
// for the peer benchmarks (bench/README.md, "Peers").
import { Server } from '@hocuspocus/server'

const port = Number(process.env.PORT || 18282)
const server = new Server({ port, address: '127.0.0.1', quiet: true, stopOnSignals: true })
await server.listen()
console.error(`hocuspocus listening on 127.0.0.1:${port}`)
