// Package pipeline is Hoist's domain: projects, builds, stages, image
// references and the small interfaces the pipeline needs from the outside
// world (a git source, a container engine, a registry, a store, a tester).
//
// It is the floor of the import graph: it imports nothing of Hoist's, and
// every other package may import it. Adapters (index, source, engine,
// registry, checks, store) implement its interfaces; runner and cmd/hoist
// use them.
package pipeline
