// Package cst runs container-structure-test files (schemaVersion 2.0.0)
// against an image, with the semantics of the upstream tool
// (GoogleContainerTools/container-structure-test, docker driver):
//
//   - commandTests run in a new container each, with the image's entrypoint
//     cleared. Upstream runs each setup command in its own container, which
//     is then committed to become the image the next one (and the test
//     command) starts from; Hoist commits nothing, and runs the setup
//     commands, the command and the teardown one after another in one
//     container through the image's /bin/sh (see chain.go), which gives
//     the same files and environment. A setup command's exit code is not
//     checked. The test
//     command and its args have $VAR and ${VAR} replaced from the
//     environment of that image (the image's own, globalEnvVars, and the
//     test's envVars only when there is a setup). The test's envVars are set
//     in its containers; exitCode defaults to 0 and is always checked;
//     expectedOutput/excludedOutput and expectedError/excludedError are Go
//     regular expressions that must (not) match somewhere in stdout and
//     stderr. Teardown commands run afterwards (without setup commands, in
//     a container of their own); they never change the result (upstream's
//     docker driver skips them).
//   - globalEnvVars are expanded against the image's environment and set for
//     every command test; fileExistenceTests see them when expanding $VAR in
//     their path.
//   - fileExistenceTests look at the path itself, not what a final symlink
//     points to; shouldExist defaults to true; permissions is compared with
//     the mode string ("-rwxr-xr-x", "drwxrwxrwt" is "dtrwxrwxrwx", as Go
//     prints os.FileMode); uid and gid are checked only when given;
//     isExecutableBy is owner, group, other or any.
//   - fileContentTests read the file (following symlinks) and match
//     expectedContents/excludedContents regular expressions against it.
//   - metadataTest compares the image configuration: envVars and labels
//     exactly or, with isRegex, by regular expression; exposedPorts and
//     unexposedPorts by port number without the protocol ("8080", as
//     upstream); entrypoint and cmd only when given, an empty list meaning
//     none; workdir and user only when given; volumes, unmountedVolumes,
//     unboundEnvVars. An empty metadataTest is skipped.
//
// File tests read the image's filesystem from its layers and never run a
// shell. Anything Hoist does not run (licenseTests, containerRunOptions
// other than user, unknown keys) makes a failed result that says what and
// where, never a silent pass.
//
// Where Hoist differs on purpose, the outcome of the file is the same:
// results come in file order (upstream groups them by type); an unknown key
// fails its own test instead of the whole file (upstream parses strictly);
// an invalid regular expression fails its test before running it; a file
// with no tests is a failure (upstream fails a run without tests); command
// tests have a time limit; relative symlinks are resolved from their folder.
package cst

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hoistci/hoist/internal/pipeline"
)

// Find returns the container-structure-test files for the target file's
// folder dir, as paths relative to dir: the listed ones (from cccp.yml; each
// must stay inside dir and exist) when listed is not empty, else every
// *.cst.yaml and *.cst.yml in dir, sorted.
func Find(dir string, listed []string) ([]string, error) {
	if len(listed) > 0 {
		var out []string
		for _, l := range listed {
			clean := path.Clean(filepath.ToSlash(strings.TrimSpace(l)))
			if l == "" || clean == "." {
				return nil, fmt.Errorf("cccp.yml lists an empty container-structure-test file name; give each file's path relative to the folder of the target file")
			}
			if path.IsAbs(clean) {
				return nil, fmt.Errorf("container-structure-test file %q listed in cccp.yml is an absolute path; give it relative to the folder of the target file", l)
			}
			full, err := pipeline.SafeJoin(dir, clean)
			if err != nil {
				return nil, fmt.Errorf("container-structure-test file %q listed in cccp.yml: %w", l, err)
			}
			fi, err := os.Stat(full)
			switch {
			case os.IsNotExist(err):
				return nil, fmt.Errorf("container-structure-test file %q listed in cccp.yml does not exist in the folder of the target file; fix the path or add the file", l)
			case err != nil:
				return nil, fmt.Errorf("container-structure-test file %q listed in cccp.yml: %w", l, err)
			case !fi.Mode().IsRegular():
				return nil, fmt.Errorf("container-structure-test file %q listed in cccp.yml is not a regular file", l)
			}
			if !slices.Contains(out, clean) {
				out = append(out, clean)
			}
		}
		return out, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("looking for container-structure-test files: %w", err)
	}
	var out []string
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".cst.yaml") && !strings.HasSuffix(name, ".cst.yml") {
			continue
		}
		full, err := pipeline.SafeJoin(dir, name)
		if err != nil {
			return nil, fmt.Errorf("container-structure-test file %s: %w", name, err)
		}
		if fi, err := os.Stat(full); err != nil || !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("container-structure-test file %s is not a readable regular file", name)
		}
		out = append(out, name)
	}
	slices.Sort(out)
	return out, nil
}

// ParseError is the failed result of a file that does not parse.
func ParseError(file string, err error) pipeline.CheckResult {
	loc := file
	msg := err.Error()
	// Parse's errors start with "file:line:col: ".
	if rest, ok := strings.CutPrefix(msg, file+":"); ok {
		if i := strings.Index(rest, ": "); i > 0 {
			loc = file + ":" + rest[:i]
		}
	}
	return pipeline.CheckResult{
		ID:          "structure-test/" + file,
		Group:       pipeline.GroupStructureTest,
		Description: "container-structure-test file " + file,
		Status:      pipeline.CheckFail,
		Detail:      msg,
		Blocking:    true,
		Location:    loc,
	}
}
