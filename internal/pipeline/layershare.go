package pipeline

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// LayerShare holds the layers one build reads, so that they are read from
// the registry (and decompressed) once, however many readers want them: the
// test stage's file checks, the scanners beside them, a check reading a file
// again. The first reader of an image starts its download, which writes
// each layer's uncompressed tar to a file in the share's folder as fast as
// the registry sends it; every reader, the first included, follows those
// files as they grow, at its own pace, so a slow reader never holds up
// another. A download runs for as long as one reader follows it: when the
// last one leaves early (cancelled), it stops, its files are removed, and a
// later reader starts over. A download that fails fails every reader of the
// layer, and of the layers after it, and the next reader starts over.
// Nothing is held in memory; the files of one copy of each image (the
// uncompressed size of its layers, a layer met twice kept once) stay until
// Close.
//
// A LayerShare reaches readers through a context (WithLayerShare), and
// SharedLayers makes a LayerReader that uses the share its context
// carries. It is safe for concurrent use.
type LayerShare struct {
	dir string // where the share's folder is made

	mu     sync.Mutex
	folder string                  // made at the first read; "" : not yet
	images map[string]*sharedImage // by reference, while their downloads are followed or done
	closed bool
	n      int            // files made, for their names
	all    []*sharedImage // every download started, for Close
	wg     sync.WaitGroup // the downloads
}

// NewLayerShare returns an empty share whose files go in a new folder under
// dir (os.TempDir when ""), made at the first read.
func NewLayerShare(dir string) *LayerShare {
	return &LayerShare{dir: dir, images: map[string]*sharedImage{}}
}

// errShareClosed ends the downloads of a closed share.
var errShareClosed = errors.New("the build's shared layers were removed")

// Close stops the downloads still running, waits for them and removes the
// share's files. Later reads go to the registry, unshared.
func (s *LayerShare) Close() error {
	s.mu.Lock()
	s.closed = true
	all, folder := s.all, s.folder
	s.all, s.images = nil, map[string]*sharedImage{}
	s.mu.Unlock()
	for _, m := range all {
		m.cancel(errShareClosed)
	}
	s.wg.Wait()
	if folder == "" {
		return nil
	}
	return os.RemoveAll(folder)
}

type layerShareKey struct{}

// WithLayerShare returns ctx carrying s, which SharedLayers readers use.
func WithLayerShare(ctx context.Context, s *LayerShare) context.Context {
	return context.WithValue(ctx, layerShareKey{}, s)
}

// LayerShareOf returns the share ctx carries, or nil.
func LayerShareOf(ctx context.Context) *LayerShare {
	s, _ := ctx.Value(layerShareKey{}).(*LayerShare)
	return s
}

// SharedLayers returns a LayerReader that reads layers through the
// LayerShare its context carries (WithLayerShare), and straight from lr
// without one. RemoteConfig is lr's.
func SharedLayers(lr LayerReader) LayerReader { return sharedLayers{lr} }

type sharedLayers struct{ LayerReader }

// ReadLayers implements LayerReader.
func (l sharedLayers) ReadLayers(ctx context.Context, ref string, fn func(index int, digest string, tar io.Reader) error) error {
	s := LayerShareOf(ctx)
	if s == nil {
		return l.LayerReader.ReadLayers(ctx, ref, fn)
	}
	m, ok := s.join(ctx, l.LayerReader, ref)
	if !ok {
		return l.LayerReader.ReadLayers(ctx, ref, fn)
	}
	defer s.leave(ref, m)
	return m.follow(ctx, fn)
}

// join returns ref's download, started when there is none, with one more
// reader; false when the share is closed or has no folder for its files.
func (s *LayerShare) join(ctx context.Context, lr LayerReader, ref string) (*sharedImage, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, false
	}
	if m := s.images[ref]; m != nil {
		m.readers++
		return m, true
	}
	if s.folder == "" {
		if s.dir != "" {
			if err := os.MkdirAll(s.dir, 0o755); err != nil {
				return nil, false
			}
		}
		folder, err := os.MkdirTemp(s.dir, "layers-*")
		if err != nil {
			return nil, false
		}
		s.folder = folder
	}
	dctx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	m := &sharedImage{changed: make(chan struct{}), cancel: cancel, readers: 1}
	s.images[ref] = m
	s.all = append(s.all, m)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := m.download(dctx, lr, ref, s.file); err != nil {
			s.forget(ref, m) // a later reader tries again
		}
		s.mu.Lock()
		left := m.left
		s.mu.Unlock()
		if left { // nobody reads its files, nor will
			m.remove()
		}
	}()
	return m, true
}

// leave is the end of one reader of m: the last one to leave before the
// download is done stops it, and a later reader starts another.
func (s *LayerShare) leave(ref string, m *sharedImage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m.readers--
	if m.readers > 0 || m.finished() {
		return
	}
	if s.images[ref] == m {
		delete(s.images, ref)
	}
	m.left = true
	m.cancel(errors.New("no reader is left"))
}

// forget drops m, whose download failed, from the share's images.
func (s *LayerShare) forget(ref string, m *sharedImage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.images[ref] == m {
		delete(s.images, ref)
	}
}

// file makes a new file for a layer in the share's folder.
func (s *LayerShare) file() (*os.File, error) {
	s.mu.Lock()
	s.n++
	name := filepath.Join(s.folder, fmt.Sprintf("layer-%d.tar", s.n))
	s.mu.Unlock()
	return os.Create(name)
}

// sharedImage is the download of one image's layers and where it is.
type sharedImage struct {
	cancel  context.CancelCauseFunc
	readers int  // guarded by the share's mu
	left    bool // its last reader left before its end; guarded by the share's mu

	mu      sync.Mutex
	changed chan struct{} // closed and replaced at every change below
	layers  []*sharedLayer
	done    bool  // the download ended
	err     error // why it failed
}

// sharedLayer is one layer's file, as far as it is written.
type sharedLayer struct {
	digest  string
	path    string
	size    int64 // bytes written
	written bool  // the whole tar is in the file
	done    bool  // the registry's read of it ended: err says how
	err     error
}

// download reads ref's layers through lr into files, telling followers
// of every change, and returns how it ended.
func (m *sharedImage) download(ctx context.Context, lr LayerReader, ref string, file func() (*os.File, error)) error {
	byDigest := map[string]*sharedLayer{}
	err := lr.ReadLayers(ctx, ref, func(index int, digest string, r io.Reader) error {
		m.settle(nil)
		if l := byDigest[digest]; l != nil { // the same layer again: its file
			m.update(func() {
				m.layers = append(m.layers, &sharedLayer{digest: digest, path: l.path, size: l.size, written: true})
			})
			return nil
		}
		f, err := file()
		if err != nil {
			return fmt.Errorf("keeping layer %d (%s) of %s: %w", index, digest, ref, err)
		}
		l := &sharedLayer{digest: digest, path: f.Name()}
		byDigest[digest] = l
		m.update(func() { m.layers = append(m.layers, l) })
		if err = m.copy(l, f, r); err != nil {
			err = fmt.Errorf("layer %d (%s) of %s: %w", index, digest, ref, err)
		}
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("keeping layer %d (%s) of %s: %w", index, digest, ref, cerr)
		}
		m.update(func() { l.written = err == nil })
		return err
	})
	if err != nil && ctx.Err() != nil {
		err = fmt.Errorf("reading the layers of %s: %w", ref, context.Cause(ctx))
	}
	m.settle(err)
	m.update(func() { m.done, m.err = true, err })
	return err
}

// remove removes the files of m's layers.
func (m *sharedImage) remove() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, l := range m.layers {
		_ = os.Remove(l.path) // a layer met twice: gone already
	}
}

// copy writes r to f, telling followers as the file grows.
func (m *sharedImage) copy(l *sharedLayer, f *os.File, r io.Reader) error {
	buf := make([]byte, 256<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if _, werr := f.Write(buf[:n]); werr != nil {
				return fmt.Errorf("keeping it in %s: %w", f.Name(), werr)
			}
			m.update(func() { l.size += int64(n) })
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// settle ends the layers whose read has not ended, with err.
func (m *sharedImage) settle(err error) {
	m.update(func() {
		for _, l := range m.layers {
			if !l.done {
				l.done, l.err = true, err
			}
		}
	})
}

// update changes m under its lock and wakes its followers.
func (m *sharedImage) update(change func()) {
	m.mu.Lock()
	change()
	close(m.changed)
	m.changed = make(chan struct{})
	m.mu.Unlock()
}

// finished reports whether the download ended.
func (m *sharedImage) finished() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.done
}

// wait calls check under m's lock until it reports true, and waits for a
// change between calls; ctx's end ends the wait with its cause.
func (m *sharedImage) wait(ctx context.Context, check func() bool) error {
	for {
		m.mu.Lock()
		ok, changed := check(), m.changed
		m.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}

// follow calls fn for each layer as the download reaches it, with a reader
// of its file that waits for the bytes not written yet. Like the
// registry's ReadLayers, a layer fn did not read to its end is still
// waited for, so that its failure is reported.
func (m *sharedImage) follow(ctx context.Context, fn func(index int, digest string, tar io.Reader) error) error {
	for i := 0; ; i++ {
		var l *sharedLayer
		var end bool
		var err error
		werr := m.wait(ctx, func() bool {
			switch {
			case i < len(m.layers):
				l = m.layers[i]
			case m.done:
				end, err = true, m.err
			}
			return l != nil || end
		})
		switch {
		case werr != nil:
			return werr
		case end:
			return err
		}
		if err := m.read(ctx, i, l, fn); err != nil {
			return err
		}
	}
}

// read calls fn with layer i's file, then waits for the end of its read
// from the registry.
func (m *sharedImage) read(ctx context.Context, i int, l *sharedLayer, fn func(index int, digest string, tar io.Reader) error) error {
	f, err := os.Open(l.path)
	if err != nil {
		return fmt.Errorf("reading the kept layer %d (%s): %w", i, l.digest, err)
	}
	// Buffered: a tar reader asks for 512 bytes at a time, each a lock
	// and a read of the file without it.
	err = fn(i, l.digest, bufio.NewReaderSize(&follower{ctx: ctx, m: m, l: l, f: f}, 64<<10))
	f.Close()
	if err != nil {
		return err
	}
	var lerr error
	if err := m.wait(ctx, func() bool { lerr = l.err; return l.done }); err != nil {
		return err
	}
	return lerr
}

// follower reads a layer's file as far as it is written, and waits for
// more until the whole layer is.
type follower struct {
	ctx context.Context
	m   *sharedImage
	l   *sharedLayer
	f   *os.File
	off int64
}

// Read implements io.Reader.
func (r *follower) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	var size int64
	var written bool
	var lerr error
	err := r.m.wait(r.ctx, func() bool {
		size, written, lerr = r.l.size, r.l.written, r.l.err
		return size > r.off || written || lerr != nil
	})
	switch {
	case err != nil:
		return 0, err
	case size > r.off:
		if int64(len(p)) > size-r.off {
			p = p[:size-r.off]
		}
		n, err := r.f.ReadAt(p, r.off)
		r.off += int64(n)
		if err == io.EOF && n > 0 {
			err = nil
		}
		return n, err
	case lerr != nil:
		return 0, lerr
	}
	return 0, io.EOF
}
