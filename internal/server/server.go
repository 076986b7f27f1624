// Package server is Hoist's HTTP face: the JSON API under /api/v1, the web
// UI (server-rendered html/template with htmx), live logs over Server-Sent
// Events, login and tokens, and the health and metrics endpoints. It talks
// to the rest of Hoist only through pipeline interfaces and Queue.
package server

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/hoistci/hoist/internal/pipeline"
)

// Queue starts and stops builds. The scheduler implements it.
type Queue interface {
	// Trigger queues a build of the project with key, or joins the build of
	// it that is already queued (joined true). ErrNotFound for no such project.
	Trigger(ctx context.Context, key, cause string) (b pipeline.Build, joined bool, err error)
	// Cancel stops a queued or running build; by names who asked. The engine
	// work of a running build is stopped and its containers removed.
	// ErrNotFound for no such build; ErrFinished when it has already ended.
	Cancel(ctx context.Context, id int64, by string) error
	// TriggerForced is Trigger for a build that runs even when a build with
	// the same inputs was delivered.
	TriggerForced(ctx context.Context, key, cause string) (b pipeline.Build, joined bool, err error)
	// Rebuild queues a forced build of the finished build id's commit; by
	// names who asked. ErrNotFound for no such build, pipeline.ErrNotFinished
	// while it runs, pipeline.ErrBusy when its project has a build queued.
	Rebuild(ctx context.Context, id int64, by string) (pipeline.Build, error)
}

// Store is what the server reads and writes: the store, and the record of
// the tracked index's reconciles.
type Store interface {
	pipeline.Store
	pipeline.ReconcileStore
}

// ErrFinished is returned by Queue.Cancel for a build that already ended.
var ErrFinished = pipeline.ErrFinished

// Deps are what the server needs.
type Deps struct {
	Store   Store
	Queue   Queue
	Metrics http.Handler                    // serves /metrics; nil: 404
	Ready   func(ctx context.Context) error // for /readyz; nil: always ready
	Logger  *slog.Logger                    // nil: discard
	Pushes  Pusher                          // webhooks' pushes; nil: webhooks answer 503
	// Rescanner re-scans a project's delivered image on demand ("Scan
	// now"); nil: asking answers 501.
	Rescanner Rescanner
	// Branches reads a repository's default branch, for a project
	// registered without one; nil: cccp's default, master.
	Branches pipeline.DefaultBranchReader
}

// Options configure the server.
type Options struct {
	PublicRead    bool   // anyone may read; writes always need a user
	RegistryHost  string // where images are delivered, for display
	SecureCookies bool   // set the Secure flag on cookies (behind HTTPS)
	LogPoll       int    // milliseconds between log polls when following (default 300)
	// AllowLocalRepos lets projects registered over the API or UI build
	// repositories on the server's own disk (paths, file:// URLs).
	AllowLocalRepos bool
	// TrustIndex says that the server trusts every project of its index
	// (serve --trust-index), besides those an admin marked (Project.Trusted),
	// for the project page to say where their scripts run.
	TrustIndex bool

	// Webhooks are the secrets of /hooks/*; with none, webhooks answer 503.
	Webhooks WebhookSecrets
}

// Server serves the API and the UI. Create it with New.
type Server struct {
	deps   Deps
	opts   Options
	mux    *http.ServeMux
	logins loginLimits // failed sign-ins, in memory
	watch  *buildWatch // tells the list pages' event streams about builds
	// projectsJSON is the encoded list of every project (listcache.go).
	projectsJSON bodyCache
	// projectPages are the project pages read at the store's list
	// version (web_projectpage.go).
	projectPages projectPages
}

// New returns a Server with every route registered.
func New(deps Deps, opts Options) *Server {
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.LogPoll == 0 {
		opts.LogPoll = 300
	}
	s := &Server{deps: deps, opts: opts, mux: http.NewServeMux(), logins: newLoginLimits()}
	s.watch = s.newBuildWatch()
	s.routes()
	return s
}

// ServeHTTP serves a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }
