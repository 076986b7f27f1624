package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/hoistci/hoist/internal/index"
	"github.com/hoistci/hoist/internal/pipeline"
)

func cmdValidate(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("index validate", stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: hoist index validate PATH... (flags: --max-index-file-size SIZE)")
	}
	opts := indexOptions(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return exitError(2)
	}
	res, err := loadIndex(fs.Args(), *opts, stderr)
	if err != nil {
		return err
	}
	if res.HasErrors() {
		return exitError(1)
	}
	fmt.Fprintf(stdout, "ok: %d projects in %d files, %d warnings\n", len(res.Projects), res.Files, len(res.Diagnostics))
	return nil
}

// indexOptions adds --max-index-file-size to fs.
func indexOptions(fs *flag.FlagSet) *index.Options {
	o := &index.Options{MaxFileSize: pipeline.DefaultMaxBytes}
	fs.Var((*sizeFlag)(&o.MaxFileSize), "max-index-file-size", "largest index file read, like 512KB or 2MB")
	return o
}

// loadIndex reads the index at paths and prints every diagnostic to stderr.
func loadIndex(paths []string, o index.Options, stderr io.Writer) (*index.Result, error) {
	res, err := o.Load(paths...)
	if err != nil {
		return nil, err
	}
	for _, d := range res.Diagnostics {
		fmt.Fprintln(stderr, d)
	}
	if res.HasErrors() {
		n := 0
		for _, d := range res.Diagnostics {
			if d.Severity == index.Error {
				n++
			}
		}
		fmt.Fprintf(stderr, "%d errors in the index\n", n)
	}
	return res, nil
}
