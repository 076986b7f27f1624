package runner_test

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/runner"
	"github.com/hoistci/hoist/internal/source"
)

// quotingSource is a seam: a checkout whose error quotes the URL as given,
// credentials and all, as a careless Source might.
type quotingSource struct{}

func (quotingSource) Checkout(_ context.Context, url, _, _ string, _ io.Writer) (string, error) {
	return "", fmt.Errorf("fetching %s: connection refused", url)
}

// TestCredentialsNotRecorded checks that a repository URL's credentials
// reach neither the build's reason, nor the stage's error, nor its log,
// with a leaky Source and with the real git one.
func TestCredentialsNotRecorded(t *testing.T) {
	for name, src := range map[string]pipeline.Source{"leaky": quotingSource{}, "git": source.New()} {
		t.Run(name, func(t *testing.T) {
			st := openStore(t)
			r := runner.New(runner.Deps{Source: src, Store: st}, runner.Options{RegistryHost: "127.0.0.1:1", WorkDir: t.TempDir()})
			p := demo
			p.GitURL = "http://user:s3cret@127.0.0.1:1/x.git"
			b, err := r.Run(context.Background(), p, "test", inputs(t, st, p, 0, nil, false))
			must(t, err)
			stages, err := st.Stages(context.Background(), b.ID)
			must(t, err)
			log := readLog(t, st, b.ID, pipeline.StageCheckout)
			if b.Status != pipeline.StatusFailed || len(stages) == 0 || stages[0].Error == "" {
				t.Fatalf("build %+v, stages %+v: want a failed checkout", b, stages)
			}
			for what, s := range map[string]string{"reason": b.Reason, "stage error": stages[0].Error, "log": log} {
				if strings.Contains(s, "s3cret") || !strings.Contains(s, "user:***@127.0.0.1:1") {
					t.Errorf("%s does not redact the password: %q", what, s)
				}
			}
		})
	}
}
