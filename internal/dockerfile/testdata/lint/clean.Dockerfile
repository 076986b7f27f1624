# syntax=docker/dockerfile:1
ARG GO_VERSION=1.26
ARG BASE=busybox:1.36

FROM golang:${GO_VERSION} AS build
WORKDIR /src
ENV CGO_ENABLED=0 \
    GOFLAGS=-trimpath
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/root/go/pkg/mod go mod download
COPY . .
RUN go build -o /out/app ./cmd/app && \
    echo "built $GOPATH"

FROM ${BASE}
ARG VERSION=dev
LABEL org.opencontainers.image.version=$VERSION
COPY --from=build /out/app /usr/local/bin/app
COPY <<EOT /etc/app.conf
listen = 0.0.0.0:8080
EOT
RUN <<EOT sh
set -e
adduser -D app
EOT
USER app
EXPOSE 8080/tcp
HEALTHCHECK CMD ["/usr/local/bin/app", "health"]
ENTRYPOINT ["/usr/local/bin/app"]
CMD ["serve"]
