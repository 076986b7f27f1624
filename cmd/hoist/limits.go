package main

import (
	"flag"
	"fmt"
	"strconv"
	"strings"

	"github.com/hoistci/hoist/internal/engine"
	"github.com/hoistci/hoist/internal/pipeline"
)

// defaultMaxLimits are what a project's own limits may reach unless
// --max-memory, --max-cpus and --max-pids say otherwise.
var defaultMaxLimits = pipeline.Limits{Memory: 4 << 30, CPUs: 2, PIDs: 1024}

// limitFlags are the limits of every container a build starts (sandboxed
// scripts, checks, structure tests, autotests, RUN steps) and, for
// serve, the most a project's own limits may raise them to.
type limitFlags struct {
	def, max pipeline.Limits
	withMax  bool
}

// register adds --limit-memory, --limit-cpus and --limit-pids to fs, and
// the --max-* flags when withMax.
func (l *limitFlags) register(fs *flag.FlagSet, withMax bool) {
	l.def, l.max, l.withMax = engine.DefaultLimits, defaultMaxLimits, withMax
	limitVars(fs, "limit-", &l.def, "every container of a build gets, unless its project has its own")
	if withMax {
		limitVars(fs, "max-", &l.max, "a project's own limit (hoist project limits) may reach")
	}
}

// limitVars adds the three flags prefix+memory|cpus|pids, setting l.
func limitVars(fs *flag.FlagSet, prefix string, l *pipeline.Limits, what string) {
	fs.Var((*memFlag)(&l.Memory), prefix+"memory", "the memory (swap included) "+what+", e.g. 512MiB, 2GiB")
	fs.Var((*cpusFlag)(&l.CPUs), prefix+"cpus", "the CPUs' worth of time "+what+", e.g. 1, 0.5")
	fs.Var((*pidsFlag)(&l.PIDs), prefix+"pids", "the processes and threads "+what)
}

// check refuses a default above its maximum, naming the flags.
func (l *limitFlags) check() error {
	if !l.withMax {
		return nil
	}
	switch {
	case l.def.Memory > l.max.Memory:
		return fmt.Errorf("--limit-memory %s is above --max-memory %s: lower the one or raise the other", pipeline.SizeText(l.def.Memory), pipeline.SizeText(l.max.Memory))
	case l.def.CPUs > l.max.CPUs:
		return fmt.Errorf("--limit-cpus %g is above --max-cpus %g: lower the one or raise the other", l.def.CPUs, l.max.CPUs)
	case l.def.PIDs > l.max.PIDs:
		return fmt.Errorf("--limit-pids %d is above --max-pids %d: lower the one or raise the other", l.def.PIDs, l.max.PIDs)
	}
	return nil
}

// memFlag is an amount of memory, written as sizeFlag's are (512MiB,
// 1GiB, 2g), shown as 1GiB.
type memFlag int64

func (m *memFlag) String() string     { return strings.ReplaceAll(pipeline.SizeText(int64(*m)), " ", "") }
func (m *memFlag) Set(v string) error { return (*sizeFlag)(m).Set(v) }

// cpusFlag is a number of CPUs above 0, such as 2 or 0.5.
type cpusFlag float64

func (c *cpusFlag) String() string { return strconv.FormatFloat(float64(*c), 'f', -1, 64) }

func (c *cpusFlag) Set(v string) error {
	n, err := strconv.ParseFloat(v, 64)
	if err != nil || n <= 0 || n > 1024 {
		return fmt.Errorf("%q is not a number of CPUs; write it like 1, 2 or 0.5", v)
	}
	*c = cpusFlag(n)
	return nil
}

// pidsFlag is a number of processes, 1 or more.
type pidsFlag int64

func (p *pidsFlag) String() string { return strconv.FormatInt(int64(*p), 10) }

func (p *pidsFlag) Set(v string) error {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return fmt.Errorf("%q is not a number of processes; write it like 256", v)
	}
	*p = pidsFlag(n)
	return nil
}

// limitSize, limitCPUs and limitPIDs are a project's own limits: as the
// server's flags, or 0 for the server's default.
type (
	limitSize int64
	limitCPUs float64
	limitPIDs int64
)

func (l *limitSize) String() string { return (*memFlag)(l).String() }
func (l *limitCPUs) String() string { return (*cpusFlag)(l).String() }
func (l *limitPIDs) String() string { return (*pidsFlag)(l).String() }

func (l *limitSize) Set(v string) error {
	if v == "0" {
		*l = 0
		return nil
	}
	return (*memFlag)(l).Set(v)
}

func (l *limitCPUs) Set(v string) error {
	if v == "0" {
		*l = 0
		return nil
	}
	return (*cpusFlag)(l).Set(v)
}

func (l *limitPIDs) Set(v string) error {
	if v == "0" {
		*l = 0
		return nil
	}
	return (*pidsFlag)(l).Set(v)
}
