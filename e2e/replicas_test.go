package e2e

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/store/postgres"
	"github.com/hoistci/hoist/internal/testenv"
)

// replica is one hoist serve of several on one database.
type replica struct {
	name, addr, data string
	*served
}

// startReplica starts hoist serve on the database db with the registry reg,
// a data folder of its own, and args.
func startReplica(t *testing.T, name, db, reg string, args ...string) *replica {
	t.Helper()
	r := &replica{name: name, addr: freeAddr(t), data: filepath.Join(t.TempDir(), "data-"+name)}
	args = append([]string{"serve", "--addr", r.addr, "--data", r.data, "--db", db, "--registry", reg}, args...)
	r.served = startServe(t, args...)
	return r
}

func (r *replica) base() string { return "http://" + r.addr }

// liveMarker is what the slow project's prebuild prints before it sleeps.
const liveMarker = "replica-live-marker"

// slowProject is a busybox image whose prebuild prints liveMarker, then
// sleeps, so that its build is seen running.
func slowProject(t *testing.T) string {
	t.Helper()
	rootfs, err := os.ReadFile("../examples/busybox/prebuild.sh")
	if err != nil {
		t.Fatal(err)
	}
	script := strings.Replace(string(rootfs), "set -eu\n", "set -eu\necho "+liveMarker+"\nsleep 8\n", 1)
	return testenv.GitRepo(t, map[string]string{
		"prebuild.sh": script,
		"Dockerfile":  "FROM scratch\nADD rootfs.tar /\nCMD [\"sleep\", \"1000\"]\n",
	})
}

// TestReplicasShareOneDatabase runs two hoist serve on one PostgreSQL
// database and one registry, each with its own data folder: a build asked
// for through one replica's API shows its log live through the other's, and
// one webhook delivered to both at once queues one build.
func TestReplicasShareOneDatabase(t *testing.T) {
	testenv.DockerHost(t)
	db, reg := testenv.Postgres(t), testenv.DockerRegistry(t)
	app := slowProject(t)
	idx := writeIndex(t, "replicas", entry(1, "replicas", "slow", app, "    prebuild-script: prebuild.sh\n    prebuild-context: ./\n"))
	const p = "replicas/slow:latest"
	const secret = "not-a-secret-hook"
	args := []string{"--trust-index", "--index", idx, "--workers", "1", "--webhook-secret", secret, "--poll-interval", "0", "--rescan", "off"}
	st, err := postgres.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	done := func(n int) func() bool {
		return func() bool {
			bs, err := st.Builds(context.Background(), p, 0)
			return err == nil && len(bs) == n && bs[0].Status.Done()
		}
	}

	a := startReplica(t, "a", db, reg, args...)
	defer a.stop(t)
	// The index's first build ends before b starts, so that the builds
	// below are the only ones.
	waitForLong(t, "the index's first build", 5*time.Minute, done(1))
	b := startReplica(t, "b", db, reg, args...)
	defer b.stop(t)

	if r := hoistStdin(t, "not-a-secret-1\n", nil, "user", "add", "--admin", "--db", db, "alice"); r.code != 0 {
		t.Fatalf("user add --db:\n%s", r)
	}
	r := hoist(t, nil, "token", "create", "--db", db, "alice")
	if r.code != 0 {
		t.Fatalf("token create --db:\n%s", r)
	}
	env := []string{"HOIST_TOKEN=" + strings.TrimSpace(r.stdout), "HOIST_SERVER=" + a.base()}
	if r := hoist(t, env, "build", "--force", p); r.code != 0 {
		t.Fatalf("hoist build through a:\n%s", r)
	}
	id := getBuild(t, a.base(), p, 2).ID
	runner := waitRunner(t, id, a, b)
	t.Logf("build #2, asked for through a, runs on %s", runner.name)
	var follows sync.WaitGroup
	for _, rp := range []*replica{a, b} {
		follows.Go(func() { followLive(t, rp, id) })
	}
	follows.Wait()
	waitForLong(t, "build #2", 5*time.Minute, done(2))
	if got := getBuild(t, b.base(), p, 2); got.Status != pipeline.StatusSucceeded {
		t.Fatalf("build #2 through b: %s %q\n%s\n%s", got.Status, got.Reason, a.output(), b.output())
	}

	// One push, delivered to both replicas at once.
	commit := testenv.Commit(t, app, map[string]string{"README": "pushed\n"}, "a push")
	body := fmt.Sprintf(`{"repo":%q,"branch":"main","commit":%q}`, app, commit)
	var wg sync.WaitGroup
	outcomes := make([]string, 2)
	for i, rp := range []*replica{a, b} {
		wg.Go(func() { outcomes[i] = deliverHook(t, rp, secret, body) })
	}
	wg.Wait()
	waitForLong(t, "the pushed build", 5*time.Minute, done(3))
	bs, err := st.Builds(context.Background(), p, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 3 || bs[0].Commit != commit || bs[0].Status != pipeline.StatusSucceeded {
		t.Errorf("after one push delivered to both replicas: %d builds, newest %s %s %q; want 3, the newest of %s succeeded",
			len(bs), bs[0].Commit, bs[0].Status, bs[0].Reason, commit)
	}
	if strings.Count(strings.Join(outcomes, " "), "queued") != 1 {
		t.Errorf("the two deliveries answered %q; want one queued", outcomes)
	}
}

// waitRunner waits until build id runs, and returns the replica running it
// (its checkout is in that replica's data folder).
func waitRunner(t *testing.T, id int64, rs ...*replica) *replica {
	t.Helper()
	var runner *replica
	waitForLong(t, "a replica to check the build out", 5*time.Minute, func() bool {
		for _, r := range rs {
			if _, err := os.Stat(filepath.Join(r.data, "work", strconv.FormatInt(id, 10))); err == nil {
				runner = r
				return true
			}
		}
		return false
	})
	return runner
}

// followLive follows build id's prebuild log through replica r while the
// build runs: the marker arrives while r's API says the build is running,
// and the stream ends when the stage does. It may run in a goroutine.
func followLive(t *testing.T, r *replica, id int64) {
	url := fmt.Sprintf("%s/api/v1/builds/%d/stages/prebuild/log?follow=true", r.base(), id)
	resp, err := http.Get(url)
	if err != nil {
		t.Error(err)
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET %s: %s", url, resp.Status)
		return
	}
	sc := bufio.NewScanner(resp.Body)
	seen := false
	for sc.Scan() {
		if seen || !strings.Contains(sc.Text(), liveMarker) {
			continue
		}
		seen = true
		status, err := buildStatus(r, id)
		if err != nil {
			t.Errorf("through %s: %v", r.name, err)
		} else if status != pipeline.StatusRunning {
			t.Errorf("through %s: the prebuild's first line came when the build was %s, want running", r.name, status)
		}
	}
	if !seen {
		t.Errorf("following the prebuild log through %s: no %q", r.name, liveMarker)
	}
}

// buildStatus reads build id's status through r's API.
func buildStatus(r *replica, id int64) (pipeline.Status, error) {
	resp, err := http.Get(fmt.Sprintf("%s/api/v1/builds/%d", r.base(), id))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var b apiBuild
	if err := json.NewDecoder(resp.Body).Decode(&b); err != nil || resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET build %d: %s %v", id, resp.Status, err)
	}
	return b.Status, nil
}

// deliverHook posts a generic webhook delivery to r and returns the
// outcomes it answers.
func deliverHook(t *testing.T, r *replica, secret, body string) string {
	t.Helper()
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(body))
	req, err := http.NewRequest(http.MethodPost, r.base()+"/hooks/generic", strings.NewReader(body))
	if err != nil {
		t.Error(err)
		return ""
	}
	req.Header.Set("X-Hoist-Signature", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return ""
	}
	defer resp.Body.Close()
	var ans struct {
		Builds []struct{ Outcome string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&ans); err != nil || resp.StatusCode/100 != 2 {
		t.Errorf("webhook to %s: %s %v", r.name, resp.Status, err)
	}
	var out []string
	for _, b := range ans.Builds {
		out = append(out, b.Outcome)
	}
	return strings.Join(out, ",")
}

// leading is what a server logs when it takes the leader lease of job.
func leading(job string) string {
	return `msg="leading: this server runs the job" job=` + job
}

// rescanned is what a server logs after a scheduled re-scan.
const rescanned = `msg="scheduled re-scan done"`

// TestReplicasRunJobsOnce runs two hoist serve on one database with a
// re-scan every second: one of them leads each job and re-scans, the other
// does not, and when the leader is killed the other takes its jobs over
// within about two leader TTLs.
func TestReplicasRunJobsOnce(t *testing.T) {
	testenv.DockerHost(t)
	db, reg := testenv.Postgres(t), testenv.DockerRegistry(t)
	const ttl = 3 * time.Second
	args := []string{"--rescan", "@every 1s", "--schedule", "@daily", "--leader-ttl", ttl.String(), "--workers", "1"}
	a := startReplica(t, "a", db, reg, args...)
	b := startReplica(t, "b", db, reg, args...)
	waitFor(t, "a leader of the re-scans", func() bool {
		return strings.Contains(a.output(), leading("rescan")) || strings.Contains(b.output(), leading("rescan"))
	})
	holder, other := a, b
	if strings.Contains(b.output(), leading("rescan")) {
		holder, other = b, a
	}
	holder.waitOutput(t, rescanned)
	time.Sleep(2 * ttl) // a follower asks for the lease six times meanwhile
	for _, job := range []string{"rescan", "schedule"} {
		if strings.Contains(a.output(), leading(job)) == strings.Contains(b.output(), leading(job)) {
			t.Errorf("the lease of %s: a took it %v, b took it %v; want one of them", job,
				strings.Contains(a.output(), leading(job)), strings.Contains(b.output(), leading(job)))
		}
	}
	if n := strings.Count(holder.output(), rescanned); n < 3 {
		t.Errorf("the leader %s re-scanned %d times in %v at @every 1s", holder.name, n, 2*ttl)
	}
	if strings.Contains(other.output(), rescanned) {
		t.Fatalf("%s re-scanned too while %s led the re-scans", other.name, holder.name)
	}

	killed := time.Now()
	holder.kill(t)
	other.waitOutput(t, leading("rescan"))
	took := time.Since(killed)
	other.waitOutput(t, rescanned)
	t.Logf("the re-scans moved from %s to %s %v after the kill (ttl %v)", holder.name, other.name, took.Round(time.Millisecond), ttl)
	if limit := 2*ttl + 3*time.Second; took > limit { // + a margin for a loaded machine
		t.Errorf("%s took the re-scans over %v after %s was killed; want within about 2×ttl (%v)", other.name, took, holder.name, 2*ttl)
	}
	if !strings.Contains(other.output(), leading("schedule")) {
		other.waitOutput(t, leading("schedule"))
	}
	other.stop(t)
}
