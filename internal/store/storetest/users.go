package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

// user creates a user called name and returns it.
func user(t *testing.T, s pipeline.Store, name string) pipeline.User {
	t.Helper()
	u := pipeline.User{Name: name, PasswordHash: "$2a$10$" + name, Created: at(1, 2)}
	must(t, "CreateUser", s.CreateUser(ctx(t), &u))
	return u
}

func testUsers(t *testing.T, s pipeline.Store) {
	alice, bob := user(t, s, "alice"), user(t, s, "bob")
	if alice.ID == 0 || alice.ID == bob.ID {
		t.Errorf("user IDs %d and %d: zero or equal", alice.ID, bob.ID)
	}
	for _, want := range []pipeline.User{alice, bob} {
		got, err := s.UserByName(ctx(t), want.Name)
		must(t, "UserByName", err)
		if d := diff(want, got); d != "" {
			t.Errorf("UserByName(%q) (-want +got):\n%s", want.Name, d)
		}
		mustUTC(t, "UserByName", got.Created)
		got, err = s.UserByID(ctx(t), want.ID)
		must(t, "UserByID", err)
		if d := diff(want, got); d != "" {
			t.Errorf("UserByID(%d) (-want +got):\n%s", want.ID, d)
		}
	}
	_, err := s.UserByName(ctx(t), "carol")
	mustNotFound(t, "UserByName of a missing name", err)
	_, err = s.UserByID(ctx(t), alice.ID+bob.ID+1000)
	mustNotFound(t, "UserByID of a missing id", err)
}

func testUserExists(t *testing.T, s pipeline.Store) {
	first := user(t, s, "alice")
	dup := pipeline.User{Name: "alice", PasswordHash: "other"}
	if err := s.CreateUser(ctx(t), &dup); !errors.Is(err, pipeline.ErrExists) {
		t.Errorf("CreateUser of a taken name: err = %v, want one wrapping pipeline.ErrExists", err)
	}
	got, err := s.UserByName(ctx(t), "alice")
	must(t, "UserByName", err)
	if d := diff(first, got); d != "" {
		t.Errorf("user after a refused duplicate (-want +got):\n%s", d)
	}
}

func testCredentials(t *testing.T, s pipeline.Store) {
	u := user(t, s, "alice")
	now := at(100, 0)
	token := pipeline.Credential{Kind: pipeline.CredentialToken, Hash: "aa11", UserID: u.ID,
		Name: "ci", Created: at(1, 5)}
	session := pipeline.Credential{Kind: pipeline.CredentialSession, Hash: "aa11", UserID: u.ID,
		Created: at(2, 6), Expires: now.Add(time.Nanosecond)}
	expired := pipeline.Credential{Kind: pipeline.CredentialSession, Hash: "bb22", UserID: u.ID,
		Created: at(3, 7), Expires: now}
	for _, c := range []pipeline.Credential{token, session, expired} {
		must(t, "PutCredential", s.PutCredential(ctx(t), c))
	}
	for _, want := range []pipeline.Credential{token, session} {
		got, err := s.Credential(ctx(t), want.Kind, want.Hash, now)
		must(t, "Credential", err)
		if d := diff(want, got); d != "" {
			t.Errorf("Credential(%s, %s) (-want +got):\n%s", want.Kind, want.Hash, d)
		}
		mustUTC(t, "Credential", got.Created, got.Expires)
	}
	_, err := s.Credential(ctx(t), expired.Kind, expired.Hash, now)
	mustNotFound(t, "Credential expiring exactly now", err)
	_, err = s.Credential(ctx(t), pipeline.CredentialToken, "bb22", now)
	mustNotFound(t, "Credential of another kind", err)

	must(t, "DeleteCredential", s.DeleteCredential(ctx(t), session.Kind, session.Hash))
	_, err = s.Credential(ctx(t), session.Kind, session.Hash, now)
	mustNotFound(t, "Credential after DeleteCredential", err)
	must(t, "DeleteCredential of a missing one", s.DeleteCredential(ctx(t), session.Kind, "none"))
	if _, err := s.Credential(ctx(t), token.Kind, token.Hash, now); err != nil {
		t.Errorf("token after deleting the session with the same hash: %v", err)
	}
}

func testCredentialUnknownUser(t *testing.T, s pipeline.Store) {
	u := user(t, s, "alice")
	c := pipeline.Credential{Kind: pipeline.CredentialToken, Hash: "cc33", UserID: u.ID + 1000}
	mustNotFound(t, "PutCredential of a missing user", s.PutCredential(ctx(t), c))
	_, err := s.Credential(ctx(t), c.Kind, c.Hash, at(0, 0))
	mustNotFound(t, "Credential refused for a missing user", err)
}

func testTokensDeleteUser(t *testing.T, s pipeline.Store) {
	alice, bob := user(t, s, "alice"), user(t, s, "bob")
	now := at(100, 0)
	ci := pipeline.Credential{Kind: pipeline.CredentialToken, Hash: "aa01", UserID: alice.ID, Name: "ci", Created: at(1, 0)}
	laptop := pipeline.Credential{Kind: pipeline.CredentialToken, Hash: "aa02", UserID: bob.ID, Name: "laptop", Created: at(2, 0), Expires: at(3, 0)}
	old := pipeline.Credential{Kind: pipeline.CredentialToken, Hash: "aa03", UserID: alice.ID, Name: "old", Created: at(3, 0)}
	session := pipeline.Credential{Kind: pipeline.CredentialSession, Hash: "aa04", UserID: alice.ID, Created: at(4, 0), Expires: at(200, 0)}
	for _, c := range []pipeline.Credential{old, laptop, ci, session} {
		must(t, "PutCredential", s.PutCredential(ctx(t), c))
	}
	all, err := s.Tokens(ctx(t), 0)
	must(t, "Tokens", err)
	if d := diff([]pipeline.Credential{ci, laptop, old}, all); d != "" {
		t.Errorf("Tokens(0), oldest first, expired too, no sessions (-want +got):\n%s", d)
	}
	for _, c := range all {
		mustUTC(t, "Tokens", c.Created, c.Expires)
	}
	mine, err := s.Tokens(ctx(t), alice.ID)
	must(t, "Tokens", err)
	if d := diff([]pipeline.Credential{ci, old}, mine); d != "" {
		t.Errorf("Tokens(alice) (-want +got):\n%s", d)
	}

	must(t, "DeleteUser", s.DeleteUser(ctx(t), alice.ID))
	_, err = s.UserByName(ctx(t), "alice")
	mustNotFound(t, "UserByName after DeleteUser", err)
	for _, c := range []pipeline.Credential{ci, session} {
		_, err := s.Credential(ctx(t), c.Kind, c.Hash, now)
		mustNotFound(t, "a deleted user's credential", err)
	}
	left, err := s.Tokens(ctx(t), 0)
	must(t, "Tokens", err)
	if d := diff([]pipeline.Credential{laptop}, left); d != "" {
		t.Errorf("Tokens after deleting alice (-want +got):\n%s", d)
	}
	mustNotFound(t, "DeleteUser of a missing user", s.DeleteUser(ctx(t), alice.ID))
}
