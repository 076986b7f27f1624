package scan

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/hoistci/hoist/internal/checks/checktest"
	"github.com/hoistci/hoist/internal/pipeline"
)

// env is a real engine, an embedded registry and a Scanner reading from it.
type env struct{ *checktest.Env }

func newEnv(t *testing.T) *env { return &env{checktest.New(t)} }

// fixture is an image to build: a Dockerfile and the files of its context.
type fixture struct {
	dockerfile string
	busybox    bool              // busybox in rootfs/
	trees      []string          // testdata trees copied into the context, by name
	files      map[string]string // more files, by context path ("+x" suffix: executable)
	copies     map[string]string // files copied from the host: context path → host path
}

// push builds f, pushes it to the registry and returns its reference and
// digest; the local image stays until the test ends.
func (v *env) push(t *testing.T, f fixture) (string, string) {
	t.Helper()
	dirs := map[string]string{}
	for _, tree := range f.trees {
		dirs[tree] = filepath.Join("testdata", tree)
	}
	return v.Push(t, checktest.Image{Dockerfile: f.dockerfile, Busybox: f.busybox, Files: f.files, Dirs: dirs, Copies: f.copies, Repo: "scan"})
}

// scan runs a Scanner with opts on ref.
func (v *env) scan(t *testing.T, ref, digest string, local bool, opts Options) (pipeline.ScanReport, string) {
	t.Helper()
	var log bytes.Buffer
	rep, err := New(v.Registry, v.Engine, opts).Scan(t.Context(), pipeline.ScanSpec{Image: ref, Digest: digest, Local: local}, &log)
	if err != nil {
		t.Fatalf("scan: %v\n%s", err, log.String())
	}
	if len(rep.Results) != 5 {
		t.Fatalf("%d results, want one per scanner: %+v", len(rep.Results), rep.Results)
	}
	for i, name := range []string{ScannerOSPackages, ScannerLanguagePackages, ScannerCapabilities, ScannerUpdates, ScannerCVE} {
		if rep.Results[i].Scanner != name {
			t.Errorf("result %d is %q, want %q", i, rep.Results[i].Scanner, name)
		}
	}
	return rep, log.String()
}

func result(t *testing.T, rep pipeline.ScanReport, name string) pipeline.ScannerResult {
	t.Helper()
	r, ok := rep.Result(name)
	if !ok {
		t.Fatalf("no %s result", name)
	}
	return r
}

var (
	goBinOnce sync.Once
	goBinDir  string
	goBinErr  error
	goVersion string
)

// buildGoBinary builds a tiny static Go program whose module requires a local
// module (example.com/greet v1.2.3, replaced by a folder).
func buildGoBinary(t *testing.T) string {
	t.Helper()
	goBinOnce.Do(func() {
		goBinDir, goBinErr = os.MkdirTemp("", "hoist-scan-gobin-")
		if goBinErr != nil {
			return
		}
		files := map[string]string{
			"go.mod":         "module example.com/hoist-scan-fixture\n\ngo 1.22\n\nrequire example.com/greet v1.2.3\n\nreplace example.com/greet => ./greet\n",
			"main.go":        "package main\n\nimport \"example.com/greet\"\n\nfunc main() { println(greet.Hello()) }\n",
			"greet/go.mod":   "module example.com/greet\n\ngo 1.22\n",
			"greet/greet.go": "package greet\n\nfunc Hello() string { return \"hello\" }\n",
		}
		for name, content := range files {
			p := filepath.Join(goBinDir, name)
			os.MkdirAll(filepath.Dir(p), 0o755)
			if goBinErr = os.WriteFile(p, []byte(content), 0o644); goBinErr != nil {
				return
			}
		}
		cmd := exec.Command("go", "build", "-o", "hello", ".")
		cmd.Dir = goBinDir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=-buildvcs=false", "GOPROXY=off")
		if out, err := cmd.CombinedOutput(); err != nil {
			goBinErr = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		var out []byte
		out, goBinErr = exec.Command("go", "env", "GOVERSION").Output()
		goVersion = strings.TrimSpace(string(out))
	})
	if goBinErr != nil {
		t.Fatal(goBinErr)
	}
	return filepath.Join(goBinDir, "hello")
}

func TestMain(m *testing.M) {
	code := m.Run()
	if goBinDir != "" {
		os.RemoveAll(goBinDir)
	}
	os.Exit(code)
}

func TestScanOSImages(t *testing.T) {
	v := newEnv(t)
	tests := []struct {
		name string
		f    fixture
		want []pipeline.Package
	}{
		{"dpkg", fixture{dockerfile: "FROM scratch\nCOPY debian/ /\n", trees: []string{"debian"}}, wantDebian},
		{"apk", fixture{dockerfile: "FROM scratch\nCOPY alpine/ /\n", trees: []string{"alpine"}}, wantAlpine},
		{"rpm", fixture{dockerfile: "FROM scratch\nCOPY rpm/rpmdb.sqlite /var/lib/rpm/rpmdb.sqlite\n", trees: []string{"rpm"}}, wantRPM},
		// A later layer deletes the dpkg database: nothing is left to read.
		{"deleted", fixture{dockerfile: "FROM scratch\nCOPY rootfs/ /\nCOPY debian/ /\nRUN rm -rf /var/lib/dpkg\n", busybox: true, trees: []string{"debian"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ref, digest := v.push(t, tt.f)
			rep, log := v.scan(t, ref, digest, true, Options{})
			if rep.Digest != digest || rep.Image != ref {
				t.Errorf("report of %s %s, want %s %s", rep.Image, rep.Digest, ref, digest)
			}
			os := result(t, rep, ScannerOSPackages)
			wantStatus := pipeline.ScanOK
			if tt.want == nil {
				wantStatus = pipeline.ScanNA
			}
			if os.Status != wantStatus {
				t.Errorf("os-packages %s %q, want %s\n%s", os.Status, os.Detail, wantStatus, log)
			}
			diffPackages(t, tt.name, os.Packages, tt.want)
			checkSBOM(t, rep.SBOM, ref, digest, tt.want)
			if lang := result(t, rep, ScannerLanguagePackages); lang.Status != pipeline.ScanNA {
				t.Errorf("language-packages %s %q, want n/a", lang.Status, lang.Detail)
			}
			if caps := result(t, rep, ScannerCapabilities); caps.Status != pipeline.ScanOK || caps.Detail != "no RUN/INSTALL label" {
				t.Errorf("capabilities %s %q", caps.Status, caps.Detail)
			}
			if cve := result(t, rep, ScannerCVE); cve.Status != pipeline.ScanNA || cve.Detail != "no CVE scanner configured" {
				t.Errorf("cve %s %q", cve.Status, cve.Detail)
			}
			upd := result(t, rep, ScannerUpdates)
			wantUpd := "the image has no /bin/sh to run its package manager"
			if tt.f.busybox {
				wantUpd = "the image has no package manager that can list updates (apk, apt, dnf or yum)"
			}
			if upd.Status != pipeline.ScanNA || upd.Detail != wantUpd {
				t.Errorf("updates %s %q, want n/a %q", upd.Status, upd.Detail, wantUpd)
			}
			if !strings.Contains(log, "os-packages") || !strings.Contains(log, "sbom") {
				t.Errorf("log lacks the summary:\n%s", log)
			}
		})
	}
}

func TestScanLanguagePackages(t *testing.T) {
	v := newEnv(t)
	bin := buildGoBinary(t)
	ref, digest := v.push(t, fixture{
		dockerfile: `FROM scratch
COPY rootfs/ /
COPY lang/ /
COPY hello /usr/local/bin/hello
COPY hello /usr/bin/gone
COPY hello /opt/replaced
RUN rm /usr/bin/gone && echo 'not go' > /opt/replaced
`,
		busybox: true,
		trees:   []string{"lang"},
		copies:  map[string]string{"hello": bin},
	})
	rep, log := v.scan(t, ref, digest, true, Options{})
	lang := result(t, rep, ScannerLanguagePackages)
	goPkgs := []pipeline.Package{
		{Type: "golang", Name: "stdlib", Version: goVersion, Licenses: []string{"BSD-3-Clause"}, Location: "/usr/local/bin/hello", PURL: "pkg:golang/stdlib@" + goVersion},
		{Type: "golang", Name: "example.com/hoist-scan-fixture", Version: "(devel)", Location: "/usr/local/bin/hello", PURL: "pkg:golang/example.com/hoist-scan-fixture"},
		{Type: "golang", Name: "example.com/greet", Version: "v1.2.3", Location: "/usr/local/bin/hello", PURL: "pkg:golang/example.com/greet@v1.2.3"},
	}
	want := append(append([]pipeline.Package(nil), wantLang...), goPkgs...)
	if lang.Status != pipeline.ScanOK || lang.Detail != "12 package(s): pip 3, npm 4, gem 2, go binaries 1" {
		t.Errorf("language-packages %s %q\n%s", lang.Status, lang.Detail, log)
	}
	diffPackages(t, "lang", lang.Packages, want)
	checkSBOM(t, rep.SBOM, ref, digest, want)
	// busybox is the only executable left besides hello: not Go.
	if os := result(t, rep, ScannerOSPackages); os.Status != pipeline.ScanNA {
		t.Errorf("os-packages %s %q", os.Status, os.Detail)
	}
}

func TestScanCapabilities(t *testing.T) {
	v := newEnv(t)
	ref, digest := v.push(t, fixture{dockerfile: `FROM scratch
COPY debian/etc/os-release /etc/os-release
LABEL RUN="docker run -it --rm --privileged -v /:/host --net=host --pid=host -e HOST=/host IMAGE" \
      install="docker run --rm --cap-add SYS_ADMIN --security-opt label=disable --ipc=host IMAGE /install.sh" \
      UNINSTALL="docker run --rm --network host --uts=host --userns=host IMAGE /uninstall.sh" \
      description="docker run --privileged is not a run label"
`, trees: []string{"debian"}})
	rep, _ := v.scan(t, ref, digest, false, Options{})
	caps := result(t, rep, ScannerCapabilities)
	var got []string
	for _, f := range caps.Findings {
		got = append(got, f.Location+": "+f.Severity+" "+f.ID)
	}
	want := []string{
		"RUN: high privileged", "RUN: high host-root-mount", "RUN: medium host-net", "RUN: high host-pid",
		"UNINSTALL: medium host-net", "UNINSTALL: medium host-uts", "UNINSTALL: medium host-userns",
		"install: medium cap-add", "install: medium label-disable", "install: medium host-ipc",
	}
	if caps.Status != pipeline.ScanOK || !reflect.DeepEqual(got, want) {
		t.Errorf("capabilities %s %q:\n got  %v\n want %v", caps.Status, caps.Detail, got, want)
	}

	ref, digest = v.push(t, fixture{dockerfile: "FROM scratch\nCOPY debian/etc/os-release /etc/os-release\nLABEL run=\"docker run -d -p 8080:80 -v /srv/data:/data --name web IMAGE\"\n", trees: []string{"debian"}})
	// Asked for another digest than the tag now has: the report says what
	// was scanned, and the log says why.
	stale := "sha256:" + strings.Repeat("0", 64)
	rep, log := v.scan(t, ref, stale, false, Options{})
	if rep.Digest != digest || !strings.Contains(log, "warning: "+ref+" is now "+digest+", not "+stale) {
		t.Errorf("digest %s, log:\n%s", rep.Digest, log)
	}
	if caps := result(t, rep, ScannerCapabilities); caps.Status != pipeline.ScanOK || len(caps.Findings) != 0 || caps.Detail != "0 finding(s) in label(s) run" {
		t.Errorf("harmless label: %s %q %+v", caps.Status, caps.Detail, caps.Findings)
	}
}

// fakeApk is an apk that answers like the real one; update fails when
// $FAIL is set in the script.
const fakeApk = `#!/bin/sh
case "$1" in
update)
	if [ -f /etc/apk/offline ]; then
		echo "WARNING: updating and opening https://dl-cdn.alpinelinux.org/alpine/v3.20/main: temporary error (try again later)" >&2
		echo "3 unavailable, 0 stale; 14 distinct packages available" >&2
		exit 1
	fi ;;
version)
	[ "$2" = "-l" ] && [ "$3" = "<" ] || { echo "bad args: $*" >&2; exit 2; }
	echo "Installed:                                Available:"
	echo "musl-1.2.5-r0                           < 1.2.5-r1"
	echo "ssl_client-3.1.7-r0                     < 3.1.7-r1" ;;
*) echo "unexpected: $*" >&2; exit 2 ;;
esac
`

func TestScanUpdates(t *testing.T) {
	v := newEnv(t)
	ok, okDigest := v.push(t, fixture{
		dockerfile: "FROM scratch\nCOPY rootfs/ /\nCOPY alpine/ /\nCOPY apk /sbin/apk\nENTRYPOINT [\"/bin/false\"]\nUSER 1000\n",
		busybox:    true, trees: []string{"alpine"}, files: map[string]string{"apk+x": fakeApk},
	})
	rep, log := v.scan(t, ok, okDigest, true, Options{})
	upd := result(t, rep, ScannerUpdates)
	want := []pipeline.PackageUpdate{{Name: "musl", Installed: "1.2.5-r0", Available: "1.2.5-r1"}, {Name: "ssl_client", Installed: "3.1.7-r0", Available: "3.1.7-r1"}}
	if upd.Status != pipeline.ScanOK || upd.Detail != "apk offers 2 update(s)" || !reflect.DeepEqual(upd.Updates, want) {
		t.Errorf("updates %s %q %+v\n%s", upd.Status, upd.Detail, upd.Updates, log)
	}
	if !strings.Contains(log, "update musl 1.2.5-r0 -> 1.2.5-r1") {
		t.Errorf("log lacks the updates:\n%s", log)
	}

	// Not local: the package manager cannot be asked.
	rep, _ = v.scan(t, ok, okDigest, false, Options{})
	if upd := result(t, rep, ScannerUpdates); upd.Status != pipeline.ScanNA || upd.Detail != "the image is not in the local engine, so apk cannot be asked" {
		t.Errorf("not local: %s %q", upd.Status, upd.Detail)
	}

	offline, offDigest := v.push(t, fixture{
		dockerfile: "FROM scratch\nCOPY rootfs/ /\nCOPY alpine/ /\nCOPY apk /sbin/apk\nRUN mkdir -p /etc/apk && touch /etc/apk/offline\n",
		busybox:    true, trees: []string{"alpine"}, files: map[string]string{"apk+x": fakeApk},
	})
	rep, log = v.scan(t, offline, offDigest, true, Options{})
	upd = result(t, rep, ScannerUpdates)
	wantDetail := "apk cannot list updates (exit status 3):\nWARNING: updating and opening https://dl-cdn.alpinelinux.org/alpine/v3.20/main: temporary error (try again later)\n3 unavailable, 0 stale; 14 distinct packages available"
	if upd.Status != pipeline.ScanError || upd.Detail != wantDetail || len(upd.Updates) != 0 {
		t.Errorf("offline: %s %q\n%s", upd.Status, upd.Detail, log)
	}
	// The other scanners still ran.
	if os := result(t, rep, ScannerOSPackages); os.Status != pipeline.ScanOK || len(os.Packages) != 3 {
		t.Errorf("os-packages %s %q", os.Status, os.Detail)
	}
	out, _ := exec.Command("docker", "ps", "-aq", "--filter", "label=hoist.scan=updates", "--filter", "ancestor="+offline).Output()
	out2, _ := exec.Command("docker", "ps", "-aq", "--filter", "label=hoist.scan=updates", "--filter", "ancestor="+ok).Output()
	if len(bytes.TrimSpace(out))+len(bytes.TrimSpace(out2)) > 0 {
		t.Errorf("update containers left: %s %s", out, out2)
	}
}

func TestScanCVEHook(t *testing.T) {
	v := newEnv(t)
	ref, digest := v.push(t, fixture{dockerfile: "FROM scratch\nCOPY alpine/ /\n", trees: []string{"alpine"}})
	trivy := cveScript(t, `[ "$1" = "$HOIST_IMAGE" ] && [ -n "$HOIST_DIGEST" ] || { echo "bad env: $1 $HOIST_IMAGE $HOIST_DIGEST" >&2; exit 9; }
cat <<EOF
{"SchemaVersion": 2, "ArtifactName": "$1", "Metadata": {"RepoDigests": ["$HOIST_DIGEST"]}, "Results": [{"Target": "$1 (alpine 3.20.3)", "Vulnerabilities": [
 {"VulnerabilityID": "CVE-2024-12797", "PkgName": "ssl_client", "InstalledVersion": "3.1.7-r0", "FixedVersion": "3.1.7-r1", "Severity": "HIGH", "Title": "openssl: RFC7250 handshakes"},
 {"VulnerabilityID": "CVE-2025-26519", "PkgName": "musl", "InstalledVersion": "1.2.5-r0", "FixedVersion": "1.2.5-r9", "Severity": "MEDIUM"}]}]}
EOF
`)
	rep, log := v.scan(t, ref, digest, false, Options{CVECommand: []string{trivy, "{image}"}})
	t.Log(log)
	cve := result(t, rep, ScannerCVE)
	want := []pipeline.Finding{
		{Severity: "high", ID: "CVE-2024-12797", Message: "openssl: RFC7250 handshakes (fixed in 3.1.7-r1)", Location: "ssl_client 3.1.7-r0 (" + ref + " (alpine 3.20.3))"},
		{Severity: "medium", ID: "CVE-2025-26519", Message: "(fixed in 1.2.5-r9)", Location: "musl 1.2.5-r0 (" + ref + " (alpine 3.20.3))"},
	}
	if cve.Status != pipeline.ScanOK || cve.Detail != "trivy report: 2 vulnerabilities: 1 high, 1 medium" || !reflect.DeepEqual(cve.Findings, want) {
		t.Errorf("cve %s %q %+v\n%s", cve.Status, cve.Detail, cve.Findings, log)
	}
	if !bytes.Contains(cve.Raw, []byte(`"RepoDigests": ["`+digest+`"]`)) {
		t.Errorf("raw output lacks the digest: %s", cve.Raw)
	}

	failing := cveScript(t, "echo 'scanner: cannot reach the vulnerability database' >&2\nexit 1\n")
	rep, _ = v.scan(t, ref, digest, false, Options{CVECommand: []string{failing, "{image}"}})
	if cve := result(t, rep, ScannerCVE); cve.Status != pipeline.ScanError || cve.Detail != failing+" exited with status 1:\nscanner: cannot reach the vulnerability database" {
		t.Errorf("failing hook: %s %q", cve.Status, cve.Detail)
	}
	// A failing scanner does not stop the others.
	if os := result(t, rep, ScannerOSPackages); os.Status != pipeline.ScanOK || len(os.Packages) != 3 {
		t.Errorf("os-packages %s %q", os.Status, os.Detail)
	}
}

func TestScanMissingImage(t *testing.T) {
	v := newEnv(t)
	_, err := New(v.Registry, v.Engine, Options{}).Scan(t.Context(), pipeline.ScanSpec{Image: v.Host + "/scan/nothing:1"}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), v.Host+"/scan/nothing:1") {
		t.Errorf("got %v", err)
	}
}
