package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/script"
)

// instanceFile holds, in the data folder, the id of the Hoist instance that
// keeps its data there.
const instanceFile = "instance"

// instanceID returns the id of the instance whose data folder is data,
// making one the first time. What an instance makes in the engine carries
// it in a label, and the processes its scripts start carry it in their
// environment: a restart on the same data folder finds its own leftovers,
// and two instances (two data folders) on one engine never touch each
// other's.
func instanceID(data string) (string, error) {
	path := filepath.Join(data, instanceFile)
	for range 2 {
		b, err := os.ReadFile(path)
		if err == nil {
			if id := strings.TrimSpace(string(b)); id != "" {
				return id, nil
			}
			return "", fmt.Errorf("%s is empty: remove it, and Hoist makes a new instance id", path)
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("reading the instance id: %w", err)
		}
		if err := os.MkdirAll(data, 0o755); err != nil {
			return "", fmt.Errorf("creating the data folder: %w", err)
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, fs.ErrExist) {
			continue // another process made it first: read it
		}
		if err != nil {
			return "", fmt.Errorf("writing the instance id: %w", err)
		}
		b = make([]byte, 8)
		_, _ = rand.Read(b)
		_, werr := f.WriteString(hex.EncodeToString(b) + "\n")
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return "", fmt.Errorf("writing the instance id: %w", werr)
		}
	}
	return instanceID(data)
}

// reapLeftovers removes what this instance left running when it stopped
// without cleaning up (kill -9, a crash, a power cut): every container,
// network and throw-away image labelled with its id, and every process its
// scripts started. Called when a server starts, before it runs any build:
// none of it belongs to a running build.
func reapLeftovers(ctx context.Context, e *env, log *slog.Logger) {
	killed, err := script.Reap(e.instance)
	if err != nil {
		log.Warn("killing processes left by the last run", "err", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	n, err := e.exec.Reap(ctx, map[string]string{pipeline.LabelInstance: e.instance})
	if err != nil {
		log.Warn("removing containers and networks left by the last run", "err", err)
	}
	if killed > 0 || n != (pipeline.Reaped{}) {
		log.Warn("removed what the last run left behind", "instance", e.instance, "processes", killed,
			"containers", n.Containers, "networks", n.Networks, "images", n.Images)
	}
}
