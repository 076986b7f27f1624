package reconcile_test

import (
	"net"
	"testing"
	"time"

	"github.com/hoistci/hoist/internal/index"
	"github.com/hoistci/hoist/internal/reconcile"
	"github.com/hoistci/hoist/internal/source"
	"github.com/hoistci/hoist/internal/testenv"
)

// TestGitIndexTimeout reads an index from a git server that accepts the
// connection and never answers: the read ends at the timeout, saying so.
func TestGitIndexTimeout(t *testing.T) {
	testenv.Git(t, "", "version") // skips without git
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	url := "http://" + ln.Addr().String() + "/index.git"
	g := &reconcile.GitIndex{URL: url, Branch: "main", Dir: t.TempDir(), Source: source.New(), Loader: index.Loader{}, Timeout: time.Second}
	start := time.Now()
	_, err = g.ReadIndex(t.Context())
	if want := "fetching the index " + url + " (branch main): timed out after 1s"; err == nil || err.Error() != want {
		t.Errorf("ReadIndex error = %v, want %q", err, want)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("ReadIndex took %s with a 1s timeout", d)
	}
}
