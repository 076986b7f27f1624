// Package sched imports a cron library, which it may, and an engine library.
package sched

import (
	_ "github.com/moby/moby/client"
	_ "github.com/robfig/cron/v3"
)
