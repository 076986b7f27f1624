package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/hoistci/hoist/internal/pipeline"
)

// The providers' webhooks.
var (
	githubHook = hook{provider: "github",
		admit: hmacHeader(false, "X-Hub-Signature-256"),
		verify: func(r *http.Request, body []byte, secret string) bool {
			return validHMAC(r.Header.Get("X-Hub-Signature-256"), body, secret)
		},
		parse: eventParser("X-GitHub-Event", "push", "ping", "github")}
	gitlabHook = hook{provider: "gitlab",
		admit: func(r *http.Request, secret string) bool {
			return sameToken(r.Header.Get("X-Gitlab-Token"), secret)
		},
		verify: func(r *http.Request, _ []byte, secret string) bool {
			return sameToken(r.Header.Get("X-Gitlab-Token"), secret)
		},
		parse: eventParser("X-Gitlab-Event", "Push Hook", "", "gitlab")}
	giteaHook = hook{provider: "gitea",
		admit: hmacHeader(false, "X-Gitea-Signature", "X-Forgejo-Signature"),
		verify: func(r *http.Request, body []byte, secret string) bool {
			sig := r.Header.Get("X-Gitea-Signature")
			if sig == "" {
				sig = r.Header.Get("X-Forgejo-Signature")
			}
			return validHMAC(sig, body, secret)
		},
		parse: giteaParse}
	genericHook = hook{provider: "generic",
		admit: hmacHeader(true, "X-Hoist-Signature"),
		verify: func(r *http.Request, body []byte, secret string) bool {
			sig := r.Header.Get("X-Hoist-Signature")
			return strings.HasPrefix(sig, "sha256=") && validHMAC(sig, body, secret)
		},
		parse: genericParse}
)

// fullSHA matches a full commit SHA (SHA-1 or SHA-256 repositories).
var fullSHA = regexp.MustCompile(`^[0-9a-f]{40}([0-9a-f]{24})?$`)

// givenSHA matches the commit a generic delivery may name.
var givenSHA = regexp.MustCompile(`^[0-9a-fA-F]{7,64}$`)

// pushPayload is the part of a GitHub, GitLab, Gitea or Forgejo push event
// Hoist reads.
type pushPayload struct {
	Ref        string `json:"ref"`
	Before     string `json:"before"`
	After      string `json:"after"`
	Repository struct {
		CloneURL  string `json:"clone_url"`    // GitHub, Gitea
		HTTPURL   string `json:"git_http_url"` // GitLab
		SSHURL    string `json:"ssh_url"`      // GitHub, Gitea
		GitLabSSH string `json:"git_ssh_url"`  // GitLab
		HTMLURL   string `json:"html_url"`     // GitHub, Gitea
		Homepage  string `json:"homepage"`     // GitLab
	} `json:"repository"`
}

// eventParser reads the push events of a provider whose event header is
// header: the event push is read as a push, ping (if not "") answered 200,
// others answered 202 and ignored.
func eventParser(header, push, ping, via string) func(*http.Request, []byte) (*pipeline.Push, int, string, error) {
	return func(r *http.Request, body []byte) (*pipeline.Push, int, string, error) {
		switch ev := r.Header.Get(header); {
		case ping != "" && ev == ping:
			return nil, http.StatusOK, "pong: the webhook reaches Hoist and its secret matches", nil
		case ev != push:
			return nil, http.StatusAccepted, fmt.Sprintf("ignored: %s event %q; Hoist builds on %q events", header, ev, push), nil
		}
		return parsePush(body, via)
	}
}

// giteaParse reads Gitea and Forgejo deliveries, whose event header is
// either X-Gitea-Event or X-Forgejo-Event.
func giteaParse(r *http.Request, body []byte) (*pipeline.Push, int, string, error) {
	header := "X-Gitea-Event"
	if r.Header.Get(header) == "" {
		header = "X-Forgejo-Event"
	}
	return eventParser(header, "push", "", "gitea")(r, body)
}

// parsePush reads a push event: a push of a branch, or an answer saying
// why there is nothing to build (a tag, a deleted branch).
func parsePush(body []byte, via string) (*pipeline.Push, int, string, error) {
	var p pushPayload
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, 0, "", fmt.Errorf("the push event is not valid JSON: %v", err)
	}
	repo := firstNonEmpty(p.Repository.CloneURL, p.Repository.HTTPURL, p.Repository.HTMLURL,
		p.Repository.Homepage, p.Repository.SSHURL, p.Repository.GitLabSSH)
	if repo == "" {
		return nil, 0, "", fmt.Errorf("the push event names no repository URL")
	}
	branch, ok := strings.CutPrefix(p.Ref, "refs/heads/")
	switch {
	case !ok:
		return nil, http.StatusAccepted, fmt.Sprintf("nothing to build: %q is not a branch", p.Ref), nil
	case strings.Trim(p.After, "0") == "":
		return nil, http.StatusAccepted, fmt.Sprintf("nothing to build: branch %s was deleted", branch), nil
	case !fullSHA.MatchString(p.After):
		return nil, 0, "", fmt.Errorf("the push event's \"after\" is %q, not a commit SHA", p.After)
	}
	before := strings.ToLower(p.Before)
	if !fullSHA.MatchString(before) || strings.Trim(before, "0") == "" {
		before = "" // a new branch, or a provider that does not say
	}
	return &pipeline.Push{Repo: repo, Branch: branch, Commit: p.After, Before: before, Via: via}, 0, "", nil
}

// genericPush is the body of a generic delivery.
type genericPush struct {
	Repo   string `json:"repo"`
	Branch string `json:"branch"`
	Commit string `json:"commit"`
	Before string `json:"before"` // optional: the commit the branch left
}

// genericParse reads {"repo","branch","commit"}, every field required, and
// an optional "before".
func genericParse(_ *http.Request, body []byte) (*pipeline.Push, int, string, error) {
	var g genericPush
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&g); err != nil {
		return nil, 0, "", fmt.Errorf(`the body must be JSON {"repo": URL, "branch": NAME, "commit": SHA}: %v`, err)
	}
	switch {
	case g.Repo == "":
		return nil, 0, "", fmt.Errorf(`"repo" is missing: give the repository URL the projects use`)
	case g.Branch == "":
		return nil, 0, "", fmt.Errorf(`"branch" is missing: give the branch that was pushed`)
	case !givenSHA.MatchString(g.Commit):
		return nil, 0, "", fmt.Errorf(`"commit" is %q: give the commit SHA the branch now points at`, g.Commit)
	}
	before := strings.ToLower(g.Before)
	if !fullSHA.MatchString(before) || strings.Trim(before, "0") == "" {
		before = ""
	}
	return &pipeline.Push{Repo: g.Repo, Branch: g.Branch, Commit: strings.ToLower(g.Commit), Before: before, Via: "generic"}, 0, "", nil
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
