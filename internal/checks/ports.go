package checks

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strings"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

// checkPorts starts the image in the background and dials each EXPOSEd TCP
// port on the container's address until it accepts a connection, the
// container exits or PortTimeout passes.
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
	case r.s.d.Containers == nil:
		return outcome{status: pipeline.CheckNA, detail: "no engine to run background containers with"}
	}
	sort.Strings(tcp)
	c := r.s.d.Containers
	id, err := c.StartContainer(ctx, pipeline.ContainerSpec{
		Image:  r.spec.Image,
		Labels: map[string]string{"io.hoist.check": "ports"},
	})
	if err != nil {
		return outcome{status: pipeline.CheckFail, detail: fmt.Sprintf("the container did not start: %v", err)}
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if err := c.RemoveContainer(cctx, id); err != nil {
			fmt.Fprintf(r.log, "removing the ports container: %v\n", err)
		}
	}()
	output := func() string {
		var out tail
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		c.ContainerOutput(cctx, id, &out, &out, false)
		return out.String()
	}
	exited := make(chan int, 1)
	wctx, stopWait := context.WithCancel(ctx)
	defer stopWait()
	go func() {
		if code, err := c.WaitContainer(wctx, id); err == nil {
			exited <- code
		}
	}()

	deadline := time.Now().Add(r.s.opts.PortTimeout)
	open := map[string]time.Duration{}
	start := time.Now()
	var ip string
	var dialer net.Dialer
	for {
		select {
		case code := <-exited:
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
		if ip == "" {
			ip, _ = c.ContainerIP(ctx, id)
		}
		if ip != "" {
			for _, p := range tcp {
				if _, ok := open[p]; ok {
					continue
				}
				dctx, cancel := context.WithTimeout(ctx, time.Second)
				conn, err := dialer.DialContext(dctx, "tcp", net.JoinHostPort(ip, p))
				cancel()
				if err == nil {
					conn.Close()
					open[p] = time.Since(start).Round(time.Millisecond)
					fmt.Fprintf(r.log, "port %s/tcp accepted a connection after %s\n", p, open[p])
				}
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
			if ip == "" {
				d += " (the container got no IP address)"
			}
			return outcome{status: pipeline.CheckFail, output: out, detail: d + "; is the service listening on 0.0.0.0 on the port the Dockerfile EXPOSEs?"}
		}
		select {
		case <-time.After(250 * time.Millisecond):
		case <-ctx.Done():
		}
	}
}
