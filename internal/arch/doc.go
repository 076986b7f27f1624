// Package arch holds no code: its test keeps the import graph the way
// docs/ARCHITECTURE.md draws it.
package arch
