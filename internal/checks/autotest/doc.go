// Package autotest runs Docker Hub's automated repository tests: a
// docker-compose.test.yml (or the single *.test.yml) beside the Dockerfile
// defines a service named sut; Hoist starts sut and the services it
// depends on, on a private network, and the exit code of sut decides the
// result (0 passes).
//
// The file is loaded with the compose-spec library
// (github.com/compose-spec/compose-go/v2), and the containers are run
// through pipeline.Containers, pipeline.Builder and pipeline.ImagePuller:
// no compose binary is involved.
//
// # The image under test
//
// Two kinds of service run the image under test instead of what the file
// names:
//   - a service whose build has the same context and Dockerfile as the
//     project's (paths resolved relative to the compose file's folder), as
//     in the usual Docker Hub file "sut: build: ." beside the Dockerfile:
//     it is not built again;
//   - a service whose image names the project's repository
//     (Project.Image().Repository(), with any tag and any registry host,
//     "library/" and "docker.io/" spellings included).
//
// Other build services are built with the Builder under a unique temporary
// tag, which is removed afterwards; their context and Dockerfile must lie
// inside the checkout. Other image services must be local images; one that
// is not is pulled (Pull), and the test fails with "image X is not
// available: ..." when that fails too.
//
// # Variables
//
// ${VAR} in the file is interpolated from Docker Hub's build environment
// only, never from the host: IMAGE_NAME (the image under test), DOCKER_REPO
// and DOCKER_TAG (its repository and tag), SOURCE_COMMIT, SOURCE_BRANCH and
// DOCKERFILE_PATH (the Dockerfile relative to the build context). A
// variable that is not set becomes empty, with a note in the log.
//
// # What a service may use
//
// Supported: image, build (context, dockerfile, args), command, entrypoint,
// environment, working_dir, user, labels, privileged: false, depends_on (the
// conditions service_started and service_completed_successfully;
// service_healthy is treated as service_started, with a note in the log),
// links (a link's alias becomes a name of the linked service), networks
// and their aliases. Every service joins one private network of the run,
// whatever networks the file declares, under its service name, its
// aliases and its container_name.
//
// Ignored, with a note in the log: ports and expose (nothing is published
// on the build machine), healthcheck, restart, container_name (containers
// get generated names), tty, stdin_open, stop_signal, stop_grace_period,
// profiles (every profile is enabled).
//
// Everything else fails the test, naming the file, line, service and field:
// privileged: true, volumes and bind mounts, env_file, network_mode, pid, ipc, cap_add,
// devices, secrets, configs, extends, include and so on. Hoist never runs
// a file it cannot honour and never passes it silently.
//
// # Cleanup
//
// Every container, the network and every image a run builds carry the
// labels org.hoistci.autotest (the run's unique name) and
// org.hoistci.autotest.project (the project's key), and the owner labels of
// the context (pipeline.WithOwner). When the run ends, whatever happened, a
// cancelled context included, everything carrying the run's label is
// removed (pipeline.Reaper): found by label after every call that creates
// something has returned, not by the IDs those calls returned, so a
// container made by a call the cancel cut short goes too. Images it pulls
// stay in the engine's cache, like any pulled base image.
package autotest
