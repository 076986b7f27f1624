package testenv

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { MainWithPostgres(m) }

// TestPostgres: each test gets its own empty database, which is dropped
// when the test ends.
func TestPostgres(t *testing.T) {
	ctx := context.Background()
	var urls []string
	for _, name := range []string{"a", "b"} {
		t.Run(name, func(t *testing.T) {
			url := Postgres(t)
			c, err := pgx.Connect(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close(ctx)
			var tables int
			if err := c.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&tables); err != nil || tables != 0 {
				t.Errorf("a new database has %d tables (%v), want none", tables, err)
			}
			if _, err := c.Exec(ctx, `CREATE TABLE mine (x int)`); err != nil {
				t.Fatal(err)
			}
			urls = append(urls, url)
		})
	}
	if len(urls) != 2 || urls[0] == urls[1] {
		t.Fatalf("databases %q, want two different ones", urls)
	}
	for _, url := range urls {
		c, err := pgx.Connect(ctx, url)
		if err == nil {
			c.Close(ctx)
			t.Errorf("%s is still there after its test ended", url)
		} else if !strings.Contains(err.Error(), "does not exist") {
			t.Errorf("connecting to %s after its test ended: %v, want it not to exist", url, err)
		}
	}
}
