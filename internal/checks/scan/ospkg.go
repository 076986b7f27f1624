package scan

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"

	rpmdb "github.com/knqyf263/go-rpmdb/pkg"
	"github.com/package-url/packageurl-go"

	"github.com/hoistci/hoist/internal/pipeline"

	_ "modernc.org/sqlite" // go-rpmdb opens rpmdb.sqlite with database/sql driver "sqlite"
)

// The files the OS package scanner reads.
const (
	dpkgStatus  = "/var/lib/dpkg/status"
	dpkgStatusD = "/var/lib/dpkg/status.d/"
	apkDB       = "/lib/apk/db/installed"
)

// osReleaseFiles are where os-release lives, in order of preference.
var osReleaseFiles = []string{"/etc/os-release", "/usr/lib/os-release"}

// rpmDirs and rpmFiles name the rpm databases: BerkeleyDB, NDB, SQLite.
var (
	rpmDirs  = []string{"/var/lib/rpm/", "/usr/lib/sysimage/rpm/"}
	rpmFiles = []string{"rpmdb.sqlite", "Packages.db", "Packages"}
)

// Distro is what /etc/os-release says about the image's distribution.
type Distro struct {
	ID        string // "debian", "alpine", "rhel"
	VersionID string // "12", "3.20.1"
}

// qualifier returns the purl distro qualifier: "debian-12".
func (d Distro) qualifier() string {
	if d.ID == "" {
		return ""
	}
	if d.VersionID == "" {
		return d.ID
	}
	return d.ID + "-" + d.VersionID
}

// ParseOSRelease reads the ID and VERSION_ID of an os-release file.
func ParseOSRelease(data []byte) Distro {
	var d Distro
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok {
			continue
		}
		if uq, err := strconv.Unquote(v); err == nil {
			v = uq
		} else {
			v = strings.Trim(v, `'"`)
		}
		switch k {
		case "ID":
			d.ID = strings.ToLower(v)
		case "VERSION_ID":
			d.VersionID = v
		}
	}
	return d
}

// stanza is one paragraph of a dpkg- or apk-style database.
type stanza struct {
	fields map[string]string
}

// parseStanzas parses RFC 822-like stanzas separated by blank lines, with
// "Key: value" (dpkg) or "K:value" (apk) fields. Continuation lines
// (leading space or tab) extend the previous field.
func parseStanzas(data []byte) []stanza {
	var out []stanza
	var cur *stanza
	var last string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" {
			cur, last = nil, ""
			continue
		}
		if cur == nil {
			out = append(out, stanza{fields: map[string]string{}})
			cur = &out[len(out)-1]
		}
		if line[0] == ' ' || line[0] == '\t' {
			if last != "" && cur != nil {
				cur.fields[last] += "\n" + strings.TrimSpace(line)
			}
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		last = k
		cur.fields[k] = strings.TrimSpace(v)
	}
	return out
}

// ParseDpkgStatus returns the installed packages of a dpkg status file
// (or one file of the distroless status.d folder, whose stanzas may lack a
// Status field: those count as installed when statusOptional).
func ParseDpkgStatus(data []byte, location string, distro Distro, statusOptional bool) []pipeline.Package {
	var pkgs []pipeline.Package
	for _, s := range parseStanzas(data) {
		name := s.fields["Package"]
		if name == "" {
			continue
		}
		status, has := s.fields["Status"]
		if has || !statusOptional {
			// "want flag status": install ok installed
			f := strings.Fields(status)
			if len(f) != 3 || f[2] != "installed" {
				continue
			}
		}
		origin := s.fields["Source"]
		if i := strings.IndexByte(origin, ' '); i >= 0 {
			origin = origin[:i] // "src (1.2-3)": the source's own version
		}
		p := pipeline.Package{
			Type:     "deb",
			Name:     name,
			Version:  s.fields["Version"],
			Arch:     s.fields["Architecture"],
			Origin:   origin,
			Location: location,
		}
		p.PURL = osPURL(packageurl.TypeDebian, "debian", distro, p, nil)
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// ParseApkInstalled returns the packages of an apk installed database.
func ParseApkInstalled(data []byte, location string, distro Distro) []pipeline.Package {
	var pkgs []pipeline.Package
	for _, s := range parseStanzas(data) {
		name := s.fields["P"]
		if name == "" {
			continue
		}
		p := pipeline.Package{
			Type:     "apk",
			Name:     name,
			Version:  s.fields["V"],
			Arch:     s.fields["A"],
			Origin:   s.fields["o"],
			Location: location,
		}
		if l := s.fields["L"]; l != "" {
			p.Licenses = []string{l}
		}
		p.PURL = osPURL(packageurl.TypeApk, "alpine", distro, p, nil)
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// ParseRpmDB returns the packages of an rpm database (BerkeleyDB, NDB or
// SQLite), given as its bytes: it is written to a temporary file, since
// the reader needs a path.
func ParseRpmDB(data []byte, location string, distro Distro) ([]pipeline.Package, error) {
	f, err := os.CreateTemp("", "hoist-rpmdb-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	db, err := rpmdb.Open(f.Name())
	if err != nil {
		return nil, fmt.Errorf("%s: not an rpm database this scanner can read (BerkeleyDB, NDB, SQLite): %v", location, err)
	}
	defer db.Close()
	list, err := db.ListPackages()
	if err != nil {
		return nil, fmt.Errorf("%s: reading the rpm database: %v", location, err)
	}
	var pkgs []pipeline.Package
	for _, r := range list {
		if r.Name == "gpg-pubkey" { // imported signing keys, not packages
			continue
		}
		version := r.Version
		if r.Release != "" {
			version += "-" + r.Release
		}
		var quals map[string]string
		full := version
		if e := r.EpochNum(); r.Epoch != nil && e != 0 {
			full = strconv.Itoa(e) + ":" + version
			quals = map[string]string{"epoch": strconv.Itoa(e)}
		}
		p := pipeline.Package{
			Type:     "rpm",
			Name:     r.Name,
			Version:  full,
			Arch:     r.Arch,
			Origin:   r.SourceRpm,
			Location: location,
		}
		if r.License != "" {
			p.Licenses = []string{r.License}
		}
		// The purl's version has no epoch: it goes in a qualifier.
		pv := p
		pv.Version = version
		p.PURL = osPURL(packageurl.TypeRPM, defaultRPMNamespace(distro), distro, pv, quals)
		pkgs = append(pkgs, p)
	}
	sort.Slice(pkgs, func(i, j int) bool { return pkgs[i].Name < pkgs[j].Name })
	return pkgs, nil
}

// defaultRPMNamespace is the purl namespace of rpm packages when the
// image has no os-release.
func defaultRPMNamespace(d Distro) string {
	if d.ID != "" {
		return d.ID
	}
	return "redhat"
}

// osPURL builds pkg:<type>/<distro>/<name>@<version>?arch=…&distro=…
func osPURL(typ, defaultNS string, distro Distro, p pipeline.Package, extra map[string]string) string {
	ns := distro.ID
	if ns == "" {
		ns = defaultNS
	}
	q := map[string]string{}
	for k, v := range extra {
		q[k] = v
	}
	if p.Arch != "" {
		q["arch"] = p.Arch
	}
	if d := distro.qualifier(); d != "" {
		q["distro"] = d
	}
	u := packageurl.NewPackageURL(typ, ns, p.Name, p.Version, packageurl.QualifiersFromMap(q), "")
	return u.ToString()
}

// isRPMDB reports whether p is one of the rpm database files.
func isRPMDB(p string) bool {
	dir, file := path.Split(p)
	for _, d := range rpmDirs {
		if dir == d {
			for _, f := range rpmFiles {
				if file == f {
					return true
				}
			}
		}
	}
	return false
}
