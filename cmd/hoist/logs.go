package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/store/sqlite"
)

func cmdLogs(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("logs", stderr)
	data := fs.String("data", "hoist-data", "Hoist's data folder")
	stage := fs.String("stage", "", "show only this stage")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: hoist logs [--data DIR] [--stage STAGE] NS/NAME[:TAG][#N]")
		return exitError(2)
	}
	st, err := openStore(ctx, *data)
	if err != nil {
		return err
	}
	defer st.Close()
	b, err := findBuild(ctx, st, fs.Arg(0))
	if err != nil {
		return err
	}
	stages, err := st.Stages(ctx, b.ID)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s #%d: %s (%s)\n", b.Project, b.Number, b.Status, b.Cause)
	if b.Reason != "" {
		fmt.Fprintf(stdout, "reason: %s\n", b.Reason)
	}
	for _, s := range stages {
		if *stage != "" && string(s.Name) != *stage {
			continue
		}
		fmt.Fprintf(stdout, "\n=== %s: %s", s.Name, s.Status)
		if d := s.Duration(); d > 0 {
			fmt.Fprintf(stdout, " in %s", round(d))
		}
		if s.Error != "" {
			fmt.Fprintf(stdout, ": %s", s.Error)
		}
		fmt.Fprintln(stdout)
		rc, err := st.OpenLog(ctx, b.ID, s.Name, 0)
		if err != nil {
			return err
		}
		_, err = io.Copy(stdout, rc)
		rc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// findBuild resolves "ns/name[:tag][#N]" to a build, the last one without #N.
func findBuild(ctx context.Context, st *sqlite.Store, arg string) (pipeline.Build, error) {
	name, num, hasNum := strings.Cut(arg, "#")
	ref, err := pipeline.ParseImageRef(name)
	if err != nil {
		return pipeline.Build{}, err
	}
	builds, err := st.Builds(ctx, ref.String(), 0)
	if err != nil {
		return pipeline.Build{}, err
	}
	if len(builds) == 0 {
		return pipeline.Build{}, fmt.Errorf("no builds of %s", ref)
	}
	if !hasNum {
		return builds[0], nil
	}
	n, err := strconv.Atoi(num)
	if err != nil {
		return pipeline.Build{}, fmt.Errorf("build number %q is not a number", num)
	}
	for _, b := range builds {
		if b.Number == n {
			return b, nil
		}
	}
	return pipeline.Build{}, fmt.Errorf("%s has no build #%d (it has %d builds)", ref, n, len(builds))
}
