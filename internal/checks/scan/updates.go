package scan

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/hoistci/hoist/internal/pipeline"
)

// packageManager is a package manager the updates scanner can ask.
type packageManager struct {
	name   string   // "apk", "apt", "dnf", "yum"
	bins   []string // any of these present means the manager is there
	script string   // refreshes the index (to stderr) and lists updates (stdout)
	parse  func(out string, installed map[string]string) []pipeline.PackageUpdate
}

// managers are tried in order. Each script exits non-zero, with the
// manager's own message on stderr, when it cannot answer.
var managers = []packageManager{
	{name: "apk", bins: []string{"/sbin/apk", "/usr/bin/apk", "/bin/apk"},
		script: `apk update -q >&2 || exit 3
apk version -l '<'`,
		parse: ParseApkVersion},
	{name: "apt", bins: []string{"/usr/bin/apt-get", "/usr/bin/apt", "/bin/apt-get"},
		script: `apt-get update -qq >&2 || exit 3
ls /var/lib/apt/lists/ 2>/dev/null | grep -q _Packages || { echo "apt has no package index after apt-get update" >&2; exit 3; }
apt list --upgradable 2>/dev/null`,
		parse: ParseAptUpgradable},
	{name: "dnf", bins: []string{"/usr/bin/dnf", "/bin/dnf", "/usr/bin/yum", "/bin/yum"},
		script: `if command -v dnf >/dev/null 2>&1; then pm=dnf; else pm=yum; fi
$pm -q check-update
rc=$?
[ $rc -eq 100 ] && exit 0
exit $rc`,
		parse: ParseDnfCheckUpdate},
}

// checkUpdates asks the image's own package manager, in a container, which
// updates it offers.
func (s *Scanner) checkUpdates(ctx context.Context, spec pipeline.ScanSpec, img *image, installed []pipeline.Package) pipeline.ScannerResult {
	res := pipeline.ScannerResult{Scanner: "updates", Status: pipeline.ScanNA}
	if !img.exists("/bin/sh") {
		res.Detail = "the image has no /bin/sh to run its package manager"
		return res
	}
	var pm *packageManager
	for i := range managers {
		for _, b := range managers[i].bins {
			if img.exists(b) {
				pm = &managers[i]
				break
			}
		}
		if pm != nil {
			break
		}
	}
	if pm == nil {
		res.Detail = "the image has no package manager that can list updates (apk, apt, dnf or yum)"
		return res
	}
	if !spec.Local || s.containers == nil {
		res.Detail = "the image is not in the local engine, so " + pm.name + " cannot be asked"
		return res
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.UpdatesTimeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code, err := s.runContainer(ctx, pipeline.ContainerSpec{
		Image:      spec.Image,
		Entrypoint: []string{},
		Cmd:        []string{"/bin/sh", "-c", pm.script},
		User:       "0",
		Labels:     map[string]string{"hoist.scan": "updates"},
	}, &stdout, &stderr)
	res.Status = pipeline.ScanError
	switch {
	case ctx.Err() == context.DeadlineExceeded:
		res.Detail = fmt.Sprintf("%s did not answer within %s%s", pm.name, s.opts.UpdatesTimeout, lastLines(stderr.String(), 10))
		return res
	case err != nil:
		res.Detail = fmt.Sprintf("running %s in a container: %v", pm.name, err)
		return res
	case code != 0:
		res.Detail = fmt.Sprintf("%s cannot list updates (exit status %d)%s", pm.name, code, lastLines(stderr.String(), 10))
		return res
	}
	inst := map[string]string{}
	for _, p := range installed {
		inst[p.Name] = p.Version
	}
	res.Status = pipeline.ScanOK
	res.Updates = pm.parse(stdout.String(), inst)
	res.Detail = fmt.Sprintf("%s offers %d update(s)", pm.name, len(res.Updates))
	return res
}

// runContainer runs spec to its end, collects its output, and removes it.
func (s *Scanner) runContainer(ctx context.Context, spec pipeline.ContainerSpec, stdout, stderr *bytes.Buffer) (int, error) {
	id, err := s.containers.StartContainer(ctx, spec)
	if err != nil {
		return 0, err
	}
	defer func() {
		// Removed even when ctx is done.
		_ = s.containers.RemoveContainer(context.WithoutCancel(ctx), id)
	}()
	code, err := s.containers.WaitContainer(ctx, id)
	if err != nil {
		return 0, err
	}
	if err := s.containers.ContainerOutput(ctx, id, stdout, stderr, false); err != nil {
		return 0, err
	}
	return code, nil
}

// ParseApkVersion parses `apk version -l '<'`:
//
//	Installed:                                Available:
//	busybox-1.36.1-r5                       < 1.36.1-r6
func ParseApkVersion(out string, _ map[string]string) []pipeline.PackageUpdate {
	var ups []pipeline.PackageUpdate
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) != 3 || f[1] != "<" {
			continue
		}
		name, ver := splitApkNameVersion(f[0])
		if name == "" {
			continue
		}
		ups = append(ups, pipeline.PackageUpdate{Name: name, Installed: ver, Available: f[2]})
	}
	return ups
}

// splitApkNameVersion splits "py3-foo-1.2.3-r0" into "py3-foo" and
// "1.2.3-r0": apk versions end in -r<N> and have no other dash.
func splitApkNameVersion(s string) (string, string) {
	i := strings.LastIndex(s, "-r")
	if i <= 0 {
		return "", ""
	}
	j := strings.LastIndex(s[:i], "-")
	if j <= 0 {
		return "", ""
	}
	return s[:j], s[j+1:]
}

// ParseAptUpgradable parses `apt list --upgradable`:
//
//	libc6/stable-security 2.36-9+deb12u4 amd64 [upgradable from: 2.36-9+deb12u3]
func ParseAptUpgradable(out string, _ map[string]string) []pipeline.PackageUpdate {
	var ups []pipeline.PackageUpdate
	for _, line := range strings.Split(out, "\n") {
		_, from, ok := strings.Cut(line, "[upgradable from: ")
		if !ok {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		name, _, _ := strings.Cut(f[0], "/")
		ups = append(ups, pipeline.PackageUpdate{Name: name, Installed: strings.TrimSuffix(strings.TrimSpace(from), "]"), Available: f[1]})
	}
	return ups
}

// ParseDnfCheckUpdate parses `dnf -q check-update` (name.arch version
// repository per line); the installed version comes from the rpm database.
func ParseDnfCheckUpdate(out string, installed map[string]string) []pipeline.PackageUpdate {
	var ups []pipeline.PackageUpdate
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "Obsoleting") || strings.HasPrefix(line, "Security:") {
			break
		}
		f := strings.Fields(line)
		if len(f) != 3 || strings.HasPrefix(line, " ") {
			continue
		}
		i := strings.LastIndex(f[0], ".")
		if i <= 0 {
			continue
		}
		name := f[0][:i]
		ups = append(ups, pipeline.PackageUpdate{Name: name, Installed: installed[name], Available: f[1]})
	}
	return ups
}
