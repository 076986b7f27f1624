package checks_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hoistci/hoist/internal/checks"
	"github.com/hoistci/hoist/internal/checks/checktest"
	"github.com/hoistci/hoist/internal/engine"
	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/script"
	"github.com/hoistci/hoist/internal/testenv"
)

// fixture is a Suite over the real engine and an embedded registry.
type fixture struct {
	s *checks.Suite
	*checktest.Env
}

func setup(t *testing.T, opts checks.Options) *fixture {
	t.Helper()
	v := checktest.New(t)
	if opts.StayUp == 0 {
		// Longer than Hoist's 1 s: on a loaded machine the engine
		// reports a quick exit a second or more late, and "exits 1"
		// must not pass as "still running".
		opts.StayUp = 3 * time.Second
	}
	if opts.PortTimeout == 0 {
		opts.PortTimeout = 3 * time.Second
	}
	s := checks.New(checks.Deps{Engine: v.Engine, Containers: v.Engine, Layers: v.Registry, Scripts: &script.Runner{}}, opts)
	return &fixture{s: s, Env: v}
}

// image builds a Dockerfile (busybox in rootfs/ when busybox is set, files
// beside it: "*.sh" and "bin/*" executable) as the :test image in the registry, the
// way the build stage pushes it, and returns its reference.
func (f *fixture) image(t *testing.T, busybox bool, files map[string]string, lines ...string) string {
	t.Helper()
	// A label of its own first: no image of another test descends from this
	// one, so RemoveContainersOf (Docker's "ancestor" filter) on it cannot
	// remove another test's containers, nor theirs ours.
	df := fmt.Sprintf("FROM scratch\nLABEL io.hoist.fixture=%x\n", mrand.Uint64())
	if busybox {
		df += "COPY rootfs/ /\n"
	}
	df += strings.Join(lines, "\n") + "\n"
	ctxFiles := map[string]string{}
	for name, content := range files {
		if strings.HasSuffix(name, ".sh") || strings.HasPrefix(name, "bin/") {
			name += "+x"
		}
		ctxFiles[name] = content
	}
	ref, _ := f.Push(t, checktest.Image{Dockerfile: df, Busybox: busybox, Files: ctxFiles, Repo: "checks", Tag: "test"})
	return ref
}

// test runs the suite on ref and returns the results by id, and the log.
func (f *fixture) test(t *testing.T, ref string, spec pipeline.TestSpec) (map[string]pipeline.CheckResult, []pipeline.CheckResult, string) {
	t.Helper()
	spec.Image = ref
	if spec.Dir == "" {
		spec.Dir = t.TempDir()
	}
	var log bytes.Buffer
	res, err := f.s.Test(t.Context(), spec, &log)
	if err != nil {
		t.Fatalf("Test: %v\n%s", err, log.String())
	}
	out, _ := exec.Command("docker", "ps", "-aq", "--filter", "ancestor="+ref).Output()
	if len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("containers of %s left: %s", ref, out)
	}
	return byID(res), res, log.String()
}

func byID(results []pipeline.CheckResult) map[string]pipeline.CheckResult {
	m := map[string]pipeline.CheckResult{}
	for _, r := range results {
		m[r.ID] = r
	}
	return m
}

// want is an expected result: its status, whether it blocks, and what its
// detail says.
type want struct {
	status   pipeline.CheckStatus
	blocking bool
	detail   []string
}

func expect(t *testing.T, got map[string]pipeline.CheckResult, log string, wants map[string]want) {
	t.Helper()
	for id, w := range wants {
		r, ok := got[id]
		if !ok {
			t.Errorf("%s: no result\n%s", id, log)
			continue
		}
		if r.Status != w.status || r.Blocking != w.blocking {
			t.Errorf("%s: %s (blocking %v) %q; want %s (blocking %v)\n%s", id, r.Status, r.Blocking, r.Detail, w.status, w.blocking, log)
		}
		for _, d := range w.detail {
			if !strings.Contains(r.Detail, d) {
				t.Errorf("%s: detail %q lacks %q", id, r.Detail, d)
			}
		}
	}
}

func TestPredefinedChecks(t *testing.T) {
	f := setup(t, checks.Options{})
	noPorts := want{pipeline.CheckNA, false, []string{"EXPOSEs no port"}}
	tests := []struct {
		name  string
		lines []string
		wants map[string]want
	}{
		{"no command", nil, map[string]want{
			// config fails, but is advisory by default: a warning.
			"config": {pipeline.CheckWarn, false, []string{"neither CMD nor ENTRYPOINT"}},
			"starts": {pipeline.CheckNA, true, []string{"no CMD or ENTRYPOINT"}},
		}},
		{"exits 1", []string{`CMD ["sh", "-c", "echo dying; exit 1"]`}, map[string]want{
			"config": {pipeline.CheckWarn, false, []string{"runs as root (no USER)", "declares none of the descriptive labels"}},
			"starts": {pipeline.CheckFail, true, []string{"exited with status 1"}},
		}},
		{"exits 0", []string{`CMD ["true"]`}, map[string]want{
			"starts": {pipeline.CheckPass, true, []string{"exited 0"}},
			"ports":  noPorts,
		}},
		{"stays up", []string{`ENTRYPOINT ["sleep"]`, `CMD ["30"]`}, map[string]want{
			"starts": {pipeline.CheckPass, true, []string{"still running after"}},
		}},
		{"no such binary", []string{`CMD ["/nonexistent"]`}, map[string]want{
			"starts": {pipeline.CheckFail, true, []string{"did not start"}},
		}},
		{"described, not root", []string{`CMD ["true"]`, `USER 1000:0`, `LABEL org.opencontainers.image.title=demo org.opencontainers.image.source=https://x io.hoist.build=1`}, map[string]want{
			"config": {pipeline.CheckPass, false, []string{`CMD ["true"]`, `USER "1000:0"`, "org.opencontainers.image.title"}},
		}},
		{"Hoist's labels do not count, USER 0", []string{`CMD ["true"]`, `USER 0:0`, `LABEL org.opencontainers.image.source=https://x org.opencontainers.image.revision=abc org.opencontainers.image.created=now io.hoist.project=x`}, map[string]want{
			"config": {pipeline.CheckWarn, false, []string{`runs as root (USER "0:0")`, "declares none of the descriptive labels"}},
		}},
		{"cccp labels, USER root", []string{`CMD ["true"]`, `USER root`, `LABEL name=demo summary=s description=d`}, map[string]want{
			"config": {pipeline.CheckWarn, false, []string{`runs as root (USER "root")`}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ref := f.image(t, true, nil, tt.lines...)
			got, res, log := f.test(t, ref, pipeline.TestSpec{})
			expect(t, got, log, tt.wants)
			if tt.name == "cccp labels, USER root" && strings.Contains(got["config"].Detail, "labels") {
				t.Errorf("config: cccp labels not counted: %q", got["config"].Detail)
			}
			if got[checks.UserScriptID].Status != pipeline.CheckNA {
				t.Errorf("test-script: %+v, want n/a without cccp.yml", got[checks.UserScriptID])
			}
			if len(res) != len(checks.IDs())+1 {
				t.Errorf("%d results, want one per check and the test-script: %+v", len(res), res)
			}
			for _, r := range res {
				if r.Description == "" || (r.Group != pipeline.GroupCheck && r.ID != checks.UserScriptID) || r.Duration <= 0 {
					t.Errorf("result %+v lacks its description, group or duration", r)
				}
				if r.Status == pipeline.CheckFail && !r.Blocking {
					t.Errorf("%s: an advisory failure must show as a warning", r.ID)
				}
			}
			if !slices.ContainsFunc(res, pipeline.CheckResult.Failed) != (got["starts"].Status != pipeline.CheckFail) {
				t.Errorf("the blocking failures of %v disagree with the statuses", res)
			}
		})
	}
}

// pemBlock encodes der as a PEM block of typ.
func pemBlock(typ string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

func TestSecrets(t *testing.T) {
	f := setup(t, checks.Options{})
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(edKey)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalECPrivateKey(ecKey)
	pub, _ := x509.MarshalPKIXPublicKey(ecKey.Public())
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "demo"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	cert, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, ecKey.Public(), ecKey)
	akid := "AKIA" + strings.ToUpper(fmt.Sprintf("%016x", mrand.Uint64()))[:16]

	files := map[string]string{
		// Fire:
		"id_key":     pemBlock("PRIVATE KEY", pkcs8),
		"ec.pem":     pemBlock("EC PRIVATE KEY", ecDER),
		"config.ini": "[default]\nregion = eu-west-1\naws_access_key_id = " + akid + "\n",
		".env":       "DB_PASSWORD=hunter2\n",
		"sa.json":    `{"type": "service_account", "project_id": "demo", "private_key_id": "abc", "private_key": "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n", "client_email": "x@demo.iam.gserviceaccount.com"}`,
		"azure.txt":  "conn=DefaultEndpointsProtocol=https;AccountName=demoacct;AccountKey=" + strings.Repeat("aB3+", 21) + "ab==;EndpointSuffix=core.windows.net\n",
		// Must not fire:
		"public.pem":   pemBlock("PUBLIC KEY", pub),
		"cert.pem":     pemBlock("CERTIFICATE", cert),
		"id_key.pub":   "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl demo@host\n",
		"docs.md":      "Set aws_access_key_id = AKIAIOSFODNN7EXAMPLE in your config.\n",
		"pem.go":       "package pem\n\nconst marker = \"-----BEGIN RSA PRIVATE KEY-----\"\n",
		".env.example": "DB_PASSWORD=changeme\n",
		"blob.bin":     "\x00\x01binary\n" + pemBlock("PRIVATE KEY", pkcs8),
		"azurite.txt":  "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;\n",
		"empty/.env":   "",
	}
	ref := f.image(t, true, files,
		`COPY id_key /root/.ssh/id_key`,   // layer 1
		`RUN rm /root/.ssh/id_key`,        // layer 2: deleted, still in layer 1
		`COPY ec.pem /app/ec.pem`,         // layer 3
		`RUN echo replaced > /app/ec.pem`, // layer 4: replaced
		`COPY config.ini .env sa.json azure.txt public.pem cert.pem id_key.pub docs.md pem.go .env.example blob.bin azurite.txt /app/`,
		`COPY empty/.env /app/empty/.env`,
		`CMD ["true"]`)
	got, _, log := f.test(t, ref, pipeline.TestSpec{})
	r := got["secrets"]
	wantLines := []string{
		"/root/.ssh/id_key:1: private key (in layer 1, deleted in layer 2: still in the image's history)",
		"/app/ec.pem:1: private key (in layer 3, replaced in layer 4: still in the image's history)",
		"/app/config.ini:3: AWS access key id (in layer 5)",
		"/app/.env: a .env file (in layer 5)",
		"/app/sa.json:1: GCP service-account key (in layer 5)",
		"/app/azure.txt:1: Azure storage connection string (in layer 5)",
	}
	if r.Status != pipeline.CheckFail || !r.Blocking {
		t.Errorf("secrets: %s blocking %v, want a blocking failure\n%s", r.Status, r.Blocking, log)
	}
	findings := strings.Split(r.Output, "\n")
	for _, w := range wantLines {
		if !strings.Contains(r.Detail, w) {
			t.Errorf("secrets: detail lacks %q", w)
		}
	}
	if len(findings) != len(wantLines) {
		t.Errorf("secrets found %d things, want %d:\n%s", len(findings), len(wantLines), r.Output)
	}
	if !strings.Contains(r.Detail, "multi-stage build") {
		t.Errorf("secrets: detail %q does not say how to fix it", r.Detail)
	}
	// Nothing else fires on these files.
	expect(t, got, log, map[string]want{
		"starts":                  {pipeline.CheckPass, true, nil},
		"no-hard-coded-passwords": {pipeline.CheckNA, true, []string{"no /etc/passwd"}},
		"override-cmd":            {pipeline.CheckPass, false, []string{"has no ENTRYPOINT", "PATH finds /bin/echo"}},
	})

	// The same harmless files alone pass.
	clean := f.image(t, true, files, `COPY public.pem cert.pem id_key.pub docs.md pem.go .env.example blob.bin azurite.txt /app/`, `CMD ["true"]`)
	got, _, log = f.test(t, clean, pipeline.TestSpec{})
	expect(t, got, log, map[string]want{"secrets": {pipeline.CheckPass, true, []string{"no private key"}}})
}

func TestPasswords(t *testing.T) {
	f := setup(t, checks.Options{})
	const hash = "$6$rounds=5000$saltsalt$Zf8s8VvUAYeQ6aQW3V6pYwG0p1Q4j3d8l0hQ2m8r9wzH5JZbq0ZBfD2yS5d5L5Y0W1xL8hQKfL7o1ZtqO5r0A/"
	passwd := "root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\napp:x:1000:1000::/home/app:/bin/sh\n"
	tests := []struct {
		name           string
		passwd, shadow string
		want           want
	}{
		{"empty in shadow", passwd, "root::19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\napp:" + hash + ":19000:0:99999:7:::\n",
			want{pipeline.CheckFail, true, []string{`/etc/shadow:1: uid-0 account "root" has an empty password`}}},
		{"hash in shadow", passwd, "daemon:*:19000:0:99999:7:::\nroot:" + hash + ":19000:0:99999:7:::\n",
			want{pipeline.CheckFail, true, []string{`/etc/shadow:2: uid-0 account "root" has a hard-coded password hash`}}},
		{"hash in passwd", "root:" + hash + ":0:0:root:/root:/bin/sh\n", "",
			want{pipeline.CheckFail, true, []string{`/etc/passwd:1: uid-0 account "root" has a hard-coded password hash`}}},
		{"second uid 0, empty in passwd", passwd + "toor::0:0::/root:/bin/sh\n", "root:*:19000:0:99999:7:::\n",
			want{pipeline.CheckFail, true, []string{`/etc/passwd:4: uid-0 account "toor" has an empty password`}}},
		{"locked", passwd, "root:!:19000:0:99999:7:::\napp:" + hash + ":19000:0:99999:7:::\n",
			want{pipeline.CheckPass, true, []string{`root (locked "!" in /etc/shadow:1)`}}},
		{"locked hash", passwd, "root:!" + hash + ":19000::::::\n",
			want{pipeline.CheckPass, true, []string{"root (locked"}}},
		{"star, no shadow entry", "root:*:0:0:root:/root:/bin/sh\n", "",
			want{pipeline.CheckPass, true, []string{`locked "*" in /etc/passwd:1`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{"etc/passwd": tt.passwd}
			lines := []string{"COPY etc/passwd /etc/passwd"}
			if tt.shadow != "" {
				files["etc/shadow"] = tt.shadow
				lines = append(lines, "COPY etc/shadow /etc/shadow")
			}
			ref := f.image(t, false, files, lines...)
			got, _, log := f.test(t, ref, pipeline.TestSpec{})
			expect(t, got, log, map[string]want{"no-hard-coded-passwords": tt.want})
			if n := strings.Count(got["no-hard-coded-passwords"].Detail, "uid-0 account"); tt.want.status == pipeline.CheckFail && n != 1 {
				t.Errorf("%d problems reported, want 1: %q", n, got["no-hard-coded-passwords"].Detail)
			}
		})
	}
}

// TestScratch: an image with no shell, whose CMD is a static binary.
func TestScratch(t *testing.T) {
	f := setup(t, checks.Options{})
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		testenv.Missing(t, "no static busybox at /bin/busybox")
	}
	for _, tt := range []struct {
		cmd    string
		starts want
	}{
		{"true", want{pipeline.CheckPass, true, []string{"exited 0"}}},
		{"false", want{pipeline.CheckFail, true, []string{"exited with status 1"}}},
	} {
		t.Run(tt.cmd, func(t *testing.T) {
			ref := f.image(t, false, map[string]string{"bin/" + tt.cmd: string(bb)}, "COPY bin/ /bin/", `CMD ["/bin/`+tt.cmd+`"]`)
			got, _, log := f.test(t, ref, pipeline.TestSpec{})
			expect(t, got, log, map[string]want{
				"starts":                  tt.starts,
				"config":                  {pipeline.CheckWarn, false, []string{"runs as root"}},
				"override-cmd":            {pipeline.CheckNA, false, []string{"no /bin/sh"}},
				"no-hard-coded-passwords": {pipeline.CheckNA, true, nil},
				"secrets":                 {pipeline.CheckPass, true, nil},
				"ports":                   {pipeline.CheckNA, false, nil},
				"size":                    {pipeline.CheckPass, false, []string{"MB for a budget of 1073.7 MB (the server's default)"}},
			})
		})
	}
}

func TestPorts(t *testing.T) {
	f := setup(t, checks.Options{PortTimeout: 3 * time.Second})
	tests := []struct {
		name  string
		lines []string
		want  want
	}{
		{"listens", []string{`EXPOSE 8080`, `CMD ["httpd", "-f", "-p", "8080"]`},
			want{pipeline.CheckPass, false, []string{"8080/tcp (after"}}},
		{"never listens", []string{`EXPOSE 8080 9090/tcp`, `CMD ["httpd", "-f", "-p", "8080"]`},
			// advisory by default: the failure is a warning
			want{pipeline.CheckWarn, false, []string{"9090/tcp did not accept a connection within 3s"}}},
		{"exits first", []string{`EXPOSE 8080`, `CMD ["sh", "-c", "echo going away; exit 3"]`},
			want{pipeline.CheckWarn, false, []string{"exited with status 3 before 8080/tcp accepted a connection", "going away"}}},
		{"udp only", []string{`EXPOSE 53/udp`, `CMD ["sleep", "30"]`},
			want{pipeline.CheckNA, false, []string{"53/udp"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ref := f.image(t, true, nil, tt.lines...)
			got, _, log := f.test(t, ref, pipeline.TestSpec{})
			expect(t, got, log, map[string]want{"ports": tt.want})
			if tt.name == "never listens" && strings.Contains(got["ports"].Detail, "8080/tcp did not") {
				t.Errorf("ports: 8080 listens but is reported: %q", got["ports"].Detail)
			}
		})
	}
}

func TestOverrideCmd(t *testing.T) {
	f := setup(t, checks.Options{})
	tests := []struct {
		name  string
		files map[string]string
		lines []string
		want  want
	}{
		// Without an ENTRYPOINT, from the layers when PATH finds an echo
		// the USER may run; otherwise the command runs, as below.
		{"CMD replaced", nil, []string{`CMD ["sleep", "300"]`}, want{pipeline.CheckPass, false, []string{`runs "echo" itself, and PATH finds /bin/echo, which USER "" may run (read from the layers, not run)`}}},
		{"USER by number", nil, []string{`USER 65534:65534`, `CMD ["sleep", "300"]`}, want{pipeline.CheckPass, false, []string{`USER "65534:65534" may run (read from the layers`}}},
		{"no echo on PATH", nil, []string{`ENV PATH=/nowhere`, `CMD ["/bin/sleep", "300"]`},
			want{pipeline.CheckWarn, false, []string{"docker run --network none", "the container did not start", "echo"}}},
		// Beside the running command (an exec), or in a container of
		// its own when the image's command has ended or the ENTRYPOINT
		// must be the first process.
		{"entrypoint execs its arguments", map[string]string{"entry.sh": "#!/bin/sh\necho starting\nexec \"$@\"\n"},
			[]string{`COPY entry.sh /entry.sh`, `ENTRYPOINT ["/entry.sh"]`, `CMD ["sleep", "300"]`}, want{pipeline.CheckPass, false, []string{"beside the image's own command"}}},
		{"entrypoint ends at once", map[string]string{"entry.sh": "#!/bin/sh\nexec \"$@\"\n"},
			[]string{`COPY entry.sh /entry.sh`, `ENTRYPOINT ["/entry.sh"]`, `CMD ["true"]`}, want{pipeline.CheckPass, false, []string{"echo printed its argument"}}},
		{"entrypoint must be the first process", map[string]string{"entry.sh": "#!/bin/sh\n[ $$ = 1 ] || { echo \"not the first process\" >&2; exit 1; }\nexec \"$@\"\n"},
			[]string{`COPY entry.sh /entry.sh`, `ENTRYPOINT ["/entry.sh"]`, `CMD ["sleep", "300"]`}, want{pipeline.CheckPass, false, []string{"echo printed its argument"}}},
		{"entrypoint swallows the command", nil, []string{`ENTRYPOINT ["sh", "-c", "echo swallowed"]`},
			want{pipeline.CheckWarn, false, []string{`the ENTRYPOINT ["sh" "-c" "echo swallowed"] does not run a replaced command`, "it exited 0"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ref := f.image(t, true, tt.files, tt.lines...)
			got, _, log := f.test(t, ref, pipeline.TestSpec{})
			expect(t, got, log, map[string]want{"override-cmd": tt.want})
			// (A command that ends at once may still run when the exec
			// comes: either way is right.)
			if beside := strings.Contains(got["override-cmd"].Detail, "beside"); tt.name == "entrypoint must be the first process" && beside {
				t.Errorf("override-cmd: %q; want it decided by a container of its own", got["override-cmd"].Detail)
			}
		})
	}
}

func TestSize(t *testing.T) {
	// busybox is about 1 MB compressed, as the registry stores it.
	f := setup(t, checks.Options{SizeBudget: 500_000})
	ref := f.image(t, true, nil, `CMD ["true"]`)
	got, _, log := f.test(t, ref, pipeline.TestSpec{})
	expect(t, got, log, map[string]want{"size": {pipeline.CheckWarn, false, []string{"MB for a budget of 0.5 MB (the server's default) (the size of its compressed layers in the registry)", "make it smaller"}}})
	got, _, log = f.test(t, ref, pipeline.TestSpec{HasRepo: true, Config: pipeline.RepoConfig{File: "cccp.yml", SizeBudget: 50_000_000}})
	expect(t, got, log, map[string]want{"size": {pipeline.CheckPass, false, []string{"for a budget of 50.0 MB (cccp.yml size-budget)"}}})
}

// TestConfigFromTheRegistry: the checks read the image's configuration from
// the registry by its reference, so an image the engine does not hold is
// checked too (an executor without a local image store).
func TestConfigFromTheRegistry(t *testing.T) {
	f := setup(t, checks.Options{})
	ref := f.image(t, true, nil, `USER 1000`, `EXPOSE 8080`, `LABEL org.opencontainers.image.title=t`, `CMD ["sleep", "30"]`)
	f.Remove(ref)
	off := pipeline.Policies{"starts": pipeline.PolicyExclude, "ports": pipeline.PolicyExclude, "override-cmd": pipeline.PolicyExclude}
	got, _, log := f.test(t, ref, pipeline.TestSpec{HasRepo: true, Config: pipeline.RepoConfig{File: "cccp.yml", Checks: off}})
	expect(t, got, log, map[string]want{
		"config": {pipeline.CheckPass, false, []string{`CMD ["sleep" "30"]; USER "1000"; labels org.opencontainers.image.title`}},
		"size":   {pipeline.CheckPass, false, []string{"(the size of its compressed layers in the registry)"}},
	})
}

func TestPolicies(t *testing.T) {
	f := setup(t, checks.Options{})
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "fail.sh"), []byte("#!/bin/sh\nexit 1\n"), 0o755)
	ref := f.image(t, true, map[string]string{"key.pem": pemBlock("PRIVATE KEY", der)},
		`COPY key.pem /key.pem`, `EXPOSE 8080`, `ENTRYPOINT ["sh", "-c", "echo swallowed; sleep 300"]`)
	cfg := func(p pipeline.Policies) pipeline.RepoConfig {
		return pipeline.RepoConfig{File: "cccp.yml", TestScript: "fail.sh", Checks: p}
	}
	tests := []struct {
		name     string
		policies pipeline.Policies
		wants    map[string]want
		absent   []string
	}{
		{"defaults", nil, map[string]want{
			"secrets":           {pipeline.CheckFail, true, []string{"/key.pem:1: private key"}},
			"override-cmd":      {pipeline.CheckWarn, false, nil},
			"ports":             {pipeline.CheckWarn, false, nil},
			checks.UserScriptID: {pipeline.CheckFail, true, nil},
		}, nil},
		{"project policies", pipeline.Policies{
			"secrets": pipeline.PolicyAdvisory, "override-cmd": pipeline.PolicyBlocking,
			"ports": pipeline.PolicyExclude, "size": pipeline.PolicyExclude, "test-script": pipeline.PolicyAdvisory,
		}, map[string]want{
			"secrets":           {pipeline.CheckWarn, false, nil},
			"override-cmd":      {pipeline.CheckFail, true, []string{"does not run a replaced command"}},
			"config":            {pipeline.CheckWarn, false, nil},
			checks.UserScriptID: {pipeline.CheckWarn, false, nil},
		}, []string{"ports", "size"}},
		{"a whole group", pipeline.Policies{"check": pipeline.PolicyExclude}, map[string]want{
			checks.UserScriptID: {pipeline.CheckFail, true, nil},
		}, checks.IDs()},
		{"group blocking, one advisory", pipeline.Policies{"check": pipeline.PolicyBlocking, "secrets": pipeline.PolicyAdvisory, "test-script": pipeline.PolicyExclude}, map[string]want{
			"ports":        {pipeline.CheckFail, true, nil},
			"override-cmd": {pipeline.CheckFail, true, nil},
			"secrets":      {pipeline.CheckWarn, false, nil},
		}, []string{checks.UserScriptID}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, res, log := f.test(t, ref, pipeline.TestSpec{Dir: dir, HasRepo: true, Config: cfg(tt.policies)})
			expect(t, got, log, tt.wants)
			for _, id := range tt.absent {
				if _, ok := got[id]; ok {
					t.Errorf("%s: excluded, but has a result", id)
				}
				if !strings.Contains(log, "--- check "+id+": excluded by cccp.yml") && id != checks.UserScriptID {
					t.Errorf("%s: the log does not say it was excluded", id)
				}
				if strings.Contains(log, "--- check "+id+": the") || strings.Contains(log, "check: "+id) {
					t.Errorf("%s: excluded, but ran:\n%s", id, log)
				}
			}
			if len(res) != len(got) {
				t.Errorf("duplicate results: %+v", res)
			}
		})
	}
}

func TestUserScript(t *testing.T) {
	f := setup(t, checks.Options{})
	ref := f.image(t, true, nil, `CMD ["true"]`)
	dir := t.TempDir()
	scripts := map[string]string{
		"pass.sh": "#!/bin/sh\necho \"image=$IMAGE container=$CONTAINER_NAME project=$HOIST_PROJECT commit=$HOIST_COMMIT\"\n",
		"fail.sh": "#!/bin/sh\necho checking; exit 2\n",
		// Leaves a container running: the suite must remove it.
		"leave.sh": "#!/bin/sh\ndocker run -d \"$IMAGE\" sleep 300\n",
	}
	for name, body := range scripts {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	project := pipeline.Project{AppID: "demo", JobID: "app", Tag: "latest"}
	tests := []struct {
		name   string
		cfg    pipeline.RepoConfig
		status pipeline.CheckStatus
		want   string
	}{
		{"passes", pipeline.RepoConfig{File: "cccp.yml", TestScript: "pass.sh"}, pipeline.CheckPass, "image=" + ref + " container=" + ref + " project=demo/app:latest commit=abc123"},
		{"fails", pipeline.RepoConfig{File: "cccp.yml", TestScript: "fail.sh"}, pipeline.CheckFail, "exited with status 2"},
		{"skipped", pipeline.RepoConfig{File: "cccp.yml", TestScript: "fail.sh", TestSkip: true}, pipeline.CheckNA, "test-skip is true"},
		{"missing", pipeline.RepoConfig{File: "cccp.yml", TestScript: "nope.sh"}, pipeline.CheckFail, "not found"},
		{"escapes", pipeline.RepoConfig{File: "cccp.yml", TestScript: "../../etc/passwd"}, pipeline.CheckFail, "outside"},
		{"leaves a container", pipeline.RepoConfig{File: "cccp.yml", TestScript: "leave.sh"}, pipeline.CheckPass, "removed 1 container(s) left by the tests"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, log := f.test(t, ref, pipeline.TestSpec{Dir: dir, Config: tt.cfg, HasRepo: true, Project: project, Commit: "abc123"})
			r := got[checks.UserScriptID]
			if r.Status != tt.status || !strings.Contains(r.Detail+log, tt.want) || r.Group != pipeline.GroupTestScript {
				t.Errorf("got %s %q (group %q), want %s containing %q\n%s", r.Status, r.Detail, r.Group, tt.status, tt.want, log)
			}
		})
	}
}

// brokenLayers is a registry whose layers cannot be read.
type brokenLayers struct{ pipeline.LayerReader }

func (brokenLayers) ReadLayers(context.Context, string, func(int, string, io.Reader) error) error {
	return errors.New("blob unknown")
}

// TestNoRegistry: when the image's files cannot be read, the file checks
// fail (they cannot vouch for the image) and say why; the others run. An
// image the registry does not have cannot be tested at all, and Test says
// so.
func TestNoRegistry(t *testing.T) {
	f := setup(t, checks.Options{})
	ref := f.image(t, true, nil, `CMD ["true"]`)
	s := checks.New(checks.Deps{Engine: f.Engine, Containers: f.Engine, Layers: brokenLayers{f.Registry}, Scripts: &script.Runner{}}, checks.Options{StayUp: time.Second})
	var log bytes.Buffer
	res, err := s.Test(t.Context(), pipeline.TestSpec{Image: ref, Dir: t.TempDir()}, &log)
	if err != nil {
		t.Fatalf("Test: %v\n%s", err, log.String())
	}
	expect(t, byID(res), log.String(), map[string]want{
		"starts":  {pipeline.CheckPass, true, nil},
		"secrets": {pipeline.CheckFail, true, []string{"could not read the image's files from the registry: blob unknown"}},
	})

	// A local tag the registry does not have.
	local := fmt.Sprintf("%s/checks/missing%x:test", f.Host, mrand.Uint64())
	if err := exec.Command("docker", "tag", ref, local).Run(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", local).Run() })
	log.Reset()
	if _, err := f.s.Test(t.Context(), pipeline.TestSpec{Image: local, Dir: t.TempDir()}, &log); err == nil || !strings.Contains(err.Error(), "reading the configuration of "+local+" from the registry") {
		t.Errorf("Test of an image the registry lacks: %v; want it to say the registry has no configuration\n%s", err, log.String())
	}
}

// TestUserTestFormats: the structure tests and the autotest beside the
// target file run through the Suite, after the test-script, with the
// project's policies applied to their results too.
func TestUserTestFormats(t *testing.T) {
	f := setup(t, checks.Options{})
	ref := f.image(t, true, nil, `ENV GREETING=hello`, `CMD ["sleep", "300"]`)
	dir := t.TempDir()
	files := map[string]string{
		"image.cst.yaml": `schemaVersion: 2.0.0
fileExistenceTests:
  - name: shell
    path: /bin/sh
    shouldExist: true
  - name: no passwd
    path: /etc/passwd
    shouldExist: true
metadataTest:
  envVars:
    - key: GREETING
      value: hello
`,
		"docker-compose.test.yml": `services:
  sut:
    image: ${IMAGE_NAME}
    command: ["sh", "-c", "echo from sut; test \"$$GREETING\" = hello"]
`,
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	spec := pipeline.TestSpec{Dir: dir, RepoRoot: dir, TargetFile: filepath.Join(dir, "Dockerfile"), ContextDir: dir, Project: pipeline.Project{AppID: "demo", JobID: "app", Tag: "latest"}}

	got, res, log := f.test(t, ref, spec)
	expect(t, got, log, map[string]want{
		"structure-test/image.cst.yaml/shell":     {pipeline.CheckPass, true, nil},
		"structure-test/image.cst.yaml/no passwd": {pipeline.CheckFail, true, nil},
		"autotest": {pipeline.CheckPass, true, []string{"sut exited 0"}},
	})
	if n := len(res) - len(checks.IDs()) - 1; n != 4 {
		t.Errorf("%d results from the user test files, want 3 structure tests and the autotest: %+v", n, res)
	}
	if !strings.Contains(log, "from sut") {
		t.Errorf("the sut's output is not in the log:\n%s", log)
	}

	// Policies: the structure tests advisory, the autotest excluded.
	spec.HasRepo = true
	spec.Config = pipeline.RepoConfig{File: "cccp.yml", Checks: pipeline.Policies{"structure-test": pipeline.PolicyAdvisory, "autotest": pipeline.PolicyExclude}}
	got, _, log = f.test(t, ref, spec)
	expect(t, got, log, map[string]want{
		"structure-test/image.cst.yaml/no passwd": {pipeline.CheckWarn, false, nil},
	})
	if _, ok := got["autotest"]; ok || strings.Contains(log, "from sut") {
		t.Errorf("the excluded autotest ran:\n%s", log)
	}
}

func TestEnvHidesCredentials(t *testing.T) {
	env := checks.Env(pipeline.TestSpec{Project: pipeline.Project{AppID: "a", JobID: "b", Tag: "latest",
		GitURL: "https://bot:s3cret@example.com/x.git"}})
	if !slices.Contains(env, "HOIST_GIT_URL=https://bot:***@example.com/x.git") {
		t.Errorf("Env = %q", env)
	}
}

// TestOneContainerUnderTest: "starts", "ports" and a sandboxed
// test-script share one container of the image under test (its own
// command runs once: it prints a random id and serves it, and the script
// fetches the same id on $TARGET_HOST), the script runs while "starts"
// watches it, whose window lasts until the script is done, and the log
// still reads check by check: the test-script after the others, and
// "starts", whose window spans them all, last.
func TestOneContainerUnderTest(t *testing.T) {
	v := checktest.New(t)
	s := checks.New(checks.Deps{Engine: v.Engine, Containers: v.Engine, Layers: v.Registry,
		Scripts: &script.Runner{}, Sandbox: &engine.Sandbox{Engine: v.Engine}}, checks.Options{StayUp: time.Second, PortTimeout: 10 * time.Second})
	serve := `id=$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \\n'); mkdir -p /w; echo "$id" > /w/id; echo "serving $id"; exec httpd -f -p 8080 -h /w`
	ref, _ := v.Push(t, checktest.Image{Busybox: true, Repo: "checks", Tag: "test",
		Dockerfile: fmt.Sprintf("FROM scratch\nLABEL io.hoist.fixture=%x\nCOPY rootfs/ /\nEXPOSE 8080\nCMD [\"sh\", \"-c\", %q]\n", mrand.Uint64(), serve)})
	tester, _ := v.Push(t, checktest.Image{Busybox: true, Repo: "tester", Tag: "1", Dockerfile: "FROM scratch\nCOPY rootfs/ /\n"})
	root := t.TempDir()
	script := `#!/bin/sh
for i in $(seq 1 100); do
  if id=$(wget -qO- "http://$TARGET_HOST:8080/id"); then
    echo "the script fetched $id"
    sleep 2
    exit 0
  fi
  sleep 0.1
done
echo "the image under test never answered" >&2
exit 1
`
	if err := os.WriteFile(filepath.Join(root, "beside.sh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	buf := &seenAt{marker: "the script fetched"}
	res, err := s.Test(t.Context(), pipeline.TestSpec{Image: ref, Dir: root, RepoRoot: root, HasRepo: true, Sandboxed: true,
		Project: pipeline.Project{AppID: "demo", JobID: "app", Tag: "latest"},
		Config:  pipeline.RepoConfig{File: "cccp.yml", TestScript: "beside.sh", TestImage: pipeline.ScriptImage{Ref: tester}}}, buf)
	ended := time.Now()
	log := buf.String()
	if err != nil {
		t.Fatalf("Test: %v\n%s", err, log)
	}
	// The script sleeps 2 s after its line: the line was in the log (live)
	// while "starts" still watched, not held until its window ended.
	if buf.at.IsZero() || ended.Sub(buf.at) < time.Second {
		t.Errorf("the test-script's output reached the log %v before the test stage ended, want it live (about 2 s before)", ended.Sub(buf.at))
	}
	expect(t, byID(res), log, map[string]want{
		"starts":            {pipeline.CheckPass, true, []string{"still running after", "the other checks and the test-script ran meanwhile"}},
		"ports":             {pipeline.CheckPass, false, []string{"8080/tcp"}},
		checks.UserScriptID: {pipeline.CheckPass, true, nil},
	})
	if n := strings.Count(log, "serving "); n != 1 {
		t.Fatalf("the image's own command ran %d times, want once (one container for starts, ports and the test-script):\n%s", n, log)
	}
	served := strings.Fields(log[strings.Index(log, "serving ")+len("serving "):])[0]
	if !strings.Contains(log, "the script fetched "+served) {
		t.Errorf("the test-script did not reach the container starts watched (id %s):\n%s", served, log)
	}
	order := []string{"--- check config:", "--- check ports:", "--- check size:", "--- test-script beside.sh", "the script fetched", "--- PASS test-script", "--- check starts:", "serving ", "--- PASS starts"}
	at := 0
	for _, s := range order {
		i := strings.Index(log[at:], s)
		if i < 0 {
			t.Fatalf("the log lacks %q after byte %d, or has it out of order:\n%s", s, at, log)
		}
		at += i
	}
	out, _ := exec.Command("docker", "ps", "-aq", "--filter", "ancestor="+ref).Output()
	if len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("containers of %s left: %s", ref, out)
	}
}

// TestStartsWatchesWhileTheTestScriptRuns: the "starts" window lasts while
// the test-script runs, so a container that dies after StayUp, but before
// the tests are done, fails it.
func TestStartsWatchesWhileTheTestScriptRuns(t *testing.T) {
	f := setup(t, checks.Options{StayUp: time.Second})
	ref := f.image(t, true, nil, `CMD ["sh", "-c", "echo up; sleep 2; echo dying; exit 3"]`)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "slow.sh"), []byte("#!/bin/sh\nsleep 10\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	got, _, log := f.test(t, ref, pipeline.TestSpec{Dir: dir, HasRepo: true,
		Config: pipeline.RepoConfig{File: "cccp.yml", TestScript: "slow.sh"}})
	expect(t, got, log, map[string]want{
		"starts":            {pipeline.CheckFail, true, []string{"exited with status 3 after ", "while the other checks or the test-script ran"}},
		checks.UserScriptID: {pipeline.CheckPass, true, nil},
	})
	if !strings.Contains(got["starts"].Output, "dying") {
		t.Errorf("starts' output lacks what the container wrote: %q", got["starts"].Output)
	}
}

// seenAt is a log that notes when marker first reached it.
type seenAt struct {
	bytes.Buffer
	marker string
	at     time.Time
}

func (w *seenAt) Write(p []byte) (int, error) {
	n, err := w.Buffer.Write(p)
	if w.at.IsZero() && strings.Contains(w.Buffer.String(), w.marker) {
		w.at = time.Now()
	}
	return n, err
}

// TestScriptsBesideRunsATrustedScriptBesideTheImage: with ScriptsBeside
// (the Kubernetes executor's setting) a trusted project's test-script
// runs beside the image under test, not on the host: it reaches the image
// on $TARGET_HOST and does not see the host's files.
func TestScriptsBesideRunsATrustedScriptBesideTheImage(t *testing.T) {
	v := checktest.New(t)
	s := checks.New(checks.Deps{Engine: v.Engine, Containers: v.Engine, Layers: v.Registry,
		Scripts: &script.Runner{}, Sandbox: &engine.Sandbox{Engine: v.Engine}}, checks.Options{StayUp: time.Second, PortTimeout: 10 * time.Second, ScriptsBeside: true})
	ref, _ := v.Push(t, checktest.Image{Busybox: true, Repo: "beside", Tag: "test",
		Dockerfile: fmt.Sprintf("FROM scratch\nLABEL io.hoist.fixture=%x\nCOPY rootfs/ /\nEXPOSE 8080\nCMD [\"sh\", \"-c\", \"mkdir -p /w; echo beside > /w/index.html; exec httpd -f -p 8080 -h /w\"]\n", mrand.Uint64())})
	root := t.TempDir()
	marker := filepath.Join(t.TempDir(), "host-only")
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\n[ -e " + marker + " ] && echo ON-THE-HOST\nfor i in $(seq 1 100); do\n  if page=$(wget -qO- \"http://$TARGET_HOST:8080/\"); then echo \"got $page\"; exit 0; fi\n  sleep 0.1\ndone\nexit 1\n"
	if err := os.WriteFile(filepath.Join(root, "t.sh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	res, err := s.Test(t.Context(), pipeline.TestSpec{Image: ref, Dir: root, RepoRoot: root, HasRepo: true, Sandboxed: false,
		Project: pipeline.Project{AppID: "demo", JobID: "beside", Tag: "latest"},
		Config:  pipeline.RepoConfig{File: "cccp.yml", TestScript: "t.sh"}}, &log)
	if err != nil {
		t.Fatalf("Test: %v\n%s", err, log.String())
	}
	expect(t, byID(res), log.String(), map[string]want{checks.UserScriptID: {pipeline.CheckPass, true, nil}})
	if strings.Contains(log.String(), "ON-THE-HOST") || !strings.Contains(log.String(), "got beside") || !strings.Contains(log.String(), "beside it, as every test-script on this executor") {
		t.Errorf("the trusted test-script did not run beside the image:\n%s", log.String())
	}
}

// TestDeferHandsOverTheContainerUnderTest: with TestSpec.Defer, Test
// returns with the container the checks shared still there and hands its
// removal over; what a test-script left is removed before Test returns,
// as without Defer.
func TestDeferHandsOverTheContainerUnderTest(t *testing.T) {
	f := setup(t, checks.Options{StayUp: time.Second})
	ref := f.image(t, true, nil, `CMD ["sleep", "600"]`)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "leave.sh"), []byte("#!/bin/sh\nset -e\ndocker run -d \"$IMAGE\" sleep 600 >/dev/null\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	left := func() []string {
		t.Helper()
		out, err := exec.Command("docker", "ps", "-aq", "--no-trunc", "--filter", "ancestor="+ref, "--filter", "label=io.hoist.check=starts").Output()
		if err != nil {
			t.Fatal(err)
		}
		all, err := exec.Command("docker", "ps", "-aq", "--no-trunc", "--filter", "ancestor="+ref).Output()
		if err != nil {
			t.Fatal(err)
		}
		if a, s := strings.Fields(string(all)), strings.Fields(string(out)); len(a) != len(s) {
			t.Errorf("containers of %s other than the checks' are left: %v (the checks': %v)", ref, a, s)
		}
		return strings.Fields(string(out))
	}
	var remove func(context.Context) error
	var log bytes.Buffer
	res, err := f.s.Test(t.Context(), pipeline.TestSpec{Image: ref, Dir: dir, HasRepo: true,
		Config: pipeline.RepoConfig{File: "cccp.yml", TestScript: "leave.sh"},
		Defer:  func(fn func(context.Context) error) { remove = fn }}, &log)
	if err != nil {
		t.Fatalf("Test: %v\n%s", err, log.String())
	}
	expect(t, byID(res), log.String(), map[string]want{
		"starts":            {pipeline.CheckPass, true, nil},
		checks.UserScriptID: {pipeline.CheckPass, true, nil},
	})
	if !strings.Contains(log.String(), "removed 1 container(s) left by the tests") {
		t.Errorf("the container the test-script left was not removed by Test:\n%s", log.String())
	}
	if remove == nil {
		t.Fatal("Test handed no removal to Defer")
	}
	if ids := left(); len(ids) != 1 {
		t.Errorf("after Test, the checks' containers are %v; want the one handed over", ids)
	}
	if err := remove(t.Context()); err != nil {
		t.Fatalf("the removal handed over: %v", err)
	}
	if ids := left(); len(ids) != 0 {
		t.Errorf("the removal handed over left %v", ids)
	}
}
