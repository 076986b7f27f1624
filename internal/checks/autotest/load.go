package autotest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/schema"
	"github.com/compose-spec/compose-go/v2/tree"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/hoistci/hoist/internal/pipeline"
)

// sutName is the service whose exit code decides the test.
const sutName = "sut"

// plan is a loaded compose test file: the services to start, dependencies
// first and sut last.
type plan struct {
	services []*service
	notes    []string // things the log should say (ignored fields, …)
}

// service is one service to run.
type service struct {
	name      string
	underTest bool                // runs the image under test
	image     string              // the image to run (for underTest: set at run time)
	build     *pipeline.BuildSpec // to build first (Tags set at run time)
	spec      pipeline.ContainerSpec
	deps      []dependency
}

// dependency is one depends_on entry.
type dependency struct {
	service   string
	condition string
}

// supportedPaths are the compose attributes Hoist honours or can ignore
// safely; everything else in a file is reported as unsupported.
var supportedPaths = func() []tree.Path {
	paths := []tree.Path{
		"name", "version", "services", "services.*",
		"services.*.image", "services.*.build", "services.*.build.context",
		"services.*.build.dockerfile", "services.*.build.args", "services.*.build.args.*",
		"services.*.command", "services.*.entrypoint",
		"services.*.environment", "services.*.environment.*",
		"services.*.working_dir", "services.*.user", "services.*.privileged",
		"services.*.labels", "services.*.labels.*",
		"services.*.depends_on", "services.*.depends_on.*", "services.*.depends_on.*.condition",
		"services.*.depends_on.*.required", "services.*.depends_on.*.restart",
		"services.*.links",
		"services.*.networks", "services.*.networks.*", "services.*.networks.*.aliases",
		// ignored, with a note
		"services.*.expose", "services.*.restart", "services.*.container_name",
		"services.*.tty", "services.*.stdin_open", "services.*.stop_signal",
		"services.*.stop_grace_period", "services.*.profiles",
		// top-level networks: every service joins the run's one network
		"networks", "networks.*", "networks.*.driver", "networks.*.name",
		"networks.*.labels", "networks.*.labels.*",
	}
	for _, p := range schema.AttributePaths() {
		s := string(p)
		if strings.HasPrefix(s, "services.*.ports") || strings.HasPrefix(s, "services.*.healthcheck") {
			paths = append(paths, p)
		}
	}
	return paths
}()

// bridgeOnly flags a top-level network whose driver is not bridge: Hoist
// makes one bridge network for the run.
var bridgeOnly = loader.UnsupportedAttributePattern{
	Path:   "networks.*.driver",
	Detect: func(v any) bool { s, _ := v.(string); return s != "" && s != "bridge" },
}

// ignoredNotes are the fields Hoist ignores, with what the log says.
var ignoredNotes = []struct {
	field string
	set   func(types.ServiceConfig) bool
	why   string
}{
	{"ports", func(s types.ServiceConfig) bool { return len(s.Ports) > 0 }, "nothing is published on the build machine; use the service name to reach it"},
	{"expose", func(s types.ServiceConfig) bool { return len(s.Expose) > 0 }, "every port is reachable on the private network"},
	{"healthcheck", func(s types.ServiceConfig) bool { return s.HealthCheck != nil }, "health is not checked"},
	{"restart", func(s types.ServiceConfig) bool { return s.Restart != "" }, "containers are not restarted"},
	{"container_name", func(s types.ServiceConfig) bool { return s.ContainerName != "" }, "the container gets a generated name; its container_name is an alias on the network"},
	{"tty", func(s types.ServiceConfig) bool { return s.Tty }, "no terminal is attached"},
	{"stdin_open", func(s types.ServiceConfig) bool { return s.StdinOpen }, "no input is attached"},
	{"stop_signal", func(s types.ServiceConfig) bool { return s.StopSignal != "" }, "containers are removed by force"},
	{"stop_grace_period", func(s types.ServiceConfig) bool { return s.StopGracePeriod != nil }, "containers are removed by force"},
}

// load reads and checks spec.File and returns what to run. Its errors are
// for the user: they name the file, with a line when known, and what to do.
func load(ctx context.Context, spec Spec, env map[string]string, projectName string) (*plan, error) {
	content, err := pipeline.ReadRegularFile(spec.File, spec.location(), pipeline.DefaultMaxBytes)
	var le *pipeline.LimitError
	switch {
	case errors.As(err, &le):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("reading %s: %w", spec.location(), err)
	}
	// compose-go's YAML parser has no limits of its own.
	if err := pipeline.CheckYAMLLimits(spec.location(), content, pipeline.DefaultParseLimits()); err != nil {
		return nil, err
	}
	pos := newPositions(content)
	at := func(path ...string) string { return pos.at(spec.location(), path...) }

	var unsupported []loader.UnsupportedAttribute
	var missing []string
	lookup := func(name string) (string, bool) {
		v, ok := env[name]
		if !ok && !slices.Contains(missing, name) {
			missing = append(missing, name)
		}
		return v, ok
	}
	details := types.ConfigDetails{
		WorkingDir:  filepath.Dir(spec.File),
		ConfigFiles: []types.ConfigFile{{Filename: spec.File, Content: content}},
		Environment: env,
	}
	project, err := loader.LoadWithContext(ctx, details,
		func(o *loader.Options) {
			o.SetProjectName(projectName, true)
			o.SkipInclude = true            // include is reported as unsupported
			o.SkipExtends = true            // so is extends
			o.SkipResolveEnvironment = true // env_file is never read
			o.SkipResolveLabels = true      // nor label_file
			o.Profiles = []string{"*"}
			o.Interpolate.LookupValue = lookup
		},
		loader.WithUnsupportedAttributesCheck([]loader.UnsupportedAttributePattern{bridgeOnly},
			func(found []loader.UnsupportedAttribute) { unsupported = found }),
		loader.WithSupportedAttributes(supportedPaths, nil),
	)
	if len(unsupported) > 0 {
		// Reported first: an unsupported field may also be why loading failed.
		return nil, unsupportedError(unsupported, at)
	}
	if err != nil {
		return nil, loadError(spec.location(), spec.File, err, pos)
	}

	p := &plan{}
	for _, name := range missing {
		p.notes = append(p.notes, fmt.Sprintf("variable %s is not set: it is empty (Hoist gives only IMAGE_NAME, DOCKER_REPO, DOCKER_TAG, SOURCE_COMMIT, SOURCE_BRANCH and DOCKERFILE_PATH)", name))
	}
	if _, ok := project.Services[sutName]; !ok {
		return nil, fmt.Errorf("%s: the file has no %q service: Docker Hub autotests run the service named sut and pass when it exits 0; add one", at("services"), sutName)
	}
	order, err := startOrder(project, at)
	if err != nil {
		return nil, err
	}
	aliases := linkAliases(project, order)
	for _, name := range order {
		sc := project.Services[name]
		svc, notes, err := newService(spec, sc, aliases[name], at)
		if err != nil {
			return nil, err
		}
		p.notes = append(p.notes, notes...)
		p.services = append(p.services, svc)
	}
	return p, nil
}

// unsupportedError names every unsupported field, the first with its line.
func unsupportedError(found []loader.UnsupportedAttribute, at func(...string) string) error {
	var msgs []string
	for _, f := range found {
		parts := f.Path.Parts()
		var what string
		switch {
		case len(parts) >= 3 && (parts[0] == "services" || parts[0] == "jobs"):
			what = fmt.Sprintf("service %q: %s", parts[1], strings.Join(parts[2:], "."))
			if parts[0] == "jobs" {
				what = "jobs"
			}
		case len(parts) >= 2 && parts[0] == "networks":
			what = fmt.Sprintf("network %q: %s", parts[1], strings.Join(parts[2:], "."))
			if len(parts) == 2 {
				what = fmt.Sprintf("network %q", parts[1])
			}
		default:
			what = string(f.Path)
		}
		msgs = append(msgs, fmt.Sprintf("%s: %s is not supported by Hoist's autotest", at(parts...), what))
	}
	slices.Sort(msgs)
	msgs = slices.Compact(msgs)
	return fmt.Errorf("%s (Hoist runs only what it can honour safely: no host mounts, host namespaces or extra privileges; remove the field or test another way)", strings.Join(msgs, "; "))
}

// pathInMessage finds a compose path ("services.sut.build") in a loader
// error message.
var pathInMessage = regexp.MustCompile(`\b(services|networks|volumes|secrets|configs)((?:\.[A-Za-z0-9_.-]+)|(?:\[\d+\]))+`)

// quotedService finds a service name a consistency error quotes.
var quotedService = regexp.MustCompile(`service "([^"]+)"`)

// loadError turns a compose-go error into one naming the file and, when
// the message says where, the line.
func loadError(file, abs string, err error, pos *positions) error {
	msg := err.Error()
	msg = strings.ReplaceAll(msg, "validating "+abs+": ", "")
	msg = strings.ReplaceAll(msg, "failed to parse "+abs+": ", "")
	msg = strings.ReplaceAll(msg, abs, file)
	if m, ok := strings.CutSuffix(msg, " false schema"); ok {
		msg = m + " is not a field of the compose specification"
	}
	where := file
	if m := pathInMessage.FindString(msg); m != "" {
		where = pos.at(file, strings.Split(m, ".")...)
	} else if m := quotedService.FindStringSubmatch(msg); m != nil {
		where = pos.at(file, "services", m[1])
	} else if m := cycleStart.FindStringSubmatch(msg); m != nil {
		where = pos.at(file, "services", m[1], "depends_on")
	} else if l := yamlLine.FindAllStringSubmatch(msg, -1); l != nil {
		where = file + ":" + l[len(l)-1][1]
	}
	var pathErr *os.PathError
	if errors.As(err, &pathErr) {
		return fmt.Errorf("%s: %v", where, pathErr)
	}
	return fmt.Errorf("%s: %s", where, msg)
}

// yamlLine finds the line of a YAML syntax error.
var yamlLine = regexp.MustCompile(`line (\d+)`)

// cycleStart finds the first service of a dependency cycle.
var cycleStart = regexp.MustCompile(`cycle detected: ([^ ]+) ->`)

// startOrder returns sut and the services it depends on, transitively,
// dependencies first.
func startOrder(project *types.Project, at func(...string) string) ([]string, error) {
	var order []string
	state := map[string]int{} // 1: visiting, 2: done
	var visit func(name string, chain []string) error
	visit = func(name string, chain []string) error {
		switch state[name] {
		case 1:
			return fmt.Errorf("%s: services depend on each other in a cycle (%s → %s); remove one depends_on", at("services", name, "depends_on"), strings.Join(chain, " → "), name)
		case 2:
			return nil
		}
		sc, ok := project.Services[name]
		if !ok {
			return fmt.Errorf("%s: %s depends on %q, which is not a service of the file (or is disabled)", at("services", chain[len(chain)-1], "depends_on"), chain[len(chain)-1], name)
		}
		state[name] = 1
		deps := make([]string, 0, len(sc.DependsOn))
		for dep := range sc.DependsOn {
			deps = append(deps, dep)
		}
		slices.Sort(deps)
		for _, dep := range deps {
			if err := visit(dep, append(chain, name)); err != nil {
				return err
			}
		}
		state[name] = 2
		order = append(order, name)
		return nil
	}
	if err := visit(sutName, nil); err != nil {
		return nil, err
	}
	return order, nil
}

// linkAliases returns the extra names links give services: "db:database"
// in a service's links makes database a name of db.
func linkAliases(project *types.Project, order []string) map[string][]string {
	out := map[string][]string{}
	for _, name := range order {
		for _, link := range project.Services[name].Links {
			target, alias, ok := strings.Cut(link, ":")
			if ok && alias != "" && alias != target {
				out[target] = append(out[target], alias)
			}
		}
	}
	return out
}

// newService checks one service and makes what runs it.
func newService(spec Spec, sc types.ServiceConfig, extraAliases []string, at func(...string) string) (*service, []string, error) {
	svc := &service{name: sc.Name}
	var notes []string
	for _, n := range ignoredNotes {
		if n.set(sc) {
			notes = append(notes, fmt.Sprintf("%s: service %q: %s is ignored: %s", at("services", sc.Name, n.field), sc.Name, n.field, n.why))
		}
	}
	for dep, d := range sc.DependsOn {
		cond := d.Condition
		switch cond {
		case "", types.ServiceConditionStarted:
			cond = types.ServiceConditionStarted
		case types.ServiceConditionCompletedSuccessfully:
		case types.ServiceConditionHealthy:
			notes = append(notes, fmt.Sprintf("%s: service %q: depends_on %s condition service_healthy is treated as service_started (Hoist does not run health checks)", at("services", sc.Name, "depends_on", dep), sc.Name, dep))
			cond = types.ServiceConditionStarted
		default:
			return nil, nil, fmt.Errorf("%s: service %q: depends_on %s: condition %q is not supported (use service_started or service_completed_successfully)", at("services", sc.Name, "depends_on", dep), sc.Name, dep, d.Condition)
		}
		svc.deps = append(svc.deps, dependency{service: dep, condition: cond})
	}
	slices.SortFunc(svc.deps, func(a, b dependency) int { return strings.Compare(a.service, b.service) })

	switch {
	case sc.Build != nil:
		same, bs, err := buildOf(spec, sc, at)
		if err != nil {
			return nil, nil, err
		}
		if same {
			svc.underTest = true
		} else {
			svc.build = bs
		}
	case sc.Image == "":
		return nil, nil, fmt.Errorf("%s: service %q has neither image nor build; give it one", at("services", sc.Name), sc.Name)
	case namesRepository(sc.Image, spec.Project.Image().Repository()):
		svc.underTest = true
	default:
		svc.image = sc.Image
	}

	cs := pipeline.ContainerSpec{
		Cmd:        sc.Command,
		User:       sc.User,
		WorkingDir: sc.WorkingDir,
	}
	if sc.Privileged {
		return nil, nil, fmt.Errorf("%s: service %q: privileged is refused: Hoist runs every container confined, without extra privileges; remove it and test another way", at("services", sc.Name, "privileged"), sc.Name)
	}
	if sc.Entrypoint != nil {
		cs.Entrypoint = []string(sc.Entrypoint)
	}
	keys := make([]string, 0, len(sc.Environment))
	for k := range sc.Environment {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if v := sc.Environment[k]; v != nil {
			cs.Env = append(cs.Env, k+"="+*v)
		}
	}
	if len(sc.Labels) > 0 {
		cs.Labels = map[string]string{}
		for k, v := range sc.Labels {
			cs.Labels[k] = v
		}
	}
	names := []string{sc.Name}
	for _, n := range sc.Networks {
		if n != nil {
			names = append(names, n.Aliases...)
		}
	}
	if sc.ContainerName != "" {
		names = append(names, sc.ContainerName)
	}
	names = append(names, extraAliases...)
	slices.Sort(names[1:])
	cs.Aliases = slices.Compact(names)
	svc.spec = cs
	return svc, notes, nil
}

// buildOf resolves a service's build: same reports that it is the
// project's own build (the image under test runs instead); otherwise bs is
// what to build. Context and Dockerfile must stay inside the checkout.
func buildOf(spec Spec, sc types.ServiceConfig, at func(...string) string) (same bool, bs *pipeline.BuildSpec, err error) {
	b := sc.Build
	where := at("services", sc.Name, "build")
	if strings.Contains(b.Context, "://") || strings.HasPrefix(b.Context, "git@") {
		return false, nil, fmt.Errorf("%s: service %q: build context %s is remote; Hoist builds only from the checkout", where, sc.Name, b.Context)
	}
	ctxDir := b.Context
	if !filepath.IsAbs(ctxDir) {
		ctxDir = filepath.Join(filepath.Dir(spec.File), ctxDir)
	}
	shown := func(p string) string {
		if rel, err := filepath.Rel(filepath.Dir(spec.File), p); err == nil {
			return filepath.ToSlash(rel)
		}
		return p
	}
	if ctxDir, err = inside(spec.RepoRoot, ctxDir); err != nil {
		return false, nil, fmt.Errorf("%s: service %q: build context %s: %w", where, sc.Name, shown(b.Context), err)
	}
	dockerfile := b.Dockerfile
	if dockerfile == "" {
		dockerfile = "Dockerfile"
	}
	if !filepath.IsAbs(dockerfile) {
		dockerfile = filepath.Join(ctxDir, dockerfile)
	}
	if dockerfile, err = inside(spec.RepoRoot, dockerfile); err != nil {
		return false, nil, fmt.Errorf("%s: service %q: dockerfile %s: %w", where, sc.Name, b.Dockerfile, err)
	}
	if sameFile(ctxDir, spec.ContextDir) && sameFile(dockerfile, spec.TargetFile) {
		return true, nil, nil
	}
	rel, err := filepath.Rel(ctxDir, dockerfile)
	if err != nil {
		return false, nil, fmt.Errorf("%s: service %q: dockerfile: %w", where, sc.Name, err)
	}
	bs = &pipeline.BuildSpec{Workspace: spec.RepoRoot, ContextDir: ctxDir, Dockerfile: filepath.ToSlash(rel)}
	if len(b.Args) > 0 {
		bs.BuildArgs = map[string]string{}
		for k, v := range b.Args {
			if v != nil {
				bs.BuildArgs[k] = *v
			}
		}
	}
	return false, bs, nil
}

// inside resolves p (absolute) and checks that it lies inside root.
func inside(root, p string) (string, error) {
	if root == "" {
		return "", fmt.Errorf("no checkout root given")
	}
	rel, err := filepath.Rel(root, p)
	if err != nil {
		return "", err
	}
	out, err := pipeline.SafeJoin(root, filepath.ToSlash(rel))
	if err != nil {
		return "", errors.New("it leads outside the checkout (through .. or a symlink); keep it inside the repository")
	}
	if _, err := os.Stat(out); err != nil {
		return "", errors.New("it does not exist in the checkout")
	}
	return out, nil
}

// sameFile reports whether a and b are the same path once symlinks are
// resolved.
func sameFile(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	ra, err1 := filepath.EvalSymlinks(a)
	rb, err2 := filepath.EvalSymlinks(b)
	if err1 != nil || err2 != nil {
		return filepath.Clean(a) == filepath.Clean(b)
	}
	return ra == rb
}

// namesRepository reports whether the image reference ref names repo
// ("ns/name" or "name" for the library namespace), whatever its tag,
// digest or registry host.
func namesRepository(ref, repo string) bool {
	if repo == "" {
		return false
	}
	r := ref
	if i := strings.Index(r, "@"); i >= 0 {
		r = r[:i]
	}
	if i := strings.LastIndex(r, ":"); i > strings.LastIndex(r, "/") {
		r = r[:i]
	}
	parts := strings.Split(r, "/")
	if len(parts) > 1 && (strings.ContainsAny(parts[0], ".:") || parts[0] == "localhost") {
		parts = parts[1:] // a registry host
	}
	got := strings.Join(parts, "/")
	got = strings.TrimPrefix(got, pipeline.LibraryNamespace+"/")
	return got == strings.TrimPrefix(repo, pipeline.LibraryNamespace+"/")
}
