package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

// followChunk is how much of a log is read and emitted at once.
const followChunk = 32 << 10

// followLog emits the stored log of the build's stage from byte offset on,
// in chunks as they are stored, polling every opts.LogPoll milliseconds,
// until the stage has finished and all of its log is emitted, or ctx ends
// (then it returns ctx's error). A finished build ends the follow too, so
// a stage that never ran ends it at once. emit must not keep the slice it is given; its error stops
// the follow. Logs are never read whole into memory.
func (s *Server) followLog(ctx context.Context, buildID int64, stage pipeline.StageName, offset int64, emit func([]byte) error) error {
	poll := time.Duration(s.opts.LogPoll) * time.Millisecond
	buf := make([]byte, followChunk)
	for {
		// The status is read before the log, so a stage seen finished has
		// all of its log stored: the last read below then gets it all.
		done, err := s.stageDone(ctx, buildID, stage)
		if err != nil {
			return err
		}
		n, err := s.emitLog(ctx, buildID, stage, offset, buf, emit)
		offset += n
		if err != nil || done {
			return err
		}
		t := time.NewTimer(poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// stageDone reports whether the stage has finished, or will not write
// more because its build has finished (a stage that never ran, or one a
// crash left marked running).
func (s *Server) stageDone(ctx context.Context, buildID int64, stage pipeline.StageName) (bool, error) {
	stages, err := s.deps.Store.Stages(ctx, buildID)
	if err != nil {
		return false, fmt.Errorf("reading stages of build %d: %w", buildID, err)
	}
	for _, st := range stages {
		if st.Name == stage && st.Status.Done() {
			return true, nil
		}
	}
	b, err := s.deps.Store.Build(ctx, buildID)
	if err != nil {
		return false, fmt.Errorf("build %d: %w", buildID, err)
	}
	return b.Status.Done(), nil
}

// emitLog emits the log from offset to its stored end, one buffer at a
// time, and returns how many bytes it emitted.
func (s *Server) emitLog(ctx context.Context, buildID int64, stage pipeline.StageName, offset int64, buf []byte, emit func([]byte) error) (int64, error) {
	rc, err := s.deps.Store.OpenLog(ctx, buildID, stage, offset)
	if err != nil {
		return 0, fmt.Errorf("opening log of build %d stage %s: %w", buildID, stage, err)
	}
	defer rc.Close()
	var total int64
	for {
		n, err := rc.Read(buf)
		if n > 0 {
			if err := emit(buf[:n]); err != nil {
				return total, err
			}
			total += int64(n)
		}
		switch {
		case errors.Is(err, io.EOF):
			return total, nil
		case err != nil:
			return total, fmt.Errorf("reading log of build %d stage %s: %w", buildID, stage, err)
		}
	}
}
