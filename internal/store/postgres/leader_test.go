package postgres

import (
	"testing"

	"github.com/hoistci/hoist/internal/store/storetest"
)

func TestLeaderConformance(t *testing.T) {
	storetest.RunLeader(t, func(t *testing.T) storetest.LeaderBackend { return open(t) })
}
