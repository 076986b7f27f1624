// Package pipeline imports an engine library and an adapter.
package pipeline

import (
	_ "context"

	_ "github.com/hoistci/hoist/internal/engine"
	_ "github.com/moby/moby/client"
)
