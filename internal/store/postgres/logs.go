package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hoistci/hoist/internal/pipeline"
)

const (
	// maxChunk is the largest chunk AppendLog stores; larger writes are
	// split, so that a reader never holds more than readBatch of them.
	maxChunk = 256 << 10
	// readBatch is how many chunks a log reader fetches per query.
	readBatch = 8
)

// AppendLog appends p to the log of (buildID, stage), as one or more chunks
// written in one transaction holding the log's lock. Appending nothing does
// nothing. A missing build is pipeline.ErrNotFound.
func (s *Store) AppendLog(ctx context.Context, buildID int64, stage pipeline.StageName, p []byte) error {
	if len(p) == 0 {
		return nil
	}
	now := nanos(time.Now())
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lock(ctx, tx, lockLog, strconv.FormatInt(buildID, 10)+"/"+string(stage)); err != nil {
			return err
		}
		var seq, end int64
		err := tx.QueryRow(ctx, `SELECT seq, end_offset FROM log_chunks
			WHERE build_id = $1 AND stage = $2 ORDER BY seq DESC LIMIT 1`,
			buildID, stage).Scan(&seq, &end)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		for len(p) > 0 {
			n := min(len(p), maxChunk)
			seq, end = seq+1, end+int64(n)
			if _, err := tx.Exec(ctx, `INSERT INTO log_chunks
				(build_id, stage, seq, end_offset, data, stored) VALUES ($1, $2, $3, $4, $5, $6)`,
				buildID, stage, seq, end, p[:n], now); err != nil {
				return notFoundIf(err, buildID)
			}
			p = p[n:]
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("appending to log %s of build %d: %w", stage, buildID, err)
	}
	return nil
}

// LogMarks lists the end offset and storing time of each chunk of the log
// of (buildID, stage), in order.
func (s *Store) LogMarks(ctx context.Context, buildID int64, stage pipeline.StageName) ([]pipeline.LogMark, error) {
	rows, err := s.pool.Query(ctx, `SELECT end_offset, stored FROM log_chunks
		WHERE build_id = $1 AND stage = $2 ORDER BY end_offset`, buildID, stage)
	if err != nil {
		return nil, fmt.Errorf("reading the times of log %s of build %d: %w", stage, buildID, err)
	}
	marks, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (pipeline.LogMark, error) {
		var m pipeline.LogMark
		var at *int64
		err := r.Scan(&m.End, &at)
		m.At = fromNanos(at)
		return m, err
	})
	if err != nil {
		return nil, fmt.Errorf("reading the times of log %s of build %d: %w", stage, buildID, err)
	}
	return marks, nil
}

// OpenLog reads the log of (buildID, stage) from byte offset on, up to its
// length at the time of the call: bytes appended later are not returned.
// The reader fetches a few chunks per query, with ctx, so that a log of any
// size is streamed, never held in memory. An empty or missing log, or an
// offset at or past its end, reads as empty.
func (s *Store) OpenLog(ctx context.Context, buildID int64, stage pipeline.StageName, offset int64) (io.ReadCloser, error) {
	if offset < 0 {
		return nil, fmt.Errorf("opening log %s of build %d: negative offset %d", stage, buildID, offset)
	}
	var size int64
	err := s.pool.QueryRow(ctx, `SELECT COALESCE(MAX(end_offset), 0) FROM log_chunks
		WHERE build_id = $1 AND stage = $2`, buildID, stage).Scan(&size)
	if err != nil {
		return nil, fmt.Errorf("opening log %s of build %d: %w", stage, buildID, err)
	}
	return &logReader{ctx: ctx, pool: s.pool, build: buildID, stage: stage, pos: offset, size: size}, nil
}

// logReader streams a log's chunks, readBatch at a time.
type logReader struct {
	ctx    context.Context
	pool   *pgxpool.Pool
	build  int64
	stage  pipeline.StageName
	pos    int64    // the offset of the next byte Read returns
	size   int64    // the log's length when it was opened
	buf    [][]byte // fetched chunks; buf[0] starts at pos
	closed bool
}

// Read implements io.Reader.
func (r *logReader) Read(p []byte) (int, error) {
	if r.closed {
		return 0, errors.New("reading a closed log")
	}
	if r.pos >= r.size {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	if len(r.buf) == 0 {
		if err := r.fetch(); err != nil {
			return 0, err
		}
	}
	if rest := r.size - r.pos; int64(len(p)) > rest {
		p = p[:rest]
	}
	n := copy(p, r.buf[0])
	r.buf[0] = r.buf[0][n:]
	if len(r.buf[0]) == 0 {
		r.buf = r.buf[1:]
	}
	r.pos += int64(n)
	return n, nil
}

// fetch loads the next chunks, the first one holding byte pos, trimmed so
// that the buffer starts at pos.
func (r *logReader) fetch() error {
	rows, err := r.pool.Query(r.ctx, `SELECT end_offset, data FROM log_chunks
		WHERE build_id = $1 AND stage = $2 AND end_offset > $3
		ORDER BY end_offset LIMIT $4`, r.build, r.stage, r.pos, readBatch)
	if err != nil {
		return fmt.Errorf("reading log %s of build %d: %w", r.stage, r.build, err)
	}
	defer rows.Close()
	for rows.Next() {
		var end int64
		var data []byte
		if err := rows.Scan(&end, &data); err != nil {
			return fmt.Errorf("reading log %s of build %d: %w", r.stage, r.build, err)
		}
		if len(r.buf) == 0 {
			data = data[int64(len(data))-(end-r.pos):]
		}
		r.buf = append(r.buf, data)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading log %s of build %d: %w", r.stage, r.build, err)
	}
	if len(r.buf) == 0 {
		return fmt.Errorf("reading log %s of build %d: %w", r.stage, r.build, io.ErrUnexpectedEOF)
	}
	return nil
}

// Close implements io.Closer.
func (r *logReader) Close() error {
	r.closed, r.buf = true, nil
	return nil
}
