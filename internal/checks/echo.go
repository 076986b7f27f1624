package checks

import (
	"path"
	"strconv"
	"strings"

	"github.com/hoistci/hoist/internal/checks/imagefs"
	"github.com/hoistci/hoist/internal/pipeline"
)

// enginePath is the PATH the engine gives a container whose image sets
// none (Docker's and Podman's default).
const enginePath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// runnable looks name up the way the engine does for a command without a
// slash: in each folder of the image's PATH, in order, the first regular
// file found (symlinks followed inside the image). It reports that file's
// path, and ok only when the image's USER may execute it: anyone may, or
// the user is root and some execute bit is set, or the user is the file's
// owner by number. A user by name, or one that might run it through its
// group, is not resolved: ok is false, and the caller runs the command
// instead of deciding from the layers.
func runnable(fsys *imagefs.FS, cfg pipeline.ImageConfig, name string) (string, bool) {
	p := enginePath
	for _, kv := range cfg.Env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			p = v
		}
	}
	user, _, _ := strings.Cut(strings.TrimSpace(cfg.User), ":")
	for dir := range strings.SplitSeq(p, ":") {
		if !path.IsAbs(dir) {
			continue // relative to the working folder: left to the engine
		}
		file := path.Join(dir, name)
		f, ok := fsys.Stat(file)
		if !ok || !f.Mode.IsRegular() {
			continue
		}
		perm := f.Mode.Perm()
		switch {
		case perm&0o001 != 0:
		case root(cfg.User) && perm&0o111 != 0:
		case user != "" && user == strconv.Itoa(f.UID) && perm&0o100 != 0:
		default:
			return file, false
		}
		return file, true
	}
	return "", false
}
