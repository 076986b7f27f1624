// Package runner imports a registry library.
package runner

import (
	_ "github.com/google/go-containerregistry/pkg/v1/remote"
	_ "github.com/hoistci/hoist/internal/pipeline"
)
