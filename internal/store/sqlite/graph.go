package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
)

// SetFromImages replaces the FROM images recorded for project.
func (s *Store) SetFromImages(ctx context.Context, project string, images []pipeline.ImageRef) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM project_from WHERE project = ?`, project); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO project_from_known (project) VALUES (?)`, project); err != nil {
			return err
		}
		for i, img := range images {
			if _, err := tx.ExecContext(ctx, `INSERT INTO project_from (project, seq, image) VALUES (?, ?, ?)`,
				project, i, img.String()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("recording the FROM images of %s: %w", project, err)
	}
	return nil
}

// FromImages returns the FROM images of every project that recorded them.
func (s *Store) FromImages(ctx context.Context) (map[string][]pipeline.ImageRef, error) {
	out := map[string][]pipeline.ImageRef{}
	rows, err := s.db.QueryContext(ctx, `SELECT project FROM project_from_known`)
	if err != nil {
		return nil, fmt.Errorf("reading FROM images: %w", err)
	}
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			rows.Close()
			return nil, fmt.Errorf("reading FROM images: %w", err)
		}
		out[p] = nil
	}
	rows.Close()
	rows, err = s.db.QueryContext(ctx, `SELECT project, image FROM project_from ORDER BY project, seq`)
	if err != nil {
		return nil, fmt.Errorf("reading FROM images: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var p, img string
		if err := rows.Scan(&p, &img); err != nil {
			return nil, fmt.Errorf("reading FROM images: %w", err)
		}
		ref, err := pipeline.ParseImageRef(img)
		if err != nil {
			return nil, fmt.Errorf("reading FROM images of %s: %w", p, err)
		}
		out[p] = append(out[p], ref)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading FROM images: %w", err)
	}
	return out, nil
}

// SetIdentity records the identity of build id and the FROM images it was
// computed with, one per line.
func (s *Store) SetIdentity(ctx context.Context, id int64, project, identity string, from []pipeline.ImageRef) error {
	lines := make([]string, len(from))
	for i, f := range from {
		lines[i] = f.String()
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO build_identity (build_id, project, identity, from_images) VALUES (?, ?, ?, ?)
		ON CONFLICT (build_id) DO UPDATE SET identity = excluded.identity, project = excluded.project, from_images = excluded.from_images`,
		id, project, identity, strings.Join(lines, "\n"))
	if err != nil {
		return fmt.Errorf("recording the identity of build %d: %w", id, err)
	}
	return nil
}

// LastDelivered returns the newest succeeded build of project with a
// digest, its identity and FROM images.
func (s *Store) LastDelivered(ctx context.Context, project string) (pipeline.Delivered, error) {
	var (
		d    pipeline.Delivered
		id   int64
		from sql.NullString
	)
	err := s.db.QueryRowContext(ctx, `SELECT b.id, COALESCE(i.identity, ''), i.from_images FROM builds AS b
		LEFT JOIN build_identity AS i ON i.build_id = b.id
		WHERE b.project = ? AND b.status = ? AND b.digest != '' ORDER BY b.id DESC LIMIT 1`,
		project, pipeline.StatusSucceeded).Scan(&id, &d.Identity, &from)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && (!from.Valid || d.Identity == "")) {
		return d, pipeline.ErrNotFound
	}
	if err != nil {
		return d, fmt.Errorf("looking up the last delivery of %s: %w", project, err)
	}
	for _, line := range strings.Split(from.String, "\n") {
		if line == "" {
			continue
		}
		ref, err := pipeline.ParseImageRef(line)
		if err != nil {
			return d, fmt.Errorf("reading the FROM images of build %d: %w", id, err)
		}
		d.From = append(d.From, ref)
	}
	if d.Build, err = s.Build(ctx, id); err != nil {
		return d, err
	}
	return d, nil
}

// DeliveredWithIdentity returns the newest succeeded build of project with
// identity, or pipeline.ErrNotFound.
func (s *Store) DeliveredWithIdentity(ctx context.Context, project, identity string) (pipeline.Build, error) {
	b, err := scanBuild(s.db.QueryRowContext(ctx, `SELECT `+buildColumns+` FROM builds
		WHERE id = (SELECT MAX(i.build_id) FROM build_identity AS i JOIN builds AS b ON b.id = i.build_id
			WHERE i.project = ? AND i.identity = ? AND b.status = ? AND b.digest != '')`,
		project, identity, pipeline.StatusSucceeded))
	if errors.Is(err, sql.ErrNoRows) {
		return pipeline.Build{}, pipeline.ErrNotFound
	}
	if err != nil {
		return pipeline.Build{}, fmt.Errorf("looking up builds of %s by identity: %w", project, err)
	}
	return b, nil
}

// SetForce marks build id to run even with unchanged inputs.
func (s *Store) SetForce(ctx context.Context, id int64) error {
	var project string
	if err := s.db.QueryRowContext(ctx, `SELECT project FROM builds WHERE id = ?`, id).Scan(&project); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("forcing build %d: %w", id, pipeline.ErrNotFound)
		}
		return fmt.Errorf("forcing build %d: %w", id, err)
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO build_identity (build_id, project, force) VALUES (?, ?, 1)
		ON CONFLICT (build_id) DO UPDATE SET force = 1`, id, project)
	if err != nil {
		return fmt.Errorf("forcing build %d: %w", id, err)
	}
	return nil
}

// Forced reports whether build id was marked with SetForce.
func (s *Store) Forced(ctx context.Context, id int64) (bool, error) {
	var force bool
	err := s.db.QueryRowContext(ctx, `SELECT force FROM build_identity WHERE build_id = ?`, id).Scan(&force)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading build %d: %w", id, err)
	}
	return force, nil
}

// ClaimID marks the build with id running with Started = now, held by
// lease, if it is still queued, its backoff has passed and its project has
// no running build, and returns it; otherwise pipeline.ErrNotFound. One
// immediate transaction.
func (s *Store) ClaimID(ctx context.Context, id int64, lease pipeline.Lease, now time.Time) (pipeline.Build, error) {
	b, err := s.claim(ctx, lease, now, "AND id = ?", id)
	if err != nil {
		return pipeline.Build{}, fmt.Errorf("claiming build %d: %w", id, err)
	}
	return b, nil
}

// SkipQueued marks the build with id skipped with reason and Finished = now
// if it is still queued, and reports whether it was.
func (s *Store) SkipQueued(ctx context.Context, id int64, reason string, now time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE builds SET status = ?, reason = ?, finished = ?
		WHERE id = ? AND status = ?`, pipeline.StatusSkipped, reason, nanos(now), id, pipeline.StatusQueued)
	if err != nil {
		return false, fmt.Errorf("skipping build %d: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("skipping build %d: %w", id, err)
	}
	return n > 0, nil
}

// SetQueuedCause replaces the cause of the build with id if it is queued.
func (s *Store) SetQueuedCause(ctx context.Context, id int64, cause string) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE builds SET cause = ? WHERE id = ? AND status = ?`,
		cause, id, pipeline.StatusQueued); err != nil {
		return fmt.Errorf("updating the cause of build %d: %w", id, err)
	}
	return nil
}
