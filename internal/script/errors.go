package script

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// explain turns how the script ended into nil or an error naming it.
func explain(ctx context.Context, cmd *exec.Cmd, err error, name string, timeout time.Duration, logErr error) error {
	var exit *exec.ExitError
	switch {
	case cmd.ProcessState != nil && cmd.ProcessState.Success():
		if logErr != nil {
			return fmt.Errorf("%s: writing its log: %w", name, logErr)
		}
		return nil
	case errors.Is(context.Cause(ctx), errTimedOut):
		return fmt.Errorf("%s timed out after %s", name, timeout)
	case ctx.Err() != nil:
		return fmt.Errorf("%s stopped: %w", name, context.Cause(ctx))
	case errors.As(err, &exit):
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return fmt.Errorf("%s was killed by signal %d (%s)", name, ws.Signal(), ws.Signal())
		}
		return fmt.Errorf("%s exited with status %d", name, exit.ExitCode())
	}
	return fmt.Errorf("%s: %w", name, err)
}

// startError explains why the script could not start.
func startError(name string, argv []string, err error) error {
	var pathErr *fs.PathError
	if errors.As(err, &pathErr) && pathErr.Op == "chdir" {
		return fmt.Errorf("%s: cannot start: working folder %s: %w", name, pathErr.Path, pathErr.Err)
	}
	if len(argv) > 1 {
		return fmt.Errorf("%s: cannot start the shell %s: %w", name, argv[0], err)
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s: cannot start: its interpreter %q was not found", name, interpreter(argv[0]))
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("%s: cannot start: permission denied (is its folder mounted noexec, or its interpreter not executable?)", name)
	}
	return fmt.Errorf("%s: cannot start: %w", name, err)
}

// interpreter returns the program named on the script's "#!" line.
func interpreter(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return "?"
	}
	defer f.Close()
	line, _ := bufio.NewReader(f).ReadString('\n')
	fields := strings.Fields(strings.TrimPrefix(line, "#!"))
	if len(fields) == 0 {
		return "?"
	}
	return fields[0]
}
