package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/hoistci/hoist/internal/store/sqlite"
)

// storeCommand is a command that works on the --data store directly (a
// running server sees what it changes at once): its flags, --data among
// them, and after open its arguments.
type storeCommand struct {
	*flag.FlagSet
	data *string
}

// newStoreCommand returns the flags of "hoist name", with --data; the
// caller adds its own before open.
func newStoreCommand(name string, stderr io.Writer) *storeCommand {
	fs := newFlags(name, stderr)
	return &storeCommand{FlagSet: fs, data: fs.String("data", "hoist-data", "Hoist's data folder")}
}

// open parses args (flags anywhere), checks that exactly nargs arguments
// remain, else prints use and fails with exit status 2, and opens the
// store, which the caller closes.
func (c *storeCommand) open(ctx context.Context, args []string, nargs int, use string) (*sqlite.Store, error) {
	if err := parseFlags(c.FlagSet, args); err != nil {
		return nil, err
	}
	if c.NArg() != nargs {
		fmt.Fprintln(c.Output(), use)
		return nil, exitError(2)
	}
	return openStore(ctx, *c.data)
}
