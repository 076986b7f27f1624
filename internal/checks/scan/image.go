package scan

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/hoistci/hoist/internal/checks/imagefs"
	"github.com/hoistci/hoist/internal/pipeline"
)

// Size limits of what the scanners read.
const (
	maxMetadataFile = 16 << 20  // a package database or manifest
	maxRPMDB        = 512 << 20 // an rpm database
	maxGoBinary     = 1 << 30   // an executable searched for Go build info
)

// image is what the scanners need of an image, read in one pass.
type image struct {
	fs     *imagefs.FS
	files  map[string][]byte // the wanted files of the merged view, by path
	goBins []goBinary        // Go executables of the merged view, by path
	errs   map[string]string // wanted files that could not be read: why, by path
}

// wanted reports whether the scanners read the file at p.
func wanted(p string) bool {
	switch {
	case p == dpkgStatus, p == apkDB, isRPMDB(p):
		return true
	case strings.HasPrefix(p, dpkgStatusD):
		return !strings.Contains(p[len(dpkgStatusD):], "/")
	}
	for _, f := range osReleaseFiles {
		if p == f {
			return true
		}
	}
	return isLanguageFile(p)
}

// limit is the largest file at p the scanners read.
func limit(p string) int64 {
	if isRPMDB(p) {
		return maxRPMDB
	}
	return maxMetadataFile
}

// readImage reads ref's layers once: it keeps the wanted files and reads
// the build info of every ELF executable as it goes by.
func readImage(ctx context.Context, lr pipeline.LayerReader, ref string) (*image, error) {
	tmp, err := os.CreateTemp("", "hoist-scan-bin-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	seen := map[string]goBinary{} // by path: the last layer's wins
	var visitErr error            // Read returns it as it is
	fsys, err := imagefs.Read(ctx, lr, ref, imagefs.Options{
		Keep: func(p string, size int64) bool { return wanted(p) && size <= limit(p) },
		Visit: func(f imagefs.File, content io.Reader) error {
			if f.Mode&0o111 == 0 || f.Size < 1024 || f.Size > maxGoBinary {
				return nil
			}
			bi, err := goBuildInfo(tmp, content)
			if err != nil {
				visitErr = err
				return err
			}
			if bi != nil {
				seen[f.Path] = goBinary{Path: f.Path, Layer: f.Layer, Info: bi}
			} else {
				delete(seen, f.Path)
			}
			return nil
		},
	})
	if err != nil {
		if visitErr != nil {
			return nil, fmt.Errorf("reading the image's executables: %w", visitErr)
		}
		return nil, fmt.Errorf("reading its layers: %w", err)
	}
	img := &image{fs: fsys, files: map[string][]byte{}, errs: map[string]string{}}
	err = fsys.Walk(func(f imagefs.File) error {
		if !f.Mode.IsRegular() || !wanted(f.Path) {
			return nil
		}
		if f.Size > limit(f.Path) {
			img.errs[f.Path] = fmt.Sprintf("%s: %d bytes, over the scanner's limit of %d", f.Path, f.Size, limit(f.Path))
			return nil
		}
		data, err := fsys.ReadFile(f.Path)
		if err != nil {
			img.errs[f.Path] = fmt.Sprintf("%s: %v", f.Path, err)
			return nil
		}
		img.files[f.Path] = data
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Only the binaries the container would see count: not one a later
	// layer deleted or replaced.
	for _, p := range sortedKeys(seen) {
		b := seen[p]
		if f, ok := fsys.Lstat(p); ok && f.Mode.IsRegular() && f.Layer == b.Layer {
			img.goBins = append(img.goBins, b)
		}
	}
	return img, nil
}

// goBuildInfo copies an executable to tmp and reads its Go build info;
// nil when it is not an ELF file or not a Go binary.
func goBuildInfo(tmp *os.File, content io.Reader) (*debug.BuildInfo, error) {
	magic := make([]byte, 4)
	if n, _ := io.ReadFull(content, magic); n < 4 || !bytes.Equal(magic, []byte("\x7fELF")) {
		return nil, nil
	}
	if err := tmp.Truncate(0); err != nil {
		return nil, err
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	if _, err := tmp.Write(magic); err != nil {
		return nil, err
	}
	if _, err := io.Copy(tmp, content); err != nil {
		return nil, fmt.Errorf("copying an executable to %s: %w", tmp.Name(), err)
	}
	bi, ok := readGoBuildInfo(tmp.Name())
	if !ok {
		return nil, nil
	}
	return bi, nil
}

// exists reports whether p exists in the merged view (symlinks followed).
func (img *image) exists(p string) bool {
	_, ok := img.fs.Stat(p)
	return ok
}

// distro reads /etc/os-release or /usr/lib/os-release.
func (img *image) distro() Distro {
	for _, f := range osReleaseFiles {
		if data, ok := img.files[f]; ok {
			return ParseOSRelease(data)
		}
	}
	return Distro{}
}

// under returns the kept files directly in dir, in order.
func (img *image) under(dir string) []string {
	var out []string
	for _, p := range img.names() {
		if strings.HasPrefix(p, dir) && !strings.Contains(p[len(dir):], "/") {
			out = append(out, p)
		}
	}
	return out
}

// names returns the kept files' paths in order.
func (img *image) names() []string { return sortedKeys(img.files) }

// isLanguageFile reports whether p is read by the language scanner.
func isLanguageFile(p string) bool {
	return isPythonMetadata(p) || isNPMPackageJSON(p) || isGemspec(p)
}

// readErrors returns why the wanted files that match could not be read.
func (img *image) readErrors(match func(string) bool) []string {
	var out []string
	for _, p := range sortedKeys(img.errs) {
		if match(p) {
			out = append(out, img.errs[p])
		}
	}
	return out
}
