package testenv

import (
	"bytes"
	"crypto/subtle"
	"io"
	"net"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// gitEnviron is the environment of the git commands testenv runs: no system
// or user configuration, a fixed author and date, no prompts.
func gitEnviron() []string {
	return append(os.Environ(),
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_AUTHOR_NAME=Hoist Test",
		"GIT_AUTHOR_EMAIL=test@hoist.invalid",
		"GIT_COMMITTER_NAME=Hoist Test",
		"GIT_COMMITTER_EMAIL=test@hoist.invalid",
		"GIT_AUTHOR_DATE=2024-01-01T00:00:00Z",
		"GIT_COMMITTER_DATE=2024-01-01T00:00:00Z",
		"GIT_TERMINAL_PROMPT=0",
		"LC_ALL=C",
	)
}

// Git runs git with args in dir ("" for the current folder), without the
// machine's or the user's git configuration and with a fixed author and
// date, and returns its standard output with surrounding space trimmed. It
// fails the test when git fails, and skips it (fails it in CI) when git is
// not installed.
func Git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		Missing(t, "git is not installed (apt-get install git)")
	}
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = gitEnviron()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git %s (in %s): %v\n%s", strings.Join(args, " "), dir, err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// GitRepo creates a git repository in a temp dir with the given files (path
// → content; a content starting with "#!" is written executable), commits
// them on branch "main" with a fixed author, and returns its path. The
// repository is the folder "repo" of a fresh temp dir, so
// GitHTTPServer(t, filepath.Dir(path)) serves it at URL+"/repo".
func GitRepo(t testing.TB, files map[string]string) string {
	t.Helper()
	repo := filepath.Join(t.TempDir(), "repo")
	Git(t, "", "init", "--quiet", "--initial-branch=main", repo)
	Commit(t, repo, files, "initial commit")
	return repo
}

// Commit adds/changes files in repo and commits them on the current branch
// (an empty commit when nothing changed); returns the new SHA.
func Commit(t testing.TB, repo string, files map[string]string, msg string) string {
	t.Helper()
	for name, content := range files {
		writeFile(t, filepath.Join(repo, filepath.FromSlash(name)), content)
	}
	Git(t, repo, "add", "--all")
	Git(t, repo, "commit", "--quiet", "--allow-empty", "--no-verify", "-m", msg)
	return Git(t, repo, "rev-parse", "HEAD")
}

// writeFile writes content to path, executable when it starts with "#!".
func writeFile(t testing.TB, path, content string) {
	t.Helper()
	mode := os.FileMode(0o644)
	if strings.HasPrefix(content, "#!") {
		mode = 0o755
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// GitHTTPServer serves every repository under root over smart HTTP with
// `git http-backend` behind net/http/cgi on an httptest server bound to
// 127.0.0.1 (GIT_PROJECT_ROOT=root, GIT_HTTP_EXPORT_ALL=1,
// uploadpack.allowReachableSHA1InWant, uploadpack.allowFilter), and returns
// its base URL; repo "x" under root is then at URL+"/x". The server is
// closed in t.Cleanup.
func GitHTTPServer(t testing.TB, root string) string {
	t.Helper()
	return gitServer(t, root, "", "")
}

// GitHTTPServerAuth is GitHTTPServer behind HTTP Basic authentication: a
// request without user and pass gets 401 with a WWW-Authenticate header.
func GitHTTPServerAuth(t testing.TB, root, user, pass string) string {
	t.Helper()
	return gitServer(t, root, user, pass)
}

// GitHTTPServerOn is GitHTTPServer listening on ip (a port of its own)
// rather than on 127.0.0.1: on NodeIP, pods of the test cluster reach it.
// With user or pass set, it asks for them as GitHTTPServerAuth does.
func GitHTTPServerOn(t testing.TB, ip, root, user, pass string) string {
	t.Helper()
	return gitServerOn(t, ip, root, user, pass)
}

// NodeIP is this machine's address that the pods of the test cluster
// (scripts/k3s.sh runs it here) reach it on: the source address of its
// route to the rest of the network (the default route's), not loopback,
// which in a pod is the pod's own.
func NodeIP(t testing.TB) string {
	t.Helper()
	// A UDP "connection" sends nothing: it only picks the route.
	c, err := net.Dial("udp4", "192.0.2.1:9")
	if err != nil {
		t.Fatalf("finding this machine's address: %v", err)
	}
	defer c.Close()
	ip := c.LocalAddr().(*net.UDPAddr).IP
	if ip.IsLoopback() || ip.IsUnspecified() {
		t.Fatalf("this machine's address on its default route is %s: pods cannot reach it", ip)
	}
	return ip.String()
}

func gitServer(t testing.TB, root, user, pass string) string {
	t.Helper()
	return gitServerOn(t, "", root, user, pass)
}

// gitServerOn serves on ip ("": 127.0.0.1).
func gitServerOn(t testing.TB, ip, root, user, pass string) string {
	t.Helper()
	backend := filepath.Join(Git(t, "", "--exec-path"), "git-http-backend")
	if _, err := os.Stat(backend); err != nil {
		Missing(t, "git-http-backend not found: "+err.Error())
	}
	root, err := filepath.Abs(root)
	if err != nil {
		t.Fatal(err)
	}
	var h http.Handler = &cgi.Handler{
		Path:   backend,
		Stderr: io.Discard, // "not our ref" and the like are answers the tests check

		Env: []string{
			"GIT_PROJECT_ROOT=" + root,
			"GIT_HTTP_EXPORT_ALL=1",
			"GIT_CONFIG_NOSYSTEM=1",
			"GIT_CONFIG_GLOBAL=/dev/null",
			"GIT_CONFIG_COUNT=2",
			"GIT_CONFIG_KEY_0=uploadpack.allowReachableSHA1InWant",
			"GIT_CONFIG_VALUE_0=true",
			"GIT_CONFIG_KEY_1=uploadpack.allowFilter",
			"GIT_CONFIG_VALUE_1=true",
		},
	}
	if user != "" || pass != "" {
		h = basicAuth(h, user, pass)
	}
	srv := httptest.NewUnstartedServer(h)
	if ip != "" {
		l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
		if err != nil {
			t.Fatalf("listening on %s: %v", ip, err)
		}
		srv.Listener.Close()
		srv.Listener = l
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL
}

// basicAuth lets through only requests that carry user and pass.
func basicAuth(next http.Handler, user, pass string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(u+"\x00"+p), []byte(user+"\x00"+pass)) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="hoist test git"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}
