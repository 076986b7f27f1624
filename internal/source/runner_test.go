package source_test

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hoistci/hoist/internal/source"
)

// elsewhere runs git on this host, but in a tree of its own: the folder
// "there" stands for a place Hoist's file system does not have (a pod's),
// and is "here" on this host.
type elsewhere struct {
	there, here string
	calls       int
}

func (e *elsewhere) Run(ctx context.Context, dir string, args, env []string, stdout, stderr io.Writer) error {
	e.calls++
	move := func(s string) string { return strings.ReplaceAll(s, e.there, e.here) }
	for i := range args {
		args[i] = move(args[i])
	}
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir, cmd.Env = move(dir), append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	return cmd.Run()
}

// TestCheckoutThroughARunner checks out through a Runner: every git command
// goes through it, and Checkout touches no folder of this host's itself.
func TestCheckoutThroughARunner(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tmp := t.TempDir()
	e := &elsewhere{there: filepath.Join(tmp, "pod"), here: filepath.Join(tmp, "host")}
	g := &source.Git{Runner: e}
	for _, ref := range []string{"dev", f.first} {
		if err := os.MkdirAll(filepath.Join(e.here, "src"), 0o755); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"dev": f.dev, f.first: f.first}[ref]
		commit, err := g.Checkout(t.Context(), f.url, ref, filepath.Join(e.there, "src"), io.Discard)
		if err != nil || commit != want {
			t.Fatalf("Checkout(%s) = %s, %v; want %s", ref, commit, err, want)
		}
		if _, err := os.Stat(filepath.Join(e.here, "src", "version")); err != nil {
			t.Errorf("Checkout(%s): the runner's tree has no checkout: %v", ref, err)
		}
		if err := os.RemoveAll(e.here); err != nil {
			t.Fatal(err)
		}
	}
	if e.calls < 4 {
		t.Errorf("the runner ran %d commands; want every git command", e.calls)
	}
	// A failure leaves the runner's folder to its owner.
	if err := os.MkdirAll(filepath.Join(e.here, "src"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Checkout(t.Context(), f.url, "nope", filepath.Join(e.there, "src"), io.Discard); !errors.Is(err, source.ErrRefNotFound) {
		t.Errorf("Checkout(nope): %v; want ErrRefNotFound", err)
	}
	if _, err := os.Stat(filepath.Join(e.here, "src")); err != nil {
		t.Errorf("the runner's folder after a failure: %v; want it left", err)
	}
	if _, err := os.Stat(e.there); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Checkout made %s on this host: %v", e.there, err)
	}
}
