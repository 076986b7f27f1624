package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

func cmdImages(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("images", stderr)
	data := fs.String("data", "hoist-data", "Hoist's data folder")
	db := dbFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: hoist images [--data DIR] [--db URL]")
		return exitError(2)
	}
	st, err := openDB(ctx, *data, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	images, err := st.Images(ctx)
	if err != nil {
		return err
	}
	if len(images) == 0 {
		fmt.Fprintf(stderr, "nothing delivered yet (data in %s)\n", *data)
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "IMAGE\tDIGEST\tCOMMIT\tBUILD\tDELIVERED")
	for _, img := range images {
		build := fmt.Sprintf("id %d", img.BuildID)
		if b, err := st.Build(ctx, img.BuildID); err == nil {
			build = fmt.Sprintf("%s#%d", b.Project, b.Number)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", img.Image, img.Digest, short(img.Commit, 12), build, img.Delivered.Local().Format(time.DateTime))
	}
	return tw.Flush()
}

func short(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
