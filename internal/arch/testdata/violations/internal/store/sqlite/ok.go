// Package sqlite is an adapter: it may use SQL libraries.
package sqlite

import (
	_ "database/sql"

	_ "github.com/hoistci/hoist/internal/pipeline"
	_ "modernc.org/sqlite"
)
