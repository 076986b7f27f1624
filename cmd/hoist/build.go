package main

import (
	"context"
	"fmt"
	"io"

	"github.com/hoistci/hoist/internal/pipeline"
)

// cmdBuild is "hoist build NS/NAME[:TAG]": it asks the server for a build
// and prints the build's page. A build already queued is joined.
func cmdBuild(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("build", stderr)
	server := serverFlag(fs)
	force := fs.Bool("force", false, "build even if a build with the same inputs was delivered")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fmt.Fprintln(stderr, "usage: hoist build [--server URL] [--force] NS/NAME[:TAG]")
		return exitError(2)
	}
	ref, err := pipeline.ParseImageRef(pos[0])
	if err != nil {
		return err
	}
	c, err := newClient(*server)
	if err != nil {
		return err
	}
	var out struct {
		Build  apiBuild `json:"build"`
		Joined bool     `json:"joined"`
	}
	path := projectPath(ref) + "/builds"
	if *force {
		path += "?force=true"
	}
	if err := c.call(ctx, "POST", path, nil, &out); err != nil {
		return fmt.Errorf("building %s: %w", ref, err)
	}
	b, note := out.Build, ""
	if out.Joined {
		note = " (joined the build already queued)"
	}
	fmt.Fprintf(stdout, "%s #%d %s%s: %s\n", b.Project, b.Number, b.Status, note, c.pageURL(b))
	return nil
}
