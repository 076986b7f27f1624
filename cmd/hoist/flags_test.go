package main

import (
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseFlags(t *testing.T) {
	tests := []struct {
		args []string
		pos  []string
		data string
		v    bool
		code int // exitError code; 0 when parsing succeeds
	}{
		{args: []string{"alice", "--data", "D"}, pos: []string{"alice"}, data: "D"},
		{args: []string{"--data", "D", "alice"}, pos: []string{"alice"}, data: "D"},
		{args: []string{"a", "-v", "b", "--data=D", "c"}, pos: []string{"a", "b", "c"}, data: "D", v: true},
		{args: []string{"a", "-v=false", "b"}, pos: []string{"a", "b"}},
		{args: []string{"a", "--data", "-x"}, pos: []string{"a"}, data: "-x"}, // a value may start with "-", as with flag
		{args: []string{"a", "--", "-v", "--data", "D"}, pos: []string{"a", "-v", "--data", "D"}},
		{args: []string{"--", "--"}, pos: []string{"--"}},
		{args: []string{"-", "-v"}, pos: []string{"-"}, v: true},
		{args: []string{"a", "--bogus"}, code: 2},
		{args: []string{"a", "--data"}, code: 2},
	}
	for _, tt := range tests {
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		data := fs.String("data", "", "")
		v := fs.Bool("v", false, "")
		err := parseFlags(fs, tt.args)
		if tt.code != 0 {
			if err != exitError(tt.code) {
				t.Errorf("parseFlags(%q) = %v, want exit status %d", tt.args, err, tt.code)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseFlags(%q): %v", tt.args, err)
			continue
		}
		if diff := cmp.Diff(tt.pos, fs.Args()); tt.pos != nil && diff != "" {
			t.Errorf("parseFlags(%q): arguments (-want +got):\n%s", tt.args, diff)
		}
		if *data != tt.data || *v != tt.v {
			t.Errorf("parseFlags(%q): --data %q -v %v, want %q %v", tt.args, *data, *v, tt.data, tt.v)
		}
	}
}

// requests is an HTTP server that records the requests hoist's client
// commands send, and answers each with an empty JSON object.
type requests struct {
	mu  sync.Mutex
	got []string // "METHOD PATH?QUERY BODY"
}

func (rs *requests) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rs.mu.Lock()
	rs.got = append(rs.got, strings.TrimSpace(r.Method+" "+r.URL.RequestURI()+" "+string(body)))
	rs.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, "{}")
}

func (rs *requests) String() string {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return strings.Join(rs.got, "\n")
}

// TestFlagsAnywhere runs every command of the usage with its flags after its
// arguments: they must be parsed as flags (an unknown one is an error, a
// known one takes effect), and "--" must end them.
func TestFlagsAnywhere(t *testing.T) {
	t.Setenv("HOIST_SERVER", "")
	t.Setenv("HOIST_TOKEN", "")
	data := t.TempDir()
	rec := &requests{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	const idx = "../../examples/index.d"

	// Each command: what it is called with (arguments first, then flags),
	// and what shows the flags were read.
	tests := []struct {
		cmd   string   // as in the usage
		args  []string // after the command
		stdin string
		code  int
		want  string // in stdout+stderr, or in the requests the server saw
	}{
		{"index validate", []string{idx, "-h"}, "", 0, "usage: hoist index validate PATH..."},
		{"run", []string{"stray", "--index", idx}, "", 2, "usage: hoist run"},
		{"plan", []string{"stray", "--index", idx, "--changed", "examples/busybox"}, "", 2, "usage: hoist plan"},
		{"images", []string{"--data", data}, "", 0, "nothing delivered yet (data in " + data + ")"},
		{"images", []string{"stray", "--data", data}, "", 2, "usage: hoist images"},
		{"logs", []string{"demo/web", "--data", data}, "", 1, "no builds of demo/web:latest"},
		{"registry", []string{"stray", "--registry-addr", "127.0.0.1:0"}, "", 2, "usage: hoist registry"},
		{"serve", []string{"stray", "--data", data}, "", 2, "usage: hoist serve"},
		{"serve", []string{"--data", data, "--workers", "-1"}, "", 2, "--workers -1: want 0 (builds run on hoist worker) or more"},
		{"worker", []string{"stray", "--db", "sqlite:" + data + "/hoist.db"}, "", 2, "usage: hoist worker"},
		{"worker", []string{"--registry", "127.0.0.1:1"}, "", 2, "hoist worker: --db URL is needed"},
		{"worker", []string{"--db", "sqlite:" + data + "/hoist.db"}, "", 2, "hoist worker: --registry HOST:PORT is needed"},
		{"user add", []string{"alice", "--data", data}, "correct horse\n", 0, "user alice added"},
		{"token create", []string{"alice", "--data", data, "--name", "ci"}, "", 0, `token "ci" for alice`},
		{"token list", []string{"alice", "--data", data}, "", 0, "alice  ci"},
		{"token revoke", []string{"0123456789", "--data", data}, "", 1, "no token 0123456789"},
		{"user add", []string{"root", "--data", data, "--admin"}, "correct horse\n", 0, "admin root added"},
		{"namespace add", []string{"team", "--data", data, "--owner", "alice"}, "", 0, "namespace team added; alice maintains it"},
		{"namespace grant", []string{"team", "root", "viewer", "--data", data}, "", 0, "root is now viewer of team"},
		{"namespace revoke", []string{"team", "root", "--data", data}, "", 0, "root removed from team"},
		{"user delete", []string{"alice", "--data", data}, "", 0, "user alice deleted, with 1 API tokens"},
		{"project trust", []string{"demo/app", "--data", data}, "", 1, "no project demo/app:latest in " + data},
		{"project untrust", []string{"demo/app", "--data", data}, "", 1, "no project demo/app:latest in " + data},
		{"project limits", []string{"demo/app", "--data", data, "--memory", "2GiB", "--cpus", "2", "--pids", "512"}, "", 1, "no project demo/app:latest in " + data},
		{"project add", []string{"demo/app", "https://example.com/app.git", "--server", srv.URL, "--branch", "dev"}, "", 0, `POST /api/v1/projects {"name":"demo/app","repo_url":"https://example.com/app.git","branch":"dev"}`},
		{"build", []string{"demo/app", "--server", srv.URL, "--force"}, "", 0, "POST /api/v1/projects/demo/app/builds?force=true"},
		{"scan", []string{"demo/app", "--server", srv.URL}, "", 0, "POST /api/v1/projects/demo/app/scan"},
	}
	covered := map[string]bool{}
	for _, tt := range tests {
		covered[tt.cmd] = true
		args := append(strings.Fields(tt.cmd), tt.args...)
		code, out, errs := hoistStdin(tt.stdin, args...)
		if code != tt.code || !strings.Contains(out+errs+rec.String(), tt.want) {
			t.Errorf("hoist %q: exit %d, want %d with %q\n%s%s\nrequests:\n%s", args, code, tt.code, tt.want, out, errs, rec)
		}

		// An unknown flag after an argument is a flag, and an error.
		cut := 0
		if !strings.HasPrefix(tt.args[0], "-") {
			cut = 1
		}
		bogus := slices.Concat(strings.Fields(tt.cmd), tt.args[:cut], []string{"--bogus"}, tt.args[cut:])
		if code, out, errs := hoist(bogus...); code != 2 || !strings.Contains(errs, "flag provided but not defined: -bogus") {
			t.Errorf("hoist %q: exit %d, want 2 for the unknown flag\n%s%s", bogus, code, out, errs)
		}
		// After "--" every word is an argument.
		ended := slices.Concat(strings.Fields(tt.cmd), tt.args[:cut], []string{"--", "--bogus"}, tt.args[cut:])
		if code, out, errs := hoist(ended...); code == 0 || strings.Contains(errs, "flag provided but not defined") {
			t.Errorf("hoist %q: exit %d, want --bogus taken as an argument\n%s%s", ended, code, out, errs)
		}
	}
	for _, m := range regexp.MustCompile(`(?m)^  hoist ([a-z]+(?: [a-z]+\b)?)`).FindAllStringSubmatch(usage, -1) {
		if !covered[m[1]] {
			t.Errorf("hoist %s is in the usage but not in this test: add it with its flags after its arguments", m[1])
		}
	}
}
