package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/registry"
)

// env is the set of adapters a command works with.
type env struct {
	store        store
	exec         executor // the Docker engine or a Kubernetes cluster
	registry     *registry.Client
	server       *registry.Server // nil with an external registry
	registryHost string
	data         string
	db           string // --db, "" for SQLite in data
	instance     string // see instanceID
}

// privateDir creates the data folder, or tightens an existing one, to 0700:
// it holds the database, the registry's storage, artifacts, checkouts and
// the registry's credentials.
func privateDir(data string) error {
	if err := os.MkdirAll(data, 0o700); err != nil {
		return fmt.Errorf("creating the data folder: %w", err)
	}
	if err := os.Chmod(data, 0o700); err != nil {
		return fmt.Errorf("making the data folder %s private: %w", data, err)
	}
	return nil
}

// openEnv opens the store, connects to the executor, and starts the embedded
// registry unless an external one is named.
//
// The embedded registry takes writes from Hoist only: the engine (pushing
// NAME:test) and the registry client get its generated credentials through
// their keychain; reads are public unless reg.privateRead.
func openEnv(ctx context.Context, data, db string, reg registryFlags, ex executorFlags, stderr io.Writer) (*env, error) {
	e := &env{data: data, db: db}
	var err error
	if e.instance, err = instanceID(data); err != nil {
		return nil, err
	}
	if e.store, err = openDB(ctx, data, db); err != nil {
		return nil, err
	}
	var keychain authn.Keychain = authn.DefaultKeychain
	e.registryHost = reg.external
	if reg.external == "" {
		access := registry.AccessPublicRead
		if reg.privateRead {
			access = registry.AccessPrivate
		}
		root := filepath.Join(data, "registry")
		e.server, err = registry.Serve(ctx, registry.ServerConfig{Addr: reg.addr, RootDir: root, Access: access})
		if err != nil {
			e.Close()
			return nil, fmt.Errorf("starting the embedded registry: %w", err)
		}
		e.registryHost = e.server.Addr()
		keychain = e.server.Keychain(keychain)
		fmt.Fprintf(stderr, "embedded registry on %s, storing in %s\n", e.registryHost, root)
		warnExposed(stderr, e.registryHost, access)
	}
	if e.exec, err = ex.open(ctx, reg, e.registryHost, keychain, stderr); err != nil {
		e.Close()
		return nil, err
	}
	e.registry = registry.New(registry.Options{Insecure: reg.insecure, UserAgent: "hoist", Keychain: keychain})
	if reg.external == "" {
		return e, nil
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := e.registryAnswers(cctx); err != nil {
		e.Close()
		return nil, fmt.Errorf("%w\nIs it running, and is --registry HOST:PORT right?", err)
	}
	return e, nil
}

// warnExposed warns when the embedded registry listens beyond this machine.
func warnExposed(stderr io.Writer, addr string, access registry.Access) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return
	}
	if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
		return
	}
	if access == registry.AccessPrivate {
		fmt.Fprintf(stderr, "warning: the embedded registry listens on %s, beyond this machine, over plain HTTP; reads and writes need Hoist's credentials\n", addr)
		return
	}
	fmt.Fprintf(stderr, "warning: the embedded registry listens on %s, beyond this machine, over plain HTTP: anyone who reaches it can pull its images "+
		"(only Hoist can push); --public-read=false makes reads need Hoist's credentials, or listen on 127.0.0.1 with --registry-addr\n", addr)
}

// registryAnswers checks that the registry can be reached. Any answer to a
// lookup of a tag that does not exist is fine ("not found", or
// "unauthorized" from registries that say so for repositories they do not
// have); only not reaching it is not.
func (e *env) registryAnswers(ctx context.Context) error {
	_, err := e.registry.Digest(ctx, e.registryHost+"/hoist/readyz:probe")
	var answered *transport.Error
	if err != nil && !errors.Is(err, pipeline.ErrNotFound) && !errors.As(err, &answered) {
		return fmt.Errorf("registry %s: %w", e.registryHost, err)
	}
	return nil
}

// Close stops the embedded registry and closes the store.
func (e *env) Close() error {
	var errs []error
	if e.server != nil {
		errs = append(errs, e.server.Close())
	}
	if e.store != nil {
		errs = append(errs, e.store.Close())
	}
	if e.exec != nil {
		errs = append(errs, e.exec.Close())
	}
	return errors.Join(errs...)
}
