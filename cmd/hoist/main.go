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
	"math"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
)

const usage = `hoist turns git repositories into tested container images in any registry.

Usage:
  hoist index validate PATH...   check an index (index.d folder, index.yml or files)
  hoist run --index PATH [flags] build, test and deliver every entry once
  hoist plan --index PATH (--changed NS/NAME | --push REPO@BRANCH)... [--data DIR]
                                 what would rebuild, in order and why
  hoist images [--data DIR]      what was delivered: image, digest, commit, when
  hoist logs [-f] NS/NAME[:TAG][#N]
                                 the stage logs of a build (default: the last);
                                 -f follows it on a server
  hoist registry [flags]         serve the embedded registry in the foreground

  hoist serve --index PATH [flags]
                                 the web UI, the API and the build workers
                                 (--workers 0: none, builds run on hoist worker)
  hoist worker --db URL --registry HOST:PORT [flags]
                                 run the queued builds of a shared database on
                                 this machine's engine
  hoist user add [--admin] NAME  add a user (password on stdin); admins may
                                 change every project, others their namespaces'
  hoist user delete NAME         delete a user, their tokens and sessions
  hoist token create USER        print a new API token for USER, once
  hoist token list [USER]        list API tokens (ID, user, name, dates)
  hoist token revoke ID          revoke an API token
  hoist namespace add NS [--owner USER]
                                 add a namespace, maintained by USER
  hoist namespace grant NS USER maintainer|viewer
                                 let USER change (or only read) NS's projects
  hoist namespace revoke NS USER remove USER from NS
  hoist project trust NS/NAME    let NS/NAME's scripts run on the host, with the
                                 engine (root-equivalent); default: sandboxed
  hoist project untrust NS/NAME  sandbox NS/NAME's scripts again
  hoist project limits NS/NAME [--memory 2GiB] [--cpus 2] [--pids 512]
                                 raise (or show) the limits of NS/NAME's
                                 containers, up to serve's --max-* flags

Talking to a server (--server URL or $HOIST_SERVER, token in $HOIST_TOKEN):
  hoist project add NS/NAME REPO_URL [flags]
                                 register a project; its first build starts
  hoist build NS/NAME[:TAG]      queue a build; prints the build's page
  hoist scan NS/NAME[:TAG]       re-scan the delivered image now, without
                                 rebuilding (also works without --server, on --data)

The commands that keep state find it in --data DIR (default hoist-data):
the SQLite database hoist.db, the embedded registry and the workspaces.
--db URL puts the database elsewhere: sqlite:PATH, or
postgres://USER@HOST:PORT/DB to share one PostgreSQL database.

Run "hoist COMMAND -h" for a command's flags. Flags may come before or after
the arguments; "--" ends them.
`

// errUsage is returned for bad command lines; main prints usage and exits 2.
var errUsage = errors.New("usage")

// exitError carries an exit code without printing anything more.
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run executes one command line and returns the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	err := dispatch(ctx, args, stdin, stdout, stderr)
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

func dispatch(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
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
	case "plan":
		return cmdPlan(ctx, rest, stdout, stderr)
	case "images":
		return cmdImages(ctx, rest, stdout, stderr)
	case "logs":
		return cmdLogs(ctx, rest, stdout, stderr)
	case "registry":
		return cmdRegistry(ctx, rest, stdout, stderr)
	case "serve":
		return cmdServe(ctx, rest, stdout, stderr)
	case "worker":
		return cmdWorker(ctx, rest, stdout, stderr)
	case "user":
		return cmdUser(ctx, rest, stdin, stdout, stderr)
	case "token":
		return cmdToken(ctx, rest, stdout, stderr)
	case "namespace":
		return cmdNamespace(ctx, rest, stdout, stderr)
	case "project":
		return cmdProject(ctx, rest, stdout, stderr)
	case "scan":
		return cmdScan(ctx, rest, stdout, stderr)
	case "build":
		return cmdBuild(ctx, rest, stdout, stderr)
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

// sizeFlag is a size in bytes, written 50MB, 512KB, 1GB or 1048576; a KB
// is 1024 bytes, as in Docker's sizes.
type sizeFlag int64

func (s *sizeFlag) String() string { return fmt.Sprint(int64(*s)) }

func (s *sizeFlag) Set(v string) error {
	t := strings.ToUpper(strings.TrimSpace(v))
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GIB", 1 << 30}, {"MIB", 1 << 20}, {"KIB", 1 << 10}, {"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}, {"B", 1}} {
		if rest, ok := strings.CutSuffix(t, u.suffix); ok {
			t, mult = strings.TrimSpace(rest), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n <= 0 || n > math.MaxInt64/mult {
		return fmt.Errorf("%q is not a size; write it like 50MB, 512KB or 1GB", v)
	}
	*s = sizeFlag(n * mult)
	return nil
}

// parseFlags parses the flags of one command line, which may come before,
// between or after its arguments, as in docker, kubectl and gh (Go's flag
// package stops at the first argument); "--" ends the flags. Afterwards
// fs.Args, fs.NArg and fs.Arg give the arguments alone, in their order.
// Every command parses with it. flag has already printed what was wrong and
// the flags, so a bad command line only needs exit status 2.
func parseFlags(fs *flag.FlagSet, args []string) error {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			pos = append(pos, args[i+1:]...)
			i = len(args)
		case len(a) < 2 || a[0] != '-':
			pos = append(pos, a)
		default:
			flags = append(flags, a)
			if takesValue(fs, a) && i+1 < len(args) {
				i++
				flags = append(flags, args[i])
			}
		}
	}
	if err := fs.Parse(flags); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			return exitError(2)
		}
		return err
	}
	return fs.Parse(append([]string{"--"}, pos...)) // only sets fs.Args
}

// takesValue reports whether the flag arg ("-name" or "--name", without
// "=value") is one of fs's flags that reads its value from the next
// argument: any but a boolean.
func takesValue(fs *flag.FlagSet, arg string) bool {
	name := strings.TrimPrefix(strings.TrimPrefix(arg, "-"), "-")
	if strings.Contains(name, "=") {
		return false
	}
	f := fs.Lookup(name)
	if f == nil {
		return false
	}
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return !ok || !b.IsBoolFlag()
}

// parseInterspersed parses like parseFlags and returns the arguments.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	return fs.Args(), nil
}
