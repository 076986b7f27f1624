package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
)

// storeCommand is a command that works on the store directly (a
// running server sees what it changes at once): its flags, --data and --db among
// them, and after open its arguments.
type storeCommand struct {
	*flag.FlagSet
	data *string
	db   *string
}

// newStoreCommand returns the flags of "hoist name", with --data and --db; the
// caller adds its own before open.
func newStoreCommand(name string, stderr io.Writer) *storeCommand {
	fs := newFlags(name, stderr)
	return &storeCommand{FlagSet: fs, data: fs.String("data", "hoist-data", "Hoist's data folder"), db: dbFlag(fs)}
}

// open parses args (flags anywhere), checks that exactly nargs arguments
// remain, else prints use and fails with exit status 2, and opens the
// store, which the caller closes.
func (c *storeCommand) open(ctx context.Context, args []string, nargs int, use string) (store, error) {
	if err := parseFlags(c.FlagSet, args); err != nil {
		return nil, err
	}
	if c.NArg() != nargs {
		fmt.Fprintln(c.Output(), use)
		return nil, exitError(2)
	}
	return openDB(ctx, *c.data, *c.db)
}

// hint is what follows --data in a hint of a command to run next: DIR,
// and --db URL (without its password) when one was given.
func (c *storeCommand) hint() string { return strings.TrimPrefix(dbArgs(*c.data, *c.db), "--data ") }

// where names the store in messages: the data folder, or --db's URL
// without its password.
func (c *storeCommand) where() string {
	if *c.db == "" {
		return *c.data
	}
	return redactDB(*c.db)
}
