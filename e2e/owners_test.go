package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hoistci/hoist/internal/testenv"
)

// TestNamespaceCommands runs hoist serve and manages who may change a
// namespace with the CLI: bob, in no namespace, gets 403 for PATCH and
// build of alice's project; granted maintainer he may; granted viewer or
// revoked he may not; an admin may. A local path as a repository is
// refused.
func TestNamespaceCommands(t *testing.T) {
	testenv.DockerHost(t)
	repo := testenv.GitRepo(t, map[string]string{"Dockerfile": "FROM scratch\nCOPY Dockerfile /\n"})
	url := serveRepos(t, map[string]string{"app.git": repo}) + "/app.git"
	data := filepath.Join(t.TempDir(), "data")
	addr := freeAddr(t)
	base := "http://" + addr
	startServe(t, "serve", "--addr", addr, "--data", data, "--registry-addr", freeAddr(t), "--workers", "1")

	token := func(name string, admin bool) string {
		args := []string{"user", "add", "--data", data, name}
		if admin {
			args = append(args, "--admin")
		}
		if r := hoistStdin(t, "not-a-secret-1\n", nil, args...); r.code != 0 {
			t.Fatalf("user add %s:\n%s", name, r)
		}
		r := hoist(t, nil, "token", "create", "--data", data, name)
		if r.code != 0 {
			t.Fatalf("token create:\n%s", r)
		}
		return strings.TrimSpace(r.stdout)
	}
	alice, bob, root := token("alice", false), token("bob", false), token("root", true)
	call := func(tok, method, path, body string) int {
		t.Helper()
		req, err := http.NewRequest(method, base+"/api/v1"+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		t.Logf("%s %s = %d %s", method, path, resp.StatusCode, b)
		return resp.StatusCode
	}
	body, _ := json.Marshal(map[string]string{"name": "team/app", "repo_url": url})
	if got := call(alice, "POST", "/projects", string(body)); got != http.StatusCreated {
		t.Fatalf("alice registering team/app = %d", got)
	}
	mayWrite := func(who, tok string, want bool) {
		t.Helper()
		wantStatus := http.StatusForbidden
		if want {
			wantStatus = http.StatusOK
		}
		if got := call(tok, "PATCH", "/projects/team/app", `{"email":"`+who+`@example.com"}`); got != wantStatus {
			t.Errorf("PATCH by %s = %d, want %d", who, got, wantStatus)
		}
	}
	mayWrite("bob", bob, false)
	if got := call(bob, "POST", "/projects/team/app/builds", ""); got != http.StatusForbidden {
		t.Errorf("build by bob = %d, want 403", got)
	}
	mayWrite("root", root, true)

	run := func(want string, args ...string) {
		t.Helper()
		r := hoist(t, nil, append([]string{"namespace"}, args...)...)
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Fatalf("hoist namespace %v = %s; want %q", args, r, want)
		}
	}
	run("bob is now maintainer of team", "grant", "--data", data, "team", "bob", "maintainer")
	mayWrite("bob", bob, true)
	run("bob is now viewer of team", "grant", "--data", data, "team", "bob", "viewer")
	mayWrite("bob", bob, false)
	run("bob removed from team", "revoke", "--data", data, "team", "bob")
	mayWrite("bob", bob, false)
	if r := hoist(t, nil, "namespace", "revoke", "--data", data, "team", "bob"); r.code != 1 || !strings.Contains(r.stderr, "bob is not a member of team") {
		t.Errorf("revoking again = %s", r)
	}
	run("namespace shared added; bob maintains it", "add", "--data", data, "--owner", "bob", "shared")
	if r := hoist(t, nil, "namespace", "grant", "--data", data, "nope", "bob", "viewer"); r.code != 1 || !strings.Contains(r.stderr, "no namespace nope; add it with") {
		t.Errorf("grant in a missing namespace = %s", r)
	}

	local, _ := json.Marshal(map[string]string{"name": "shared/local", "repo_url": repo, "branch": "main"})
	if got := call(bob, "POST", "/projects", string(local)); got != http.StatusUnprocessableEntity {
		t.Errorf("registering a local path = %d, want 422", got)
	}
}
