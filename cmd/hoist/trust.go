package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/hoistci/hoist/internal/pipeline"
)

// Usage lines of the project commands on the --data store.
const (
	trustUsage   = "usage: hoist project trust [--data DIR] NS/NAME[:TAG]"
	untrustUsage = "usage: hoist project untrust [--data DIR] NS/NAME[:TAG]"
	limitsUsage  = "usage: hoist project limits [--data DIR] NS/NAME[:TAG] [--memory 2GiB] [--cpus 2] [--pids 512]   (no flags: show them; 0: the server's default)"
)

// cmdProjectTrust is "hoist project trust|untrust NS/NAME": an admin's
// decision, in the --data database, that the project's scripts run on the
// host with engine access (root-equivalent), or in the sandbox again.
func cmdProjectTrust(ctx context.Context, trust bool, args []string, stdout, stderr io.Writer) error {
	name, use := "project trust", trustUsage
	if !trust {
		name, use = "project untrust", untrustUsage
	}
	fs := newStoreCommand(name, stderr)
	st, err := fs.open(ctx, args, 1, use)
	if err != nil {
		return err
	}
	defer st.Close()
	p, err := findProject(ctx, st, fs.where(), fs.Arg(0))
	if err != nil {
		return err
	}
	if err := st.SetTrusted(ctx, p.Key(), trust); err != nil {
		return err
	}
	switch {
	case trust && p.Trusted:
		fmt.Fprintf(stdout, "%s was already trusted: its scripts run on the host, with the engine\n", p.Key())
	case trust:
		fmt.Fprintf(stdout, "%s is now trusted: its scripts run on the host, with the engine (root-equivalent), from its next build\n", p.Key())
	case p.Trusted:
		fmt.Fprintf(stdout, "%s is no longer trusted: its scripts run sandboxed from its next build\n", p.Key())
	default:
		fmt.Fprintf(stdout, "%s was not trusted: its scripts run sandboxed\n", p.Key())
	}
	return nil
}

// cmdProjectLimits is "hoist project limits NS/NAME [--memory M] [--cpus C]
// [--pids P]": it sets the given limits of the project's containers (0:
// back to the server's default) and prints them; with no flags it only
// prints them. The server lowers what is above its --max-* when it builds.
func cmdProjectLimits(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newStoreCommand("project limits", stderr)
	var set pipeline.Limits
	fs.Var((*limitSize)(&set.Memory), "memory", "memory (swap included) of each container, e.g. 512MiB, 2GiB; 0: the server's default")
	fs.Var((*limitCPUs)(&set.CPUs), "cpus", "CPUs' worth of time of each container, e.g. 2, 0.5; 0: the server's default")
	fs.Var((*limitPIDs)(&set.PIDs), "pids", "processes and threads of each container; 0: the server's default")
	st, err := fs.open(ctx, args, 1, limitsUsage)
	if err != nil {
		return err
	}
	defer st.Close()
	p, err := findProject(ctx, st, fs.where(), fs.Arg(0))
	if err != nil {
		return err
	}
	lim, changed := p.Limits, false
	fs.Visit(func(f *flag.Flag) {
		changed = true
		switch f.Name {
		case "memory":
			lim.Memory = set.Memory
		case "cpus":
			lim.CPUs = set.CPUs
		case "pids":
			lim.PIDs = set.PIDs
		}
	})
	if !changed {
		fmt.Fprintf(stdout, "%s: %s\n", p.Key(), limitsText(lim))
		return nil
	}
	if err := st.SetLimits(ctx, p.Key(), lim); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %s (was: %s), from its next build; the server lowers what is above its --max-memory, --max-cpus or --max-pids\n",
		p.Key(), limitsText(lim), limitsText(p.Limits))
	return nil
}

// limitsText is a project's own limits for people, saying which fields are
// the server's.
func limitsText(l pipeline.Limits) string {
	if l == (pipeline.Limits{}) {
		return "the server's default limits"
	}
	s := l.String()
	if l.Memory == 0 || l.CPUs == 0 || l.PIDs == 0 {
		s += "; the server's default for the rest"
	}
	return s
}

// findProject returns the project arg (NS/NAME[:TAG]) names, or an error
// saying that there is none. Without a tag, the one project of NS/NAME is
// meant whatever its tag (examples/web for examples/web:v1.0.0); with
// several, the error lists them.
func findProject(ctx context.Context, st store, data, arg string) (pipeline.Project, error) {
	ref, err := pipeline.ParseImageRef(arg)
	if err != nil {
		return pipeline.Project{}, err
	}
	p, err := st.Project(ctx, ref.String())
	if !errors.Is(err, pipeline.ErrNotFound) {
		return p, err
	}
	if !strings.Contains(arg, ":") {
		all, lerr := st.Projects(ctx)
		if lerr != nil {
			return p, lerr
		}
		var same []pipeline.Project
		var keys []string
		for _, q := range all {
			if q.Image().Repository() == ref.Repository() {
				same = append(same, q)
				keys = append(keys, q.Key())
			}
		}
		switch len(same) {
		case 1:
			return same[0], nil
		case 0:
		default:
			return p, fmt.Errorf("%s has %d projects in %s, one per tag: %s; give one of them", ref.Repository(), len(same), data, strings.Join(keys, ", "))
		}
	}
	return p, fmt.Errorf("no project %s in %s: give NS/NAME[:TAG] as the index or the web UI names it", ref, data)
}
