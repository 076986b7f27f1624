package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"github.com/hoistci/hoist/internal/registry"
)

func cmdRegistry(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("registry", stderr)
	data := fs.String("data", "hoist-data", "Hoist's data folder")
	addr := fs.String("registry-addr", "127.0.0.1:5000", "address to serve on")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: hoist registry [--data DIR] [--registry-addr HOST:PORT]")
		return exitError(2)
	}
	srv, err := registry.Serve(ctx, registry.ServerConfig{Addr: *addr, RootDir: filepath.Join(*data, "registry")})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "serving the embedded registry on %s from %s; Ctrl-C stops it\n", srv.Addr(), filepath.Join(*data, "registry"))
	<-ctx.Done()
	return srv.Close()
}
