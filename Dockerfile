# Corkboard node image: `docker build -t corkboard .`, then
#   docker run -p 8080:8080 -v corkboard-data:/data corkboard
# Stages: the CRDT compiled to WebAssembly (Go), the web client built with
# Vite (Node 20), the node binary with the web client embedded (Go, no cgo),
# and a distroless, non-root runtime image that holds only the binary, CA
# certificates and time zones. The store (Pebble, JetStream) lives in the
# /data volume. Configuration: flags after the image name, or CORKBOARD_*
# variables (README, "Configuration"); secrets through *_FILE variables
# pointing at mounted files, never in the environment.
# The same steps as `make webclient build`; a test in server/cmd/corkboard
# checks that the paths and flags named here exist.

FROM golang:1.26-bookworm AS wasm
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY crdt/ crdt/
COPY webclient/wasm/ webclient/wasm/
RUN mkdir -p /out && \
    GOOS=js GOARCH=wasm go build -trimpath -ldflags='-s -w' -o /out/crdt.wasm ./webclient/wasm && \
    cp "$(go env GOROOT)/lib/wasm/wasm_exec.js" /out/

FROM node:20-bookworm-slim AS web
WORKDIR /src/webclient
COPY webclient/package.json webclient/package-lock.json ./
RUN npm install --no-audit --no-fund
COPY webclient/ ./
COPY --from=wasm /out/ src/gen/
RUN npx --no-install vite build --logLevel warn

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
COPY --from=web /src/webclient/dist/ webclient/dist/
RUN CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /out/corkboard ./server/cmd/corkboard && \
    mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/corkboard /usr/local/bin/corkboard
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
VOLUME /data
# 8080: HTTP and WebSocket. 4222 and 6222: the embedded NATS server's client
# port and cluster routes, when --nats-listen / --nats-cluster open them.
EXPOSE 8080 4222 6222
ENV CORKBOARD_DATA_DIR=/data
ENTRYPOINT ["/usr/local/bin/corkboard"]
CMD ["--addr", ":8080"]
