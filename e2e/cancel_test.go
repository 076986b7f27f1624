package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/script"
	"github.com/hoistci/hoist/internal/store/sqlite"
	"github.com/hoistci/hoist/internal/testenv"
)

// cancelLimit is how soon after a cancel a build must be recorded
// cancelled. The design stops every stage within 5 s (scripts get 2 s
// between SIGTERM and SIGKILL; engine calls end with their context); the
// margin is for a loaded 2-core machine running eight hung builds and a
// Docker engine removing their containers.
const cancelLimit = 5*time.Second + 3*time.Second

// hangScript starts a child that ignores SIGTERM and holds the output, and
// one that left the process group, then says started and sleeps.
const hangScript = "#!/bin/sh\ntrap '' TERM\n( trap '' TERM; exec sleep 1000 ) &\n" +
	"setsid sh -c \"trap '' TERM; exec sleep 1000\" </dev/null >/dev/null 2>&1 &\n" +
	"echo %s\nexec sleep 1000\n"

// TestServeCancelsEveryStage runs, in hoist serve, one build that hangs in
// each stage that waits on something outside Hoist: a git server that
// never answers, a prebuild script, a RUN step, a predefined check (a port
// that never opens), a test-script, a structure test command, an autotest
// and an external CVE scanner. Each is cancelled through the API once it
// hangs, must be recorded cancelled within cancelLimit, in that stage, and
// leave no process and no container behind. (Lint runs in-process without
// I/O, and deliver is registry calls that end with their context.)
func TestServeCancelsEveryStage(t *testing.T) {
	host := testenv.DockerHost(t)
	rootfs, err := os.ReadFile("../examples/busybox/prebuild.sh")
	if err != nil {
		t.Fatal(err)
	}
	hung, accepted := hungServer(t)
	image := func(lines string, files map[string]string) map[string]string {
		files["prebuild.sh"] = string(rootfs)
		files["Dockerfile"] = "FROM scratch\nADD rootfs.tar /\n" + lines + "CMD [\"sleep\", \"1000\"]\n"
		return files
	}
	prebuild := "    prebuild-script: prebuild.sh\n    prebuild-context: ./\n"
	type scenario struct {
		job   string
		stage pipeline.StageName
		url   string
		extra string
		ready string // what the stage's log says once it hangs; "" for custom
	}
	marker := "hoist-cancel-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	repo := func(files map[string]string) string { return testenv.GitRepo(t, files) }
	scenarios := []scenario{
		{job: "checkout", stage: pipeline.StageCheckout, url: "http://" + hung + "/app.git"},
		{job: "prebuild", stage: pipeline.StagePrebuild, extra: prebuild, ready: "prebuild-started",
			url: repo(map[string]string{"Dockerfile": "FROM scratch\n", "prebuild.sh": fmt.Sprintf(hangScript, "prebuild-started")})},
		{job: "build", stage: pipeline.StageBuild, extra: prebuild, ready: "run-" + marker,
			url: repo(image("RUN echo run-"+marker+"; sleep 1000\n", map[string]string{}))},
		{job: "ports", stage: pipeline.StageTest, extra: prebuild, ready: "--- check ports",
			url: repo(image("EXPOSE 8080\n", map[string]string{}))},
		{job: "script", stage: pipeline.StageTest, extra: prebuild, ready: "test-script-started",
			url: repo(image("", map[string]string{"cccp.yml": "job-id: script\ntest-script: test.sh\n", "test.sh": fmt.Sprintf(hangScript, "test-script-started")}))},
		{job: "cst", stage: pipeline.StageTest, extra: prebuild, ready: "$ sh -c",
			url: repo(image("", map[string]string{"hang.cst.yaml": "schemaVersion: 2.0.0\ncommandTests:\n  - name: hang\n    command: sh\n    args: [\"-c\", \"sleep 1000\"]\n"}))},
		{job: "autotest", stage: pipeline.StageTest, extra: prebuild, ready: "sut | up",
			url: repo(image("", map[string]string{"docker-compose.test.yml": "services:\n  sut:\n    build: .\n    command: [\"sh\", \"-c\", \"echo up; exec sleep 1000\"]\n"}))},
		{job: "scan", stage: pipeline.StageScan, extra: prebuild, url: repo(image("", map[string]string{}))},
	}
	var entries []string
	for i, s := range scenarios {
		entries = append(entries, entry(i+1, "cancel", s.job, s.url, s.extra))
	}
	idx := writeIndex(t, "cancel", entries...)
	cve := filepath.Join(t.TempDir(), "cve.sh")
	if err := os.WriteFile(cve, []byte(fmt.Sprintf(hangScript, "cve-started")), 0o755); err != nil {
		t.Fatal(err)
	}

	data := filepath.Join(t.TempDir(), "data")
	addr := freeAddr(t)
	xargs := executorArgs(t)
	srv := startServe(t, append([]string{"serve", "--trust-index", "--index", idx, "--addr", addr, "--data", data, "--registry-addr", freeAddr(t),
		"--workers", strconv.Itoa(len(scenarios)), "--cve-scanner", cve}, xargs...)...)
	defer srv.stop(t)
	if r := hoistStdin(t, "not-a-secret-1\n", nil, "user", "add", "--admin", "--data", data, "alice"); r.code != 0 {
		t.Fatalf("user add:\n%s", r)
	}
	r := hoist(t, nil, "token", "create", "--data", data, "alice")
	if r.code != 0 {
		t.Fatalf("token create:\n%s", r)
	}
	token := strings.TrimSpace(r.stdout)
	instance, err := os.ReadFile(filepath.Join(data, "instance"))
	if err != nil {
		t.Fatal(err)
	}
	owner := pipeline.Owner{Instance: strings.TrimSpace(string(instance))}
	t.Cleanup(func() { _, _ = script.Reap(owner.Instance) }) // whatever a failure left
	cli, err := client.New(client.FromEnv, client.WithHost(host))
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	st := openStore(t, data)

	for _, s := range scenarios {
		t.Run(s.job, func(t *testing.T) {
			key := "cancel/" + s.job + ":latest"
			var b pipeline.Build
			waitForLong(t, key+" to hang in "+string(s.stage), 10*time.Minute, func() bool {
				builds, err := st.Builds(context.Background(), key, 1)
				if err != nil || len(builds) == 0 || builds[0].Status.Done() {
					if err == nil && len(builds) > 0 && builds[0].Status.Done() {
						t.Fatalf("%s ended %s before the cancel: %s", key, builds[0].Status, builds[0].Reason)
					}
					return false
				}
				b = builds[0]
				owner.Build = b.ID
				switch s.job {
				case "checkout":
					return accepted.Load() > 0
				case "scan":
					// The scanner starts with the test stage: cancel once
					// the scan stage waits for it.
					return runningStage(st, b.ID) == s.stage && len(marked(owner)) > 0
				}
				return runningStage(st, b.ID) == s.stage && strings.Contains(logOf(st, b.ID, s.stage), s.ready)
			})
			start := time.Now()
			cancelBuild(t, "http://"+addr, token, b.ID)
			waitForLong(t, key+" to be recorded cancelled", 2*time.Minute, func() bool {
				got, err := st.Build(context.Background(), b.ID)
				return err == nil && got.Status.Done()
			})
			took := time.Since(start)
			got, stages := lastBuild(t, st, key)
			t.Logf("%s: cancelled in %s, recorded %s after the cancel", key, s.stage, took.Round(time.Millisecond))
			if took > cancelLimit {
				t.Errorf("%s was recorded cancelled %s after the cancel; want within 5 s (+ margin %s)", key, took, cancelLimit-5*time.Second)
			}
			if got.Status != pipeline.StatusCancelled || stages[s.stage].Status != pipeline.StatusCancelled {
				t.Errorf("%s: build %s (%s), stage %s %s; want both cancelled", key, got.Status, got.Reason, s.stage, stages[s.stage].Status)
			}
			if pids := marked(owner); len(pids) > 0 {
				t.Errorf("%s left processes %v running", key, pids)
			}
			f := make(client.Filters).Add("label", pipeline.LabelBuild+"="+strconv.FormatInt(b.ID, 10)).Add("label", pipeline.LabelInstance+"="+owner.Instance)
			if cs, err := cli.ContainerList(context.Background(), client.ContainerListOptions{All: true, Filters: f}); err != nil || len(cs.Items) > 0 {
				t.Errorf("%s left %d containers (%v)", key, len(cs.Items), err)
			}
			if onKube() {
				// The stages ran as pods: the cancel deleted them (the
				// RUN step's processes with BuildKit's). executorArgs
				// checks at the end that they are gone.
				if left := podsLeft(t, kubeNamespace(xargs), pipeline.LabelBuild+"="+strconv.FormatInt(b.ID, 10)); len(left) > 0 {
					t.Errorf("%s left pods %v running", key, left)
				}
			}
			if s.job == "build" && !onKube() {
				// The RUN step's container is the engine's own: it goes
				// when the engine sees the build cancelled.
				waitForLong(t, "the RUN step's container to go", 5*time.Second, func() bool {
					cs, err := cli.ContainerList(context.Background(), client.ContainerListOptions{All: true})
					if err != nil {
						t.Fatal(err)
					}
					for _, c := range cs.Items {
						if strings.Contains(c.Command, "run-"+marker) {
							return false
						}
					}
					return true
				})
			}
		})
	}
}

// hungServer accepts connections and never answers; accepted counts them.
func hungServer(t *testing.T) (string, *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var accepted atomic.Int32
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String(), &accepted
}

// runningStage returns the stage of build id that is running, if any.
func runningStage(st *sqlite.Store, id int64) pipeline.StageName {
	stages, err := st.Stages(context.Background(), id)
	if err != nil {
		return ""
	}
	for _, s := range stages {
		if s.Status == pipeline.StatusRunning {
			return s.Name
		}
	}
	return ""
}

// logOf reads what a stage's log holds so far.
func logOf(st *sqlite.Store, id int64, stage pipeline.StageName) string {
	rc, err := st.OpenLog(context.Background(), id, stage, 0)
	if err != nil {
		return ""
	}
	defer rc.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(rc)
	return b.String()
}

// cancelBuild cancels build id through the API.
func cancelBuild(t *testing.T, base, token string, id int64) {
	t.Helper()
	req, err := http.NewRequest("POST", base+"/api/v1/builds/"+strconv.FormatInt(id, 10)+"/cancel", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("cancelling build %d: %s", id, resp.Status)
	}
}

// marked returns the processes (not zombies) whose environment carries o's
// marks.
func marked(o pipeline.Owner) []int {
	var want [][]byte
	for _, kv := range o.Env() {
		want = append(want, append([]byte(kv), 0))
	}
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err != nil || !alive(pid) {
			continue
		}
		env = append([]byte{0}, env...)
		all := true
		for _, w := range want {
			if !bytes.Contains(env, append([]byte{0}, w...)) {
				all = false
			}
		}
		if all {
			pids = append(pids, pid)
		}
	}
	return pids
}

// TestServeCancelsDeliver cancels a build whose delivery hangs: the
// registry (behind a proxy) never answers the manifest PUT that tags :rc.
func TestServeCancelsDeliver(t *testing.T) {
	testenv.DockerHost(t)
	rootfs, err := os.ReadFile("../examples/busybox/prebuild.sh")
	if err != nil {
		t.Fatal(err)
	}
	ext := testenv.DockerRegistry(t)
	var hanging atomic.Int32
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: ext})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/manifests/rc") {
			hanging.Add(1)
			<-r.Context().Done() // until the client gives up
			return
		}
		proxy.ServeHTTP(w, r)
	})}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })

	app := testenv.GitRepo(t, map[string]string{
		"prebuild.sh": string(rootfs),
		"Dockerfile":  "FROM scratch\nADD rootfs.tar /\nCMD [\"sleep\", \"1000\"]\n",
	})
	idx := writeIndex(t, "cancel", entry(1, "cancel", "deliver", app, "    prebuild-script: prebuild.sh\n    prebuild-context: ./\n"))
	data := filepath.Join(t.TempDir(), "data")
	addr := freeAddr(t)
	srv := startServe(t, "serve", "--trust-index", "--index", idx, "--addr", addr, "--data", data, "--registry", ln.Addr().String())
	defer srv.stop(t)
	if r := hoistStdin(t, "not-a-secret-1\n", nil, "user", "add", "--admin", "--data", data, "alice"); r.code != 0 {
		t.Fatalf("user add:\n%s", r)
	}
	r := hoist(t, nil, "token", "create", "--data", data, "alice")
	if r.code != 0 {
		t.Fatalf("token create:\n%s", r)
	}
	st := openStore(t, data)
	key := "cancel/deliver:latest"
	var b pipeline.Build
	waitForLong(t, key+" to hang in deliver", 10*time.Minute, func() bool {
		builds, err := st.Builds(context.Background(), key, 1)
		if err != nil || len(builds) == 0 {
			return false
		}
		if builds[0].Status.Done() {
			t.Fatalf("%s ended %s before the cancel: %s", key, builds[0].Status, builds[0].Reason)
		}
		b = builds[0]
		return hanging.Load() > 0
	})
	start := time.Now()
	cancelBuild(t, "http://"+addr, strings.TrimSpace(r.stdout), b.ID)
	waitForLong(t, key+" to be recorded cancelled", 2*time.Minute, func() bool {
		got, err := st.Build(context.Background(), b.ID)
		return err == nil && got.Status.Done()
	})
	took := time.Since(start)
	got, stages := lastBuild(t, st, key)
	t.Logf("%s: recorded %s %s after the cancel", key, got.Status, took.Round(time.Millisecond))
	if took > cancelLimit {
		t.Errorf("%s was recorded cancelled %s after the cancel; want within 5 s (+ margin %s)", key, took, cancelLimit-5*time.Second)
	}
	if got.Status != pipeline.StatusCancelled || stages[pipeline.StageDeliver].Status != pipeline.StatusCancelled {
		t.Errorf("%s: build %s (%s), deliver %s; want both cancelled", key, got.Status, got.Reason, stages[pipeline.StageDeliver].Status)
	}
}
