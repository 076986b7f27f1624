package autotest_test

import (
	"context"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/hoistci/hoist/internal/checks/autotest"
	"github.com/hoistci/hoist/internal/engine"
	"github.com/hoistci/hoist/internal/pipeline"
)

// lateEngine stands for an engine that answers the request following
// sut's output only once sut is gone (a loaded machine can delay the
// request that long: nothing orders it before the run's end): the follow
// gets nothing, as it would from a removed container.
type lateEngine struct {
	*engine.Engine
	cli *client.Client

	mu  sync.Mutex
	sut string
}

func (l *lateEngine) StartContainer(ctx context.Context, spec pipeline.ContainerSpec) (string, error) {
	id, err := l.Engine.StartContainer(ctx, spec)
	if err == nil && spec.Labels[autotest.LabelService] == "sut" {
		l.mu.Lock()
		l.sut = id
		l.mu.Unlock()
	}
	return id, err
}

func (l *lateEngine) ContainerOutput(ctx context.Context, id string, stdout, stderr io.Writer, follow bool) error {
	l.mu.Lock()
	late := follow && id == l.sut
	l.mu.Unlock()
	if !late {
		return l.Engine.ContainerOutput(ctx, id, stdout, stderr, follow)
	}
	for {
		_, err := l.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
		if cerrdefs.IsNotFound(err) {
			return l.Engine.ContainerOutput(ctx, id, stdout, stderr, follow)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// TestRunLogsAllOfSutsOutput: the output of a sut that prints and exits at
// once reaches the log and the result, once, however late the engine
// answers the follow of its output.
func TestRunLogsAllOfSutsOutput(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	f := newFixture(t, env, "fail")
	compose := "services:\n  sut:\n    build: .\n    command: [sh, -c, 'cat /hoist-marker; echo to-stderr >&2; echo last']\n"
	if err := os.WriteFile(f.spec.File, []byte(compose), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		e    autotest.Engine
	}{
		{"followed", env.e},
		{"followed too late", &lateEngine{Engine: env.e, cli: env.cli}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var log syncBuffer
			res := autotest.New(tt.e).Run(t.Context(), f.spec, &log)
			if res.Status != pipeline.CheckPass {
				t.Fatalf("result %s: %s\n%s", res.Status, res.Detail, log.String())
			}
			for _, want := range []string{"marker=" + f.marker + "\n", "to-stderr\n", "last\n"} {
				if n := strings.Count(res.Output, want); n != 1 {
					t.Errorf("the output has %q %d times, want once:\n%s", want, n, res.Output)
				}
				if n := strings.Count(log.String(), "sut | "+want); n != 1 {
					t.Errorf("the log has %q %d times, want once:\n%s", "sut | "+want, n, log.String())
				}
			}
			if c := env.counts(t, f.spec); c != [3]int{} {
				t.Errorf("left behind: %d containers, %d networks, %d images", c[0], c[1], c[2])
			}
		})
	}
}
