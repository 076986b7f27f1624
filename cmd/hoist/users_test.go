package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/server"
)

// hoistStdin runs a command line with stdin.
func hoistStdin(stdin string, args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestUserAndToken(t *testing.T) {
	data := t.TempDir()
	if code, _, errs := hoistStdin("short\n", "user", "add", "--data", data, "alice"); code != 1 || !strings.Contains(errs, "at least 8 characters") {
		t.Errorf("short password: exit %d %s", code, errs)
	}
	if code, out, errs := hoistStdin("correct horse\n", "user", "add", "--data", data, "alice"); code != 0 || !strings.Contains(out, "user alice added") {
		t.Fatalf("user add: exit %d %s %s", code, out, errs)
	}
	if code, _, errs := hoistStdin("correct horse\n", "user", "add", "--data", data, "alice"); code != 1 || !strings.Contains(errs, "user alice already exists") {
		t.Errorf("second add: exit %d %s", code, errs)
	}
	if code, _, errs := hoist("token", "create", "--data", data, "bob"); code != 1 || !strings.Contains(errs, "no user bob") {
		t.Errorf("token for nobody: exit %d %s", code, errs)
	}
	code, out, errs := hoist("token", "create", "--data", data, "--name", "ci", "alice")
	if code != 0 {
		t.Fatalf("token create: exit %d %s", code, errs)
	}
	secret := strings.TrimSpace(out)

	st, err := openStore(context.Background(), data)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	u, err := st.UserByName(context.Background(), "alice")
	if err != nil || !server.CheckPassword(u.PasswordHash, "correct horse") {
		t.Errorf("stored user %+v (%v): the password does not match", u, err)
	}
	c, err := st.Credential(context.Background(), pipeline.CredentialToken, server.HashSecret(secret), time.Now())
	if err != nil || c.UserID != u.ID || c.Name != "ci" {
		t.Errorf("token credential %+v: %v", c, err)
	}
}

func TestSizeFlag(t *testing.T) {
	for in, want := range map[string]int64{"50MB": 50 << 20, "512KB": 512 << 10, "1GB": 1 << 30, "1048576": 1 << 20, "2m": 2 << 20, "10 KiB": 10 << 10} {
		var s sizeFlag
		if err := s.Set(in); err != nil || int64(s) != want {
			t.Errorf("Set(%q) = %d, %v; want %d", in, s, err, want)
		}
	}
	for _, bad := range []string{"", "MB", "-1MB", "ten", "0"} {
		var s sizeFlag
		if err := s.Set(bad); err == nil {
			t.Errorf("Set(%q) = %d, want an error", bad, s)
		}
	}
}

func TestTokenListRevokeAndUserDelete(t *testing.T) {
	data := t.TempDir()
	for _, name := range []string{"alice", "bob"} {
		if code, _, errs := hoistStdin("correct horse\n", "user", "add", "--data", data, name); code != 0 {
			t.Fatalf("user add %s: exit %d %s", name, code, errs)
		}
	}
	secrets := map[string]string{}
	for _, tok := range [][2]string{{"alice", "ci"}, {"alice", "laptop"}, {"bob", "phone"}} {
		code, out, errs := hoist("token", "create", "--data", data, "--name", tok[1], tok[0])
		if code != 0 {
			t.Fatalf("token create: exit %d %s", code, errs)
		}
		secrets[tok[1]] = strings.TrimSpace(out)
	}
	code, list, errs := hoist("token", "list", "--data", data)
	if code != 0 || strings.Count(list, "\n") != 4 || !strings.Contains(list, "alice") || !strings.Contains(list, "phone") {
		t.Fatalf("token list: exit %d %s\n%s", code, errs, list)
	}
	for _, s := range secrets {
		if strings.Contains(list, s) {
			t.Errorf("token list shows a secret:\n%s", list)
		}
	}
	if code, mine, _ := hoist("token", "list", "--data", data, "bob"); code != 0 || strings.Contains(mine, "alice") || !strings.Contains(mine, "phone") {
		t.Errorf("token list bob:\n%s", mine)
	}
	valid := func(secret string) bool {
		st, err := openStore(context.Background(), data)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		_, err = st.Credential(context.Background(), pipeline.CredentialToken, server.HashSecret(secret), time.Now())
		return err == nil
	}
	// Revoke "ci" by the ID the list shows, "laptop" by its secret.
	ciID := server.HashSecret(secrets["ci"])[:tokenIDLen]
	if !strings.Contains(list, ciID) {
		t.Fatalf("token list lacks ci's ID %s:\n%s", ciID, list)
	}
	if code, _, errs := hoist("token", "revoke", "--data", data, ciID[:3]); code != 1 || !strings.Contains(errs, "at least 6 digits") {
		t.Errorf("revoke by a short ID: exit %d %s", code, errs)
	}
	if code, out, errs := hoist("token", "revoke", "--data", data, ciID); code != 0 || !strings.Contains(out, `("ci") revoked`) {
		t.Errorf("revoke ci: exit %d %s %s", code, out, errs)
	}
	if code, _, errs := hoist("token", "revoke", "--data", data, secrets["laptop"]); code != 0 {
		t.Errorf("revoke laptop by its secret: exit %d %s", code, errs)
	}
	if valid(secrets["ci"]) || valid(secrets["laptop"]) || !valid(secrets["phone"]) {
		t.Errorf("after revoking: ci %v, laptop %v, phone %v; want false false true", valid(secrets["ci"]), valid(secrets["laptop"]), valid(secrets["phone"]))
	}
	// Deleting bob takes his token with him.
	if code, out, errs := hoist("user", "delete", "--data", data, "bob"); code != 0 || !strings.Contains(out, "user bob deleted, with 1 API tokens") {
		t.Errorf("user delete: exit %d %s %s", code, out, errs)
	}
	if valid(secrets["phone"]) {
		t.Error("bob's token still works after deleting bob")
	}
	if code, _, errs := hoist("user", "delete", "--data", data, "bob"); code != 1 || !strings.Contains(errs, "no user bob") {
		t.Errorf("second delete: exit %d %s", code, errs)
	}
	if code, _, errs := hoist("token", "list", "--data", data); code != 0 || !strings.Contains(errs, "no API tokens") {
		t.Errorf("token list at the end: exit %d %s", code, errs)
	}
}
