package checks

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"github.com/hoistci/hoist/internal/pipeline"
)

// maxAccountFile bounds the size of /etc/passwd and /etc/shadow kept in
// memory; bigger ones are read again from their layer.
const maxAccountFile = 1 << 20

// checkPasswords reads /etc/passwd and /etc/shadow from the image's files
// and fails for each uid-0 account whose password is empty or a hash (or
// any other hard-coded value) rather than locked.
func checkPasswords(_ context.Context, r *run) outcome {
	if r.fs == nil {
		return r.noFS()
	}
	passwd, err := r.fs.ReadFile("/etc/passwd")
	if errors.Is(err, fs.ErrNotExist) {
		return outcome{status: pipeline.CheckNA, detail: "no /etc/passwd in the image"}
	}
	if err != nil {
		return outcome{status: pipeline.CheckFail, detail: err.Error()}
	}
	shadow, err := r.fs.ReadFile("/etc/shadow")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return outcome{status: pipeline.CheckFail, detail: err.Error()}
	}
	hasShadow := err == nil
	type account struct {
		name, password string
		line           int
	}
	shadowed := map[string]account{}
	for i, line := range strings.Split(string(shadow), "\n") {
		f := strings.Split(line, ":")
		if len(f) >= 2 && f[0] != "" {
			if _, dup := shadowed[f[0]]; !dup {
				shadowed[f[0]] = account{f[0], f[1], i + 1}
			}
		}
	}
	var problems, roots []string
	for i, line := range strings.Split(string(passwd), "\n") {
		f := strings.Split(line, ":")
		if len(f) < 4 || strings.HasPrefix(line, "#") {
			continue
		}
		if uid, err := strconv.Atoi(strings.TrimSpace(f[2])); err != nil || uid != 0 {
			continue
		}
		name, pw, where := f[0], f[1], fmt.Sprintf("/etc/passwd:%d", i+1)
		if pw == "x" {
			s, ok := shadowed[name]
			switch {
			case !hasShadow:
				roots = append(roots, name+" (x, but no /etc/shadow: no password)")
				continue
			case !ok:
				roots = append(roots, name+" (no /etc/shadow entry: no password)")
				continue
			}
			pw, where = s.password, fmt.Sprintf("/etc/shadow:%d", s.line)
		}
		switch {
		case pw == "":
			problems = append(problems, fmt.Sprintf("%s: uid-0 account %q has an empty password: anyone can log in as root", where, name))
		case locked(pw):
			roots = append(roots, fmt.Sprintf("%s (locked %q in %s)", name, pw, where))
		default:
			problems = append(problems, fmt.Sprintf("%s: uid-0 account %q has a hard-coded password hash; lock it (\"!\" or \"*\") and set passwords at run time", where, name))
		}
	}
	if len(problems) > 0 {
		return outcome{status: pipeline.CheckFail, detail: strings.Join(problems, "\n")}
	}
	if len(roots) == 0 {
		return outcome{status: pipeline.CheckPass, detail: "no uid-0 account in /etc/passwd"}
	}
	return outcome{status: pipeline.CheckPass, detail: "no uid-0 account has a password: " + strings.Join(roots, ", ")}
}

// locked reports whether a passwd or shadow password field locks the
// account: "*", "!", "!!", or a hash behind "!" (usermod -L).
func locked(pw string) bool {
	return strings.HasPrefix(pw, "!") || strings.HasPrefix(pw, "*")
}
