package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/store/sqlite"
)

// What the scan image of (c) holds, for both sides to find.
const (
	scanDpkgInstalled = 300 // in the top layer's dpkg status (plus 4 removed ones)
	scanDpkgOld       = 250 // in the bottom layer's status, which the top one replaces
	scanPip           = 5
	scanNPM           = 8 // 2 of them scoped
	scanGoBinaries    = 1
)

// benchScan is (c): `hoist scan` of a delivered image, against the same
// inventory by hand with docker pull + save + tar (bench/scan-baseline.sh).
// Both start with the image absent from the engine; rounds are interleaved.
// The peak RSS of hoist is also taken on a small image with the same
// content, to show that it does not grow with the image.
func benchScan(ctx context.Context, e *env, rep *report, reg string, bigMB, smallMB, rounds int) error {
	for _, tool := range []string{"go", "tar", "jq", "dpkg-query"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s is not on PATH: (c) builds a small Go binary into its image, and its baseline uses tar, jq, dpkg-query and go version -m", tool)
		}
	}
	hoistBin, err := scanningHoist(ctx, e)
	if err != nil {
		return err
	}
	work := filepath.Join(e.tmp, "c")
	if err := os.MkdirAll(work, 0o755); err != nil {
		return err
	}
	app := filepath.Join(work, "hello")
	if err := buildHello(ctx, e, filepath.Join(work, "hello-src"), app); err != nil {
		return err
	}
	big, small := reg+"/bench/scan", reg+"/bench/scan-small"
	progress("(c) making and pushing a %d MiB and a %d MiB image with dpkg, pip, npm and Go content (untimed)", bigMB, smallMB)
	bigD, bigSize, err := e.makeScanImage(ctx, big, bigMB, app)
	if err != nil {
		return err
	}
	smallD, smallSize, err := e.makeScanImage(ctx, small, smallMB, app)
	if err != nil {
		return err
	}
	bigRef, smallRef := big+"@"+bigD, small+"@"+smallD
	// Both cold: no layer of one image left in the engine for the other.
	for _, r := range []string{bigRef, smallRef} {
		if err := e.dropLocal(ctx, r); err != nil {
			return err
		}
	}
	data := filepath.Join(work, "hoist-data")
	if err := recordDelivered(ctx, data, map[string]string{big + ":v1": bigD, small + ":v1": smallD}, reg); err != nil {
		return err
	}

	runHoist := func(ref, project string) (sample, error) {
		if err := e.dropLocal(ctx, ref); err != nil { // hoist scan pulls it too
			return sample{}, err
		}
		cmd := exec.CommandContext(ctx, hoistBin, "scan", "--data", data, "--registry", reg, project)
		cmd.Env = withoutEnv(os.Environ(), "HOIST_SERVER") // no server: this data folder
		s, out, err := e.measure(ctx, cmd)
		if err != nil {
			return s, err
		}
		return s, checkHoistScan(out)
	}
	script := filepath.Join(e.root, "bench", "scan-baseline.sh")
	runBaseline := func(label string) (sample, error) {
		if err := e.dropLocal(ctx, bigRef); err != nil {
			return sample{}, err
		}
		dir := filepath.Join(work, "baseline-"+label)
		defer os.RemoveAll(dir)
		cmd := exec.CommandContext(ctx, "/bin/sh", script)
		cmd.Env = append(os.Environ(), "REF="+bigRef, "WORK="+dir)
		s, out, err := e.measure(ctx, cmd)
		if err != nil {
			return s, err
		}
		return s, checkBaselineScan(out)
	}

	// Untimed: checks that both sides find everything, and warms the page
	// cache (registry storage, binaries) for both.
	progress("(c) untimed warm-up: hoist scan, then scan-baseline.sh")
	if _, err := runHoist(bigRef, "bench/scan:v1"); err != nil {
		return err
	}
	if _, err := runBaseline("warm"); err != nil {
		return err
	}
	var hs, bs []sample
	for i := range rounds {
		first, second := "hoist", "baseline"
		if i%2 == 1 {
			first, second = second, first
		}
		for _, who := range []string{first, second} {
			if who == "hoist" {
				s, err := runHoist(bigRef, "bench/scan:v1")
				if err != nil {
					return err
				}
				hs = append(hs, s)
			} else {
				s, err := runBaseline(strconv.Itoa(i + 1))
				if err != nil {
					return err
				}
				bs = append(bs, s)
			}
		}
		progress("(c) round %d/%d: hoist scan %s (peak RSS %s), baseline %s", i+1, rounds, fmtDur(hs[i].d), mib(hs[i].rssKiB<<10), fmtDur(bs[i].d))
	}
	if err := e.dropLocal(ctx, bigRef); err != nil {
		return err
	}
	var ss []sample
	for i := range rounds {
		s, err := runHoist(smallRef, "bench/scan-small:v1")
		if err != nil {
			return err
		}
		ss = append(ss, s)
		progress("(c) %d MiB image, hoist scan %d/%d: %s, peak RSS %s", smallMB, i+1, rounds, fmtDur(s.d), mib(s.rssKiB<<10))
	}
	if err := e.dropLocal(ctx, smallRef); err != nil {
		return err
	}

	ht, bt := durations(hs), durations(bs)
	hr, sr := medianKiB(hs)<<10, medianKiB(ss)<<10
	bigL := fmt.Sprintf("%d MiB", bigMB)
	rep.rows = append(rep.rows,
		row{name: "(c1) hoist scan of a delivered " + bigL + " image", hoist: ht,
			ratio: fmt.Sprintf("peak RSS/image = %s/%s = %s", mib(hr), mib(bigSize), fmtRatio(float64(hr)/float64(bigSize)))},
		row{name: "(c2) " + bigL + ", inventory by hand: docker pull+save+tar", hoist: ht, baseline: bt,
			ratio: ratio("hoist/baseline", ht, bt)},
		row{name: fmt.Sprintf("(c3) hoist scan peak RSS, %s vs %d MiB image", bigL, smallMB),
			ratio: fmt.Sprintf("RSS big/small = %s/%s = %s", mib(hr), mib(sr), fmtRatio(float64(hr)/float64(sr)))},
	)
	rep.how = append(rep.how,
		fmt.Sprintf("(c) the image: FROM scratch, 3 layers: os-release (debian 12), a dpkg status of %d packages and %d pip dist-info METADATA; %d MiB of /dev/urandom; "+
			"a dpkg status of %d installed (+4 removed) packages, %d npm package.json (2 scoped), one static Go binary (CGO_ENABLED=0 go build), and a RUN label with --privileged "+
			"(%s uncompressed); pushed once and recorded as delivered (store RecordImage) in a Hoist data folder, untimed. "+
			"Before every run of either side, docker rmi of every local name of the image (untimed): both start from a cold engine",
			scanDpkgOld, scanPip, bigMB, scanDpkgInstalled, scanNPM, mib(bigSize)),
		fmt.Sprintf("(c1) wall time and peak RSS (rusage of the child) of `bin/hoist scan --data DIR --registry %s bench/scan:v1`: "+
			"it pulls the image into the engine (for the updates scanner), streams the layers from the registry once, runs every scanner, builds the SBOM and stores the scan; "+
			"each run's output is checked (os-packages ok with dpkg %d, language-packages ok with pip %d, npm %d, go binaries %d, capabilities 1 finding, updates and cve n/a, sbom ok). "+
			"hoist: %s; peak RSS: %s",
			reg, scanDpkgInstalled, scanPip, scanNPM, scanGoBinaries, samples(ht), rssSamples(hs)),
		fmt.Sprintf("(c2) wall time of bench/scan-baseline.sh: docker pull REG/bench/scan@digest, docker save -o, tar -xf, then per layer tar -tf and tar -x of only the "+
			"dpkg status, METADATA, package.json and usr/local/bin files, then dpkg-query --admindir, jq, go version -m; its output is checked for the same counts. "+
			"One untimed run of each side first, then %d rounds alternating who goes first. baseline: %s; peak RSS of its own processes (docker CLI, tar, go; "+
			"not the engine's, nor is the engine's pull counted in hoist's RSS): %s",
			rounds, samples(bt), rssSamples(bs)),
		fmt.Sprintf("(c3) the same hoist scan of a %d MiB image with the same content (%s uncompressed), %d runs: %s; peak RSS: %s",
			smallMB, mib(smallSize), rounds, samples(durations(ss)), rssSamples(ss)),
	)
	return nil
}

// scanningHoist returns bin/hoist, or, when that one predates `hoist
// scan`, a current build of ./cmd/hoist in the temporary folder.
func scanningHoist(ctx context.Context, e *env) (string, error) {
	bin := filepath.Join(e.root, "bin", "hoist")
	out, _ := exec.CommandContext(ctx, bin, "scan").CombinedOutput() // usage, exit 2
	if !strings.Contains(string(out), `unknown command "scan"`) {
		return bin, nil
	}
	tmpBin := filepath.Join(e.tmp, "hoist")
	progress("(c) bin/hoist predates `hoist scan` (make build updates it): go build -o %s ./cmd/hoist", tmpBin)
	cmd := exec.CommandContext(ctx, "go", "build", "-o", tmpBin, "./cmd/hoist")
	cmd.Dir = e.root
	if _, err := e.timed(ctx, cmd); err != nil {
		return "", err
	}
	return tmpBin, nil
}

// buildHello builds a tiny static Go program to out.
func buildHello(ctx context.Context, e *env, src, out string) error {
	if err := os.MkdirAll(src, 0o755); err != nil {
		return err
	}
	files := map[string]string{
		"go.mod":  "module hoist.invalid/bench/hello\n\ngo 1.22\n",
		"main.go": "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello from the scan benchmark\") }\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(src, name), []byte(body), 0o644); err != nil {
			return err
		}
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", out, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off", "GOTOOLCHAIN=local", "GOFLAGS=")
	_, err := e.timed(ctx, cmd)
	return err
}

// makeScanImage builds repo:v1 with the content scanners look for around
// mb MiB of random bytes, pushes it, and returns its digest and its
// uncompressed size in bytes.
func (e *env) makeScanImage(ctx context.Context, repo string, mb int, app string) (string, int64, error) {
	dir, err := os.MkdirTemp(e.tmp, "scan-image-")
	if err != nil {
		return "", 0, err
	}
	defer os.RemoveAll(dir)
	files := map[string]string{
		"Dockerfile": "FROM scratch\nCOPY base/ /\nCOPY blob /blob\nCOPY app/ /\n" +
			"LABEL RUN=\"docker run -d --privileged --name NAME IMAGE\"\nCMD [\"/usr/local/bin/hello\"]\n",
		"base/etc/os-release":      "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nID=debian\n",
		"base/var/lib/dpkg/status": dpkgStatus(scanDpkgOld, 0, "1"),
		"app/var/lib/dpkg/status":  dpkgStatus(scanDpkgInstalled, 4, "2"),
	}
	pips := [scanPip][2]string{{"requests", "2.31.0"}, {"urllib3", "2.0.7"}, {"idna", "3.6"}, {"certifi", "2023.11.17"}, {"charset-normalizer", "3.3.2"}}
	for _, p := range pips {
		files[fmt.Sprintf("base/usr/local/lib/python3.11/site-packages/%s-%s.dist-info/METADATA", strings.ReplaceAll(p[0], "-", "_"), p[1])] =
			fmt.Sprintf("Metadata-Version: 2.1\nName: %s\nVersion: %s\nSummary: a package of the scan benchmark\nLicense: MIT\n\nLong description.\n", p[0], p[1])
	}
	npms := [scanNPM][2]string{{"express", "4.18.2"}, {"lodash", "4.17.21"}, {"debug", "4.3.4"}, {"ms", "2.1.3"},
		{"body-parser", "1.20.2"}, {"cookie", "0.5.0"}, {"@babel/core", "7.23.6"}, {"@types/node", "20.10.5"}}
	for _, p := range npms {
		files["app/app/node_modules/"+p[0]+"/package.json"] =
			fmt.Sprintf("{\n  \"name\": %q,\n  \"version\": %q,\n  \"description\": \"a package of the scan benchmark\",\n  \"license\": \"MIT\",\n  \"main\": \"index.js\"\n}\n", p[0], p[1])
	}
	for name, body := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return "", 0, err
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			return "", 0, err
		}
	}
	bin, err := os.ReadFile(app)
	if err != nil {
		return "", 0, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "app/usr/local/bin"), 0o755); err != nil {
		return "", 0, err
	}
	if err := os.WriteFile(filepath.Join(dir, "app/usr/local/bin/hello"), bin, 0o755); err != nil {
		return "", 0, err
	}
	if err := randomFile(filepath.Join(dir, "blob"), int64(mb)<<20); err != nil {
		return "", 0, err
	}
	build := exec.CommandContext(ctx, "docker", "build", "--force-rm", "-t", repo+":v1", dir)
	build.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
	if _, err := e.timed(ctx, build); err != nil {
		return "", 0, err
	}
	out, err := e.output(ctx, "docker", "image", "inspect", "-f", "{{.Size}}", repo+":v1")
	if err != nil {
		return "", 0, err
	}
	size, err := strconv.ParseInt(strings.TrimSpace(out), 10, 64)
	if err != nil {
		return "", 0, fmt.Errorf("the size of %s:v1: %w", repo, err)
	}
	if _, err := e.run(ctx, "docker", "push", repo+":v1"); err != nil {
		return "", 0, err
	}
	d, err := e.client.Digest(ctx, repo+":v1")
	return d, size, err
}

// dpkgStatus writes a dpkg status file of n installed packages (versions
// ending in rev) and removed ones whose configuration files remain.
func dpkgStatus(n, removed int, rev string) string {
	var b strings.Builder
	for i := range n + removed {
		status, size := "install ok installed", 100+i*37%5000
		if i >= n {
			status = "deinstall ok config-files"
		}
		fmt.Fprintf(&b, "Package: libbench%d\nStatus: %s\nPriority: optional\nSection: libs\nInstalled-Size: %d\n"+
			"Maintainer: Hoist Bench <bench@hoist.invalid>\nArchitecture: amd64\nMulti-Arch: same\nSource: bench-src%d (1.%d-%s)\n"+
			"Version: 1.%d-%s+deb12u1\nDepends: libc6 (>= 2.34), libbench%d (>= 1.0)\n"+
			"Description: library %d of the scan benchmark\n This package exists only to be found.\n .\n It is generated.\n\n",
			i, status, size, i/3, i, rev, i, rev, (i+1)%(n+removed), i)
	}
	return b.String()
}

// recordDelivered makes data a Hoist data folder where each image (host
// included, with its tag) is recorded as delivered with its digest, for
// project NS/NAME:TAG.
func recordDelivered(ctx context.Context, data string, images map[string]string, reg string) error {
	if err := os.MkdirAll(data, 0o755); err != nil {
		return err
	}
	st, err := sqlite.Open(ctx, filepath.Join(data, "hoist.db"))
	if err != nil {
		return err
	}
	now := time.Now()
	for img, digest := range images {
		err := st.RecordImage(ctx, pipeline.DeliveredImage{Image: img, Project: strings.TrimPrefix(img, reg+"/"),
			Digest: digest, BuildID: 1, Delivered: now})
		if err != nil {
			st.Close()
			return err
		}
	}
	return st.Close()
}

// checkHoistScan checks that every scanner ran and found what was planted.
func checkHoistScan(out string) error {
	want := map[string]struct {
		status string
		has    []string
	}{
		"os-packages":       {"ok", []string{fmt.Sprintf("dpkg %d", scanDpkgInstalled)}},
		"language-packages": {"ok", []string{fmt.Sprintf("pip %d, npm %d, go binaries %d", scanPip, scanNPM, scanGoBinaries)}},
		"capabilities":      {"ok", []string{"1 finding"}},
		"updates":           {"n/a", nil},
		"cve":               {"n/a", nil},
		"sbom":              {"ok", nil},
	}
	seen := map[string]bool{}
	for _, l := range lines(out) {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		w, ok := want[f[0]]
		if !ok {
			continue
		}
		if f[1] != w.status {
			return fmt.Errorf("hoist scan: scanner %s is %q, want %q: %s\nits output:\n%s", f[0], f[1], w.status, l, tail(out, 30))
		}
		for _, h := range w.has {
			if !strings.Contains(l, h) {
				return fmt.Errorf("hoist scan: scanner %s did not find %q: %s\nits output:\n%s", f[0], h, l, tail(out, 30))
			}
		}
		seen[f[0]] = true
	}
	for name := range want {
		if !seen[name] {
			return fmt.Errorf("hoist scan: no result of scanner %s in its output:\n%s", name, tail(out, 30))
		}
	}
	if !strings.Contains(out, "scan #") || strings.Contains(out, "warning: scanner") {
		return fmt.Errorf("hoist scan did not store a clean scan; its output:\n%s", tail(out, 30))
	}
	return nil
}

// checkBaselineScan checks the inventory line of scan-baseline.sh.
func checkBaselineScan(out string) error {
	want := fmt.Sprintf("inventory: dpkg %d, pip %d, npm %d, go binaries %d", scanDpkgInstalled, scanPip, scanNPM, scanGoBinaries)
	if !strings.Contains(out, want) {
		return fmt.Errorf("scan-baseline.sh did not print %q; the end of its output:\n%s", want, tail(out, 25))
	}
	return nil
}

func withoutEnv(env []string, name string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}

func durations(ss []sample) []time.Duration {
	out := make([]time.Duration, len(ss))
	for i, s := range ss {
		out[i] = s.d
	}
	return out
}

// medianKiB is the median peak RSS, in KiB.
func medianKiB(ss []sample) int64 {
	ds := make([]time.Duration, len(ss))
	for i, s := range ss {
		ds[i] = time.Duration(s.rssKiB) // median works on any int64
	}
	return int64(median(ds))
}

func rssSamples(ss []sample) string {
	s := make([]string, len(ss))
	for i, x := range ss {
		s[i] = mib(x.rssKiB << 10)
	}
	return strings.Join(s, " ")
}

// mib formats bytes in MiB.
func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
