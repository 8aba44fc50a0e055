# syntax=docker/dockerfile:1

# Build stage: a static, stripped binary. Every store driver (modernc.org/sqlite, pgx) is pure Go,
# so CGO stays off and the binary runs on a distroless image without libc.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" \
      -o /out/newsroom ./cmd/newsroom

# Final stage: no shell, no package manager, CA certificates and tzdata only, uid 65532.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/newsroom /newsroom
USER nonroot:nonroot
EXPOSE 8080
# distroless has no curl or shell: the binary checks itself.
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
  CMD ["/newsroom", "healthcheck", "--url", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["/newsroom", "serve", "--addr", "0.0.0.0:8080"]
