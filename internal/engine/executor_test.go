package engine

import (
	"testing"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/pipeline/executortest"
)

// TestExecutor runs the behaviour every executor must have against the
// Docker one.
func TestExecutor(t *testing.T) {
	executortest.Run(t, func(t *testing.T) pipeline.Executor { return newEngine(t) }, newRegistry(t))
}
