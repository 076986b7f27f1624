#!/bin/sh
# Compiles a static binary for the FROM scratch image.
set -eu
export CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN=local
go version
go build -trimpath -ldflags='-s -w' -o hello .
ls -l hello
