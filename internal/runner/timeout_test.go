package runner_test

import (
	"context"
	"testing"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/runner"
	"github.com/hoistci/hoist/internal/source"
	"github.com/hoistci/hoist/internal/testenv"
)

// TestCheckoutTimeout checks out, with the real git, a repository whose
// server accepts the connection and never answers: the build fails at
// checkout with the timeout in its reason, soon after the timeout.
func TestCheckoutTimeout(t *testing.T) {
	testenv.Git(t, "", "version") // skips without git
	st := openStore(t)
	p := demo
	p.GitURL = "http://" + testenv.SilentServer(t) + "/repo.git"
	r := runner.New(runner.Deps{Source: source.New(), Store: st},
		runner.Options{WorkDir: t.TempDir(), CheckoutTimeout: 2 * time.Second})
	start := time.Now()
	b, err := r.Run(context.Background(), p, "test", inputs(t, st, p, 0, nil, false))
	must(t, err)
	want := "checkout timed out after 2s: git had not finished fetching " + p.GitURL + "; check that the server answers, or raise --checkout-timeout"
	if b.Status != pipeline.StatusFailed || b.FailedStage != pipeline.StageCheckout || b.Reason != want {
		t.Errorf("build %+v\nwant failed at checkout with reason %q", b, want)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("the build took %s with a 2s checkout timeout", d)
	}
	stages, err := st.Stages(context.Background(), b.ID)
	must(t, err)
	if len(stages) == 0 || stages[0].Name != pipeline.StageCheckout || stages[0].Error != want {
		t.Errorf("stages %+v, want checkout failed with %q", stages, want)
	}
}
