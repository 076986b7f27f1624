package engine

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hoistci/hoist/internal/testenv"
)

// TestEngineLost: an engine that answers is not lost whatever a stage
// failed with (a user's "connection refused" included); one that went
// away is, by the error a call to it gets or by its silence, and
// AwaitEngine returns once it answers again.
func TestEngineLost(t *testing.T) {
	proxy := testenv.NewEngineProxy(t)
	e, err := New(t.Context(), Options{Host: proxy.Host})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	stageErr := errors.New("test-script: curl: (7) Failed to connect to target port 80: Connection refused")
	if e.EngineLost(t.Context(), stageErr) {
		t.Errorf("EngineLost(%v) = true with the engine answering", stageErr)
	}

	proxy.Cut()
	_, callErr := e.InspectImage(t.Context(), "hoist-test-none:latest")
	if callErr == nil || !e.EngineLost(t.Context(), callErr) {
		t.Errorf("EngineLost(%v) = false for a call to an engine that went away", callErr)
	}
	if !e.EngineLost(t.Context(), fmt.Errorf("check runs: %w", stageErr)) {
		t.Error("EngineLost = false for a stage that failed while the engine does not answer")
	}
	short, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	if err := e.AwaitEngine(short); err == nil {
		t.Error("AwaitEngine returned nil with the engine away")
	}
	go func() { time.Sleep(time.Second); proxy.Restore() }()
	ctx, cancel2 := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel2()
	if err := e.AwaitEngine(ctx); err != nil {
		t.Fatalf("AwaitEngine after the engine came back: %v", err)
	}
	if _, err := e.InspectImage(t.Context(), "hoist-test-none:latest"); err == nil || e.EngineLost(t.Context(), err) {
		t.Errorf("after the engine came back: InspectImage of a missing image = %v, lost %v; want not found, not lost", err, err != nil && e.EngineLost(t.Context(), err))
	}
}
