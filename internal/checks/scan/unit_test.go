package scan

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/package-url/packageurl-go"

	"github.com/hoistci/hoist/internal/pipeline"
)

func TestCapabilities(t *testing.T) {
	tests := []struct {
		cmd  string
		want []string // severity id
	}{
		{"docker run --privileged IMAGE", []string{"high privileged"}},
		{"docker run --privileged=true IMAGE", []string{"high privileged"}},
		{"docker run --privileged=false IMAGE", nil},
		{"docker run --cap-add SYS_ADMIN --cap-add=net_raw IMAGE", []string{"medium cap-add", "medium cap-add"}},
		{"docker run --net=host IMAGE", []string{"medium host-net"}},
		{"docker run --network host IMAGE", []string{"medium host-net"}},
		{"docker run --network=bridge IMAGE", nil},
		{"docker run --pid=host IMAGE", []string{"high host-pid"}},
		{"docker run --ipc=host --uts=host --userns=host IMAGE", []string{"medium host-ipc", "medium host-uts", "medium host-userns"}},
		{"docker run --security-opt label=disable IMAGE", []string{"medium label-disable"}},
		{"docker run --security-opt=label:disable IMAGE", []string{"medium label-disable"}},
		{"docker run --security-opt seccomp=unconfined IMAGE", nil},
		{"docker run -v /:/host IMAGE", []string{"high host-root-mount"}},
		{"docker run --volume=/:/host:ro IMAGE", []string{"high host-root-mount"}},
		{"docker run --mount type=bind,source=/,target=/host IMAGE", []string{"high host-root-mount"}},
		{"docker run -v /data:/data -v /etc/localtime:/etc/localtime:ro IMAGE", nil},
		{`docker run -d -p 8080:80 -e "MSG=--privileged is not used" --name web IMAGE`, nil},
		{"docker run -it --rm --privileged -v /:/host --net=host --pid=host -e HOST=/host IMAGE /bin/install.sh",
			[]string{"high privileged", "high host-root-mount", "medium host-net", "high host-pid"}},
	}
	for _, tt := range tests {
		var got []string
		for _, f := range capabilityFindings(tt.cmd) {
			got = append(got, f.Severity+" "+f.ID)
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s:\n got  %v\n want %v", tt.cmd, got, tt.want)
		}
	}

	res := ScanCapabilities(map[string]string{
		"run":        "docker run --privileged IMAGE",
		"INSTALL":    "docker run --cap-add SYS_ADMIN IMAGE",
		"maintainer": "docker run --privileged",
	})
	want := []pipeline.Finding{
		{Severity: "medium", ID: "cap-add", Message: "adds the capability SYS_ADMIN", Location: "INSTALL"},
		{Severity: "high", ID: "privileged", Message: "runs the container --privileged: every capability and device of the host", Location: "run"},
	}
	if res.Status != pipeline.ScanOK || !reflect.DeepEqual(res.Findings, want) {
		t.Errorf("labels: %s %q\n got  %+v\n want %+v", res.Status, res.Detail, res.Findings, want)
	}
	res = ScanCapabilities(map[string]string{"maintainer": "me"})
	if res.Status != pipeline.ScanOK || res.Detail != "no RUN/INSTALL label" || len(res.Findings) != 0 {
		t.Errorf("no labels: %+v", res)
	}
}

func TestParseCVEReport(t *testing.T) {
	trivy := `{"SchemaVersion": 2, "ArtifactName": "x", "Results": [
	  {"Target": "x (debian 12.4)", "Class": "os-pkgs", "Vulnerabilities": [
	    {"VulnerabilityID": "CVE-2024-0001", "PkgName": "libssl3", "InstalledVersion": "3.0.11-1", "FixedVersion": "3.0.13-1", "Severity": "CRITICAL", "Title": "bad"},
	    {"VulnerabilityID": "CVE-2024-0002", "PkgName": "zlib1g", "InstalledVersion": "1:1.2.13", "Severity": "UNKNOWN"}]},
	  {"Target": "app/package-lock.json", "Class": "lang-pkgs"}]}`
	f, format, ok := ParseCVEReport([]byte(trivy))
	want := []pipeline.Finding{
		{Severity: "critical", ID: "CVE-2024-0001", Message: "bad (fixed in 3.0.13-1)", Location: "libssl3 3.0.11-1 (x (debian 12.4))"},
		{Severity: "info", ID: "CVE-2024-0002", Location: "zlib1g 1:1.2.13 (x (debian 12.4))"},
	}
	if !ok || format != "trivy" || !reflect.DeepEqual(f, want) {
		t.Errorf("trivy: %v %s %+v", ok, format, f)
	}
	grype := `{"matches": [{"vulnerability": {"id": "CVE-2023-9", "severity": "High", "fix": {"versions": ["1.2"]}}, "artifact": {"name": "musl", "version": "1.1", "type": "apk"}}], "source": {}}`
	f, format, ok = ParseCVEReport([]byte(grype))
	if !ok || format != "grype" || len(f) != 1 || f[0] != (pipeline.Finding{Severity: "high", ID: "CVE-2023-9", Message: "(fixed in 1.2)", Location: "musl 1.1 (apk)"}) {
		t.Errorf("grype: %v %s %+v", ok, format, f)
	}
	for _, other := range []string{`{"vulns": []}`, `[1, 2]`, `{"Results": "nope"}`} {
		if _, _, ok := ParseCVEReport([]byte(other)); ok {
			t.Errorf("%s recognised", other)
		}
	}
}

// cveScript writes an executable script and returns its path.
func cveScript(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "cve.sh")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCVECommand(t *testing.T) {
	trivy := `{"Results":[{"Target":"t","Vulnerabilities":[{"VulnerabilityID":"CVE-1","PkgName":"p","InstalledVersion":"1","Severity":"HIGH"}]}]}`
	tests := []struct {
		name   string
		body   string
		status pipeline.ScanStatus
		detail string
		raw    bool
	}{
		{"trivy", "[ \"$1\" = \"$HOIST_IMAGE\" ] && [ \"$HOIST_DIGEST\" = sha256:abc ] || exit 9\necho '" + trivy + "'\n", pipeline.ScanOK, "trivy report: 1 vulnerability: 1 high", true},
		{"other JSON", "echo '{\"hello\": [1,2,3]}'\n", pipeline.ScanOK, "stored 18 bytes of JSON", true},
		{"garbage", "echo 'Scanning...'; echo 'all good'\necho 'warming up' >&2\n", pipeline.ScanError, "printed no JSON on stdout (20 bytes starting \"Scanning...\\nall good\"):\nwarming up", false},
		{"exit 1", "echo '{}'\necho 'line 1' >&2\necho 'FATAL: no database' >&2\nexit 1\n", pipeline.ScanError, "exited with status 1:\nline 1\nFATAL: no database", false},
		{"slow", "echo 'looking' >&2\nsleep 30\necho done\n", pipeline.ScanError, "did not finish within 1s:\nlooking", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			script := cveScript(t, tt.body)
			s := New(nil, nil, Options{CVECommand: []string{script, "{image}"}, CVETimeout: time.Second})
			start := time.Now()
			res := s.runCVE(context.Background(), "reg.example/ns/app:1", "sha256:abc")
			if time.Since(start) > 10*time.Second {
				t.Errorf("took %s", time.Since(start))
			}
			if res.Status != tt.status || !strings.Contains(res.Detail, tt.detail) || (res.Raw != nil) != tt.raw {
				t.Errorf("got %s %q raw=%d; want %s %q", res.Status, res.Detail, len(res.Raw), tt.status, tt.detail)
			}
		})
	}
	res := New(nil, nil, Options{}).runCVE(context.Background(), "x", "")
	if res.Status != pipeline.ScanNA || res.Detail != "no CVE scanner configured" {
		t.Errorf("unconfigured: %+v", res)
	}
	res = New(nil, nil, Options{CVECommand: []string{"/nonexistent/scanner"}}).runCVE(context.Background(), "x", "")
	if res.Status != pipeline.ScanError || !strings.Contains(res.Detail, "running /nonexistent/scanner") {
		t.Errorf("missing command: %+v", res)
	}
}

func TestParseUpdates(t *testing.T) {
	apk := "Installed:                                Available:\nbusybox-1.36.1-r29                      < 1.36.1-r30\npy3-foo-bar-2.0.1-r0                    < 2.0.2-r0\nfetch                                    = ok\n"
	want := []pipeline.PackageUpdate{{Name: "busybox", Installed: "1.36.1-r29", Available: "1.36.1-r30"}, {Name: "py3-foo-bar", Installed: "2.0.1-r0", Available: "2.0.2-r0"}}
	if got := ParseApkVersion(apk, nil); !reflect.DeepEqual(got, want) {
		t.Errorf("apk: %+v", got)
	}
	apt := "Listing...\nlibc6/stable-security 2.36-9+deb12u4 amd64 [upgradable from: 2.36-9+deb12u3]\nopenssl/stable 3.0.15-1~deb12u1 amd64 [upgradable from: 3.0.11-1~deb12u2]\n"
	want = []pipeline.PackageUpdate{{Name: "libc6", Installed: "2.36-9+deb12u3", Available: "2.36-9+deb12u4"}, {Name: "openssl", Installed: "3.0.11-1~deb12u2", Available: "3.0.15-1~deb12u1"}}
	if got := ParseAptUpgradable(apt, nil); !reflect.DeepEqual(got, want) {
		t.Errorf("apt: %+v", got)
	}
	dnf := "\nbash.x86_64                     5.1.8-9.el9                    baseos\nopenssl-libs.x86_64             1:3.0.7-27.el9                 baseos\nObsoleting Packages\ngrub2-tools.x86_64              1:2.06-80.el9                  baseos\n"
	want = []pipeline.PackageUpdate{{Name: "bash", Installed: "5.1.8-6.el9", Available: "5.1.8-9.el9"}, {Name: "openssl-libs", Available: "1:3.0.7-27.el9"}}
	if got := ParseDnfCheckUpdate(dnf, map[string]string{"bash": "5.1.8-6.el9"}); !reflect.DeepEqual(got, want) {
		t.Errorf("dnf: %+v", got)
	}
}

func TestParseImageRef(t *testing.T) {
	for in, want := range map[string]ImageRef{
		"127.0.0.1:5000/ns/app:1.0": {Registry: "127.0.0.1:5000", Repository: "ns/app", Tag: "1.0"},
		"localhost/app@sha256:abc":  {Registry: "localhost", Repository: "app", Digest: "sha256:abc"},
		"ns/app":                    {Repository: "ns/app"},
		"reg.io/a/b:t@sha256:0":     {Registry: "reg.io", Repository: "a/b", Tag: "t", Digest: "sha256:0"},
		"registry:5000/app":         {Registry: "registry:5000", Repository: "app"},
		"debian:12":                 {Repository: "debian", Tag: "12"},
	} {
		if got := ParseImageRef(in); got != want {
			t.Errorf("%s: got %+v, want %+v", in, got, want)
		}
	}
	got := ImagePURL("127.0.0.1:5000/ns/App:1.0", "sha256:abc")
	if got != "pkg:oci/app@sha256:abc?repository_url=127.0.0.1:5000%2Fns%2FApp&tag=1.0" {
		t.Errorf("purl %s", got)
	}
}

// checkSBOM decodes data with cyclonedx-go and checks it against the rules
// of the spec version it declares, and that it holds exactly want.
func checkSBOM(t *testing.T, data []byte, image, digest string, want []pipeline.Package) {
	t.Helper()
	validateSBOM(t, data)
	var raw map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatalf("SBOM is not JSON: %v", err)
	}
	if raw["bomFormat"] != "CycloneDX" || raw["specVersion"] != "1.6" || raw["$schema"] != "http://cyclonedx.org/schema/bom-1.6.schema.json" {
		t.Errorf("header: %v %v %v", raw["bomFormat"], raw["specVersion"], raw["$schema"])
	}
	var bom cdx.BOM
	if err := cdx.NewBOMDecoder(bytes.NewReader(data), cdx.BOMFileFormatJSON).Decode(&bom); err != nil {
		t.Fatalf("decoding the SBOM: %v", err)
	}
	if bom.SpecVersion != cdx.SpecVersion1_6 || !strings.HasPrefix(bom.SerialNumber, "urn:uuid:") || len(bom.SerialNumber) != 45 {
		t.Errorf("spec %s serial %q", bom.SpecVersion, bom.SerialNumber)
	}
	if _, err := time.Parse(time.RFC3339, bom.Metadata.Timestamp); err != nil {
		t.Errorf("timestamp: %v", err)
	}
	// Re-encoding as 1.6 must keep everything: nothing in it is newer.
	var again bytes.Buffer
	if err := cdx.NewBOMEncoder(&again, cdx.BOMFileFormatJSON).SetPretty(true).EncodeVersion(&bom, cdx.SpecVersion1_6); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(bytes.TrimSpace(again.Bytes()), bytes.TrimSpace(data)) {
		t.Errorf("the SBOM does not survive a 1.6 round trip:\n%s\n---\n%s", data, again.Bytes())
	}
	img := bom.Metadata.Component
	r := ParseImageRef(image)
	if img == nil || img.Type != cdx.ComponentTypeContainer || img.Version != digest || img.Name != r.Registry+"/"+r.Repository {
		t.Fatalf("metadata.component: %+v", img)
	}
	if p, err := packageurl.FromString(img.PackageURL); err != nil || p.Type != "oci" || p.Version != digest || p.Qualifiers.Map()["repository_url"] != r.Registry+"/"+r.Repository {
		t.Errorf("image purl %q: %v", img.PackageURL, err)
	}
	refs := map[string]bool{img.BOMRef: true}
	got := map[string]cdx.Component{}
	var comps []cdx.Component
	if bom.Components != nil {
		comps = *bom.Components
	}
	for _, c := range comps {
		if c.Name == "" || c.Type == "" || c.BOMRef == "" {
			t.Errorf("component lacks a required field: %+v", c)
		}
		if refs[c.BOMRef] {
			t.Errorf("bom-ref %q twice", c.BOMRef)
		}
		refs[c.BOMRef] = true
		if _, err := packageurl.FromString(c.PackageURL); err != nil {
			t.Errorf("purl %q: %v", c.PackageURL, err)
		}
		if c.Licenses != nil {
			for _, l := range *c.Licenses {
				if l.License == nil || (l.License.ID == "") == (l.License.Name == "") {
					t.Errorf("%s: a license needs an id or a name: %+v", c.Name, l)
				}
			}
		}
		got[c.PackageURL] = c
	}
	var deps []cdx.Dependency
	if bom.Dependencies != nil {
		deps = *bom.Dependencies
	}
	for _, d := range deps {
		if !refs[d.Ref] {
			t.Errorf("dependency of unknown ref %q", d.Ref)
		}
		for _, x := range *d.Dependencies {
			if !refs[x] {
				t.Errorf("dependency on unknown ref %q", x)
			}
		}
	}
	wantRefs := map[string]bool{}
	for _, p := range want {
		wantRefs[p.PURL] = true
		c, ok := got[p.PURL]
		if !ok {
			t.Errorf("SBOM lacks %s", p.PURL)
			continue
		}
		var lic []string
		if c.Licenses != nil {
			for _, l := range *c.Licenses {
				lic = append(lic, l.License.Name)
			}
		}
		var locs []string
		for _, pr := range *c.Properties {
			if pr.Name == LocationProperty {
				locs = append(locs, pr.Value)
			}
		}
		if c.Name != p.Name || c.Version != p.Version || !reflect.DeepEqual(lic, p.Licenses) || !contains(locs, p.Location) {
			t.Errorf("component %s: %s %s %v %v; want %s %s %v %s", p.PURL, c.Name, c.Version, lic, locs, p.Name, p.Version, p.Licenses, p.Location)
		}
	}
	if len(got) != len(wantRefs) {
		t.Errorf("SBOM has %d components, want %d", len(got), len(wantRefs))
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestBuildSBOM(t *testing.T) {
	pkgs := append(append(append([]pipeline.Package(nil), wantDebian...), wantLang...), wantRPM...)
	// The same Go module in two binaries is one component found twice.
	bi := GoPackages("/bin/a", &testBuildInfo)
	pkgs = append(pkgs, bi...)
	pkgs = append(pkgs, GoPackages("/bin/b", &testBuildInfo)...)
	data, err := BuildSBOM("127.0.0.1:5000/ns/app:1.0", "sha256:0123", pkgs, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	checkSBOM(t, data, "127.0.0.1:5000/ns/app:1.0", "sha256:0123", pkgs[:len(pkgs)-len(bi)])
	var bom cdx.BOM
	_ = cdx.NewBOMDecoder(bytes.NewReader(data), cdx.BOMFileFormatJSON).Decode(&bom)
	for _, c := range *bom.Components {
		if c.Name == "stdlib" {
			var locs []string
			for _, p := range *c.Properties {
				if p.Name == LocationProperty {
					locs = append(locs, p.Value)
				}
			}
			if !reflect.DeepEqual(locs, []string{"/bin/a", "/bin/b"}) {
				t.Errorf("stdlib locations %v", locs)
			}
		}
	}
}

var testBuildInfo = debugBuildInfo()

func TestSafely(t *testing.T) {
	res := safely("os-packages", func() pipeline.ScannerResult {
		var m map[string]int
		m["x"]++ // a scanner bug
		return pipeline.ScannerResult{}
	})
	if res.Scanner != "os-packages" || res.Status != pipeline.ScanError || !strings.Contains(res.Detail, "the os-packages scanner crashed: assignment to entry in nil map") {
		t.Errorf("got %+v", res)
	}
}
