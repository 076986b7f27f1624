package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hoistci/hoist/internal/testenv"
)

// TestNotifications runs hoist run with a real SMTP server and a webhook
// receiver on loopback: a broken project mails once over two runs and
// again when it recovers; a project with notify-success mails its success.
func TestNotifications(t *testing.T) {
	testenv.DockerHost(t)
	examples := copyExamples(t)
	data := filepath.Join(t.TempDir(), "data")
	addr := freeAddr(t)
	if r := hoist(t, nil, "run", "--index", filepath.Join(examples, "examples/index.d"), "--only", "examples/busybox", "--data", data, "--registry-addr", addr); r.code != 0 {
		t.Fatalf("delivering busybox:\n%s", r)
	}
	smtp := testenv.SMTPServer(t, testenv.SMTPOptions{})
	var mu sync.Mutex
	var events []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p struct{ Event, Project string }
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &p); err != nil {
			t.Errorf("webhook body: %v: %s", err, body)
		}
		mu.Lock()
		events = append(events, p.Event+" "+p.Project)
		mu.Unlock()
	}))
	defer hook.Close()

	broken := testenv.GitRepo(t, map[string]string{"Dockerfile": busyboxFrom + "RUN echo about to fail && false\nCMD [\"true\"]\n"})
	good := testenv.GitRepo(t, map[string]string{"Dockerfile": busyboxFrom + "CMD [\"sh\", \"-c\", \"echo ok\"]\n"})
	base := serveRepos(t, map[string]string{"broken.git": broken, "good.git": good})
	run := func(brokenURL string, extra ...string) result {
		idx := writeIndex(t, "demo",
			entry(1, "demo", "broken", brokenURL, ""),
			entry(2, "demo", "good", base+"/good.git", "    notify-success: true\n"),
		)
		args := append([]string{"run", "--index", idx, "--data", data, "--registry-addr", addr,
			"--smtp-addr", smtp.Addr, "--smtp-from", "hoist@example.com", "--public-url", "https://hoist.example",
			"--notify-webhook", hook.URL + "/hook"}, extra...)
		return hoist(t, nil, args...)
	}
	if r := run(base + "/broken.git"); r.code != 1 {
		t.Fatalf("first run: want exit 1:\n%s", r)
	}
	if r := run(base+"/broken.git", "--only", "demo/broken"); r.code != 1 {
		t.Fatalf("second run: want exit 1:\n%s", r)
	}
	if r := run(base+"/good.git", "--only", "demo/broken"); r.code != 0 {
		t.Fatalf("third run, fixed: want exit 0:\n%s", r)
	}
	mails := smtp.Wait(t, 3, 10*time.Second)
	var got []string
	var failure string
	for _, m := range mails {
		msg, err := mail.ReadMessage(strings.NewReader(string(m.Data)))
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, strings.Join(m.To, ",")+" "+msg.Header.Get("Subject"))
		if strings.Contains(msg.Header.Get("Subject"), "FAILED") {
			failure = string(m.Data)
		}
	}
	slices.Sort(got)
	want := []string{
		"dev@example.com [hoist] FAILED: demo/broken:latest (build)",
		"dev@example.com [hoist] OK: demo/good:latest",
		"dev@example.com [hoist] RECOVERED: demo/broken:latest",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("mails (-want +got):\n%s", d)
	}
	mustContain(t, "failure mail", failure, "about to fail", "https://hoist.example/p/demo/broken/builds/1", "Cause:  manual: hoist run")
	mu.Lock()
	slices.Sort(events)
	if d := cmp.Diff([]string{"failed demo/broken:latest", "recovered demo/broken:latest", "succeeded demo/good:latest"}, events); d != "" {
		t.Errorf("webhook events (-want +got):\n%s", d)
	}
	mu.Unlock()
}
