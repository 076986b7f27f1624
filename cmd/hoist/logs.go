package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/hoistci/hoist/internal/pipeline"
)

const logsUsage = "usage: hoist logs [-f] [--server URL | --data DIR [--db URL]] [--stage STAGE] NS/NAME[:TAG][#N]"

// cmdLogs prints a build's stage logs: from a server's API when --server
// or HOIST_SERVER names one (-f follows a running build to its end), else
// from the --data database.
func cmdLogs(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("logs", stderr)
	data := fs.String("data", "hoist-data", "Hoist's data folder, read when no server is named")
	db := dbFlag(fs)
	stage := fs.String("stage", "", "show only this stage")
	follow := fs.Bool("f", false, "follow a running build's logs until it ends (needs a server); exit 1 unless it succeeded")
	server := serverFlag(fs)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fmt.Fprintln(stderr, logsUsage)
		return exitError(2)
	}
	remote := os.Getenv("HOIST_SERVER") != ""
	fs.Visit(func(f *flag.Flag) { remote = remote || f.Name == "server" })
	if remote {
		c, err := newClient(*server)
		if err != nil {
			return err
		}
		return remoteLogs(ctx, c, pos[0], pipeline.StageName(*stage), *follow, stdout)
	}
	if *follow {
		return fmt.Errorf("-f follows a build on a server: name it with --server URL or HOIST_SERVER")
	}
	return localLogs(ctx, *data, *db, pos[0], *stage, stdout)
}

// localLogs prints a build's logs from the database db names (see openDB).
func localLogs(ctx context.Context, data, db, arg, stage string, stdout io.Writer) error {
	st, err := openDB(ctx, data, db)
	if err != nil {
		return err
	}
	defer st.Close()
	b, err := findBuild(ctx, st, arg)
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
		if stage != "" && string(s.Name) != stage {
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
func findBuild(ctx context.Context, st store, arg string) (pipeline.Build, error) {
	ref, n, hasNum, err := parseBuildArg(arg)
	if err != nil {
		return pipeline.Build{}, err
	}
	if hasNum {
		b, err := st.BuildNumber(ctx, ref.String(), n)
		if errors.Is(err, pipeline.ErrNotFound) {
			last, lerr := st.Builds(ctx, ref.String(), 1)
			if lerr == nil && len(last) == 0 {
				return pipeline.Build{}, fmt.Errorf("no builds of %s", ref)
			}
			if lerr == nil {
				return pipeline.Build{}, fmt.Errorf("%s has no build #%d (its newest is #%d)", ref, n, last[0].Number)
			}
		}
		return b, err
	}
	builds, err := st.Builds(ctx, ref.String(), 1)
	if err != nil {
		return pipeline.Build{}, err
	}
	if len(builds) == 0 {
		return pipeline.Build{}, fmt.Errorf("no builds of %s", ref)
	}
	return builds[0], nil
}

// parseBuildArg splits "ns/name[:tag][#N]" into the project and the build
// number, if one is given.
func parseBuildArg(arg string) (ref pipeline.ImageRef, n int, hasNum bool, err error) {
	name, num, hasNum := strings.Cut(arg, "#")
	if ref, err = pipeline.ParseImageRef(name); err != nil {
		return ref, 0, false, err
	}
	if hasNum {
		if n, err = strconv.Atoi(num); err != nil || n < 1 {
			return ref, 0, false, fmt.Errorf("build number %q is not a number", num)
		}
	}
	return ref, n, hasNum, nil
}
