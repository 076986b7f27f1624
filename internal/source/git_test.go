package source_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hoistci/hoist/internal/source"
	"github.com/hoistci/hoist/internal/testenv"
)

// fixture is a repository with two commits on main (the first tagged v1)
// and one on dev, served over HTTP.
type fixture struct {
	repo, url          string
	first, second, dev string
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	f := fixture{repo: testenv.GitRepo(t, map[string]string{"version": "1\n", "Dockerfile": "FROM scratch\n"})}
	f.first = testenv.Git(t, f.repo, "rev-parse", "HEAD")
	testenv.Git(t, f.repo, "tag", "-a", "-m", "release 1", "v1")
	f.second = testenv.Commit(t, f.repo, map[string]string{"version": "2\n"}, "second")
	testenv.Git(t, f.repo, "checkout", "--quiet", "-b", "dev")
	f.dev = testenv.Commit(t, f.repo, map[string]string{"version": "dev\n"}, "on dev")
	testenv.Git(t, f.repo, "checkout", "--quiet", "main")
	f.url = testenv.GitHTTPServer(t, filepath.Dir(f.repo)) + "/repo"
	return f
}

// checkout checks out url at ref into a fresh folder and returns the
// folder, the commit, the log and the error.
func checkout(t *testing.T, ctx context.Context, url, ref string) (dir, commit, log string, err error) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "checkout")
	var buf bytes.Buffer
	commit, err = source.New().Checkout(ctx, url, ref, dir, &buf)
	return dir, commit, buf.String(), err
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func isShallow(t *testing.T, dir string) bool {
	t.Helper()
	return testenv.Git(t, dir, "rev-parse", "--is-shallow-repository") == "true"
}

func TestCheckoutRefs(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tests := []struct {
		name, url, ref string
		want, version  string
		shallow        bool
	}{
		{"default branch", f.url, "", f.second, "2\n", true},
		{"branch", f.url, "main", f.second, "2\n", true},
		{"other branch", f.url, "dev", f.dev, "dev\n", true},
		{"annotated tag", f.url, "v1", f.first, "1\n", true},
		{"full sha", f.url, f.first, f.first, "1\n", true},
		{"abbreviated sha", f.url, f.first[:7], f.first, "1\n", false},
		{"file url", "file://" + f.repo, "main", f.second, "2\n", true},
		{"absolute path", f.repo, "dev", f.dev, "dev\n", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir, commit, log, err := checkout(t, t.Context(), tt.url, tt.ref)
			if err != nil {
				t.Fatalf("Checkout: %v\nlog:\n%s", err, log)
			}
			if commit != tt.want {
				t.Errorf("commit = %s, want %s", commit, tt.want)
			}
			if got := readFile(t, filepath.Join(dir, "version")); got != tt.version {
				t.Errorf("version file = %q, want %q", got, tt.version)
			}
			if tt.shallow && !isShallow(t, dir) {
				t.Errorf("checkout is not shallow; log:\n%s", log)
			}
			if !strings.HasPrefix(log, "$ git ") {
				t.Errorf("log does not start with the command line:\n%s", log)
			}
		})
	}
}

func TestCheckoutRelativePath(t *testing.T) {
	f := newFixture(t)
	t.Chdir(filepath.Dir(f.repo))
	for _, rel := range []string{"repo", "./repo"} {
		_, commit, log, err := checkout(t, t.Context(), rel, "main")
		if err != nil {
			t.Fatalf("Checkout(%q): %v\nlog:\n%s", rel, err, log)
		}
		if commit != f.second {
			t.Errorf("Checkout(%q) = %s, want %s", rel, commit, f.second)
		}
	}
}

// TestCheckoutCommitFallback makes the server refuse a shallow fetch of an
// unadvertised commit (protocol v0 without allowReachableSHA1InWant).
func TestCheckoutCommitFallback(t *testing.T) {
	f := newFixture(t)
	t.Setenv("GIT_CONFIG_COUNT", "1")
	t.Setenv("GIT_CONFIG_KEY_0", "protocol.version")
	t.Setenv("GIT_CONFIG_VALUE_0", "0")
	_, commit, log, err := checkout(t, t.Context(), "file://"+f.repo, f.first)
	if err != nil {
		t.Fatalf("Checkout: %v\nlog:\n%s", err, log)
	}
	if commit != f.first {
		t.Errorf("commit = %s, want %s", commit, f.first)
	}
	if !strings.Contains(log, "fetching the whole history") {
		t.Errorf("log does not mention the fallback:\n%s", log)
	}
}

func TestCheckoutMissingBranch(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	dir, _, log, err := checkout(t, t.Context(), f.url, "nope")
	want := `branch "nope" not found in ` + f.url + `; the branches there are: dev, main`
	if err == nil || err.Error() != want || !errors.Is(err, source.ErrRefNotFound) {
		t.Fatalf("Checkout error = %v, want %q (ErrRefNotFound)\nlog:\n%s", err, want, log)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("checkout folder left behind: %v", err)
	}
}

func TestCheckoutMissingCommit(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	sha := strings.Repeat("ab", 20)
	_, _, log, err := checkout(t, t.Context(), f.url, sha)
	if !errors.Is(err, source.ErrRefNotFound) || !strings.Contains(err.Error(), sha) {
		t.Fatalf("Checkout error = %v, want ErrRefNotFound naming %s\nlog:\n%s", err, sha, log)
	}
}

func TestCheckoutMissingRepository(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	base := strings.TrimSuffix(f.url, "/repo")
	for _, url := range []string{base + "/missing", "file://" + filepath.Dir(f.repo) + "/missing"} {
		_, _, log, err := checkout(t, t.Context(), url, "main")
		if !errors.Is(err, source.ErrRepoNotFound) || !strings.Contains(err.Error(), url) {
			t.Errorf("Checkout(%s) error = %v, want ErrRepoNotFound naming the URL\nlog:\n%s", url, err, log)
		}
	}
}

func TestCheckoutAuthRequired(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	base := testenv.GitHTTPServerAuth(t, filepath.Dir(f.repo), "alice", "s3cret")
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	for _, url := range []string{base + "/repo", strings.Replace(base, "://", "://alice:wrong@", 1) + "/repo"} {
		start := time.Now()
		_, _, log, err := checkout(t, ctx, url, "main")
		if !errors.Is(err, source.ErrAuthRequired) {
			t.Errorf("Checkout(%s) error = %v, want ErrAuthRequired\nlog:\n%s", url, err, log)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("Checkout(%s) took %s; it should fail at once without prompting", url, d)
		}
		if strings.Contains(log+err.Error(), "wrong") {
			t.Errorf("password shown:\n%v\n%s", err, log)
		}
	}
}

func TestCheckoutCredentialsRedacted(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	base := testenv.GitHTTPServerAuth(t, filepath.Dir(f.repo), "alice", "s3cret")
	url := strings.Replace(base, "://", "://alice:s3cret@", 1) + "/repo"
	// git refuses an upper-case scheme, which the server accepts as a URL:
	// its password must not show in the log or the error either.
	upper := "HTTP" + strings.TrimPrefix(url, "http")
	if _, _, log, err := checkout(t, t.Context(), upper, "dev"); err == nil || strings.Contains(log+err.Error(), "s3cret") {
		t.Errorf("Checkout(%s): %v, want an error without the password\nlog:\n%s", upper, err, log)
	}
	for _, tc := range []struct{ url, ref, want string }{{url, "dev", f.dev}, {url, f.dev, f.dev}} {
		dir, commit, log, err := checkout(t, t.Context(), tc.url, tc.ref)
		if err != nil || commit != tc.want {
			t.Fatalf("Checkout(%s) = %s, %v; want %s\nlog:\n%s", tc.ref, commit, err, tc.want, log)
		}
		if strings.Contains(log, "s3cret") || !strings.Contains(log, "alice:***@") {
			t.Errorf("log does not redact the password:\n%s", log)
		}
		// The checkout goes to the build context and to sandboxed
		// scripts: no file in it may hold the password.
		_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() && strings.Contains(readFile(t, p), "s3cret") {
				t.Errorf("checkout of %s: %s holds the password", tc.ref, p)
			}
			return nil
		})
	}
}

func TestCheckoutSubmodules(t *testing.T) {
	t.Parallel()
	sub := testenv.GitRepo(t, map[string]string{"lib.txt": "library\n"})
	subURL := testenv.GitHTTPServer(t, filepath.Dir(sub)) + "/repo"
	parent := testenv.GitRepo(t, map[string]string{"Dockerfile": "FROM scratch\n"})
	testenv.Git(t, parent, "submodule", "--quiet", "add", subURL, "lib")
	want := testenv.Commit(t, parent, nil, "add lib")
	url := testenv.GitHTTPServer(t, filepath.Dir(parent)) + "/repo"

	dir, commit, log, err := checkout(t, t.Context(), url, "main")
	if err != nil || commit != want {
		t.Fatalf("Checkout = %s, %v; want %s\nlog:\n%s", commit, err, want, log)
	}
	if diff := cmp.Diff("library\n", readFile(t, filepath.Join(dir, "lib", "lib.txt"))); diff != "" {
		t.Errorf("submodule file (-want +got):\n%s", diff)
	}
}

func TestCheckoutTimeout(t *testing.T) {
	t.Parallel()
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer hang.Close()
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	start := time.Now()
	_, _, _, err := checkout(t, ctx, hang.URL+"/repo", "main")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Checkout error = %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("Checkout took %s after a 1s deadline", d)
	}
}

func TestCheckoutRefusesFullFolder(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "keep"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := source.New().Checkout(t.Context(), "file:///nonexistent", "", dir, nil)
	if err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("Checkout into a full folder: %v, want an error", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "keep")); err != nil {
		t.Errorf("existing file removed: %v", err)
	}
}
