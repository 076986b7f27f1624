package kube

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/distribution/reference"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"

	"github.com/hoistci/hoist/internal/pipeline"
)

// fromContexts makes BuildKit build on the images a Docker engine would:
// each FROM name pinned in spec.From is a named context of the pin's
// reference (BuildKit's dockerfile frontend uses a named context in place
// of the image of that name); each FROM name without a registry that the
// executor keeps (Ref: the registry standing in for a local store) is a
// named context of that image, as a Docker engine uses its local image
// before pulling one. Other names are BuildKit's to pull. It returns the
// registries the build pulls from, as far as it can tell.
func (x *Executor) fromContexts(ctx context.Context, dockerfile string, spec pipeline.BuildSpec, attrs map[string]string) ([]string, error) {
	var hosts []string
	for n, ref := range spec.From {
		key, err := contextKey(n)
		if err != nil {
			return nil, fmt.Errorf("FROM %s, pinned to %s: %w", n, ref, err)
		}
		attrs["context:"+key] = "docker-image://" + ref
		hosts = append(hosts, registryHost(ref))
	}
	for _, n := range fromNames(dockerfile, spec.BuildArgs) {
		key, err := contextKey(n)
		if err != nil {
			continue // BuildKit says what is wrong with it
		}
		if _, set := attrs["context:"+key]; set {
			continue
		}
		if h := registryHost(n); h != "" {
			hosts = append(hosts, h)
			continue
		}
		ok, err := x.ImageExists(ctx, n)
		if err != nil {
			return nil, fmt.Errorf("FROM %s: %w", n, err)
		}
		if ok {
			attrs["context:"+key] = "docker-image://" + x.Ref(n)
		}
	}
	return hosts, nil
}

// contextKey is the name BuildKit looks a FROM name up by among named
// contexts: its familiar form without ":latest" ("app:test",
// "ns/name:tag", "host:5000/x").
func contextKey(name string) (string, error) {
	named, err := reference.ParseNormalizedNamed(name)
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(reference.FamiliarString(named), ":latest"), nil
}

// fromNames are the images the Dockerfile's stages start from, global
// ARGs expanded (args winning over their defaults), without scratch and
// the names of earlier stages. A Dockerfile that does not parse has none:
// BuildKit reports its errors.
func fromNames(dockerfile string, args map[string]string) []string {
	dt, err := os.ReadFile(dockerfile)
	if err != nil {
		return nil
	}
	res, err := parser.Parse(bytes.NewReader(dt))
	if err != nil {
		return nil
	}
	stages, metaArgs, err := instructions.Parse(res.AST, nil)
	if err != nil {
		return nil
	}
	lex := shell.NewLex(res.EscapeToken)
	var env []string
	for _, a := range metaArgs {
		for _, kv := range a.Args {
			if v, ok := args[kv.Key]; ok {
				env = append(env, kv.Key+"="+v)
			} else if kv.Value != nil {
				v, _, err := lex.ProcessWord(*kv.Value, shell.EnvsFromSlice(env))
				if err == nil {
					env = append(env, kv.Key+"="+v)
				}
			}
		}
	}
	var names []string
	seen := map[string]bool{"scratch": true}
	for _, st := range stages {
		n, _, err := lex.ProcessWord(st.BaseName, shell.EnvsFromSlice(env))
		if err == nil && n != "" && !seen[strings.ToLower(n)] {
			names = append(names, n)
			seen[strings.ToLower(n)] = true
		}
		if st.Name != "" {
			seen[strings.ToLower(st.Name)] = true
		}
	}
	return names
}
