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
