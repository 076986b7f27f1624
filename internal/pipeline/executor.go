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
// The test stage asks nothing of it that needs a local image store, a
// container address the host can reach, or a commit, which an executor
// of pods (Kubernetes) does not have:
//   - a port is probed from beside its container (Containers.ProbePorts,
//     in its network namespace), never dialled from Hoist's host;
//   - an image's configuration and files are read from the registry by
//     reference (LayerReader), not inspected in a local store;
//   - a container's changes never become an image: work that needs them
//     runs in that same container (container-structure-test setups run
//     before the command in one container);
//   - every container is confined (limits, no privileges, no host
//     namespaces or paths), and every call honours ctx, removing what it
//     made when ctx ends.
//
// The build stage gives a workspace and references too: BuildSpec's
// context lies in its Workspace, and the parents Hoist delivered are
// pinned by registry reference with digest (BuildSpec.From), which the
// executor resolves itself (Docker pulls and tags them locally; a
// BuildKit in a pod would map the names to the references). Images a
// compose autotest's services name are fetched with ImagePuller.Pull,
// by reference, with no local name of Hoist's.
//
// What still names a local image store: Containers.ImageExists (an
// autotest service image the engine has is used as it is, not pulled)
// and InspectImage, which only a re-scan asks (did the engine have the
// image before). A re-scan's updates scanner runs the delivered image,
// which it pulls under a tag of its own through PullAs, an optional
// capability of engines with a local store and no part of this seam;
// without it that scanner answers n/a.
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
	// (ScriptSpec.JoinContainer), in their own image (ScriptSpec.Image)
	// or a default one, never with an engine unless
	// ScriptSpec.EngineAccess, which the runner sets only for trusted
	// projects that name an image.
	Sandbox() ScriptRunner
}
