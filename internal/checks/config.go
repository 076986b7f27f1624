package checks

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/hoistci/hoist/internal/pipeline"
)

// descriptiveLabels are the labels that tell what an image is: the OCI
// ones and those cccp and OpenShift read. Labels Hoist adds itself
// (org.opencontainers.image.source, .revision, .created, io.hoist.*) are
// not among them.
var descriptiveLabels = []string{
	"org.opencontainers.image.title",
	"org.opencontainers.image.description",
	"name",
	"summary",
	"description",
	"io.k8s.display-name",
	"io.k8s.description",
}

// checkConfig looks at the image's configuration: a command to run (fail
// without one), a USER that is not root and descriptive labels (warnings).
func checkConfig(_ context.Context, r *run) outcome {
	cfg := r.cfg
	var cmd string
	switch {
	case len(cfg.Entrypoint) > 0 && len(cfg.Cmd) > 0:
		cmd = fmt.Sprintf("ENTRYPOINT %q, CMD %q", cfg.Entrypoint, cfg.Cmd)
	case len(cfg.Entrypoint) > 0:
		cmd = fmt.Sprintf("ENTRYPOINT %q", cfg.Entrypoint)
	case len(cfg.Cmd) > 0:
		cmd = fmt.Sprintf("CMD %q", cfg.Cmd)
	default:
		return outcome{status: pipeline.CheckFail, detail: "the image has neither CMD nor ENTRYPOINT; add one to the Dockerfile so the container knows what to run"}
	}
	var warns []string
	if root(cfg.User) {
		u := "no USER"
		if cfg.User != "" {
			u = fmt.Sprintf("USER %q", cfg.User)
		}
		warns = append(warns, fmt.Sprintf("runs as root (%s); add a USER with a non-root uid to the Dockerfile", u))
	}
	has := false
	for _, l := range descriptiveLabels {
		if strings.TrimSpace(cfg.Labels[l]) != "" {
			has = true
		}
	}
	if !has {
		warns = append(warns, "declares none of the descriptive labels "+strings.Join(descriptiveLabels, ", ")+"; add a LABEL with at least a title and a description")
	}
	if len(warns) > 0 {
		return outcome{status: pipeline.CheckWarn, detail: strings.Join(warns, "; ")}
	}
	var labels []string
	for _, l := range descriptiveLabels {
		if cfg.Labels[l] != "" {
			labels = append(labels, l)
		}
	}
	sort.Strings(labels)
	return outcome{status: pipeline.CheckPass, detail: fmt.Sprintf("%s; USER %q; labels %s", cmd, cfg.User, strings.Join(labels, ", "))}
}

// root reports whether a Dockerfile USER value runs as root.
func root(user string) bool {
	name, _, _ := strings.Cut(strings.TrimSpace(user), ":")
	return name == "" || name == "root" || name == "0"
}
