package checks

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

// probeTimeout bounds one round of ProbePorts: the engine starts a helper
// beside the container for it, which a loaded machine makes slow.
const probeTimeout = 30 * time.Second

// checkPorts probes each EXPOSEd TCP port of the image under test (the
// container "starts" watches, started by whichever comes first) from
// beside the container (Containers.ProbePorts: the host
// never dials it) until it accepts a connection, the container exits or
// PortTimeout passes.
func checkPorts(ctx context.Context, r *run) outcome {
	var tcp, udp []string
	for _, p := range r.cfg.ExposedPorts {
		port, proto, _ := strings.Cut(p, "/")
		switch strings.ToLower(proto) {
		case "", "tcp":
			tcp = append(tcp, port)
		default:
			udp = append(udp, p)
		}
	}
	switch {
	case len(tcp) == 0 && len(udp) == 0:
		return outcome{status: pipeline.CheckNA, detail: "the image EXPOSEs no port"}
	case len(tcp) == 0:
		return outcome{status: pipeline.CheckNA, detail: "only non-TCP ports are EXPOSEd (" + strings.Join(udp, ", ") + "); they are not tested"}
	case r.target == nil:
		return outcome{status: pipeline.CheckNA, detail: "no engine to run background containers with"}
	}
	sort.Strings(tcp)
	c := r.s.d.Containers
	id, err := r.target.start(ctx)
	if err != nil {
		return outcome{status: pipeline.CheckFail, detail: fmt.Sprintf("the container did not start: %v", err)}
	}
	output := func() string {
		var out tail
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		c.ContainerOutput(cctx, id, &out, &out, false)
		return out.String()
	}

	deadline := time.Now().Add(r.s.opts.PortTimeout)
	open := map[string]time.Duration{}
	start := time.Now()
	var probeErr error // the last probe's, while none has succeeded
	probed := false
	for {
		select {
		case <-r.target.exited:
			code := r.target.code
			var missing []string
			for _, p := range tcp {
				if _, ok := open[p]; !ok {
					missing = append(missing, p+"/tcp")
				}
			}
			out := output()
			return outcome{status: pipeline.CheckFail, output: out, detail: fmt.Sprintf(
				"the container exited with status %d before %s accepted a connection; its last output:\n%s",
				code, strings.Join(missing, ", "), lastLines(out, 10))}
		case <-ctx.Done():
			return outcome{status: pipeline.CheckFail, detail: ctx.Err().Error()}
		default:
		}
		var want []int
		for _, p := range tcp {
			if _, ok := open[p]; !ok {
				if n, err := strconv.Atoi(p); err == nil && n > 0 {
					want = append(want, n)
				}
			}
		}
		pctx, cancel := context.WithTimeout(ctx, probeTimeout)
		got, err := c.ProbePorts(pctx, id, want)
		cancel()
		if err != nil && !probed {
			probeErr = err
		} else if err == nil {
			probed, probeErr = true, nil
		}
		for _, n := range got {
			p := strconv.Itoa(n)
			if _, ok := open[p]; !ok {
				open[p] = time.Since(start).Round(time.Millisecond)
				fmt.Fprintf(r.log, "port %s/tcp accepted a connection after %s\n", p, open[p])
			}
		}
		if len(open) == len(tcp) {
			var got []string
			for _, p := range tcp {
				got = append(got, fmt.Sprintf("%s/tcp (after %s)", p, open[p]))
			}
			return outcome{status: pipeline.CheckPass, detail: "accepted connections: " + strings.Join(got, ", ")}
		}
		if time.Now().After(deadline) {
			var missing []string
			for _, p := range tcp {
				if _, ok := open[p]; !ok {
					missing = append(missing, p+"/tcp")
				}
			}
			out := output()
			d := fmt.Sprintf("%s did not accept a connection within %s", strings.Join(missing, ", "), r.s.opts.PortTimeout)
			if probeErr != nil {
				d += fmt.Sprintf(" (the ports could not be probed: %v)", probeErr)
			}
			return outcome{status: pipeline.CheckFail, output: out, detail: d + "; is the service listening on 0.0.0.0 on the port the Dockerfile EXPOSEs?"}
		}
		select {
		case <-time.After(250 * time.Millisecond):
		case <-ctx.Done():
		}
	}
}
