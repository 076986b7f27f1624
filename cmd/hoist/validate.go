package main

import (
	"fmt"
	"io"

	"github.com/hoistci/hoist/internal/index"
)

func cmdValidate(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("index validate", stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, "usage: hoist index validate PATH...") }
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return exitError(2)
	}
	res, err := loadIndex(fs.Args(), stderr)
	if err != nil {
		return err
	}
	if res.HasErrors() {
		return exitError(1)
	}
	fmt.Fprintf(stdout, "ok: %d projects in %d files, %d warnings\n", len(res.Projects), res.Files, len(res.Diagnostics))
	return nil
}

// loadIndex reads the index at paths and prints every diagnostic to stderr.
func loadIndex(paths []string, stderr io.Writer) (*index.Result, error) {
	res, err := index.Load(paths...)
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
