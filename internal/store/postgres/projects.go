package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/hoistci/hoist/internal/pipeline"
)

const projectColumns = `key, id, app_id, job_id, tag, git_url, git_branch, git_path,
	target_file, build_context, prebuild_script, prebuild_context, depends_on,
	notify_email, origin_file, origin_line, schedule, notify_success, disabled`

const putProject = `INSERT INTO projects (` + projectColumns + `)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
	ON CONFLICT (key) DO UPDATE SET
	id = excluded.id, app_id = excluded.app_id, job_id = excluded.job_id,
	tag = excluded.tag, git_url = excluded.git_url, git_branch = excluded.git_branch,
	git_path = excluded.git_path, target_file = excluded.target_file,
	build_context = excluded.build_context, prebuild_script = excluded.prebuild_script,
	prebuild_context = excluded.prebuild_context, depends_on = excluded.depends_on,
	notify_email = excluded.notify_email, origin_file = excluded.origin_file,
	origin_line = excluded.origin_line, schedule = excluded.schedule,
	notify_success = excluded.notify_success, disabled = excluded.disabled`

// dependency is how a depends-on reference is kept in the depends_on JSON.
type dependency struct {
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	Tag       string `json:"tag"`
}

// PutProject inserts or replaces the project with p's key. It keeps the
// stored project's Trusted and Limits (a new one is untrusted, with the
// server's limits): only SetTrusted and SetLimits change them.
func (s *Store) PutProject(ctx context.Context, p pipeline.Project) error {
	deps := make([]dependency, len(p.DependsOn))
	for i, d := range p.DependsOn {
		deps[i] = dependency(d)
	}
	js, err := json.Marshal(deps)
	if err != nil {
		return fmt.Errorf("storing project %s: %w", p.Key(), err)
	}
	_, err = s.pool.Exec(ctx, putProject, p.Key(), p.ID, p.AppID, p.JobID, p.Tag,
		p.GitURL, p.GitBranch, p.GitPath, p.TargetFile, p.BuildContext,
		p.PrebuildScript, p.PrebuildContext, string(js), p.NotifyEmail,
		p.Origin.File, p.Origin.Line, p.Schedule, p.NotifySuccess, p.Disabled)
	if err != nil {
		return fmt.Errorf("storing project %s: %w", p.Key(), err)
	}
	return nil
}

// Project returns the project with key, or an error wrapping
// pipeline.ErrNotFound.
func (s *Store) Project(ctx context.Context, key string) (pipeline.Project, error) {
	p, err := scanProject(s.pool.QueryRow(ctx, selectProject+` WHERE key = $1`, key))
	if err != nil {
		return pipeline.Project{}, fmt.Errorf("project %s: %w", key, noRows(err))
	}
	return p, nil
}

// Projects lists every project, ordered by key.
func (s *Store) Projects(ctx context.Context) ([]pipeline.Project, error) {
	rows, err := s.pool.Query(ctx, selectProject+` ORDER BY key`)
	if err != nil {
		return nil, fmt.Errorf("listing projects: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (pipeline.Project, error) { return scanProject(r) })
	if err != nil {
		return nil, fmt.Errorf("listing projects: %w", err)
	}
	return out, nil
}

// selectProject is projectColumns and the columns only an admin sets
// (SetTrusted, SetLimits), which PutProject keeps.
const selectProject = `SELECT ` + projectColumns + `, trusted, limit_memory, limit_cpus, limit_pids FROM projects`

func scanProject(r pgx.Row) (pipeline.Project, error) {
	var p pipeline.Project
	var key, deps string
	err := r.Scan(&key, &p.ID, &p.AppID, &p.JobID, &p.Tag, &p.GitURL, &p.GitBranch,
		&p.GitPath, &p.TargetFile, &p.BuildContext, &p.PrebuildScript,
		&p.PrebuildContext, &deps, &p.NotifyEmail, &p.Origin.File, &p.Origin.Line, &p.Schedule,
		&p.NotifySuccess, &p.Disabled, &p.Trusted, &p.Limits.Memory, &p.Limits.CPUs, &p.Limits.PIDs)
	if err != nil {
		return p, err
	}
	var ds []dependency
	if err := json.Unmarshal([]byte(deps), &ds); err != nil {
		return p, fmt.Errorf("decoding depends-on of %s: %w", key, err)
	}
	for _, d := range ds {
		p.DependsOn = append(p.DependsOn, pipeline.ImageRef(d))
	}
	return p, nil
}

// DeleteProject removes the project with key; its builds, logs and images
// stay. A missing project is pipeline.ErrNotFound.
func (s *Store) DeleteProject(ctx context.Context, key string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM projects WHERE key = $1`, key)
	return affected(tag, err, "deleting project "+key)
}

// SetTrusted marks the project with key trusted or not; a missing project
// is pipeline.ErrNotFound.
func (s *Store) SetTrusted(ctx context.Context, key string, trusted bool) error {
	tag, err := s.pool.Exec(ctx, `UPDATE projects SET trusted = $1 WHERE key = $2`, trusted, key)
	return affected(tag, err, "trusting project "+key)
}

// SetLimits replaces the project's own limits; a missing project is
// pipeline.ErrNotFound.
func (s *Store) SetLimits(ctx context.Context, key string, l pipeline.Limits) error {
	tag, err := s.pool.Exec(ctx, `UPDATE projects SET limit_memory = $1, limit_cpus = $2, limit_pids = $3 WHERE key = $4`,
		max(l.Memory, 0), max(l.CPUs, 0), max(l.PIDs, 0), key)
	return affected(tag, err, "setting the limits of project "+key)
}

// ListVersion returns a number that changes whenever a project, a build,
// a delivered image, a scan or a project's FROM images are written, by
// this process or another (migration 00006): what the lists and pages
// made of them show is the same as long as it is.
func (s *Store) ListVersion(ctx context.Context) (int64, error) {
	var n int64
	if err := s.pool.QueryRow(ctx, `SELECT n FROM list_version`).Scan(&n); err != nil {
		return 0, fmt.Errorf("reading the list version: %w", err)
	}
	return n, nil
}
