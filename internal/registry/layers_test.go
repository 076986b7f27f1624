package registry

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/random"
)

func TestReadLayers(t *testing.T) {
	host := embedded(t)
	img, err := random.Image(512, 3)
	if err != nil {
		t.Fatal(err)
	}
	push(t, host+"/ns/layers:1", img)
	want, _ := img.Layers()
	c := New(Options{})
	var got []string
	err = c.ReadLayers(context.Background(), host+"/ns/layers:1", func(i int, digest string, r io.Reader) error {
		wd, _ := want[i].Digest()
		if digest != wd.String() {
			t.Errorf("layer %d: digest %s, want %s", i, digest, wd)
		}
		tr := tar.NewReader(r)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
			got = append(got, h.Name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Errorf("read %d files from 3 layers, want 3: %v", len(got), got)
	}

	cfg, err := c.RemoteConfig(context.Background(), host+"/ns/layers:1")
	if err != nil {
		t.Fatal(err)
	}
	wantDigest, _ := img.Digest()
	if cfg.Digest != wantDigest.String() || cfg.Size < 3*512 {
		t.Errorf("RemoteConfig: digest %s size %d, want %s and at least %d", cfg.Digest, cfg.Size, wantDigest, 3*512)
	}

	// A callback's error stops the walk and comes back as it is.
	stop := errors.New("stop")
	calls := 0
	err = c.ReadLayers(context.Background(), host+"/ns/layers:1", func(int, string, io.Reader) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("ReadLayers with a failing callback: err %v after %d calls, want stop after 1", err, calls)
	}

	// A missing image says so.
	err = c.ReadLayers(context.Background(), host+"/ns/nothing:1", func(int, string, io.Reader) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "ns/nothing") {
		t.Errorf("ReadLayers of a missing image: %v", err)
	}
}
