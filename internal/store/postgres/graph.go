package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/hoistci/hoist/internal/pipeline"
)

// SetFromImages replaces the FROM images recorded for project.
func (s *Store) SetFromImages(ctx context.Context, project string, images []pipeline.ImageRef) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lock(ctx, tx, lockFrom, project); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM project_from WHERE project = $1`, project); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO project_from_known (project) VALUES ($1)
			ON CONFLICT DO NOTHING`, project); err != nil {
			return err
		}
		for i, img := range images {
			if _, err := tx.Exec(ctx, `INSERT INTO project_from (project, seq, image) VALUES ($1, $2, $3)`,
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
	rows, err := s.pool.Query(ctx, `SELECT k.project, f.image FROM project_from_known AS k
		LEFT JOIN project_from AS f ON f.project = k.project ORDER BY k.project, f.seq`)
	if err != nil {
		return nil, fmt.Errorf("reading FROM images: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var p string
		var img *string
		if err := rows.Scan(&p, &img); err != nil {
			return nil, fmt.Errorf("reading FROM images: %w", err)
		}
		if img == nil {
			out[p] = nil
			continue
		}
		ref, err := pipeline.ParseImageRef(*img)
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

// SetIdentity records the identity of build id.
func (s *Store) SetIdentity(ctx context.Context, id int64, project, identity string, from []pipeline.ImageRef) error {
	lines := make([]string, len(from))
	for i, f := range from {
		lines[i] = f.String()
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO build_identity (build_id, project, identity, from_images) VALUES ($1, $2, $3, $4)
		ON CONFLICT (build_id) DO UPDATE SET identity = excluded.identity, project = excluded.project, from_images = excluded.from_images`,
		id, project, identity, strings.Join(lines, "\n"))
	if err != nil {
		return fmt.Errorf("recording the identity of build %d: %w", id, err)
	}
	return nil
}

// LastDelivered returns the newest succeeded build of project with a
// digest, its identity and FROM images; pipeline.ErrNotFound when there is
// none, or it has no identity or FROM images recorded.
func (s *Store) LastDelivered(ctx context.Context, project string) (pipeline.Delivered, error) {
	var (
		d    pipeline.Delivered
		id   int64
		from *string
	)
	err := s.pool.QueryRow(ctx, `SELECT b.id, COALESCE(i.identity, ''), i.from_images FROM builds AS b
		LEFT JOIN build_identity AS i ON i.build_id = b.id
		WHERE b.project = $1 AND b.status = $2 AND b.digest != '' ORDER BY b.id DESC LIMIT 1`,
		project, pipeline.StatusSucceeded).Scan(&id, &d.Identity, &from)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && (from == nil || d.Identity == "")) {
		return d, pipeline.ErrNotFound
	}
	if err != nil {
		return d, fmt.Errorf("looking up the last delivery of %s: %w", project, err)
	}
	for _, line := range strings.Split(*from, "\n") {
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
	b, err := scanBuild(s.pool.QueryRow(ctx, `SELECT `+buildColumns+` FROM builds
		WHERE id = (SELECT MAX(i.build_id) FROM build_identity AS i JOIN builds AS b ON b.id = i.build_id
			WHERE i.project = $1 AND i.identity = $2 AND b.status = $3 AND b.digest != '')`,
		project, identity, pipeline.StatusSucceeded))
	if err != nil {
		err = noRows(err)
		if errors.Is(err, pipeline.ErrNotFound) {
			return pipeline.Build{}, err
		}
		return pipeline.Build{}, fmt.Errorf("looking up builds of %s by identity: %w", project, err)
	}
	return b, nil
}

// SetForce marks build id to run even with unchanged inputs.
func (s *Store) SetForce(ctx context.Context, id int64) error {
	tag, err := s.pool.Exec(ctx, `INSERT INTO build_identity (build_id, project, force)
		SELECT id, project, TRUE FROM builds WHERE id = $1
		ON CONFLICT (build_id) DO UPDATE SET force = TRUE`, id)
	return affected(tag, err, fmt.Sprintf("forcing build %d", id))
}

// Forced reports whether build id was marked with SetForce.
func (s *Store) Forced(ctx context.Context, id int64) (bool, error) {
	var force bool
	err := s.pool.QueryRow(ctx, `SELECT force FROM build_identity WHERE build_id = $1`, id).Scan(&force)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading build %d: %w", id, err)
	}
	return force, nil
}

// PinCommit makes build id check out commit instead of its branch's head.
func (s *Store) PinCommit(ctx context.Context, id int64, commit string) error {
	tag, err := s.pool.Exec(ctx, `INSERT INTO build_identity (build_id, project, pin_commit)
		SELECT id, project, $2 FROM builds WHERE id = $1
		ON CONFLICT (build_id) DO UPDATE SET pin_commit = excluded.pin_commit`, id, commit)
	return affected(tag, err, fmt.Sprintf("pinning build %d to %s", id, commit))
}

// PinnedCommit is the commit PinCommit set for build id, "" for none.
func (s *Store) PinnedCommit(ctx context.Context, id int64) (string, error) {
	var commit string
	err := s.pool.QueryRow(ctx, `SELECT pin_commit FROM build_identity WHERE build_id = $1`, id).Scan(&commit)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading build %d: %w", id, err)
	}
	return commit, nil
}
