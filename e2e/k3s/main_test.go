package k3s

import (
	"testing"

	"github.com/hoistci/hoist/internal/testenv"
)

// TestMain stops the PostgreSQL cluster TestDeployPostgres started.
func TestMain(m *testing.M) { testenv.MainWithPostgres(m) }
