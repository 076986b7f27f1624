package kube

import (
	"testing"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/pipeline/executortest"
	"github.com/hoistci/hoist/internal/testenv"
)

// TestExecutorSuite is the behaviour every executor must have, on the
// cluster of scripts/k3s.sh: the Docker engine's own suite, as pods.
func TestExecutorSuite(t *testing.T) {
	reg := testenv.DockerRegistry(t)
	executortest.Run(t, func(t *testing.T) pipeline.Executor { return newTestExecutor(t, reg) }, reg)
}
