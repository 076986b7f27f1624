package index

import (
	"strings"

	"github.com/robfig/cron/v3"
)

// schedule reads schedule, Hoist's own key: when the project is rebuilt on
// its own, as a 5-field cron spec ("0 3 * * 1") or a descriptor (@weekly,
// @daily, @every 12h). Missing, null or empty is no schedule.
func (ep *entryParser) schedule() {
	s, at, ok := ep.str(keySchedule)
	if !ok {
		return
	}
	s = strings.TrimSpace(s)
	if _, err := cron.ParseStandard(s); err != nil {
		ep.errorf(at, "schedule %q is not a cron schedule (%v); write 5 fields, minute hour day-of-month month day-of-week (\"0 3 * * 1\": Mondays at 03:00), or @weekly, @daily, @hourly, @every 12h", s, err)
		return
	}
	ep.e.p.Schedule = s
}
