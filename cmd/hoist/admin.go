package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/server"
)

// tokenIDLen is how many hex digits of a token's hash "token list" shows
// as its ID; "token revoke" takes at least minTokenID of them. The hash
// of a random secret gives nothing away.
const (
	tokenIDLen = 12
	minTokenID = 6
)

// cmdUserDelete is "hoist user delete NAME": it removes the user with
// every token and session of theirs, so they can no longer sign in or
// write.
func cmdUserDelete(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const use = "usage: hoist user delete [--data DIR] NAME"
	fs := newStoreCommand("user delete", stderr)
	st, err := fs.open(ctx, args, 1, use)
	if err != nil {
		return err
	}
	defer st.Close()
	u, err := st.UserByName(ctx, fs.Arg(0))
	if errors.Is(err, pipeline.ErrNotFound) {
		return fmt.Errorf("no user %s (nothing deleted)", fs.Arg(0))
	}
	if err != nil {
		return err
	}
	tokens, err := st.Tokens(ctx, u.ID)
	if err != nil {
		return err
	}
	if err := st.DeleteUser(ctx, u.ID); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "user %s deleted, with %d API tokens and every session\n", u.Name, len(tokens))
	return nil
}

// cmdTokenList is "hoist token list [USER]": every API token (or USER's),
// without secrets: ID, user, name, created, expires.
func cmdTokenList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("token list", stderr)
	data := fs.String("data", "hoist-data", "Hoist's data folder")
	db := dbFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		fmt.Fprintln(stderr, "usage: hoist token list [--data DIR] [USER]")
		return exitError(2)
	}
	st, err := openDB(ctx, *data, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	var id int64
	if fs.NArg() == 1 {
		u, err := st.UserByName(ctx, fs.Arg(0))
		if errors.Is(err, pipeline.ErrNotFound) {
			return fmt.Errorf("no user %s", fs.Arg(0))
		}
		if err != nil {
			return err
		}
		id = u.ID
	}
	tokens, err := st.Tokens(ctx, id)
	if err != nil {
		return err
	}
	if len(tokens) == 0 {
		fmt.Fprintf(stderr, "no API tokens; make one with: %s token create --data %s USER\n", self(), *data)
		return nil
	}
	names := map[int64]string{}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tUSER\tNAME\tCREATED\tEXPIRES")
	now := time.Now()
	for _, c := range tokens {
		if _, ok := names[c.UserID]; !ok {
			names[c.UserID] = fmt.Sprint(c.UserID)
			if u, err := st.UserByID(ctx, c.UserID); err == nil {
				names[c.UserID] = u.Name
			}
		}
		expires := "never"
		if !c.Expires.IsZero() {
			expires = c.Expires.Local().Format(time.DateTime)
			if !c.Expires.After(now) {
				expires += " (expired)"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.Hash[:min(tokenIDLen, len(c.Hash))], names[c.UserID], c.Name,
			c.Created.Local().Format(time.DateTime), expires)
	}
	return tw.Flush()
}

// cmdTokenRevoke is "hoist token revoke ID": it deletes the API token with
// that ID (from token list; a unique prefix of 6 or more digits will do) or
// the token whose secret is given.
func cmdTokenRevoke(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const use = "usage: hoist token revoke [--data DIR] ID   (the ID from hoist token list, or the token itself)"
	fs := newStoreCommand("token revoke", stderr)
	st, err := fs.open(ctx, args, 1, use)
	if err != nil {
		return err
	}
	defer st.Close()
	tokens, err := st.Tokens(ctx, 0)
	if err != nil {
		return err
	}
	c, err := findToken(tokens, fs.Arg(0))
	if err != nil {
		return fmt.Errorf("%w; see: %s token list --data %s", err, self(), fs.hint())
	}
	if err := st.DeleteCredential(ctx, c.Kind, c.Hash); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "token %s (%q) revoked\n", c.Hash[:min(tokenIDLen, len(c.Hash))], c.Name)
	return nil
}

// findToken returns the one token arg names: by its secret, or by a
// unique prefix of its hash.
func findToken(tokens []pipeline.Credential, arg string) (pipeline.Credential, error) {
	secretHash := server.HashSecret(arg)
	prefix := strings.ToLower(arg)
	var found []pipeline.Credential
	for _, c := range tokens {
		if c.Hash == secretHash {
			return c, nil
		}
		if len(prefix) >= minTokenID && strings.HasPrefix(c.Hash, prefix) {
			found = append(found, c)
		}
	}
	switch {
	case len(found) == 1:
		return found[0], nil
	case len(found) > 1:
		return pipeline.Credential{}, fmt.Errorf("%d tokens have IDs starting with %s: give more of the ID", len(found), arg)
	case len(prefix) < minTokenID:
		return pipeline.Credential{}, fmt.Errorf("no token %s: give at least %d digits of its ID, or the token itself", arg, minTokenID)
	}
	return pipeline.Credential{}, fmt.Errorf("no token %s", arg)
}
