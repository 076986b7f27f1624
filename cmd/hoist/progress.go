package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/sched"
)

// progress prints what each build is doing: a line per stage, and with
// verbose the build output itself, each line prefixed with its project.
type progress struct {
	mu      sync.Mutex
	w       io.Writer
	verbose bool
	partial map[string][]byte // unfinished output lines per project
}

func newProgress(w io.Writer, verbose bool) *progress {
	return &progress{w: w, verbose: verbose, partial: map[string][]byte{}}
}

func (p *progress) StageStarted(b pipeline.Build, stage pipeline.StageName) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "%s #%d: %s ...\n", b.Project, b.Number, stage)
}

func (p *progress) StageFinished(b pipeline.Build, st pipeline.Stage) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.flushLocked(b.Project)
	switch st.Status {
	case pipeline.StatusFailed:
		fmt.Fprintf(p.w, "%s #%d: %s FAILED after %s: %s\n", b.Project, b.Number, st.Name, round(st.Duration()), st.Error)
	case pipeline.StatusSkipped:
		fmt.Fprintf(p.w, "%s #%d: %s skipped (%s)\n", b.Project, b.Number, st.Name, st.Error)
	default:
		fmt.Fprintf(p.w, "%s #%d: %s %s in %s\n", b.Project, b.Number, st.Name, st.Status, round(st.Duration()))
	}
}

func (p *progress) Output(b pipeline.Build, _ pipeline.StageName, out []byte) {
	if !p.verbose {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	buf := append(p.partial[b.Project], out...)
	for {
		i := bytes.IndexByte(buf, '\n')
		if i < 0 {
			break
		}
		fmt.Fprintf(p.w, "  %s | %s\n", b.Project, bytes.TrimRight(buf[:i], "\r"))
		buf = buf[i+1:]
	}
	p.partial[b.Project] = append([]byte(nil), buf...)
}

func (p *progress) flushLocked(project string) {
	if rest := p.partial[project]; len(rest) > 0 {
		fmt.Fprintf(p.w, "  %s | %s\n", project, rest)
	}
	delete(p.partial, project)
}

// Summary prints one row per project and why the failed ones failed.
func (p *progress) Summary(results []sched.Result, e *env) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintln(p.w)
	tw := tabwriter.NewWriter(p.w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROJECT\tRESULT\tFAILED STAGE\tCHECKS\tIMAGE")
	var notes []string
	ok := 0
	for _, r := range results {
		b := r.Build
		status, stage, image := string(b.Status), "-", "-"
		if r.Err != nil {
			status = "error"
		}
		if b.FailedStage != "" {
			stage = string(b.FailedStage)
		}
		if b.Digest != "" {
			image = b.Image + "@" + b.Digest
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Project.Key(), status, stage, checkCounts(e.store, b.ID), image)
		switch {
		case r.Err != nil:
			notes = append(notes, fmt.Sprintf("%s: %v", r.Project.Key(), r.Err))
		case r.OK():
			ok++
		case b.Status == pipeline.StatusFailed:
			notes = append(notes, fmt.Sprintf("%s failed at %s: %s\n    log: %s logs %s %s#%d", r.Project.Key(), b.FailedStage, b.Reason, self(), dbArgs(e.data, e.db), r.Project.Key(), b.Number))
		default:
			notes = append(notes, fmt.Sprintf("%s %s: %s", r.Project.Key(), b.Status, b.Reason))
		}
	}
	tw.Flush()
	fmt.Fprintf(p.w, "\n%d of %d delivered to %s\n", ok, len(results), e.registryHost)
	if len(notes) > 0 {
		fmt.Fprintf(p.w, "\n%s\n", strings.Join(notes, "\n"))
	}
	if len(results) > 0 {
		fmt.Fprintf(p.w, "\nChecks and their reasons: %s logs %s --stage test NS/NAME; JUnit reports and SBOMs: %s\n", self(), dbArgs(e.data, e.db), artifactDir(e.data)+"/<build id>/")
	}
	if e.server != nil && ok > 0 {
		fmt.Fprintf(p.w, "\nThe images are in the embedded registry, stored in %s/registry.\nServe it again with: %s registry --data %s   (then: docker pull %s/NS/NAME:TAG)\n", e.data, self(), e.data, e.registryHost)
	}
}

// self is how the user ran this binary, for commands to copy and paste.
func self() string {
	if strings.Contains(os.Args[0], "/") {
		return os.Args[0]
	}
	return "hoist"
}

func round(d time.Duration) time.Duration {
	if d > time.Second {
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Millisecond)
}

// checkCounts summarises a build's check results: "9 pass, 1 warn", "-"
// when none ran.
func checkCounts(st pipeline.CheckStore, buildID int64) string {
	if buildID == 0 {
		return "-"
	}
	results, err := st.CheckResults(context.Background(), buildID)
	if err != nil || len(results) == 0 {
		return "-"
	}
	counts := map[pipeline.CheckStatus]int{}
	for _, r := range results {
		counts[r.Status]++
	}
	var parts []string
	for _, s := range []pipeline.CheckStatus{pipeline.CheckFail, pipeline.CheckWarn, pipeline.CheckPass, pipeline.CheckNA} {
		if counts[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
		}
	}
	return strings.Join(parts, ", ")
}
