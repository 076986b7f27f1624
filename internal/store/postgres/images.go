package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/hoistci/hoist/internal/pipeline"
)

// RecordImage stores a delivery, replacing an earlier one of the same image
// reference.
func (s *Store) RecordImage(ctx context.Context, img pipeline.DeliveredImage) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO images
		(image, project, digest, git_commit, build_id, delivered) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (image) DO UPDATE SET project = excluded.project,
		digest = excluded.digest, git_commit = excluded.git_commit,
		build_id = excluded.build_id, delivered = excluded.delivered`,
		img.Image, img.Project, img.Digest, img.Commit, img.BuildID, nanos(img.Delivered))
	if err != nil {
		return fmt.Errorf("recording image %s: %w", img.Image, err)
	}
	return nil
}

// Images lists delivered images, newest first (ties by reference). Like
// SQLite's, PostgreSQL's order puts an image never delivered (NULL) last.
func (s *Store) Images(ctx context.Context) ([]pipeline.DeliveredImage, error) {
	rows, err := s.pool.Query(ctx, `SELECT image, project, digest, git_commit,
		build_id, delivered FROM images ORDER BY delivered DESC NULLS LAST, image`)
	if err != nil {
		return nil, fmt.Errorf("listing images: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (pipeline.DeliveredImage, error) {
		var img pipeline.DeliveredImage
		var delivered *int64
		err := r.Scan(&img.Image, &img.Project, &img.Digest, &img.Commit, &img.BuildID, &delivered)
		img.Delivered = fromNanos(delivered)
		return img, err
	})
	if err != nil {
		return nil, fmt.Errorf("listing images: %w", err)
	}
	return out, nil
}
