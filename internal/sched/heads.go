package sched

import (
	"context"
	"fmt"
	"sync"

	"github.com/hoistci/hoist/internal/pipeline"
)

// Heads reads the branches of a batch's repositories ahead of their builds,
// each repository once (one `git ls-remote` however many projects it
// holds), a bounded number at once, and answers Head from what it read:
// the builds of a no-op sweep do not each wait in line for their own
// question. A branch's head is where it was when its repository was read;
// a build that finds its branch anywhere else checks out. Heads is safe
// for concurrent use.
type Heads struct {
	ctx      context.Context
	branches pipeline.BranchReader
	repos    map[string]*repoHeads // by URL, as the projects spell it
}

// repoHeads is one repository's branches, read once.
type repoHeads struct {
	once  sync.Once
	heads map[string]string
	err   error
}

var _ pipeline.HeadReader = (*Heads)(nil)

// ReadHeads starts reading the branches of every repository of projects,
// in the order of projects, at most limit at once, in the background;
// Head of a repository not read yet reads it at once. The reads stop when
// ctx ends.
func ReadHeads(ctx context.Context, branches pipeline.BranchReader, projects []pipeline.Project, limit int) *Heads {
	h := &Heads{ctx: ctx, branches: branches, repos: map[string]*repoHeads{}}
	var urls []string
	for _, p := range projects {
		if _, ok := h.repos[p.GitURL]; !ok {
			h.repos[p.GitURL] = &repoHeads{}
			urls = append(urls, p.GitURL)
		}
	}
	next := make(chan string)
	go func() {
		defer close(next)
		for _, u := range urls {
			select {
			case next <- u:
			case <-ctx.Done():
				return
			}
		}
	}()
	for range max(1, min(limit, len(urls))) {
		go func() {
			for u := range next {
				h.read(u)
			}
		}()
	}
	return h
}

// read reads the branches of url once and returns them.
func (h *Heads) read(url string) *repoHeads {
	r := h.repos[url]
	r.once.Do(func() { r.heads, r.err = h.branches.Branches(h.ctx, url) })
	return r
}

// Head returns the commit branch pointed at when the repository at url
// was read. A repository that no project of the batch names is an error.
func (h *Heads) Head(ctx context.Context, url, branch string) (string, error) {
	if _, ok := h.repos[url]; !ok {
		return "", fmt.Errorf("reading the head of %s: not a repository of this batch", pipeline.RedactURL(url))
	}
	done := make(chan *repoHeads, 1)
	go func() { done <- h.read(url) }()
	var r *repoHeads
	select {
	case r = <-done:
	case <-ctx.Done():
		return "", context.Cause(ctx)
	}
	if r.err != nil {
		return "", r.err
	}
	sha, ok := r.heads[branch]
	if !ok {
		return "", fmt.Errorf("branch %q not found in %s", branch, pipeline.RedactURL(url))
	}
	return sha, nil
}
