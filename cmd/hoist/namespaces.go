package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

// namespaceUsage is hoist namespace's usage.
const namespaceUsage = `usage: hoist namespace add [--data DIR] [--owner USER] NS
       hoist namespace grant [--data DIR] NS USER maintainer|viewer
       hoist namespace revoke [--data DIR] NS USER`

// cmdNamespace is "hoist namespace add|grant|revoke": it creates a
// namespace and changes who may change its projects, in the --data
// database directly (a running server sees it at once).
func cmdNamespace(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	verbs := map[string]struct {
		nargs int
		run   func(ctx context.Context, st store, data string, owner string, args []string, stdout io.Writer) error
	}{
		"add":    {1, namespaceAdd},
		"grant":  {3, namespaceGrant},
		"revoke": {2, namespaceRevoke},
	}
	if len(args) == 0 {
		fmt.Fprintln(stderr, namespaceUsage)
		return exitError(2)
	}
	verb, ok := verbs[args[0]]
	if !ok {
		fmt.Fprintln(stderr, namespaceUsage)
		return exitError(2)
	}
	fs := newStoreCommand("namespace "+args[0], stderr)
	owner := new(string)
	if args[0] == "add" {
		owner = fs.String("owner", "", "the user who maintains the namespace (default: nobody yet; admins may grant)")
	}
	st, err := fs.open(ctx, args[1:], verb.nargs, namespaceUsage)
	if err != nil {
		return err
	}
	defer st.Close()
	if ns := fs.Arg(0); !pipeline.ValidName(ns) {
		return fmt.Errorf("namespace %q: use lowercase letters, digits, '.', '_' and '-'", ns)
	}
	return verb.run(ctx, st, fs.hint(), *owner, fs.Args(), stdout)
}

// namespaceAdd creates the namespace args[0], maintained by owner if set.
func namespaceAdd(ctx context.Context, st store, data, owner string, args []string, stdout io.Writer) error {
	ns := args[0]
	var id int64
	if owner != "" {
		u, err := findUser(ctx, st, data, owner)
		if err != nil {
			return err
		}
		id = u.ID
	}
	err := st.CreateNamespace(ctx, ns, id, time.Now())
	if errors.Is(err, pipeline.ErrExists) {
		return fmt.Errorf("namespace %s already exists; change its members with: %s namespace grant --data %s %s USER ROLE", ns, self(), data, ns)
	}
	if err != nil {
		return err
	}
	if owner != "" {
		fmt.Fprintf(stdout, "namespace %s added; %s maintains it\n", ns, owner)
	} else {
		fmt.Fprintf(stdout, "namespace %s added; only admins may change it until you grant: %s namespace grant --data %s %s USER maintainer\n", ns, self(), data, ns)
	}
	return nil
}

// namespaceGrant gives the user args[1] the role args[2] in args[0].
func namespaceGrant(ctx context.Context, st store, data, _ string, args []string, stdout io.Writer) error {
	ns, name := args[0], args[1]
	role, err := pipeline.ParseRole(args[2])
	if err != nil {
		return err
	}
	u, err := findUser(ctx, st, data, name)
	if err != nil {
		return err
	}
	if err := needNamespace(ctx, st, data, ns); err != nil {
		return err
	}
	if err := st.Grant(ctx, pipeline.Member{Namespace: ns, UserID: u.ID, Role: role}); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s is now %s of %s\n", name, role, ns)
	return nil
}

// namespaceRevoke removes the user args[1] from args[0].
func namespaceRevoke(ctx context.Context, st store, data, _ string, args []string, stdout io.Writer) error {
	ns, name := args[0], args[1]
	u, err := findUser(ctx, st, data, name)
	if err != nil {
		return err
	}
	if err := needNamespace(ctx, st, data, ns); err != nil {
		return err
	}
	err = st.Revoke(ctx, ns, u.ID)
	if errors.Is(err, pipeline.ErrNotFound) {
		return fmt.Errorf("%s is not a member of %s", name, ns)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s removed from %s\n", name, ns)
	return nil
}

// findUser returns the user called name, or an error saying how to add one.
func findUser(ctx context.Context, st store, data, name string) (pipeline.User, error) {
	u, err := st.UserByName(ctx, name)
	if errors.Is(err, pipeline.ErrNotFound) {
		return u, fmt.Errorf("no user %s; add one with: %s user add --data %s %s", name, self(), data, name)
	}
	return u, err
}

// needNamespace returns an error saying how to add ns when it does not exist.
func needNamespace(ctx context.Context, st store, data, ns string) error {
	_, err := st.Members(ctx, ns)
	if errors.Is(err, pipeline.ErrNotFound) {
		return fmt.Errorf("no namespace %s; add it with: %s namespace add --data %s %s", ns, self(), data, ns)
	}
	return err
}
