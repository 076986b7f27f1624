package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"
	"time"

	"github.com/moby/moby/client"

	"github.com/hoistci/hoist/internal/pipeline"
)

var _ pipeline.EngineLoss = (*Engine)(nil)

// lostPing bounds the ping EngineLost asks the engine with.
const lostPing = 3 * time.Second

// EngineLost reports whether err, which a stage failed with, came from
// losing the engine rather than from the stage's work: the connection to
// it failed or broke (the engine stopped or restarted: a dial refused, a
// stream cut short), or the engine does not answer a ping now. The moby
// client dials again on its next call, so nothing needs reconnecting.
func (e *Engine) EngineLost(ctx context.Context, err error) bool {
	if err == nil || ctx.Err() != nil {
		return false
	}
	if connectionLost(err) {
		return true
	}
	pctx, cancel := context.WithTimeout(ctx, lostPing)
	defer cancel()
	_, perr := e.cli.Ping(pctx, client.PingOptions{})
	return perr != nil && ctx.Err() == nil
}

// connectionLost reports whether err says the connection to the engine
// failed or broke: by type where the error kept it, else by the client's
// own words (errors from checks often arrive as text). A user's script
// saying "connection refused" about the image under test is not matched.
func connectionLost(err error) bool {
	if client.IsErrConnectionFailed(err) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	return strings.Contains(err.Error(), "Cannot connect to the Docker daemon")
}

// AwaitEngine waits until the engine answers a ping again, or ctx ends.
func (e *Engine) AwaitEngine(ctx context.Context) error {
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, lostPing)
		_, err := e.cli.Ping(pctx, client.PingOptions{})
		cancel()
		if err == nil {
			e.log.Debug("the container engine answers again", "host", e.cli.DaemonHost())
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the container engine at %s: %w (last: %v)", e.cli.DaemonHost(), context.Cause(ctx), err)
		case <-tick.C:
		}
	}
}
