package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/hoistci/hoist/internal/pipeline"
)

const projectColumns = `key, id, app_id, job_id, tag, git_url, git_branch, git_path,
	target_file, build_context, prebuild_script, prebuild_context, depends_on,
	notify_email, origin_file, origin_line, schedule, notify_success, disabled`

// An upsert, not INSERT OR REPLACE: REPLACE deletes the row first.
const putProject = `INSERT INTO projects (` + projectColumns + `)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
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
	_, err = s.db.ExecContext(ctx, putProject, p.Key(), p.ID, p.AppID, p.JobID, p.Tag,
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
	row := s.db.QueryRowContext(ctx, selectProject+` WHERE key = ?`, key)
	p, err := scanProject(row)
	if errors.Is(err, sql.ErrNoRows) {
		err = pipeline.ErrNotFound
	}
	if err != nil {
		return pipeline.Project{}, fmt.Errorf("project %s: %w", key, err)
	}
	return p, nil
}

// loadProjects lists every project, ordered by key, from the database.
func (s *Store) loadProjects(ctx context.Context) ([]pipeline.Project, error) {
	rows, err := s.db.QueryContext(ctx, selectProject+` ORDER BY key`)
	if err != nil {
		return nil, fmt.Errorf("listing projects: %w", err)
	}
	defer rows.Close()
	var out []pipeline.Project
	for rows.Next() {
		p, err := scanProject(rows)
		if err != nil {
			return nil, fmt.Errorf("listing projects: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing projects: %w", err)
	}
	return out, nil
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

// selectProject is projectColumns and the columns only an admin sets
// (SetTrusted, SetLimits), which PutProject keeps.
const selectProject = `SELECT ` + projectColumns + `, trusted, limit_memory, limit_cpus, limit_pids FROM projects`

func scanProject(r scanner) (pipeline.Project, error) {
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
	res, err := s.db.ExecContext(ctx, `DELETE FROM projects WHERE key = ?`, key)
	if err != nil {
		return fmt.Errorf("deleting project %s: %w", key, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("deleting project %s: %w", key, err)
	} else if n == 0 {
		return fmt.Errorf("deleting project %s: %w", key, pipeline.ErrNotFound)
	}
	return nil
}

// SetTrusted marks the project with key trusted or not; a missing project
// is pipeline.ErrNotFound.
func (s *Store) SetTrusted(ctx context.Context, key string, trusted bool) error {
	return s.setProject(ctx, key, "trusting", `UPDATE projects SET trusted = ? WHERE key = ?`, trusted, key)
}

// SetLimits replaces the project's own limits; a missing project is
// pipeline.ErrNotFound.
func (s *Store) SetLimits(ctx context.Context, key string, l pipeline.Limits) error {
	return s.setProject(ctx, key, "setting the limits of", `UPDATE projects SET limit_memory = ?, limit_cpus = ?, limit_pids = ? WHERE key = ?`,
		max(l.Memory, 0), max(l.CPUs, 0), max(l.PIDs, 0), key)
}

// setProject runs query, an UPDATE of the project with key; what is the
// step for errors.
func (s *Store) setProject(ctx context.Context, key, what, query string, args ...any) error {
	res, err := s.db.ExecContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("%s project %s: %w", what, key, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("%s project %s: %w", what, key, err)
	} else if n == 0 {
		return fmt.Errorf("%s project %s: %w", what, key, pipeline.ErrNotFound)
	}
	return nil
}
