// Package engine is an adapter: it may use the engine library.
package engine

import (
	_ "github.com/hoistci/hoist/internal/pipeline"
	_ "github.com/moby/moby/client"
)
