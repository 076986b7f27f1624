package pipeline

import (
	"context"
	"strconv"
)

// The labels that name who made a container, a network or a throw-away
// image, so that what a cancelled build or a crashed server left behind can
// be found and removed by label. Products (NAME:test and the images built
// from it) never carry them.
const (
	// LabelInstance is the Hoist instance (one data folder) that made it.
	LabelInstance = "org.hoistci.instance"
	// LabelBuild is the build it was made for.
	LabelBuild = "org.hoistci.build"
)

// The environment variables that mark the host processes a build starts
// (its scripts and their children), for the same purpose.
const (
	EnvInstance = "HOIST_INSTANCE"
	EnvBuild    = "HOIST_BUILD_ID"
)

// Owner is who engine objects and processes are made for: a Hoist instance
// and, within it, a build (0: none, e.g. a re-scan).
type Owner struct {
	Instance string
	Build    int64
}

// Labels returns o as labels (none for the zero Owner).
func (o Owner) Labels() map[string]string {
	if o.Instance == "" {
		return nil
	}
	l := map[string]string{LabelInstance: o.Instance}
	if o.Build != 0 {
		l[LabelBuild] = strconv.FormatInt(o.Build, 10)
	}
	return l
}

// Env returns o as KEY=value pairs for a process's environment.
func (o Owner) Env() []string {
	if o.Instance == "" {
		return nil
	}
	env := []string{EnvInstance + "=" + o.Instance}
	if o.Build != 0 {
		env = append(env, EnvBuild+"="+strconv.FormatInt(o.Build, 10))
	}
	return env
}

type ownerKey struct{}

// WithOwner returns ctx carrying o: the engine adapter labels what it makes
// with it and the script runner marks the processes it starts.
func WithOwner(ctx context.Context, o Owner) context.Context {
	return context.WithValue(ctx, ownerKey{}, o)
}

// OwnerOf returns the Owner ctx carries (the zero Owner when none).
func OwnerOf(ctx context.Context) Owner {
	o, _ := ctx.Value(ownerKey{}).(Owner)
	return o
}

// WithLabels returns labels with ctx's owner labels added (a new map; labels
// is not changed).
func WithLabels(ctx context.Context, labels map[string]string) map[string]string {
	own := OwnerOf(ctx).Labels()
	if len(own) == 0 {
		return labels
	}
	out := make(map[string]string, len(labels)+len(own))
	for k, v := range labels {
		out[k] = v
	}
	for k, v := range own {
		out[k] = v
	}
	return out
}

// Reaped counts what a Reap removed.
type Reaped struct {
	Containers, Networks, Images int
}

// Reaper removes engine objects by label. Safe for concurrent use.
type Reaper interface {
	// Reap force-removes every container, then every network, then every
	// image that carries all of labels (key=value each), and says how many
	// of each it removed. Something already gone is not an error. labels
	// must not be empty.
	Reap(ctx context.Context, labels map[string]string) (Reaped, error)
}

// ProcessReaper kills host processes by their owner marks. A
// ScriptRunner may have this capability too.
type ProcessReaper interface {
	// KillOwned kills every process whose environment carries o's marks
	// (pipeline.EnvInstance, and EnvBuild when o has a build) and returns
	// how many.
	KillOwned(o Owner) (int, error)
}
