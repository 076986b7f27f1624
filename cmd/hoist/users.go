package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/server"
)

// minPassword is the shortest password hoist user add accepts.
const minPassword = 8

// cmdUser is "hoist user add NAME": it creates a user who may write, with
// the password read from standard input, in the --data database directly
// (a running server sees the user at once). "hoist user delete NAME"
// removes one.
func cmdUser(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "delete" {
		return cmdUserDelete(ctx, args[1:], stdout, stderr)
	}
	if len(args) == 0 || args[0] != "add" {
		fmt.Fprintln(stderr, "usage: hoist user add [--data DIR] NAME   (the password is read from standard input)")
		fmt.Fprintln(stderr, "       hoist user delete [--data DIR] NAME")
		return exitError(2)
	}
	fs := newFlags("user add", stderr)
	data := fs.String("data", "hoist-data", "Hoist's data folder")
	db := dbFlag(fs)
	admin := fs.Bool("admin", false, "the user may change every project and build every project of the index")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: hoist user add [--data DIR] [--admin] NAME   (the password is read from standard input)")
		return exitError(2)
	}
	name := fs.Arg(0)
	if !pipeline.ValidName(name) {
		return fmt.Errorf("user name %q: use lowercase letters, digits, '.', '_' and '-'", name)
	}
	pw, err := readPassword(stdin, stderr)
	if err != nil {
		return err
	}
	hash, err := server.HashPassword(pw)
	if err != nil {
		return err
	}
	st, err := openDB(ctx, *data, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	u := pipeline.User{Name: name, PasswordHash: hash, Created: time.Now(), Admin: *admin}
	if err := st.CreateUser(ctx, &u); err != nil {
		if errors.Is(err, pipeline.ErrExists) {
			return fmt.Errorf("user %s already exists", name)
		}
		return err
	}
	kind := "user"
	if *admin {
		kind = "admin"
	}
	fmt.Fprintf(stdout, "%s %s added; make an API token with: %s token create %s %s\n", kind, name, self(), dbArgs(*data, *db), name)
	return nil
}

// readPassword reads one line from stdin, without echo on a terminal.
func readPassword(stdin io.Reader, stderr io.Writer) (string, error) {
	var pw string
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(stderr, "password: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return "", fmt.Errorf("reading the password: %w", err)
		}
		pw = string(b)
	} else {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("reading the password from standard input: %w", err)
		}
		pw = strings.TrimRight(line, "\r\n")
	}
	if len(pw) < minPassword {
		return "", fmt.Errorf("the password must have at least %d characters (read from standard input: echo PASSWORD | hoist user add NAME)", minPassword)
	}
	return pw, nil
}

// cmdToken is "hoist token create NAME": it prints a new API token for the
// user once, and stores only its hash. "token list" and "token revoke"
// show and delete tokens.
func cmdToken(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "list" {
		return cmdTokenList(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "revoke" {
		return cmdTokenRevoke(ctx, args[1:], stdout, stderr)
	}
	if len(args) == 0 || args[0] != "create" {
		fmt.Fprintln(stderr, "usage: hoist token create [--data DIR] [--name TOKEN-NAME] USER")
		fmt.Fprintln(stderr, "       hoist token list [--data DIR] [USER]")
		fmt.Fprintln(stderr, "       hoist token revoke [--data DIR] ID")
		return exitError(2)
	}
	fs := newStoreCommand("token create", stderr)
	label := fs.String("name", "cli", "what the token is for (ci, laptop…), to tell tokens apart")
	st, err := fs.open(ctx, args[1:], 1, "usage: hoist token create [--data DIR] [--name TOKEN-NAME] USER")
	if err != nil {
		return err
	}
	defer st.Close()
	u, err := st.UserByName(ctx, fs.Arg(0))
	if errors.Is(err, pipeline.ErrNotFound) {
		return fmt.Errorf("no user %s; add one with: %s user add --data %s %s", fs.Arg(0), self(), fs.hint(), fs.Arg(0))
	}
	if err != nil {
		return err
	}
	secret, hash, err := server.NewSecret()
	if err != nil {
		return err
	}
	c := pipeline.Credential{Kind: pipeline.CredentialToken, Hash: hash, UserID: u.ID, Name: *label, Created: time.Now()}
	if err := st.PutCredential(ctx, c); err != nil {
		return err
	}
	fmt.Fprintln(stdout, secret)
	fmt.Fprintf(stderr, "token %q for %s: shown once, keep it. Use it with: export HOIST_TOKEN=...\n", *label, u.Name)
	return nil
}
