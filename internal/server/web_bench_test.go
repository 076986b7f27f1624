package server

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/hoistci/hoist/internal/pipeline"
	"github.com/hoistci/hoist/internal/store/postgres"
	"github.com/hoistci/hoist/internal/store/sqlite"
	"github.com/hoistci/hoist/internal/testenv"
)

// The CPU cost of the lists bench (h) loads: a project's page and GET
// /api/v1/projects, read by an anonymous reader of a public server as a
// browser asks (gzip), over 234 projects and 10,000 builds. The load of
// bench (h) is noisy on a shared machine; ns/op and allocs/op of these,
// before and after a change, are not.
//
//	go test -run '^$' -bench 'Lists' -benchmem ./internal/server/

func TestMain(m *testing.M) { testenv.MainWithPostgres(m) }

func BenchmarkListsProjectPage(b *testing.B) {
	benchLists(b, sqliteBenchStore, "/p/"+projectPath(benchKey(0)))
}

func BenchmarkListsAPIProjects(b *testing.B) {
	benchLists(b, sqliteBenchStore, "/api/v1/projects")
}

func BenchmarkListsProjectPagePostgres(b *testing.B) {
	benchLists(b, postgresBenchStore, "/p/"+projectPath(benchKey(0)))
}

func BenchmarkListsAPIProjectsPostgres(b *testing.B) {
	benchLists(b, postgresBenchStore, "/api/v1/projects")
}

func benchLists(b *testing.B, open func(b *testing.B) Store, path string) {
	st := open(b)
	seedLists(b, st, 234, 10000)
	s := New(Deps{Store: st, Queue: &storeQueue{}}, Options{PublicRead: true, RegistryHost: "127.0.0.1:5000"})
	get := func() *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("Accept-Encoding", "gzip, deflate, br")
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		return rec
	}
	if rec := get(); rec.Code != http.StatusOK {
		b.Fatalf("GET %s = %d %s", path, rec.Code, rec.Body)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if rec := get(); rec.Code != http.StatusOK {
			b.Fatalf("GET %s = %d", path, rec.Code)
		}
	}
}

// benchKey is the key of the bench's project i; project 0 has children.
func benchKey(i int) string { return fmt.Sprintf("ns%02d/app%03d:latest", i%33, i) }

// sqliteBenchStore opens a new SQLite store.
func sqliteBenchStore(b *testing.B) Store {
	st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "hoist.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return st
}

// postgresBenchStore opens a store on a new PostgreSQL database.
func postgresBenchStore(b *testing.B) Store {
	st, err := postgres.Open(context.Background(), testenv.Postgres(b))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return st
}

// seedLists writes projects and builds into st as bench (h) does (round
// robin, a failure every 7th, else a delivery), without stages and logs,
// which the lists do not read.
func seedLists(b *testing.B, st Store, projects, builds int) {
	ctx := context.Background()
	for i := range projects {
		p := pipeline.Project{ID: i % 7, AppID: fmt.Sprintf("ns%02d", i%33), JobID: fmt.Sprintf("app%03d", i), Tag: "latest",
			GitURL: fmt.Sprintf("https://git.example.com/ns%02d/app%03d.git", i%33, i), GitBranch: "master", TargetFile: "Dockerfile",
			BuildContext: "./", NotifyEmail: "team@example.com", Origin: pipeline.Origin{File: fmt.Sprintf("index.d/ns%02d.yaml", i%33), Line: 3 + 12*(i/33)}}
		if i >= 33 && i%3 == 0 {
			p.DependsOn = []pipeline.ImageRef{{Namespace: fmt.Sprintf("ns%02d", i%33), Name: fmt.Sprintf("app%03d", i%33), Tag: "latest"}}
		}
		if err := st.PutProject(ctx, p); err != nil {
			b.Fatal(err)
		}
	}
	t0 := time.Now().Add(-time.Duration(builds) * time.Minute)
	for i := range builds {
		at := t0.Add(time.Duration(i) * time.Minute)
		key := benchKey(i % projects)
		bd := pipeline.Build{Project: key, Status: pipeline.StatusSucceeded, Cause: "push", Commit: fmt.Sprintf("%040x", i),
			Created: at, Started: at.Add(time.Second), Finished: at.Add(40 * time.Second)}
		if i%7 == 3 {
			bd.Status, bd.FailedStage, bd.Reason = pipeline.StatusFailed, pipeline.StageTest, "test-script exited 1"
		} else {
			bd.Image, bd.Digest = "127.0.0.1:5000/"+key, fmt.Sprintf("sha256:%064x", i)
		}
		if err := st.CreateBuild(ctx, &bd); err != nil {
			b.Fatal(err)
		}
		if bd.Status != pipeline.StatusSucceeded {
			continue
		}
		if err := st.RecordImage(ctx, pipeline.DeliveredImage{Image: bd.Image, Project: key, Digest: bd.Digest, Commit: bd.Commit, BuildID: bd.ID, Delivered: bd.Finished}); err != nil {
			b.Fatal(err)
		}
	}
}
