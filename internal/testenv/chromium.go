package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// Chromium returns the path of a Chromium browser for browser tests:
// $HOIST_CHROMIUM, else /usr/bin/chromium (Debian's chromium package), else
// chromium on $PATH. When there is none the test is skipped (failed in CI).
func Chromium(t testing.TB) string {
	t.Helper()
	for _, p := range []string{os.Getenv("HOIST_CHROMIUM"), "/usr/bin/chromium"} {
		if p == "" {
			continue
		}
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	Missing(t, "no Chromium at /usr/bin/chromium (apt-get install chromium, or run `make test`, which installs it)")
	return ""
}
