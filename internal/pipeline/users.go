package pipeline

import (
	"context"
	"errors"
	"time"
)

// ErrExists is returned when creating something whose name is taken.
var ErrExists = errors.New("already exists")

// User is someone who may write: register projects, trigger and cancel builds.
type User struct {
	ID           int64
	Name         string
	PasswordHash string // a slow hash (bcrypt); never the password
	Created      time.Time
	Admin        bool // may do everything, in every namespace
}

// CredentialKind tells API tokens from browser sessions.
type CredentialKind string

// The kinds of credential.
const (
	CredentialToken   CredentialKind = "token"
	CredentialSession CredentialKind = "session"
)

// Credential is an API token or a login session. Only a hash of its secret
// is stored: a stolen database gives no working credential.
type Credential struct {
	Kind    CredentialKind
	Hash    string // hex SHA-256 of the secret
	UserID  int64
	Name    string    // a token's name ("ci", "laptop"); empty for sessions
	Created time.Time // when it was made
	Expires time.Time // zero: never
}

// UserStore keeps users and their credentials. Safe for concurrent use.
type UserStore interface {
	// CreateUser stores u, setting u.ID; ErrExists when the name is taken.
	CreateUser(ctx context.Context, u *User) error
	// UserByName returns the user called name, or ErrNotFound.
	UserByName(ctx context.Context, name string) (User, error)
	// UserByID returns the user with id, or ErrNotFound.
	UserByID(ctx context.Context, id int64) (User, error)
	// PutCredential stores c; ErrNotFound when its user does not exist.
	PutCredential(ctx context.Context, c Credential) error
	// Credential returns the credential of kind with hash that has not
	// expired at now, or ErrNotFound.
	Credential(ctx context.Context, kind CredentialKind, hash string, now time.Time) (Credential, error)
	// DeleteCredential removes a credential (logout); no error when absent.
	DeleteCredential(ctx context.Context, kind CredentialKind, hash string) error
	// Tokens lists the API tokens (expired ones too) of the user with
	// userID, or of every user when userID is 0, oldest first.
	Tokens(ctx context.Context, userID int64) ([]Credential, error)
	// DeleteUser removes the user with id and every credential of theirs
	// (tokens and sessions), or returns ErrNotFound.
	DeleteUser(ctx context.Context, id int64) error
}

// QueueStore is the build queue, kept in the store so that builds survive
// a restart and several servers can share one queue.
type QueueStore interface {
	// Enqueue creates a queued build of project with cause, unless the
	// project already has a queued (not yet running) build: then that build
	// is returned with joined true, and nothing is created.
	Enqueue(ctx context.Context, project, cause string, now time.Time) (b Build, joined bool, err error)
	// Claim atomically takes the oldest queued build whose project has no
	// running build and whose retry backoff has passed, one queued again
	// after it lost its runner (Attempt > 1, LeaseStore) before the
	// others, marks it running with Started = now, holding no lease, and
	// returns it.
	// ErrNotFound when no build is ready. Two claimers never get the same build.
	Claim(ctx context.Context, now time.Time) (Build, error)
	// CancelQueued marks the build with id cancelled, with reason, if it is
	// still queued, and reports whether it was.
	CancelQueued(ctx context.Context, id int64, reason string, now time.Time) (bool, error)
	// Active lists queued and running builds, oldest first.
	Active(ctx context.Context) ([]Build, error)
	// FailRunning marks every running build that holds no lease (see
	// LeaseStore) failed with reason, as at the start of a server after a
	// crash, and returns how many it marked. Leased builds are left to
	// expire: another live server may hold them.
	FailRunning(ctx context.Context, reason string, now time.Time) (int, error)
}

// ProjectDeleter removes projects.
type ProjectDeleter interface {
	// DeleteProject removes the project with key; its builds, logs and
	// images stay. ErrNotFound when there is none.
	DeleteProject(ctx context.Context, key string) error
}

// LastBuilds gives the newest build of every project at once, for lists.
type LastBuilds interface {
	// LastBuilds maps each project key to its newest build.
	LastBuilds(ctx context.Context) (map[string]Build, error)
}

// ErrFinished is returned when cancelling a build that has already ended.
var ErrFinished = errors.New("build already finished")

// ErrElsewhere is returned when acting on a build another server runs.
var ErrElsewhere = errors.New("the build runs on another server")
