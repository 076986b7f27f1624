package pipeline

// Executor is the seam through which a build's stages do the work that
// touches a container engine: run a script in a workspace (confined, for
// projects Hoist does not trust), build an image from a workspace, start
// and probe the image under test and its helper containers beside it,
// collect their logs, and clean up by owner label. Workspaces are checkout
// folders the Executor is given (ScriptSpec.Workspace, BuildSpec's
// context) and images are references; what an implementation makes
// carries the owner labels of the context (WithOwner).
//
// internal/pipeline/executortest is the behaviour every implementation
// must have; the Docker one is engine.Engine.
type Executor interface {
	Engine     // build, push, pull, inspect, run a container to its end
	Containers // background containers and their networks
	Reaper     // remove what an owner left, by label
	// Sandbox returns the runner of scripts of projects that are not
	// trusted: in their workspace and nothing else of the host, optionally
	// in the network namespace of a running container
	// (ScriptSpec.JoinContainer), never with an engine.
	Sandbox() ScriptRunner
}
