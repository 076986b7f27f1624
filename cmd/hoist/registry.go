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
	publicRead := fs.Bool("public-read", true, "anyone may pull; false: pulls need the registry's credentials too")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: hoist registry [--data DIR] [--registry-addr HOST:PORT] [--public-read=false]")
		return exitError(2)
	}
	if err := privateDir(*data); err != nil {
		return err
	}
	access := registry.AccessPublicRead
	if !*publicRead {
		access = registry.AccessPrivate
	}
	root := filepath.Join(*data, "registry")
	srv, err := registry.Serve(ctx, registry.ServerConfig{Addr: *addr, RootDir: root, Access: access})
	if err != nil {
		return err
	}
	user, _ := srv.Credentials()
	fmt.Fprintf(stdout, "serving the embedded registry on %s from %s; Ctrl-C stops it\n", srv.Addr(), root)
	fmt.Fprintf(stdout, "pushes need the user %s and the password in %s:\n  docker login %s -u %s --password-stdin < %s\n",
		user, filepath.Join(root, registry.PasswordFile), srv.Addr(), user, filepath.Join(root, registry.PasswordFile))
	warnExposed(stderr, srv.Addr(), access)
	<-ctx.Done()
	return srv.Close()
}
