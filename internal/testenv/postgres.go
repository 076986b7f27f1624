package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// PostgresBinDir is where Debian's PostgreSQL 15 keeps its server programs.
const PostgresBinDir = "/usr/lib/postgresql/15/bin"

// pgPrefix names the folders of the clusters tests start, under os.TempDir().
const pgPrefix = "hoist-pg-"

// cluster is the one PostgreSQL cluster of this test process.
var cluster struct {
	once  sync.Once
	err   error
	dir   string
	port  int
	cmd   *exec.Cmd
	done  chan struct{} // closed when the server has exited
	admin *pgxpool.Pool // to the "postgres" database, as the superuser
	mu    sync.Mutex    // one CREATE DATABASE at a time
	seq   atomic.Int64
}

// Postgres returns the URL of a new, empty database for the test, in a
// throwaway PostgreSQL cluster shared by every test of this process: the
// first call makes it (initdb, then postgres listening on a free
// 127.0.0.1 port and a socket in its folder, run as the postgres user
// when the tests run as root, with fsync off); the database is dropped when
// the test ends. Packages that use it stop the cluster and remove its
// folder with MainWithPostgres; should a test process be killed, the kernel
// stops its server (parent-death signal) and the next run removes the
// folder. Without Debian's PostgreSQL 15 the test is skipped (failed in
// CI).
func Postgres(t testing.TB) string {
	t.Helper()
	if _, err := os.Stat(filepath.Join(PostgresBinDir, "postgres")); err != nil {
		Missing(t, "no PostgreSQL server in "+PostgresBinDir+" (run `scripts/deps.sh test`, which installs Debian's postgresql)")
	}
	url, name, err := PostgresDatabase()
	if errors.Is(err, errNoPostgresUser) {
		Missing(t, err.Error())
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := adminExec("DROP DATABASE " + name + " WITH (FORCE)"); err != nil {
			t.Errorf("dropping database %s: %v", name, err)
		}
	})
	return url
}

// PostgresDatabase is Postgres for a program that is not a test (the
// benchmarks): it returns the URL and name of a new, empty database in
// the cluster of this process, which it starts at the first call;
// StopPostgres stops it and removes it with its databases.
func PostgresDatabase() (url, name string, err error) {
	if _, err := os.Stat(filepath.Join(PostgresBinDir, "postgres")); err != nil {
		return "", "", fmt.Errorf("no PostgreSQL server in %s (run `scripts/deps.sh test`, which installs Debian's postgresql)", PostgresBinDir)
	}
	cluster.once.Do(func() { cluster.err = startCluster() })
	if cluster.err != nil {
		if errors.Is(cluster.err, errNoPostgresUser) {
			return "", "", cluster.err
		}
		return "", "", fmt.Errorf("starting a PostgreSQL cluster: %w", cluster.err)
	}
	name = fmt.Sprintf("hoist_test_%d", cluster.seq.Add(1))
	if err := adminExec("CREATE DATABASE " + name); err != nil {
		return "", "", fmt.Errorf("creating database %s: %w", name, err)
	}
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", cluster.port, name), name, nil
}

// MainWithPostgres runs the tests, stops the cluster Postgres started, if
// it did, removes its folder, and exits: a package's TestMain.
func MainWithPostgres(m *testing.M) {
	code := m.Run()
	StopPostgres()
	os.Exit(code)
}

// StopPostgres stops the cluster Postgres started, if any (by its PID, with
// a fast shutdown), and removes its folder.
func StopPostgres() {
	if cluster.cmd == nil {
		return
	}
	if cluster.admin != nil {
		cluster.admin.Close()
	}
	cluster.cmd.Process.Signal(syscall.SIGINT) // a fast shutdown
	select {
	case <-cluster.done:
	case <-time.After(30 * time.Second):
		cluster.cmd.Process.Kill()
		<-cluster.done
	}
	os.RemoveAll(cluster.dir)
	cluster.cmd = nil
}

// adminExec runs sql as the superuser, one statement at a time.
func adminExec(sql string) error {
	cluster.mu.Lock()
	defer cluster.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, err := cluster.admin.Exec(ctx, sql)
	return err
}

var errNoPostgresUser = errors.New("the tests run as root and there is no postgres user to run PostgreSQL as (run `scripts/deps.sh test`, which installs Debian's postgresql)")

// startCluster makes the cluster: its folder, initdb, the server.
func startCluster() error {
	removeStaleClusters()
	cred, err := postgresCredential()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", pgPrefix)
	if err != nil {
		return err
	}
	cluster.dir = dir
	if err := os.WriteFile(filepath.Join(dir, "owner"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return err
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return err
		}
	}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(PostgresBinDir, "initdb"), "-D", data, "-U", "postgres",
		"-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync")
	initdb.Dir, initdb.Env = dir, pgEnv()
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return fmt.Errorf("initdb: %v\n%s", err, out)
	}
	for range 3 { // the free port may be taken between probing and binding
		if err = startServer(dir, data, cred); err == nil {
			return nil
		}
	}
	os.RemoveAll(dir)
	return err
}

// startServer starts postgres on a free port, waits until it answers, and
// connects the admin pool.
func startServer(dir, data string, cred *syscall.Credential) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	out := &syncBuffer{}
	cmd := exec.Command(filepath.Join(PostgresBinDir, "postgres"), "-D", data,
		"-p", strconv.Itoa(port), "-k", dir, "-c", "listen_addresses=127.0.0.1",
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=300", "-c", "shared_buffers=32MB")
	cmd.Dir, cmd.Env = dir, pgEnv()
	cmd.Stdout, cmd.Stderr = out, out
	// SIGQUIT, an immediate shutdown, should this process die first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT}
	done := make(chan struct{})
	started := make(chan error, 1)
	go func() {
		// The parent-death signal follows the thread that started the
		// server: keep it for as long as the server runs.
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		cmd.Wait()
		close(done)
	}()
	if err := <-started; err != nil {
		return err
	}
	cluster.cmd, cluster.done, cluster.port = cmd, done, port
	url := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	deadline := time.Now().Add(60 * time.Second)
	for {
		if err = ping(url); err == nil {
			cluster.admin, err = pgxpool.New(context.Background(), url)
			return err
		}
		select {
		case <-done:
			cluster.cmd = nil
			return fmt.Errorf("postgres on port %d exited: %s", port, out.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill() // the PID this process started
			<-done
			cluster.cmd = nil
			return fmt.Errorf("postgres on port %d did not answer within 60 s: %v\n%s", port, err, out.String())
		}
	}
}

// ping connects to url once.
func ping(url string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	p, err := pgxpool.New(ctx, url)
	if err != nil {
		return err
	}
	defer p.Close()
	return p.Ping(ctx)
}

// postgresCredential is who runs PostgreSQL: the postgres user when the
// tests run as root (PostgreSQL refuses root), else nil (this user).
func postgresCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, errNoPostgresUser
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, err
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// pgEnv is the environment of initdb and postgres: none of the caller's
// PG* variables.
func pgEnv() []string { return []string{"PATH=/usr/bin:/bin", "LC_ALL=C"} }

// freePort returns a 127.0.0.1 port nobody listens on now.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// removeStaleClusters removes the folders of clusters whose test process
// is gone (killed before it could clean up; the kernel stopped their
// server). Those of running tests, in this run or another, stay.
func removeStaleClusters() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), pgPrefix+"*"))
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "owner"))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(string(b))
		if err != nil || pid <= 0 || syscall.Kill(pid, 0) != syscall.ESRCH {
			continue
		}
		if b, err := os.ReadFile(filepath.Join(d, "data", "postmaster.pid")); err == nil {
			if pm, err := strconv.Atoi(firstLine(b)); err == nil && syscall.Kill(pm, 0) != syscall.ESRCH {
				continue // its server still runs
			}
		}
		os.RemoveAll(d)
	}
}

// firstLine is b up to its first newline.
func firstLine(b []byte) string {
	for i, c := range b {
		if c == '\n' {
			return string(b[:i])
		}
	}
	return string(b)
}
