package runner

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

// SBOMType is the artifact type of the CycloneDX SBOM Hoist attaches to
// each image it builds.
const SBOMType = "application/vnd.cyclonedx+json"

// scan inventories the tested image (packages, capabilities, updates, an
// external CVE scanner), stores the scan and the SBOM with the build and
// attaches the SBOM to the image in the registry as an OCI referrer. A
// scanner that errors is recorded as such and does not stop delivery;
// failing to read the image or to store the SBOM does.
func (r *Runner) scan(ctx context.Context, j *job, log io.Writer) error {
	if r.deps.Scanner == nil {
		return skipReason("no scanner configured")
	}
	started, finished := now(), time.Time{}
	var report pipeline.ScanReport
	var err error
	if es := j.scanning; es != nil {
		report, err = r.awaitScan(es, log)
		started, finished = es.started, es.finished
	} else {
		report, err = r.deps.Scanner.Scan(ctx, r.scanSpec(j), log)
		finished = now()
	}
	if err != nil {
		return fmt.Errorf("scanning %s: %w", r.ref(j, "test"), err)
	}
	s := pipeline.Scan{
		Project: j.project.Key(), Image: r.ref(j, j.project.Tag), Digest: j.digest, BuildID: j.build.ID,
		Cause: fmt.Sprintf("build #%d", j.build.Number), Started: started, Finished: finished, Report: report,
	}
	if err := r.storeScan(ctx, &s, log); err != nil {
		return err
	}
	if len(report.SBOM) == 0 {
		fmt.Fprintln(log, "no SBOM was produced")
		return nil
	}
	if err := r.putArtifact(ctx, j, "sbom.cdx.json", SBOMType, report.SBOM); err != nil {
		return fmt.Errorf("storing the SBOM: %w", err)
	}
	if r.deps.Referrers == nil {
		fmt.Fprintln(log, "SBOM stored with the build (no registry referrers configured)")
		return nil
	}
	subject := r.opts.RegistryHost + "/" + j.project.Image().Repository() + "@" + j.digest
	d, err := r.deps.Referrers.Attach(ctx, subject, SBOMType, SBOMType, report.SBOM, map[string]string{
		"io.hoist.build":   fmt.Sprintf("%s#%d", j.project.Key(), j.build.Number),
		"io.hoist.project": j.project.Key(),
	})
	if err != nil {
		return fmt.Errorf("attaching the SBOM to %s: %w", subject, err)
	}
	fmt.Fprintf(log, "attached the SBOM (%d bytes) to %s as %s\n", len(report.SBOM), subject, d)
	return nil
}

// scanSpec is what a build's scan reads: the tested image, pushed as
// NAME:test, also in the engine's image store.
func (r *Runner) scanSpec(j *job) pipeline.ScanSpec {
	return pipeline.ScanSpec{Image: r.ref(j, "test"), Digest: j.digest, Project: j.project, Local: true}
}

// earlyScan is a build's scan, started with its test stage (it reads the
// NAME:test in the registry, once pushed, as the tests do), so that the scan
// stage only waits for what is left of it. Its output goes to a file until
// the scan stage writes it to its own log; a failing test discards it.
type earlyScan struct {
	cancel context.CancelCauseFunc
	done   chan struct{} // closed when the scanner has returned
	out    *os.File      // the scanner's output

	// Set before done is closed.
	started, finished time.Time
	pushWait          time.Duration // of the scan's time, waiting for NAME:test to be pushed
	report            pipeline.ScanReport
	err               error
}

// errScanDiscarded ends an early scan whose result nobody will read: the
// test stage failed, or the build ended.
var errScanDiscarded = errors.New("the scan is not needed: the build will not deliver")

// startScan starts the scan of j's image beside its test stage, when
// there is a scanner. Without a file for its output it starts nothing,
// and the scan stage scans in its turn.
func (r *Runner) startScan(ctx context.Context, j *job) {
	if r.deps.Scanner == nil {
		return
	}
	out, err := os.CreateTemp("", fmt.Sprintf("hoist-scan-%d-*.log", j.build.ID))
	if err != nil {
		r.opts.Logger.Warn("the scan waits for the tests: no file for its output", "build", j.build.ID, "err", err)
		return
	}
	sctx, cancel := context.WithCancelCause(ctx)
	es := &earlyScan{cancel: cancel, done: make(chan struct{}), out: out, started: now()}
	spec, push := r.scanSpec(j), j.pushing
	go func() {
		defer close(es.done)
		defer func() { es.finished = now() }()
		if push != nil { // the scan reads the registry's copy
			if spec.Digest, es.err = push.wait(sctx); es.err != nil {
				return
			}
			es.pushWait = now().Sub(es.started)
		}
		es.report, es.err = r.deps.Scanner.Scan(sctx, spec, out)
	}()
	j.scanning = es
}

// awaitScan waits for the early scan, writes its output to log after a
// line saying when it ran, and returns its report.
func (r *Runner) awaitScan(es *earlyScan, log io.Writer) (pipeline.ScanReport, error) {
	waitFrom := now()
	<-es.done
	waited := now().Sub(waitFrom)
	took := es.finished.Sub(es.started).Round(time.Millisecond)
	line := fmt.Sprintf("scanned while the tests ran: the scan started with the test stage at %s and took %s", es.started.Format("15:04:05.000"), took)
	if es.pushWait >= time.Millisecond {
		line += fmt.Sprintf(" (%s of it waiting for the image to be pushed)", es.pushWait.Round(time.Millisecond))
	}
	if waited >= time.Millisecond {
		line += fmt.Sprintf(", %s of it after the tests", waited.Round(time.Millisecond))
	}
	fmt.Fprintln(log, line)
	if _, err := es.out.Seek(0, io.SeekStart); err != nil {
		return es.report, fmt.Errorf("reading the scanner's output: %w", err)
	}
	if _, err := io.Copy(log, es.out); err != nil {
		return es.report, fmt.Errorf("copying the scanner's output: %w", err)
	}
	return es.report, es.err
}

// stopScan ends j's early scan, if any, whether or not the scan stage
// used it: it is cancelled, waited for, and its output removed.
func (r *Runner) stopScan(j *job) {
	es := j.scanning
	if es == nil {
		return
	}
	j.scanning = nil
	es.cancel(errScanDiscarded)
	<-es.done
	_ = es.out.Close()
	if err := os.Remove(es.out.Name()); err != nil {
		r.opts.Logger.Warn("removing the scan's output", "file", es.out.Name(), "err", err)
	}
}

// storeScan stores s and logs what changed since the project's previous
// scan.
func (r *Runner) storeScan(ctx context.Context, s *pipeline.Scan, log io.Writer) error {
	prev, err := r.deps.Store.Scans(ctx, s.Project, 1)
	if err != nil {
		return fmt.Errorf("reading the previous scan: %w", err)
	}
	if err := r.deps.Store.PutScan(context.WithoutCancel(ctx), s); err != nil {
		return fmt.Errorf("storing the scan: %w", err)
	}
	for _, res := range s.Report.Results {
		if res.Status == pipeline.ScanError {
			fmt.Fprintf(log, "warning: scanner %s failed: %s\n", res.Scanner, res.Detail)
		}
	}
	if len(prev) == 1 {
		d := pipeline.DiffScans(prev[0].Report, s.Report)
		fmt.Fprintf(log, "since the previous scan (%s, %s): %s\n", prev[0].Cause, prev[0].Finished.Format("2006-01-02 15:04"), d.Summary())
		writeDiff(log, d)
	}
	return nil
}

// writeDiff writes the lines of a scan diff.
func writeDiff(w io.Writer, d pipeline.ScanDiff) {
	for _, p := range d.Added {
		fmt.Fprintf(w, "  + %s %s %s\n", p.Type, p.Name, p.Version)
	}
	for _, p := range d.Removed {
		fmt.Fprintf(w, "  - %s %s %s\n", p.Type, p.Name, p.Version)
	}
	for _, c := range d.Changed {
		fmt.Fprintf(w, "  ~ %s %s %s → %s\n", c.Type, c.Name, c.From, c.To)
	}
	for _, u := range d.Updates {
		fmt.Fprintf(w, "  update %s %s → %s\n", u.Name, u.Installed, u.Available)
	}
	for _, f := range d.Findings {
		fmt.Fprintf(w, "  new finding [%s] %s %s %s\n", f.Severity, f.ID, f.Message, f.Location)
	}
	for _, f := range d.Resolved {
		fmt.Fprintf(w, "  resolved [%s] %s %s %s\n", f.Severity, f.ID, f.Message, f.Location)
	}
	for _, c := range d.Scanners {
		from := string(c.From)
		if from == "" {
			from = "none"
		}
		fmt.Fprintf(w, "  scanner %s: %s → %s %s\n", c.Scanner, from, c.To, c.Detail)
	}
}

// Rescan scans the image Hoist last delivered for project again, without
// rebuilding it, stores the scan with cause and writes what changed since
// the previous scan to log. It returns pipeline.ErrNotFound when nothing
// was delivered for project.
func (r *Runner) Rescan(ctx context.Context, project, cause string, log io.Writer) (pipeline.Scan, error) {
	if r.deps.Scanner == nil {
		return pipeline.Scan{}, errors.New("no scanner configured")
	}
	ctx = pipeline.WithOwner(ctx, r.owner(0))
	ctx = pipeline.WithLimits(ctx, r.opts.Limits) // the server's, as for a build
	if r.deps.Deliveries == nil {
		return pipeline.Scan{}, fmt.Errorf("%s: no deliveries to look in: %w", project, pipeline.ErrNotFound)
	}
	images, err := r.deps.Deliveries.Images(ctx)
	if err != nil {
		return pipeline.Scan{}, fmt.Errorf("reading delivered images: %w", err)
	}
	var img pipeline.DeliveredImage
	for _, i := range images {
		if i.Project == project {
			img = i
			break
		}
	}
	if img.Digest == "" {
		return pipeline.Scan{}, fmt.Errorf("%s: nothing delivered to scan: %w", project, pipeline.ErrNotFound)
	}
	ref := r.deliveredRef(img)
	s := pipeline.Scan{Project: project, Image: img.Image, Digest: img.Digest, Cause: cause, Started: now()}
	fmt.Fprintf(log, "re-scanning %s (%s, delivered by build %d)\n", img.Image, img.Digest, img.BuildID)
	// The updates scanner runs the image's package manager: make the image
	// local when an engine is at hand; the other scanners read the registry.
	local := false
	if lp, ok := r.deps.Engine.(localPuller); ok {
		drop, err := r.pullForRescan(ctx, lp, ref)
		if err != nil {
			fmt.Fprintf(log, "could not pull %s, so package-manager updates are not checked: %v\n", ref, err)
		} else {
			local = true
			defer drop()
		}
	}
	s.Report, err = r.deps.Scanner.Scan(ctx, pipeline.ScanSpec{Image: ref, Digest: img.Digest, Local: local}, log)
	if err != nil {
		return s, fmt.Errorf("scanning %s: %w", ref, err)
	}
	s.Finished = now()
	if err := r.storeScan(ctx, &s, log); err != nil {
		return s, err
	}
	return s, nil
}

// deliveredRef is img's repository and digest in the registry Hoist uses
// now (host/ns/name@digest): the registry may serve on another address
// than when the image was delivered.
func (r *Runner) deliveredRef(img pipeline.DeliveredImage) string {
	repo := img.Image
	if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo = repo[:i]
	}
	if ir, err := pipeline.ParseImageRef(img.Project); err == nil && r.opts.RegistryHost != "" {
		repo = r.opts.RegistryHost + "/" + ir.Repository()
	}
	return repo + "@" + img.Digest
}

// imageRemover is the engine's optional capability to remove local images.
type imageRemover interface {
	RemoveImage(ctx context.Context, ref string) error
}

// localPuller is the optional capability of an engine with a local image
// store (the Docker one) to pull an image under a local name of its own.
// A re-scan's updates scanner runs the delivered image in a container;
// without the capability it says the image is not local (n/a), and the
// other scanners read the registry all the same.
type localPuller interface {
	PullAs(ctx context.Context, ref, alias string, log io.Writer) error
}

// pullForRescan makes ref (host/repo@digest) a local image and returns a
// func that removes what the pull added: its tag and, when the image was
// not local before, the image. The tag, one per re-scan, keeps the image
// while a concurrent re-scan of the same digest drops its own.
func (r *Runner) pullForRescan(ctx context.Context, lp localPuller, ref string) (drop func(), err error) {
	_, err = r.deps.Engine.InspectImage(ctx, ref)
	wasLocal := err == nil
	alias := ref[:strings.LastIndex(ref, "@")] + ":hoist-rescan-" + randomSuffix()
	if err := lp.PullAs(ctx, ref, alias, io.Discard); err != nil {
		return nil, err
	}
	return func() {
		rm, ok := r.deps.Engine.(imageRemover)
		if !ok {
			return
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		drop := []string{alias}
		if !wasLocal {
			drop = append(drop, ref)
		}
		for _, d := range drop {
			if err := rm.RemoveImage(cctx, d); err != nil {
				r.opts.Logger.Warn("removing the re-scan's image", "image", d, "err", err)
			}
		}
	}, nil
}

// randomSuffix is 8 random hex digits: concurrent re-scans of one
// repository each get their own local tag.
func randomSuffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
