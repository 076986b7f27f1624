package storetest

import (
	"errors"
	"testing"

	"github.com/hoistci/hoist/internal/pipeline"
)

// namespaceTests are the suite's tests of pipeline.NamespaceStore.
var namespaceTests = []struct {
	name string
	f    func(t *testing.T, s pipeline.Store)
}{
	{"User/Admin", testUserAdmin},
	{"Namespace/CreateGrantRevoke", testNamespaces},
	{"Namespace/Claim", testClaimNamespace},
}

func testUserAdmin(t *testing.T, s pipeline.Store) {
	u := pipeline.User{Name: "root", PasswordHash: "x", Created: at(1, 0), Admin: true}
	must(t, "CreateUser", s.CreateUser(ctx(t), &u))
	got, err := s.UserByName(ctx(t), "root")
	must(t, "UserByName", err)
	if !got.Admin {
		t.Errorf("admin user read back as %+v", got)
	}
	if got := user(t, s, "plain"); got.Admin {
		t.Errorf("plain user is an admin: %+v", got)
	}
}

func testNamespaces(t *testing.T, s pipeline.Store) {
	alice, bob := user(t, s, "alice"), user(t, s, "bob")
	must(t, "CreateNamespace", s.CreateNamespace(ctx(t), "web", alice.ID, at(2, 0)))
	if err := s.CreateNamespace(ctx(t), "web", 0, at(3, 0)); !errors.Is(err, pipeline.ErrExists) {
		t.Errorf("CreateNamespace of a taken name = %v, want ErrExists", err)
	}
	mustNotFound(t, "CreateNamespace with a missing owner", s.CreateNamespace(ctx(t), "other", alice.ID+bob.ID+100, at(3, 0)))
	must(t, "CreateNamespace without owner", s.CreateNamespace(ctx(t), "empty", 0, at(3, 0)))

	r, err := s.Role(ctx(t), "web", alice.ID)
	if err != nil || r != pipeline.RoleMaintainer {
		t.Errorf("owner's role = %q, %v; want maintainer", r, err)
	}
	_, err = s.Role(ctx(t), "web", bob.ID)
	mustNotFound(t, "Role of a non-member", err)

	must(t, "Grant", s.Grant(ctx(t), pipeline.Member{Namespace: "web", UserID: bob.ID, Role: pipeline.RoleViewer}))
	must(t, "Grant again", s.Grant(ctx(t), pipeline.Member{Namespace: "web", UserID: bob.ID, Role: pipeline.RoleMaintainer}))
	if r, err := s.Role(ctx(t), "web", bob.ID); err != nil || r != pipeline.RoleMaintainer {
		t.Errorf("role after a second grant = %q, %v; want maintainer", r, err)
	}
	mustNotFound(t, "Grant in a missing namespace", s.Grant(ctx(t), pipeline.Member{Namespace: "nope", UserID: bob.ID, Role: pipeline.RoleViewer}))
	mustNotFound(t, "Grant to a missing user", s.Grant(ctx(t), pipeline.Member{Namespace: "web", UserID: alice.ID + bob.ID + 100, Role: pipeline.RoleViewer}))

	ms, err := s.Members(ctx(t), "web")
	must(t, "Members", err)
	want := []pipeline.Member{{Namespace: "web", UserID: alice.ID, Role: pipeline.RoleMaintainer}, {Namespace: "web", UserID: bob.ID, Role: pipeline.RoleMaintainer}}
	if d := diff(want, ms); d != "" {
		t.Errorf("Members (-want +got):\n%s", d)
	}
	if ms, err := s.Members(ctx(t), "empty"); err != nil || len(ms) != 0 {
		t.Errorf("Members of a namespace without members = %v, %v", ms, err)
	}
	_, err = s.Members(ctx(t), "nope")
	mustNotFound(t, "Members of a missing namespace", err)

	must(t, "Revoke", s.Revoke(ctx(t), "web", bob.ID))
	_, err = s.Role(ctx(t), "web", bob.ID)
	mustNotFound(t, "Role after Revoke", err)
	mustNotFound(t, "Revoke of a non-member", s.Revoke(ctx(t), "web", bob.ID))
}

func testClaimNamespace(t *testing.T, s pipeline.Store) {
	alice, bob := user(t, s, "alice"), user(t, s, "bob")
	ok, err := s.ClaimNamespace(ctx(t), "mine", alice.ID, at(2, 0))
	if err != nil || !ok {
		t.Fatalf("first claim = %v, %v; want true", ok, err)
	}
	if ok, err := s.ClaimNamespace(ctx(t), "mine", bob.ID, at(3, 0)); err != nil || ok {
		t.Errorf("second claim = %v, %v; want false", ok, err)
	}
	if _, err := s.Role(ctx(t), "mine", bob.ID); !errors.Is(err, pipeline.ErrNotFound) {
		t.Errorf("a refused claim made bob a member: %v", err)
	}
	if r, err := s.Role(ctx(t), "mine", alice.ID); err != nil || r != pipeline.RoleMaintainer {
		t.Errorf("claimer's role = %q, %v", r, err)
	}
	// A namespace that has projects (from the index, or from before
	// owners) but no record cannot be claimed.
	p := pipeline.Project{ID: 1, AppID: "taken", JobID: "app", Tag: "latest", GitURL: "https://example.com/a.git",
		GitBranch: "master", GitPath: ".", TargetFile: "Dockerfile", BuildContext: "."}
	must(t, "PutProject", s.PutProject(ctx(t), p))
	if ok, err := s.ClaimNamespace(ctx(t), "taken", bob.ID, at(3, 0)); err != nil || ok {
		t.Errorf("claim of a namespace with projects = %v, %v; want false", ok, err)
	}
}
