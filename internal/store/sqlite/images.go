package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/hoistci/hoist/internal/pipeline"
)

// RecordImage stores a delivery, replacing an earlier one of the same image
// reference.
func (s *Store) RecordImage(ctx context.Context, img pipeline.DeliveredImage) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO images
		(image, project, digest, git_commit, build_id, delivered) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (image) DO UPDATE SET project = excluded.project,
		digest = excluded.digest, git_commit = excluded.git_commit,
		build_id = excluded.build_id, delivered = excluded.delivered`,
		img.Image, img.Project, img.Digest, img.Commit, img.BuildID, nanos(img.Delivered))
	if err != nil {
		return fmt.Errorf("recording image %s: %w", img.Image, err)
	}
	return nil
}

// loadImages lists delivered images, newest first (ties by reference),
// from the database.
func (s *Store) loadImages(ctx context.Context) ([]pipeline.DeliveredImage, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT image, project, digest, git_commit,
		build_id, delivered FROM images ORDER BY delivered DESC, image`)
	if err != nil {
		return nil, fmt.Errorf("listing images: %w", err)
	}
	defer rows.Close()
	var out []pipeline.DeliveredImage
	for rows.Next() {
		var img pipeline.DeliveredImage
		var delivered sql.NullInt64
		if err := rows.Scan(&img.Image, &img.Project, &img.Digest, &img.Commit,
			&img.BuildID, &delivered); err != nil {
			return nil, fmt.Errorf("listing images: %w", err)
		}
		img.Delivered = fromNanos(delivered)
		out = append(out, img)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing images: %w", err)
	}
	return out, nil
}
