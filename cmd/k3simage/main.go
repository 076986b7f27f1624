// Command k3simage writes an image as a docker-archive tarball (what
// `docker save` writes and `ctr images import` reads) for scripts/k3s.sh,
// which imports it into a k3s node's containerd: no registry can be
// reached here, so the node's images are made locally.
//
//	k3simage -o FILE toolbox
//	    the toolbox image, the very image (name and content) the engine
//	    imports for sandboxed scripts; prints its reference
//	k3simage -o FILE -ref REF... [-entrypoint JSON] [-cmd JSON] [-env K=V]... [-user UID:GID] files SPEC...
//	    an image of one layer, made of each SPEC:
//	      SRC=DST      the file SRC at DST, with its mode (a symbolic link
//	                   SRC is followed); or, when SRC is a folder, its tree
//	                   at DST: files, folders and symbolic links as they are
//	      DIR/         an empty folder
//	      DST->TARGET  a symbolic link
//	    a DST written already is left as it is; -ref may be repeated to
//	    give the image several names
package main

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path"
	"strings"

	"github.com/hoistci/hoist/internal/engine"
)

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

func main() {
	out := flag.String("o", "", "the archive to write")
	var refs listFlag
	flag.Var(&refs, "ref", "a reference of the image, as name:tag (repeatable)")
	user := flag.String("user", "", "the user the image runs as, UID[:GID]")
	entrypoint := flag.String("entrypoint", "", "the image's entrypoint, a JSON array")
	cmd := flag.String("cmd", "", "the image's command, a JSON array")
	var env listFlag
	flag.Var(&env, "env", "an environment variable of the image, K=V (repeatable)")
	flag.Parse()
	cfg := imageConfig{User: *user}
	if err := run(*out, refs, *entrypoint, *cmd, env, cfg, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "k3simage:", err)
		os.Exit(1)
	}
}

func run(out string, refs []string, entrypoint, cmd string, env []string, cfg imageConfig, args []string) error {
	if out == "" || len(args) == 0 {
		return fmt.Errorf("usage: k3simage -o FILE toolbox | k3simage -o FILE -ref REF... [-entrypoint JSON] [-cmd JSON] [-env K=V]... [-user UID:GID] files SRC=DST|DIR/|DST->TARGET...")
	}
	var layer bytes.Buffer
	switch args[0] {
	case "toolbox":
		r, rootfs, err := engine.ToolboxImage(context.Background())
		if err != nil {
			return err
		}
		refs = []string{r}
		cfg.Env, cfg.Cmd = []string{"PATH=/bin"}, []string{"sh"}
		if err := rootfs(&layer); err != nil {
			return err
		}
	case "files":
		if len(refs) == 0 {
			return fmt.Errorf("files needs -ref NAME:TAG")
		}
		cfg.Env = env
		for _, f := range []struct {
			flag, text string
			to         *[]string
		}{{"-entrypoint", entrypoint, &cfg.Entrypoint}, {"-cmd", cmd, &cfg.Cmd}} {
			if f.text != "" {
				if err := json.Unmarshal([]byte(f.text), f.to); err != nil {
					return fmt.Errorf("%s %s: not a JSON array of strings: %w", f.flag, f.text, err)
				}
			}
		}
		if err := writeFiles(&layer, args[1:]); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown kind %q: toolbox or files", args[0])
	}
	if err := writeArchive(out, refs, cfg, layer.Bytes()); err != nil {
		return fmt.Errorf("writing %s: %w", out, err)
	}
	fmt.Println(strings.Join(refs, "\n"))
	return nil
}

type imageConfig struct {
	User       string   `json:",omitempty"`
	Env        []string `json:",omitempty"`
	Entrypoint []string `json:",omitempty"`
	Cmd        []string `json:",omitempty"`
}

// writeArchive writes a docker-archive of one layer: manifest.json, the
// config named by its digest, the layer.
func writeArchive(out string, refs []string, cfg imageConfig, layer []byte) error {
	diffID := sha256.Sum256(layer)
	config, err := json.Marshal(map[string]any{
		"architecture": "amd64",
		"os":           "linux",
		"config":       cfg,
		"rootfs":       map[string]any{"type": "layers", "diff_ids": []string{"sha256:" + hex.EncodeToString(diffID[:])}},
	})
	if err != nil {
		return err
	}
	configSum := sha256.Sum256(config)
	configName := hex.EncodeToString(configSum[:]) + ".json"
	layerName := hex.EncodeToString(diffID[:]) + "/layer.tar"
	manifest, err := json.Marshal([]map[string]any{{"Config": configName, "RepoTags": refs, "Layers": []string{layerName}}})
	if err != nil {
		return err
	}
	f, err := os.Create(out + ".tmp")
	if err != nil {
		return err
	}
	defer os.Remove(out + ".tmp")
	tw := tar.NewWriter(f)
	for _, e := range []struct {
		name string
		data []byte
	}{{configName, config}, {layerName, layer}, {"manifest.json", manifest}} {
		if dir := path.Dir(e.name); dir != "." {
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir + "/", Mode: 0o755}); err != nil {
				return err
			}
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: e.name, Mode: 0o644, Size: int64(len(e.data))}); err != nil {
			return err
		}
		if _, err := tw.Write(e.data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(out+".tmp", out)
}
