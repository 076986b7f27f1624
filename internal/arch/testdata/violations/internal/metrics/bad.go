// Package metrics imports Prometheus, which it may, and database/sql.
package metrics

import (
	_ "database/sql"

	_ "github.com/prometheus/client_golang/prometheus"
)
