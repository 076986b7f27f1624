package autotest

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hoistci/hoist/internal/pipeline"
)

// writeTree writes name → content files under dir.
func writeTree(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// loadSpec is a Spec for a checkout at repo whose project builds
// app/Dockerfile with context app/, with the compose file app/<name>.
func loadSpec(repo, name string) Spec {
	return Spec{
		File:       filepath.Join(repo, "app", name),
		Image:      "127.0.0.1:5000/hoisttest/app:test",
		Project:    pipeline.Project{AppID: "hoisttest", JobID: "app", Tag: "latest", GitBranch: "main"},
		TargetFile: filepath.Join(repo, "app", "Dockerfile"),
		ContextDir: filepath.Join(repo, "app"),
		Commit:     "0123abc",
		RepoRoot:   repo,
	}
}

// loadFile loads compose as app/docker-compose.test.yml of a fresh checkout.
func loadFile(t *testing.T, compose string, extra map[string]string) (*plan, error) {
	t.Helper()
	repo := t.TempDir()
	files := map[string]string{
		"app/Dockerfile":              "FROM scratch\n",
		"app/docker-compose.test.yml": compose,
		"app/other/Dockerfile":        "FROM scratch\n",
		"app/Dockerfile.alt":          "FROM scratch\n",
		"elsewhere/Dockerfile":        "FROM scratch\n",
	}
	for k, v := range extra {
		files[k] = v
	}
	writeTree(t, repo, files)
	spec := loadSpec(repo, "docker-compose.test.yml")
	return load(t.Context(), spec, hubEnv(spec), "hoist-autotest-unit")
}

func names(p *plan) []string {
	var out []string
	for _, s := range p.services {
		out = append(out, s.name)
	}
	return out
}

func TestLoadOrderAndSubstitution(t *testing.T) {
	t.Setenv("HOIST_HOST_SECRET", "from-the-host")
	p, err := loadFile(t, `
services:
  sut:
    build: .
    command: echo "$${X}" ${IMAGE_NAME}
    environment:
      - A=1
      - HOST=${HOIST_HOST_SECRET}
      - UNSET
    depends_on:
      web: {condition: service_started}
      init: {condition: service_completed_successfully}
    ports: ["80:80"]
    user: "1000"
    working_dir: /w
    privileged: false
  web:
    image: docker.io/hoisttest/app:other
    depends_on: [db]
    links: ["db:database"]
    container_name: the-web
  db:
    image: busybox:${DOCKER_TAG}
    healthcheck: {test: ["CMD", "true"]}
    networks:
      default:
        aliases: [store]
  init:
    build:
      context: other
      args: {V: "${SOURCE_BRANCH}"}
  alt:
    build: {context: ., dockerfile: Dockerfile.alt}
  lonely:
    image: never-started
`, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := names(p); !slices.Equal(got, []string{"init", "db", "web", "sut"}) {
		t.Errorf("start order = %v, want [init db web sut]", got)
	}
	by := map[string]*service{}
	for _, s := range p.services {
		by[s.name] = s
	}
	sut := by["sut"]
	if !sut.underTest || sut.build != nil {
		t.Errorf("sut (build: .) underTest=%v build=%v; want the image under test", sut.underTest, sut.build)
	}
	if want := []string{"echo", "${X}", "127.0.0.1:5000/hoisttest/app:test"}; !slices.Equal(sut.spec.Cmd, want) {
		t.Errorf("sut command = %q, want %q", sut.spec.Cmd, want)
	}
	if want := []string{"A=1", "HOST="}; !slices.Equal(sut.spec.Env, want) {
		t.Errorf("sut env = %q, want %q (nothing from the host)", sut.spec.Env, want)
	}
	if sut.spec.User != "1000" || sut.spec.WorkingDir != "/w" || sut.spec.Privileged {
		t.Errorf("sut spec = %+v", sut.spec)
	}
	if want := []dependency{{"init", "service_completed_successfully"}, {"web", "service_started"}}; !slices.Equal(sut.deps, want) {
		t.Errorf("sut deps = %v, want %v", sut.deps, want)
	}
	if web := by["web"]; !web.underTest || !slices.Equal(web.spec.Aliases, []string{"web", "the-web"}) {
		t.Errorf("web: underTest=%v aliases=%v; want the image under test, named web and the-web", web.underTest, web.spec.Aliases)
	}
	if db := by["db"]; db.underTest || db.image != "busybox:test" || !slices.Equal(db.spec.Aliases, []string{"db", "database", "store"}) {
		t.Errorf("db: underTest=%v image=%q aliases=%v", db.underTest, db.image, db.spec.Aliases)
	}
	init := by["init"]
	if init.underTest || init.build == nil || !strings.HasSuffix(init.build.ContextDir, filepath.Join("app", "other")) || init.build.Dockerfile != "Dockerfile" || init.build.BuildArgs["V"] != "main" {
		t.Errorf("init build = %+v; want context app/other, Dockerfile, V=main", init.build)
	}
	notes := strings.Join(p.notes, "\n")
	for _, want := range []string{
		"variable HOIST_HOST_SECRET is not set",
		`app/docker-compose.test.yml:13:5: service "sut": ports is ignored`,
		`service "web": container_name is ignored`,
		`service "db": healthcheck is ignored`,
	} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes lack %q:\n%s", want, notes)
		}
	}
	if strings.Contains(notes, "lonely") || strings.Contains(notes, "from-the-host") {
		t.Errorf("notes mention what they should not:\n%s", notes)
	}
}

func TestLoadOtherDockerfileIsBuilt(t *testing.T) {
	p, err := loadFile(t, "services:\n  sut:\n    build: {context: ., dockerfile: Dockerfile.alt}\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	if s := p.services[0]; s.underTest || s.build == nil || s.build.Dockerfile != "Dockerfile.alt" {
		t.Errorf("sut = %+v; a different Dockerfile is built, not substituted", s)
	}
	p, err = loadFile(t, "services:\n  sut:\n    build: {context: ../elsewhere}\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	if s := p.services[0]; s.underTest || s.build == nil {
		t.Errorf("sut = %+v; another context inside the checkout is built", s)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name    string
		compose string
		want    []string
	}{
		{"no sut", "services:\n  web:\n    image: x\n",
			[]string{"app/docker-compose.test.yml:1:1", `no "sut" service`}},
		{"bind mount", "services:\n  sut:\n    image: x\n    volumes:\n      - /:/host\n",
			[]string{"app/docker-compose.test.yml:4:5", `service "sut": volumes is not supported`}},
		{"named volume", "services:\n  sut:\n    image: x\n    volumes: [data:/data]\nvolumes:\n  data: {}\n",
			[]string{`service "sut": volumes is not supported`, "app/docker-compose.test.yml:5:1: volumes is not supported"}},
		{"host network", "services:\n  sut:\n    image: x\n    network_mode: host\n",
			[]string{"app/docker-compose.test.yml:4:5", `service "sut": network_mode`}},
		{"host pid", "services:\n  sut:\n    image: x\n  db:\n    image: y\n    pid: host\n",
			[]string{"app/docker-compose.test.yml:6:5", `service "db": pid`}},
		{"privileged", "services:\n  sut:\n    image: x\n    depends_on: [db]\n  db:\n    image: y\n    privileged: true\n",
			[]string{"app/docker-compose.test.yml:7:5", `service "db": privileged is refused`, "remove it"}},
		{"devices", "services:\n  sut:\n    image: x\n    devices: [/dev/sda]\n",
			[]string{"app/docker-compose.test.yml:4:5", `service "sut": devices`}},
		{"cap_add", "services:\n  sut:\n    image: x\n    cap_add: [SYS_ADMIN]\n",
			[]string{`service "sut": cap_add`}},
		{"env_file", "services:\n  sut:\n    image: x\n    env_file: /etc/shadow\n",
			[]string{`service "sut": env_file`}},
		{"extends", "services:\n  base:\n    image: x\n  sut:\n    extends: base\n",
			[]string{"app/docker-compose.test.yml:5:5", `service "sut": extends`}},
		{"include", "include:\n  - /etc/other.yml\nservices:\n  sut:\n    image: x\n",
			[]string{"app/docker-compose.test.yml:1:1: include is not supported"}},
		{"external network", "services:\n  sut:\n    image: x\nnetworks:\n  outside:\n    external: true\n",
			[]string{`network "outside": external`}},
		{"overlay network", "services:\n  sut:\n    image: x\nnetworks:\n  n:\n    driver: overlay\n",
			[]string{`network "n": driver`}},
		{"build secrets", "services:\n  sut:\n    build:\n      context: .\n      secrets: [s]\nsecrets:\n  s: {file: /etc/shadow}\n",
			[]string{`service "sut": build.secrets`, "secrets is not supported"}},
		{"context outside", "services:\n  sut:\n    build: ../..\n",
			[]string{"app/docker-compose.test.yml:3:5", `service "sut": build context`, "outside the checkout"}},
		{"dockerfile outside", "services:\n  sut:\n    build: {context: ., dockerfile: /etc/passwd}\n",
			[]string{`service "sut": dockerfile`, "outside the checkout"}},
		{"remote context", "services:\n  sut:\n    build: https://example.com/repo.git\n",
			[]string{`build context https://example.com/repo.git is remote`}},
		{"cycle", "services:\n  sut:\n    image: x\n    depends_on: [a]\n  a:\n    image: x\n    depends_on: [sut]\n",
			[]string{"app/docker-compose.test.yml"}},
		{"undefined dependency", "services:\n  sut:\n    image: x\n    depends_on: [nope]\n",
			[]string{"app/docker-compose.test.yml:2:3", `"nope"`}},
		{"no image", "services:\n  sut:\n    command: [x]\n",
			[]string{"app/docker-compose.test.yml:2:3"}},
		{"unknown field", "services:\n  sut:\n    image: x\n    colour: blue\n",
			[]string{"app/docker-compose.test.yml:4:5: services.sut.colour is not a field of the compose specification"}},
		{"yaml syntax", "services:\n  sut:\n    image: [x\n",
			[]string{"app/docker-compose.test.yml"}},
		{"empty", "", []string{"app/docker-compose.test.yml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadFile(t, tt.compose, nil)
			if err == nil {
				t.Fatal("load succeeded")
			}
			t.Log(err)
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestNamesRepository(t *testing.T) {
	tests := []struct {
		ref, repo string
		want      bool
	}{
		{"hoisttest/app", "hoisttest/app", true},
		{"hoisttest/app:1.0", "hoisttest/app", true},
		{"docker.io/hoisttest/app:1.0", "hoisttest/app", true},
		{"127.0.0.1:5000/hoisttest/app@sha256:abcd", "hoisttest/app", true},
		{"localhost/hoisttest/app", "hoisttest/app", true},
		{"centos", "centos", true},
		{"library/centos:7", "centos", true},
		{"docker.io/library/centos", "centos", true},
		{"hoisttest/app2", "hoisttest/app", false},
		{"other/app", "hoisttest/app", false},
		{"app", "hoisttest/app", false},
		{"busybox", "centos", false},
		{"x", "", false},
	}
	for _, tt := range tests {
		if got := namesRepository(tt.ref, tt.repo); got != tt.want {
			t.Errorf("namesRepository(%q, %q) = %v, want %v", tt.ref, tt.repo, got, tt.want)
		}
	}
}

func TestHubEnv(t *testing.T) {
	spec := loadSpec("/repo", "docker-compose.test.yml")
	spec.TargetFile = "/repo/app/docker/Dockerfile.prod"
	got := hubEnv(spec)
	want := map[string]string{
		"IMAGE_NAME": "127.0.0.1:5000/hoisttest/app:test", "DOCKER_REPO": "127.0.0.1:5000/hoisttest/app",
		"DOCKER_TAG": "test", "SOURCE_COMMIT": "0123abc", "SOURCE_BRANCH": "main", "DOCKERFILE_PATH": "docker/Dockerfile.prod",
	}
	if len(got) != len(want) {
		t.Errorf("hubEnv = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

func TestFind(t *testing.T) {
	mk := func(files ...string) string {
		dir := t.TempDir()
		m := map[string]string{}
		for _, f := range files {
			m[f] = "services: {}\n"
		}
		writeTree(t, dir, m)
		return dir
	}
	real := func(dir, name string) string {
		r, err := filepath.EvalSymlinks(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}

	dir := mk("docker-compose.test.yml", "a.test.yml", "b.test.yml")
	if got, err := Find(dir, ""); err != nil || got != real(dir, "docker-compose.test.yml") {
		t.Errorf("Find with docker-compose.test.yml = %q, %v", got, err)
	}
	dir = mk("only.test.yml", "docker-compose.yml")
	if got, err := Find(dir, ""); err != nil || got != real(dir, "only.test.yml") {
		t.Errorf("Find with one *.test.yml = %q, %v", got, err)
	}
	dir = mk("a.test.yml", "b.test.yml")
	if got, err := Find(dir, ""); err == nil || !strings.Contains(err.Error(), "a.test.yml, b.test.yml") {
		t.Errorf("Find with two *.test.yml = %q, %v; want an error naming both", got, err)
	}
	dir = mk("docker-compose.yml", "test.yaml")
	if got, err := Find(dir, ""); err != nil || got != "" {
		t.Errorf("Find with none = %q, %v; want \"\", nil", got, err)
	}
	dir = mk("tests/compose.yml", "a.test.yml", "b.test.yml")
	if got, err := Find(dir, "tests/compose.yml"); err != nil || got != real(dir, "tests/compose.yml") {
		t.Errorf("Find explicit = %q, %v", got, err)
	}
	if _, err := Find(dir, "tests/missing.yml"); err == nil || !strings.Contains(err.Error(), "tests/missing.yml") {
		t.Errorf("Find explicit missing = %v; want an error naming it", err)
	}
	if _, err := Find(dir, "../outside.yml"); err == nil || !strings.Contains(err.Error(), "outside") {
		t.Errorf("Find explicit ../ = %v; want an error", err)
	}
	dir = mk("x")
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "docker-compose.test.yml")); err != nil {
		t.Fatal(err)
	}
	if got, err := Find(dir, ""); err == nil {
		t.Errorf("Find through a symlink out of dir = %q; want an error", got)
	}
}
