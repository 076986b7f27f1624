package scan

import (
	"os"
	"path/filepath"
	"reflect"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/hoistci/hoist/internal/pipeline"
)

// treeImage loads a testdata tree as the files an image would have.
func treeImage(t *testing.T, dirs ...string) *image {
	t.Helper()
	img := &image{files: map[string][]byte{}}
	for _, dir := range dirs {
		root := filepath.Join("testdata", dir)
		err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
			if err != nil || !fi.Mode().IsRegular() {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			name := "/" + filepath.ToSlash(rel)
			if wanted(name) {
				data, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				img.files[name] = data
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return img
}

// Expected inventories of the testdata trees; the integration tests expect
// the same from real images built of them.
var (
	wantDebian = []pipeline.Package{
		{Type: "deb", Name: "base-files", Version: "12.4+deb12u5", Arch: "amd64", Location: "/var/lib/dpkg/status",
			PURL: "pkg:deb/debian/base-files@12.4%2Bdeb12u5?arch=amd64&distro=debian-12"},
		{Type: "deb", Name: "libssl3", Version: "3.0.15-1~deb12u1", Arch: "amd64", Origin: "openssl", Location: "/var/lib/dpkg/status",
			PURL: "pkg:deb/debian/libssl3@3.0.15-1~deb12u1?arch=amd64&distro=debian-12"},
		{Type: "deb", Name: "zlib1g", Version: "1:1.2.13.dfsg-1", Arch: "amd64", Origin: "zlib", Location: "/var/lib/dpkg/status",
			PURL: "pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1?arch=amd64&distro=debian-12"},
		{Type: "deb", Name: "tzdata", Version: "2024a-0+deb12u1", Arch: "all", Location: "/var/lib/dpkg/status.d/tzdata",
			PURL: "pkg:deb/debian/tzdata@2024a-0%2Bdeb12u1?arch=all&distro=debian-12"},
	}
	wantAlpine = []pipeline.Package{
		{Type: "apk", Name: "musl", Version: "1.2.5-r0", Arch: "x86_64", Origin: "musl", Licenses: []string{"MIT"}, Location: "/lib/apk/db/installed",
			PURL: "pkg:apk/alpine/musl@1.2.5-r0?arch=x86_64&distro=alpine-3.20.3"},
		{Type: "apk", Name: "ssl_client", Version: "3.1.7-r0", Arch: "x86_64", Origin: "openssl", Licenses: []string{"Apache-2.0"}, Location: "/lib/apk/db/installed",
			PURL: "pkg:apk/alpine/ssl_client@3.1.7-r0?arch=x86_64&distro=alpine-3.20.3"},
		{Type: "apk", Name: "zlib", Version: "1.3.1-r1", Arch: "x86_64", Origin: "zlib", Licenses: []string{"Zlib"}, Location: "/lib/apk/db/installed",
			PURL: "pkg:apk/alpine/zlib@1.3.1-r1?arch=x86_64&distro=alpine-3.20.3"},
	}
	// wantRPM: testdata/rpm/rpmdb.sqlite, made with Debian's rpm 4.18 from
	// hello.spec and world.spec (see testdata/rpm/README).
	wantRPM = []pipeline.Package{
		{Type: "rpm", Name: "hello", Version: "2:1.2-3", Arch: "noarch", Origin: "hello-1.2-3.src.rpm", Licenses: []string{"MIT"}, Location: "/var/lib/rpm/rpmdb.sqlite",
			PURL: "pkg:rpm/redhat/hello@1.2-3?arch=noarch&epoch=2"},
		{Type: "rpm", Name: "world", Version: "0.9-1", Arch: "noarch", Origin: "world-0.9-1.src.rpm", Licenses: []string{"GPL-2.0-or-later"}, Location: "/var/lib/rpm/rpmdb.sqlite",
			PURL: "pkg:rpm/redhat/world@0.9-1?arch=noarch"},
	}
	wantLang = []pipeline.Package{
		{Type: "npm", Name: "@types/node", Version: "20.14.9", Licenses: []string{"MIT"}, Location: "/app/node_modules/@types/node/package.json", PURL: "pkg:npm/%40types/node@20.14.9"},
		{Type: "npm", Name: "debug", Version: "2.6.9", Licenses: []string{"MIT"}, Location: "/app/node_modules/express/node_modules/debug/package.json", PURL: "pkg:npm/debug@2.6.9"},
		{Type: "npm", Name: "express", Version: "4.19.2", Licenses: []string{"MIT"}, Location: "/app/node_modules/express/package.json", PURL: "pkg:npm/express@4.19.2"},
		{Type: "npm", Name: "left-pad", Version: "1.3.0", Licenses: []string{"WTFPL"}, Location: "/app/node_modules/left-pad/package.json", PURL: "pkg:npm/left-pad@1.3.0"},
		{Type: "pypi", Name: "requests", Version: "2.31.0", Licenses: []string{"Apache 2.0"}, Location: "/usr/lib/python3/dist-packages/requests-2.31.0.dist-info/METADATA", PURL: "pkg:pypi/requests@2.31.0"},
		{Type: "gem", Name: "rake", Version: "13.0.6", Licenses: []string{"MIT"}, Location: "/usr/lib/ruby/gems/3.1.0/specifications/rake-13.0.6.gemspec", PURL: "pkg:gem/rake@13.0.6"},
		{Type: "gem", Name: "rack-test", Version: "2.1.0", Licenses: []string{"MIT"}, Location: "/usr/local/bundle/specifications/rack-test-2.1.0.gemspec", PURL: "pkg:gem/rack-test@2.1.0"},
		{Type: "pypi", Name: "typing_extensions", Version: "4.12.2", Licenses: []string{"PSF-2.0"}, Location: "/usr/local/lib/python3.11/site-packages/Typing_Extensions-4.12.2.dist-info/METADATA", PURL: "pkg:pypi/typing-extensions@4.12.2"},
		{Type: "pypi", Name: "six", Version: "1.16.0", Licenses: []string{"MIT"}, Location: "/usr/local/lib/python3.11/site-packages/six-1.16.0.egg-info/PKG-INFO", PURL: "pkg:pypi/six@1.16.0"},
	}
)

func diffPackages(t *testing.T, what string, got, want []pipeline.Package) {
	t.Helper()
	if reflect.DeepEqual(got, want) {
		return
	}
	t.Errorf("%s: got %d packages, want %d", what, len(got), len(want))
	for i := 0; i < len(got) || i < len(want); i++ {
		var g, w pipeline.Package
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("  [%d] got  %+v\n       want %+v", i, g, w)
		}
	}
}

func TestOSPackagesDebian(t *testing.T) {
	res := osPackages(treeImage(t, "debian"))
	if res.Status != pipeline.ScanOK || res.Detail != "4 package(s): dpkg 3, dpkg status.d 1; distro debian-12" {
		t.Errorf("status %s %q", res.Status, res.Detail)
	}
	diffPackages(t, "dpkg", res.Packages, wantDebian)
}

func TestOSPackagesAlpine(t *testing.T) {
	res := osPackages(treeImage(t, "alpine"))
	if res.Status != pipeline.ScanOK {
		t.Errorf("status %s %q", res.Status, res.Detail)
	}
	diffPackages(t, "apk", res.Packages, wantAlpine)
}

func TestOSPackagesRPM(t *testing.T) {
	data, err := os.ReadFile("testdata/rpm/rpmdb.sqlite")
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range rpmDirs {
		img := &image{files: map[string][]byte{dir + "rpmdb.sqlite": data}}
		res := osPackages(img)
		if res.Status != pipeline.ScanOK {
			t.Errorf("%s: status %s %q", dir, res.Status, res.Detail)
		}
		want := append([]pipeline.Package(nil), wantRPM...)
		for i := range want {
			want[i].Location = dir + "rpmdb.sqlite"
		}
		diffPackages(t, dir, res.Packages, want)
	}
	// With an os-release, the distro is the namespace and a qualifier.
	pkgs, err := ParseRpmDB(data, "/var/lib/rpm/rpmdb.sqlite", Distro{ID: "rocky", VersionID: "9.4"})
	if err != nil || len(pkgs) != 2 || pkgs[0].PURL != "pkg:rpm/rocky/hello@1.2-3?arch=noarch&distro=rocky-9.4&epoch=2" {
		t.Errorf("with a distro: %v %+v", err, pkgs)
	}
}

func TestOSPackagesBad(t *testing.T) {
	img := &image{files: map[string][]byte{
		"/var/lib/rpm/Packages": []byte("this is not a database, just some text that is long enough to fail to parse"),
		apkDB:                   []byte("P:zlib\nV:1.3.1-r1\n"),
	}}
	res := osPackages(img)
	if res.Status != pipeline.ScanError || !strings.Contains(res.Detail, "/var/lib/rpm/Packages: not an rpm database") {
		t.Errorf("bad rpm db: %s %q", res.Status, res.Detail)
	}
	if len(res.Packages) != 1 || res.Packages[0].Name != "zlib" {
		t.Errorf("the apk packages are lost: %+v", res.Packages)
	}
	res = osPackages(&image{files: map[string][]byte{}})
	if res.Status != pipeline.ScanNA || res.Detail != "no dpkg, apk or rpm database in the image" {
		t.Errorf("empty: %s %q", res.Status, res.Detail)
	}
}

func TestLanguagePackages(t *testing.T) {
	res := languagePackages(treeImage(t, "lang"))
	if res.Status != pipeline.ScanOK || res.Detail != "9 package(s): pip 3, npm 4, gem 2" {
		t.Errorf("status %s %q", res.Status, res.Detail)
	}
	diffPackages(t, "lang", res.Packages, wantLang)

	bad := &image{files: map[string][]byte{"/x/node_modules/broken/package.json": []byte(`{"name": "broken",`)}}
	res = languagePackages(bad)
	if res.Status != pipeline.ScanError || !strings.Contains(res.Detail, "/x/node_modules/broken/package.json: unexpected end of JSON input") {
		t.Errorf("bad package.json: %s %q", res.Status, res.Detail)
	}
}

func TestWanted(t *testing.T) {
	yes := []string{
		"/var/lib/dpkg/status", "/var/lib/dpkg/status.d/tzdata", "/lib/apk/db/installed",
		"/var/lib/rpm/Packages", "/var/lib/rpm/Packages.db", "/usr/lib/sysimage/rpm/rpmdb.sqlite",
		"/etc/os-release", "/usr/lib/os-release",
		"/usr/lib/python3/dist-packages/a-1.dist-info/METADATA", "/opt/venv/lib/python3.12/site-packages/b-2.egg-info/PKG-INFO",
		"/usr/lib/python2.7/site-packages/c-3.egg-info",
		"/node_modules/a/package.json", "/srv/node_modules/@s/b/package.json", "/a/node_modules/b/node_modules/c/package.json",
		"/usr/share/gems/specifications/d-1.gemspec",
	}
	no := []string{
		"/var/lib/dpkg/status-old", "/var/lib/dpkg/status.d/sub/x", "/var/lib/rpm/Basenames", "/etc/os-release.bak",
		"/usr/share/doc/x.dist-info/METADATA", "/app/package.json", "/node_modules/a/lib/package.json",
		"/node_modules/.bin/package.json", "/node_modules/@s/package.json", "/gems/d-1.gemspec",
	}
	for _, p := range yes {
		if !wanted(p) {
			t.Errorf("%s is not read", p)
		}
	}
	for _, p := range no {
		if wanted(p) {
			t.Errorf("%s is read", p)
		}
	}
}

func TestGoPackages(t *testing.T) {
	bi := &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Path:      "example.com/tool/cmd/tool",
		Main:      debug.Module{Path: "example.com/tool", Version: "(devel)"},
		Deps: []*debug.Module{
			{Path: "github.com/BurntSushi/toml", Version: "v1.4.0"},
			{Path: "example.com/dep", Version: "v1.0.0", Replace: &debug.Module{Path: "../dep"}},
			{Path: "example.com/old", Version: "v0.1.0", Replace: &debug.Module{Path: "example.com/new", Version: "v0.2.0"}},
		},
	}
	got := GoPackages("/bin/tool", bi)
	want := []pipeline.Package{
		{Type: "golang", Name: "stdlib", Version: "go1.26.8", Licenses: []string{"BSD-3-Clause"}, Location: "/bin/tool", PURL: "pkg:golang/stdlib@go1.26.8"},
		{Type: "golang", Name: "example.com/tool", Version: "(devel)", Location: "/bin/tool", PURL: "pkg:golang/example.com/tool"},
		{Type: "golang", Name: "github.com/BurntSushi/toml", Version: "v1.4.0", Location: "/bin/tool", PURL: "pkg:golang/github.com/BurntSushi/toml@v1.4.0"},
		{Type: "golang", Name: "example.com/dep", Version: "v1.0.0", Location: "/bin/tool", PURL: "pkg:golang/example.com/dep@v1.0.0"},
		{Type: "golang", Name: "example.com/new", Version: "v0.2.0", Location: "/bin/tool", PURL: "pkg:golang/example.com/new@v0.2.0"},
	}
	diffPackages(t, "go", got, want)
}

func TestParseOSRelease(t *testing.T) {
	for in, want := range map[string]Distro{
		"ID=debian\nVERSION_ID=\"12\"\n":              {ID: "debian", VersionID: "12"},
		"ID='rhel'\nVERSION_ID='9.4'\nID_LIKE=fedora": {ID: "rhel", VersionID: "9.4"},
		"NAME=Debian\nID=debian\n":                    {ID: "debian"}, // sid has no VERSION_ID
		"garbage\n=\n":                                {},
	} {
		if got := ParseOSRelease([]byte(in)); got != want {
			t.Errorf("%q: got %+v, want %+v", in, got, want)
		}
	}
}

func debugBuildInfo() debug.BuildInfo {
	return debug.BuildInfo{GoVersion: "go1.26.8", Path: "example.com/x", Main: debug.Module{Path: "example.com/x", Version: "v1.0.0"},
		Deps: []*debug.Module{{Path: "golang.org/x/text", Version: "v0.42.0"}}}
}
