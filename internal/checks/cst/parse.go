package cst

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/hoistci/hoist/internal/pipeline"
)

// Kind is a test's type; its text is how upstream names results of that type.
type Kind string

// The kinds of tests.
const (
	KindCommand       Kind = "Command Test"
	KindFileExistence Kind = "File Existence Test"
	KindFileContent   Kind = "File Content Test"
	KindMetadata      Kind = "Metadata Test"
	// KindUnsupported is a part of the file Hoist does not run
	// (licenseTests, a containerRunOptions field, an unknown key).
	KindUnsupported Kind = "Unsupported"
)

// File is one parsed container-structure-test file.
type File struct {
	Path          string // as given to Parse, for IDs and messages
	SchemaVersion string
	GlobalEnvVars []EnvVar
	// RunUser is containerRunOptions.user: the user command tests run as.
	RunUser string
	// RunOptionsSet: containerRunOptions sets something, which (upstream)
	// keeps a test's envVars out of its command's container.
	RunOptionsSet bool
	Tests         []Test // in file order
	// runProblems are unsupported containerRunOptions fields; command tests
	// do not run with them.
	runProblems []string
}

// EnvVar is a key and value of envVars, globalEnvVars, labels.
type EnvVar struct {
	Key, Value string
	IsRegex    bool
	Pos        Pos
}

// Pattern is a regular expression of a test.
type Pattern struct {
	Expr string
	Pos  Pos
	re   *regexp.Regexp
}

// Test is one test of a file. Which fields matter depends on Kind.
type Test struct {
	Kind Kind
	Name string
	Pos  Pos
	// Problems say why the test cannot run as written (an unsupported or
	// invalid field), each with file:line:col. Such a test fails unrun.
	Problems []string

	// commandTests
	Command                        string
	Args                           []string
	Setup, Teardown                [][]string
	EnvVars                        []EnvVar
	ExitCode                       int
	ExpectedOutput, ExcludedOutput []Pattern
	ExpectedError, ExcludedError   []Pattern

	// fileExistenceTests and fileContentTests
	Path                               string
	ShouldExist                        bool   // default true
	Permissions                        string // "" unchecked
	UID, GID                           int    // -1 unchecked
	IsExecutableBy                     string
	ExpectedContents, ExcludedContents []Pattern

	// metadataTest
	Metadata *Metadata
}

// Metadata is a metadataTest.
type Metadata struct {
	EnvVars, UnboundEnvVars      []EnvVar
	Labels                       []EnvVar
	ExposedPorts, UnexposedPorts []string
	// Entrypoint and Cmd are checked when not nil; empty means none.
	Entrypoint, Cmd           *[]string
	Workdir, User             string
	Volumes, UnmountedVolumes []string
}

func (m *Metadata) empty() bool {
	return len(m.EnvVars) == 0 && len(m.UnboundEnvVars) == 0 && len(m.Labels) == 0 &&
		len(m.ExposedPorts) == 0 && len(m.UnexposedPorts) == 0 && m.Entrypoint == nil && m.Cmd == nil &&
		m.Workdir == "" && m.User == "" && len(m.Volumes) == 0 && len(m.UnmountedVolumes) == 0
}

// The fields each part of a v2 file has, as upstream spells them.
var (
	topFields       = []string{"schemaVersion", "globalEnvVars", "commandTests", "fileExistenceTests", "fileContentTests", "metadataTest", "licenseTests", "containerRunOptions"}
	commandFields   = []string{"name", "setup", "teardown", "envVars", "exitCode", "command", "args", "expectedOutput", "excludedOutput", "expectedError", "excludedError"}
	existenceFields = []string{"name", "path", "shouldExist", "permissions", "uid", "gid", "isExecutableBy"}
	contentFields   = []string{"name", "path", "expectedContents", "excludedContents"}
	metadataFields  = []string{"envVars", "unboundEnvVars", "exposedPorts", "unexposedPorts", "entrypoint", "cmd", "workdir", "volumes", "unmountedVolumes", "labels", "user"}
	envFields       = []string{"key", "value", "isRegex"}
	runOptionFields = []string{"user", "privileged", "allocateTty", "envVars", "envFile", "capabilities", "bindMounts"}
)

// Parse reads one container-structure-test file; file is its path for
// messages. An error (a YAML error, a file that is not a v2 test file)
// starts with "file:line:col: ". A test that uses what Hoist does not
// support is kept with its Problems, so that it fails where it is.
func Parse(file string, data []byte) (*File, error) {
	if err := pipeline.CheckYAMLLimits(file, data, pipeline.DefaultParseLimits()); err != nil {
		return nil, err
	}
	root, err := parseYAML(data)
	if err != nil {
		return nil, fmt.Errorf("%s:%v", file, err)
	}
	errAt := func(at Pos, format string, args ...any) error {
		return fmt.Errorf("%s:%s: %s", file, at, fmt.Sprintf(format, args...))
	}
	if root.kind != kMap {
		if root.kind == kNull {
			return nil, errAt(root.pos, "the file is empty; a container-structure-test file starts with schemaVersion: 2.0.0")
		}
		return nil, errAt(root.pos, "a container-structure-test file is a mapping starting with schemaVersion: 2.0.0, got %s", root.describe())
	}
	f := &File{Path: file}
	sv := root.get("schemaVersion")
	switch {
	case sv == nil:
		return nil, errAt(root.pos, "schemaVersion is missing; add schemaVersion: 2.0.0 at the top")
	case sv.val.kind != kScalar:
		return nil, errAt(sv.val.pos, "schemaVersion must be \"2.0.0\", got %s", sv.val.describe())
	case sv.val.text != "2.0.0":
		return nil, errAt(sv.val.pos, "schemaVersion %q is not supported: Hoist runs container-structure-test schemaVersion 2.0.0 only; convert the file to 2.0.0", sv.val.text)
	}
	f.SchemaVersion = sv.val.text
	d := &decoder{file: file}

	for _, e := range root.keys {
		switch e.name {
		case "schemaVersion":
		case "globalEnvVars":
			var probs []string
			d.problems = &probs
			f.GlobalEnvVars = d.envVars(e, false)
			if len(probs) > 0 {
				f.Tests = append(f.Tests, Test{Kind: KindUnsupported, Name: "globalEnvVars", Pos: e.pos, Problems: probs})
			}
		case "commandTests", "fileExistenceTests", "fileContentTests":
			if e.val.kind == kNull {
				continue
			}
			if e.val.kind != kSeq {
				return nil, errAt(e.val.pos, "%s must be a list of tests, each starting with \"- name: \", got %s", e.name, e.val.describe())
			}
			for i, it := range e.val.items {
				f.Tests = append(f.Tests, d.test(e.name, i, it))
			}
		case "metadataTest":
			if t, ok := d.metadata(e); ok {
				f.Tests = append(f.Tests, t)
			}
		case "licenseTests":
			f.Tests = append(f.Tests, Test{Kind: KindUnsupported, Name: "licenseTests", Pos: e.pos,
				Problems: []string{fmt.Sprintf("%s:%s: licenseTests are not supported by Hoist (they check Debian copyright files against Google's license list); remove them from the file", file, e.pos)}})
		case "containerRunOptions":
			if probs := d.runOptions(f, e); len(probs) > 0 {
				f.runProblems = probs
				f.Tests = append(f.Tests, Test{Kind: KindUnsupported, Name: "containerRunOptions", Pos: e.pos, Problems: probs})
			}
		default:
			f.Tests = append(f.Tests, Test{Kind: KindUnsupported, Name: e.name, Pos: e.pos,
				Problems: []string{unknownField(file, e, "a container-structure-test file", topFields)}})
		}
	}
	return f, nil
}

// unknownField says that e is not a field of what, with a hint for a
// misspelt one.
func unknownField(file string, e entry, what string, known []string) string {
	msg := fmt.Sprintf("%s:%s: unsupported field %q: %s has no such field (upstream rejects the whole file)", file, e.pos, e.name, what)
	for _, k := range known {
		if strings.EqualFold(k, e.name) {
			return msg + fmt.Sprintf("; did you mean %q? Field names are case-sensitive", k)
		}
	}
	return msg + "; its fields are " + strings.Join(known, ", ")
}

// test reads the i-th test of list (commandTests, fileExistenceTests,
// fileContentTests).
func (d *decoder) test(list string, i int, n *node) Test {
	t := Test{Pos: n.pos, UID: -1, GID: -1, ShouldExist: true}
	d.problems = &t.Problems
	var fields []string
	switch list {
	case "commandTests":
		t.Kind, fields = KindCommand, commandFields
	case "fileExistenceTests":
		t.Kind, fields = KindFileExistence, existenceFields
	default:
		t.Kind, fields = KindFileContent, contentFields
	}
	if n.kind != kMap {
		t.Name = fmt.Sprintf("%s[%d]", list, i)
		d.problem(n.pos, "each item of %s must be a mapping starting with \"name: \", got %s", list, n.describe())
		return t
	}
	for _, e := range n.keys {
		if !contains(fields, e.name) {
			t.Problems = append(t.Problems, unknownField(d.file, e, "an item of "+list, fields))
			continue
		}
		switch e.name {
		case "name":
			t.Name = d.str(&e)
		case "command":
			if e.val.kind == kSeq {
				d.problem(e.val.pos, "command must be a string in schemaVersion 2.0.0 (a list is the 1.0.0 form); put the program in command and the rest in args")
				continue
			}
			t.Command = d.str(&e)
		case "args":
			t.Args = d.strList(&e)
		case "setup":
			t.Setup = d.commands(&e)
		case "teardown":
			t.Teardown = d.commands(&e)
		case "envVars":
			t.EnvVars = d.envVars(e, true)
		case "exitCode":
			t.ExitCode, _ = d.integer(&e)
		case "expectedOutput":
			t.ExpectedOutput = d.patterns(&e)
		case "excludedOutput":
			t.ExcludedOutput = d.patterns(&e)
		case "expectedError":
			t.ExpectedError = d.patterns(&e)
		case "excludedError":
			t.ExcludedError = d.patterns(&e)
		case "path":
			t.Path = d.str(&e)
		case "shouldExist":
			if b, ok := d.boolean(&e); ok {
				t.ShouldExist = b
			}
		case "permissions":
			t.Permissions = d.str(&e)
		case "uid":
			if v, ok := d.integer(&e); ok {
				t.UID = v
			}
		case "gid":
			if v, ok := d.integer(&e); ok {
				t.GID = v
			}
		case "isExecutableBy":
			t.IsExecutableBy = d.str(&e)
			switch t.IsExecutableBy {
			case "", "owner", "group", "other", "any":
			default:
				d.problem(e.val.pos, "isExecutableBy %q is not one of owner, group, other, any", t.IsExecutableBy)
			}
		case "expectedContents":
			t.ExpectedContents = d.patterns(&e)
		case "excludedContents":
			t.ExcludedContents = d.patterns(&e)
		}
	}
	if t.Name == "" {
		d.problem(n.pos, "the test has no name; give every test a name")
		t.Name = fmt.Sprintf("%s[%d]", list, i)
	}
	if t.Kind == KindCommand && t.Command == "" {
		d.problem(n.pos, "command test %q has no command; set command (the program) and args", t.Name)
	}
	if t.Kind != KindCommand && t.Path == "" {
		d.problem(n.pos, "%s %q has no path; set the path of the file to check", strings.ToLower(string(t.Kind)), t.Name)
	}
	return t
}

// metadata reads metadataTest; ok is false for an empty one, which upstream
// skips.
func (d *decoder) metadata(e entry) (Test, bool) {
	t := Test{Kind: KindMetadata, Name: "Metadata Test", Pos: e.pos}
	d.problems = &t.Problems
	if e.val.kind == kNull {
		return t, false
	}
	if e.val.kind != kMap {
		d.problem(e.val.pos, "metadataTest must be a mapping, got %s", e.val.describe())
		return t, true
	}
	m := &Metadata{}
	t.Metadata = m
	for _, k := range e.val.keys {
		switch k.name {
		case "envVars":
			m.EnvVars = d.envVars(k, false)
		case "unboundEnvVars":
			m.UnboundEnvVars = d.envVars(k, false)
		case "labels":
			m.Labels = d.envVars(k, false)
		case "exposedPorts":
			m.ExposedPorts = d.nonEmpty(&k, "port")
		case "unexposedPorts":
			m.UnexposedPorts = d.strList(&k)
		case "entrypoint":
			if k.val.kind != kNull {
				l := d.strList(&k)
				m.Entrypoint = &l
			}
		case "cmd":
			if k.val.kind != kNull {
				l := d.strList(&k)
				m.Cmd = &l
			}
		case "workdir":
			m.Workdir = d.str(&k)
		case "user":
			m.User = d.str(&k)
		case "volumes":
			m.Volumes = d.nonEmpty(&k, "volume")
		case "unmountedVolumes":
			m.UnmountedVolumes = d.strList(&k)
		default:
			t.Problems = append(t.Problems, unknownField(d.file, k, "metadataTest", metadataFields))
		}
	}
	return t, len(t.Problems) > 0 || !m.empty()
}

// runOptions reads containerRunOptions: Hoist runs user; every other field
// is a problem.
func (d *decoder) runOptions(f *File, e entry) []string {
	var probs []string
	d.problems = &probs
	if e.val.kind == kNull {
		return nil
	}
	if e.val.kind != kMap {
		d.problem(e.val.pos, "containerRunOptions must be a mapping, got %s", e.val.describe())
		return probs
	}
	for _, k := range e.val.keys {
		switch {
		case k.name == "user":
			f.RunUser = d.str(&k)
			f.RunOptionsSet = f.RunOptionsSet || f.RunUser != ""
		case contains(runOptionFields, k.name) && unset(k.val):
			// privileged: false, capabilities: [] and the like change nothing.
		case contains(runOptionFields, k.name):
			d.problem(k.pos, "containerRunOptions.%s is not supported by Hoist (only user is); remove it", k.name)
		default:
			probs = append(probs, unknownField(d.file, k, "containerRunOptions", runOptionFields))
		}
	}
	return probs
}
