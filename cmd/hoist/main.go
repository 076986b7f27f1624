// Command hoist turns git repositories into tested container images in any
// registry. This package only wires the parts together: it reads flags,
// constructs the adapters and runs the pipeline, the CLI or the server.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `hoist turns git repositories into tested container images in any registry.

Usage:
  hoist index validate PATH...   check an index (index.d folder, index.yml or files)
  hoist run --index PATH [flags] build, test and deliver every entry once
  hoist images [--data DIR]      what was delivered: image, digest, commit, when
  hoist logs NS/NAME[:TAG][#N]   the stage logs of a build (default: the last)
  hoist registry [flags]         serve the embedded registry in the foreground

Run "hoist COMMAND -h" for a command's flags.
`

// errUsage is returned for bad command lines; main prints usage and exits 2.
var errUsage = errors.New("usage")

// exitError carries an exit code without printing anything more.
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one command line and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	err := dispatch(ctx, args, stdout, stderr)
	var code exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &code):
		return int(code)
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprint(stderr, usage)
		return 2
	}
	fmt.Fprintf(stderr, "hoist: %v\n", err)
	return 1
}

func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "index":
		if len(rest) == 0 || rest[0] != "validate" {
			return errUsage
		}
		return cmdValidate(rest[1:], stdout, stderr)
	case "run":
		return cmdRun(ctx, rest, stdout, stderr)
	case "images":
		return cmdImages(ctx, rest, stdout, stderr)
	case "logs":
		return cmdLogs(ctx, rest, stdout, stderr)
	case "registry":
		return cmdRegistry(ctx, rest, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprintf(stderr, "hoist: unknown command %q\n", cmd)
	return errUsage
}

// newFlags returns a flag set that prints its errors to stderr.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("hoist "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return fmt.Sprint(*l) }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// parseFlags parses args; flag has already printed what was wrong and the
// flags, so a bad command line only needs exit status 2.
func parseFlags(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		return exitError(2)
	}
	return err
}
