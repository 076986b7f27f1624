package pipeline

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// ReadRegularFile reads the file at path, named name in messages, and
// refuses what is not a regular file (a device, a FIFO, a socket, a
// folder) and a file over max bytes (a *LimitError), without ever
// blocking on a FIFO or reading past max.
func ReadRegularFile(path, name string, max int64) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file (%s); Hoist reads only regular files", name, FileKind(fi.Mode()))
	}
	if fi.Size() > max {
		return nil, SizeError(name, fi.Size(), max)
	}
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max { // it grew while read
		return nil, SizeError(name, int64(len(data)), max)
	}
	return data, nil
}

// ReadCheckoutFile reads the file rel (slash-separated) of the checkout
// at root: SafeJoin's rules (no "..", no symlink leading out of root),
// then ReadRegularFile's. A missing file is an error that matches
// fs.ErrNotExist.
func ReadCheckoutFile(root, rel string, max int64) ([]byte, error) {
	p, err := SafeJoin(root, rel)
	if err != nil {
		return nil, err
	}
	data, err := ReadRegularFile(p, rel, max)
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return nil, fmt.Errorf("reading %s: %w", rel, pe.Err)
	}
	return data, err
}

// FileKind names the kind of a file that is not regular: "a FIFO".
func FileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a folder"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return m.Type().String()
}
