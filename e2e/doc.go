// Package e2e runs the hoist binary end to end, the way a user does, with
// a real Docker engine, real registries, real git repositories served over
// HTTP, and the real SQLite database.
package e2e
