package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

// apiStage is a stage as GET /api/v1/builds/{id} gives it.
type apiStage struct {
	Name    pipeline.StageName `json:"name"`
	Status  pipeline.Status    `json:"status"`
	Seconds float64            `json:"seconds"`
	Error   string             `json:"error"`
}

// apiBuildDetail is GET /api/v1/builds/{id}: the build and its stages.
type apiBuildDetail struct {
	apiBuild
	Stages []apiStage `json:"stages"`
}

// remoteLogs prints a build's stage logs from the server, stage after
// stage; with follow each stage's log streams until the stage ends.
func remoteLogs(ctx context.Context, c *client, arg string, only pipeline.StageName, follow bool, stdout io.Writer) error {
	b, err := c.findBuild(ctx, arg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s #%d: %s (%s)\n%s\n", b.Project, b.Number, b.Status, b.Cause, c.pageURL(b))
	for _, stage := range pipeline.Stages {
		if only != "" && stage != only {
			continue
		}
		fmt.Fprintf(stdout, "\n=== %s\n", stage)
		if err := c.copyLog(ctx, b.ID, stage, follow, stdout); err != nil {
			return err
		}
		var d apiBuildDetail
		if err := c.call(ctx, "GET", fmt.Sprintf("/api/v1/builds/%d", b.ID), nil, &d); err != nil {
			return err
		}
		for _, s := range d.Stages {
			if s.Name == stage {
				fmt.Fprintf(stdout, "=== %s\n", stageLine(s))
			}
		}
	}
	d, err := c.buildEnd(ctx, b.ID, follow)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\n%s #%d: %s", d.Project, d.Number, d.Status)
	if d.Reason != "" {
		fmt.Fprintf(stdout, ": %s", d.Reason)
	}
	fmt.Fprintln(stdout)
	if follow && d.Status != pipeline.StatusSucceeded {
		return exitError(1)
	}
	return nil
}

// buildEnd reads the build; with follow it waits for the build to end, which
// comes a moment after its last stage (the runner first removes what the
// build left behind).
func (c *client) buildEnd(ctx context.Context, id int64, follow bool) (apiBuildDetail, error) {
	for {
		var d apiBuildDetail
		if err := c.call(ctx, "GET", fmt.Sprintf("/api/v1/builds/%d", id), nil, &d); err != nil {
			return d, err
		}
		if !follow || d.Status.Done() {
			return d, nil
		}
		select {
		case <-ctx.Done():
			return d, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// stageLine says how a stage ended: "build: succeeded in 3.2s".
func stageLine(s apiStage) string {
	line := fmt.Sprintf("%s: %s", s.Name, s.Status)
	if s.Seconds > 0 {
		line += " in " + round(time.Duration(s.Seconds*float64(time.Second))).String()
	}
	if s.Error != "" {
		line += ": " + s.Error
	}
	return line
}

// copyLog copies one stage's log to w; with follow, until the stage ends.
// A stage the build does not have is an empty log.
func (c *client) copyLog(ctx context.Context, id int64, stage pipeline.StageName, follow bool, w io.Writer) error {
	path := fmt.Sprintf("/api/v1/builds/%d/stages/%s/log", id, stage)
	if follow {
		path += "?follow=true"
	}
	resp, err := c.request(ctx, "GET", path, nil)
	if isStatus(err, http.StatusNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("reading the %s log: %w", stage, err)
	}
	return nil
}

// findBuild resolves "ns/name[:tag][#N]" to a build on the server, the
// newest without #N.
func (c *client) findBuild(ctx context.Context, arg string) (apiBuild, error) {
	ref, n, hasNum, err := parseBuildArg(arg)
	if err != nil {
		return apiBuild{}, err
	}
	limit := 1
	if hasNum {
		limit = 0
	}
	var out struct {
		Builds []apiBuild `json:"builds"`
	}
	if err := c.call(ctx, "GET", fmt.Sprintf("%s/builds?limit=%d", projectPath(ref), limit), nil, &out); err != nil {
		return apiBuild{}, err
	}
	if len(out.Builds) == 0 {
		return apiBuild{}, fmt.Errorf("no builds of %s", ref)
	}
	if !hasNum {
		return out.Builds[0], nil
	}
	for _, b := range out.Builds {
		if b.Number == n {
			return b, nil
		}
	}
	return apiBuild{}, fmt.Errorf("%s has no build #%d (it has %d builds)", ref, n, len(out.Builds))
}
