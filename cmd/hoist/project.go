package main

import (
	"context"
	"fmt"
	"io"
	"strings"
)

// projectRequest is the body of POST /api/v1/projects; empty fields take
// the server's defaults.
type projectRequest struct {
	Name       string   `json:"name"`
	RepoURL    string   `json:"repo_url"`
	Branch     string   `json:"branch,omitempty"`
	Path       string   `json:"path,omitempty"`
	Dockerfile string   `json:"dockerfile,omitempty"`
	Context    string   `json:"context,omitempty"`
	Tag        string   `json:"tag,omitempty"`
	DependsOn  []string `json:"depends_on,omitempty"`
	Email      string   `json:"email,omitempty"`
}

const projectUsage = "usage: hoist project add [--server URL] NS/NAME REPO_URL [--branch B] [--path DIR] [--dockerfile F] [--context DIR] [--tag T] [--depends-on NS/NAME:TAG]... [--email E]"

// cmdProject is "hoist project add": it registers a project with the
// server, which starts its first build. "project trust", "untrust" and
// "limits" are an admin's, on the --data store.
func cmdProject(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "trust", "untrust":
			return cmdProjectTrust(ctx, args[0] == "trust", args[1:], stdout, stderr)
		case "limits":
			return cmdProjectLimits(ctx, args[1:], stdout, stderr)
		}
	}
	if len(args) == 0 || args[0] != "add" {
		fmt.Fprintln(stderr, projectUsage)
		for _, u := range []string{trustUsage, untrustUsage, limitsUsage} {
			fmt.Fprintln(stderr, "      "+strings.TrimPrefix(u, "usage:"))
		}
		return exitError(2)
	}
	fs := newFlags("project add", stderr)
	server := serverFlag(fs)
	var req projectRequest
	var deps listFlag
	fs.StringVar(&req.Branch, "branch", "", "branch, tag or commit to build (default: the repository's default branch)")
	fs.StringVar(&req.Path, "path", "", "folder of the Dockerfile in the repository (default /)")
	fs.StringVar(&req.Dockerfile, "dockerfile", "", "the Dockerfile, relative to --path (default Dockerfile)")
	fs.StringVar(&req.Context, "context", "", "build context, relative to --path (default ./)")
	fs.StringVar(&req.Tag, "tag", "", "the tag to deliver (default latest)")
	fs.Var(&deps, "depends-on", "an image this one builds on, NS/NAME:TAG (repeatable)")
	fs.StringVar(&req.Email, "email", "", "who hears of failures")
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		fmt.Fprintln(stderr, projectUsage)
		return exitError(2)
	}
	req.Name, req.RepoURL, req.DependsOn = pos[0], pos[1], deps
	c, err := newClient(*server)
	if err != nil {
		return err
	}
	var out struct {
		Project struct {
			Key string `json:"key"`
			URL string `json:"url"`
		} `json:"project"`
		Build *apiBuild `json:"build"`
		Error *apiError `json:"error"`
	}
	if err := c.call(ctx, "POST", "/api/v1/projects", req, &out); err != nil {
		return fmt.Errorf("registering %s: %w", req.Name, err)
	}
	fmt.Fprintf(stdout, "registered %s: %s\n", out.Project.Key, c.url(out.Project.URL))
	switch {
	case out.Build != nil:
		fmt.Fprintf(stdout, "build #%d %s: %s\n", out.Build.Number, out.Build.Status, c.pageURL(*out.Build))
	case out.Error != nil:
		return fmt.Errorf("the first build could not be queued: %s", out.Error.Message)
	}
	return nil
}
