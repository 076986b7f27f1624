package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/store/postgres"
	"github.com/hoistci/hoist/internal/store/sqlite"
)

// store is what the commands need of a store; both backends have it.
type store interface {
	pipeline.Store
	pipeline.NotifyStore
	pipeline.ReconcileStore
	pipeline.Leader
	pipeline.WebhookLog
}

var (
	_ store = (*sqlite.Store)(nil)
	_ store = (*postgres.Store)(nil)
)

// dbUsage is the help of --db.
const dbUsage = "the database: sqlite:PATH or a path, or postgres://USER[:PASSWORD]@HOST[:PORT]/DB " +
	"(the password may also come from PGPASSWORD or ~/.pgpass); default DATA/hoist.db"

// dbFlag adds --db to fs.
func dbFlag(fs *flag.FlagSet) *string { return fs.String("db", "", dbUsage) }

// scheme matches the scheme of a URL-like --db.
var scheme = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9+.-]*):`)

// openStore opens the SQLite database under data, which is made private
// first.
func openStore(ctx context.Context, data string) (store, error) { return openDB(ctx, data, "") }

// openDB opens the database db names (see dbUsage), SQLite in the data
// folder, made private first, when db is empty.
func openDB(ctx context.Context, data, db string) (store, error) {
	path := filepath.Join(data, "hoist.db")
	if m := scheme.FindStringSubmatch(db); m != nil {
		switch strings.ToLower(m[1]) {
		case "postgres", "postgresql":
			var bad *url.Error
			if _, err := url.Parse(db); errors.As(err, &bad) {
				// bad.Err, since bad names the URL, password and all
				return nil, fmt.Errorf("--db %s: %v: write postgres://USER[:PASSWORD]@HOST[:PORT]/DB", redactDB(db), bad.Err)
			}
			st, err := postgres.Open(ctx, db)
			if err != nil {
				return nil, fmt.Errorf("--db %s: %w\nIs PostgreSQL running there, and are the user, password and database right?", redactDB(db), err)
			}
			return st, nil
		case "sqlite":
			path = strings.TrimPrefix(db[len(m[0]):], "//")
		default:
			return nil, fmt.Errorf("--db %s: unknown database %q: use sqlite:PATH (or a path) or postgres://USER@HOST/DB", redactDB(db), m[1])
		}
	} else if db != "" {
		path = db
	}
	if path == "" {
		return nil, fmt.Errorf("--db %s: no path: use sqlite:PATH, e.g. sqlite:%s", db, filepath.Join(data, "hoist.db"))
	}
	if db == "" {
		if err := privateDir(data); err != nil {
			return nil, err
		}
	}
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("opening the database %s: %w", path, err)
	}
	return st, nil
}

// redactDB is db with the password of a URL hidden, for messages.
func redactDB(db string) string {
	u, err := url.Parse(db)
	if err != nil || u.User == nil {
		if i, j := strings.Index(db, "://"), strings.LastIndex(db, "@"); i >= 0 && j > i {
			// unparsable: hide what may be a password
			user, _, _ := strings.Cut(db[i+3:j], ":")
			return db[:i+3] + user + ":xxxxx" + db[j:]
		}
		return db
	}
	return u.Redacted()
}

// dbArgs are the flags that name a store for hints of commands to run
// next: --data DIR, and --db without its password when one was given
// (PGPASSWORD or ~/.pgpass give it).
func dbArgs(data, db string) string {
	if db == "" {
		return "--data " + data
	}
	if u, err := url.Parse(db); err == nil && u.User != nil {
		u.User = url.User(u.User.Username())
		db = u.String()
	} else {
		db = redactDB(db)
	}
	return "--data " + data + " --db " + db
}
