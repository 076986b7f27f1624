package pipeline

import (
	"context"
	"fmt"
	"time"
)

// Role is what a member of a namespace may do with its projects.
type Role string

// The roles.
const (
	// RoleMaintainer may change, delete, build, cancel and scan the
	// namespace's projects, and register new ones in it.
	RoleMaintainer Role = "maintainer"
	// RoleViewer may only read.
	RoleViewer Role = "viewer"
)

// ParseRole returns the role called s.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleMaintainer, RoleViewer:
		return r, nil
	}
	return "", fmt.Errorf("no role %q; the roles are %s and %s", s, RoleMaintainer, RoleViewer)
}

// Member is a user's role in a namespace.
type Member struct {
	Namespace string
	UserID    int64
	Role      Role
}

// NamespaceStore keeps namespaces (the app-ids projects belong to) and
// their members. Users and namespaces are found by name elsewhere; this
// store only links them. Safe for concurrent use.
type NamespaceStore interface {
	// CreateNamespace makes the namespace name, with owner (when not 0)
	// as its maintainer. ErrExists when it exists; ErrNotFound when owner
	// does not.
	CreateNamespace(ctx context.Context, name string, owner int64, now time.Time) error
	// ClaimNamespace makes the namespace name with owner as its maintainer
	// if there is no such namespace yet and no project in it, all at once,
	// and reports whether it did.
	ClaimNamespace(ctx context.Context, name string, owner int64, now time.Time) (bool, error)
	// Grant gives the user the role in the namespace, replacing their
	// role there. ErrNotFound when the namespace or the user does not exist.
	Grant(ctx context.Context, m Member) error
	// Revoke removes the user from the namespace; ErrNotFound when they
	// were not a member.
	Revoke(ctx context.Context, namespace string, userID int64) error
	// Members lists the namespace's members by user id; ErrNotFound when
	// there is no such namespace.
	Members(ctx context.Context, namespace string) ([]Member, error)
	// Role returns the user's role in the namespace, or ErrNotFound when
	// they are not a member.
	Role(ctx context.Context, namespace string, userID int64) (Role, error)
}
