package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/runner"
)

// cmdScan is "hoist scan NS/NAME[:TAG]": it scans the image Hoist last
// delivered for the project again, without rebuilding it, stores the scan
// and says what changed since the previous one. With --server it asks
// that server to do it.
func cmdScan(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("scan", stderr)
	server := serverFlag(fs)
	data := fs.String("data", "hoist-data", "Hoist's data folder (without --server)")
	db := dbFlag(fs)
	var reg registryFlags
	var sf stageFlags
	reg.register(fs)
	sf.register(fs)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fmt.Fprintln(stderr, "usage: hoist scan [--server URL | --data DIR [--db URL]] [--cve-scanner CMD] NS/NAME[:TAG]")
		return exitError(2)
	}
	ref, err := pipeline.ParseImageRef(pos[0])
	if err != nil {
		return err
	}
	remote := os.Getenv("HOIST_SERVER") != ""
	fs.Visit(func(f *flag.Flag) { remote = remote || f.Name == "server" })
	if remote {
		return scanRemote(ctx, *server, ref, stdout)
	}
	env, err := openEnv(ctx, *data, *db, reg, sf.exec, stderr)
	if err != nil {
		if strings.Contains(err.Error(), "address already in use") {
			return fmt.Errorf("%w\nIs hoist serve running on this data folder? Then use: hoist scan --server URL %s", err, ref)
		}
		return err
	}
	defer env.Close()
	r := runner.New(sf.deps(env), runner.Options{RegistryHost: env.registryHost, WorkDir: filepath.Join(*data, "work")})
	s, err := r.Rescan(ctx, ref.String(), "hoist scan", stdout)
	if errors.Is(err, pipeline.ErrNotFound) {
		return fmt.Errorf("%s: nothing delivered to scan yet (hoist images lists what was)", ref)
	}
	if err != nil {
		return err
	}
	printScan(stdout, s)
	return nil
}

// printScan prints one line per scanner.
func printScan(w io.Writer, s pipeline.Scan) {
	fmt.Fprintf(w, "scan #%d of %s@%s (%s):\n", s.ID, s.Image, s.Digest, s.Cause)
	for _, res := range s.Report.Results {
		var parts []string
		if n := len(res.Packages); n > 0 {
			parts = append(parts, fmt.Sprintf("%d packages", n))
		}
		if n := len(res.Updates); n > 0 {
			parts = append(parts, fmt.Sprintf("%d updates", n))
		}
		if n := len(res.Findings); n > 0 {
			parts = append(parts, fmt.Sprintf("%d findings", n))
		}
		if res.Detail != "" {
			parts = append(parts, res.Detail)
		}
		fmt.Fprintf(w, "  %-18s %-5s %s\n", res.Scanner, res.Status, strings.Join(parts, "; "))
	}
}

// scanRemote asks a server for the re-scan.
func scanRemote(ctx context.Context, server string, ref pipeline.ImageRef, stdout io.Writer) error {
	c, err := newClient(server)
	if err != nil {
		return err
	}
	var out struct {
		Scan struct {
			ID       int64  `json:"id"`
			Image    string `json:"image"`
			Digest   string `json:"digest"`
			Scanners []struct {
				Scanner string `json:"scanner"`
				Status  string `json:"status"`
				Detail  string `json:"detail"`
			} `json:"scanners"`
			Diff *struct {
				Previous int64  `json:"previous"`
				Summary  string `json:"summary"`
			} `json:"diff"`
		} `json:"scan"`
	}
	if err := c.call(ctx, "POST", projectPath(ref)+"/scan", nil, &out); err != nil {
		return fmt.Errorf("scanning %s: %w", ref, err)
	}
	sc := out.Scan
	fmt.Fprintf(stdout, "scan #%d of %s@%s:\n", sc.ID, sc.Image, sc.Digest)
	for _, res := range sc.Scanners {
		fmt.Fprintf(stdout, "  %-18s %-5s %s\n", res.Scanner, res.Status, res.Detail)
	}
	if sc.Diff != nil {
		fmt.Fprintf(stdout, "since scan #%d: %s\n", sc.Diff.Previous, sc.Diff.Summary)
	}
	return nil
}
