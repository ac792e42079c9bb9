package pglocal

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// tempDir returns a fresh directory removed after the test. Not t.TempDir():
// when the tests run as root, postgres runs as another user, who cannot
// enter t.TempDir()'s 0700 parent.
func tempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "pglocal-test-*")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

func testLogger(t *testing.T) *slog.Logger {
	t.Helper()
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// start starts a cluster and makes sure it is stopped when the test ends,
// even when it fails halfway.
func start(t *testing.T, opts Options) *Cluster {
	t.Helper()
	began := time.Now()
	c, err := Start(t.Context(), opts)
	require.NoError(t, err)
	t.Logf("cluster started in %v", time.Since(began))
	t.Cleanup(func() { _ = c.Stop(context.Background()) })
	return c
}

func stop(t *testing.T, c *Cluster) {
	t.Helper()
	began := time.Now()
	require.NoError(t, c.Stop(t.Context()))
	t.Logf("cluster stopped in %v", time.Since(began))
	requireNoServer(t, c.dataDir)
}

// requireNoServer fails unless no process works in dataDir: the postmaster
// and every backend and auxiliary process do.
func requireNoServer(t *testing.T, dataDir string) {
	t.Helper()
	if runtime.GOOS != "linux" {
		return
	}
	require.Empty(t, processesIn(dataDir, ""), "processes still running in %s", dataDir)
}

func TestStartStopKeepsData(t *testing.T) {
	t.Parallel()
	dir := tempDir(t)
	opts := Options{Dir: dir, Database: "app", Durable: true, Logger: testLogger(t)}

	c := start(t, opts)
	require.Regexp(t, `^postgres://postgres:[A-Za-z0-9_-]{43}@127\.0\.0\.1:\d+/app\?sslmode=disable$`, c.URL())
	require.FileExists(t, filepath.Join(dir, "data", "PG_VERSION"))
	require.FileExists(t, c.LogPath())
	requireServer(t, c)
	conn, err := pgx.Connect(t.Context(), c.URL())
	require.NoError(t, err)
	_, err = conn.Exec(t.Context(), "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('survives')")
	require.NoError(t, err)
	require.NoError(t, conn.Close(t.Context()))
	stop(t, c)
	select {
	case <-c.Done():
	default:
		t.Fatal("Done not closed after Stop")
	}
	require.NoError(t, c.Stop(t.Context()), "second Stop")

	c = start(t, opts)
	conn, err = pgx.Connect(t.Context(), c.URL())
	require.NoError(t, err)
	var v string
	require.NoError(t, conn.QueryRow(t.Context(), "SELECT v FROM kept").Scan(&v))
	require.Equal(t, "survives", v)
	require.NoError(t, conn.Close(t.Context()))
	stop(t, c)
}

// requireServer checks that the server is the one promised: TCP on
// 127.0.0.1 only, and the settings of a non-durable cluster when asked.
func requireServer(t *testing.T, c *Cluster) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), c.AdminURL("postgres"))
	require.NoError(t, err)
	defer func() { _ = conn.Close(context.Background()) }()
	var listen, maxConns, encoding string
	require.NoError(t, conn.QueryRow(t.Context(), "SELECT current_setting('listen_addresses'), current_setting('max_connections'), current_setting('server_encoding')").
		Scan(&listen, &maxConns, &encoding))
	require.Equal(t, "127.0.0.1", listen)
	require.Equal(t, "200", maxConns)
	require.Equal(t, "UTF8", encoding)
}

func TestNonDurableSettingsAndImmediateStop(t *testing.T) {
	t.Parallel()
	dir := tempDir(t)
	opts := Options{Dir: dir, Logger: testLogger(t)}
	c := start(t, opts)
	require.Contains(t, c.URL(), "/partnerhub?")
	conn, err := pgx.Connect(t.Context(), c.URL())
	require.NoError(t, err)
	defer func() { _ = conn.Close(context.Background()) }()
	for _, name := range []string{"fsync", "synchronous_commit", "full_page_writes"} {
		var v string
		require.NoError(t, conn.QueryRow(t.Context(), "SELECT current_setting($1)", name).Scan(&v))
		require.Equal(t, "off", v, name)
	}

	// A caller out of time gets an immediate shutdown, still complete, and
	// the cluster recovers from it at the next start.
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	require.NoError(t, c.Stop(cancelled))
	resolved, err := filepath.EvalSymlinks(filepath.Join(dir, "data"))
	require.NoError(t, err)
	requireNoServer(t, resolved)
	stop(t, start(t, opts))
}

// TestHelperCluster is not a test: TestParentKilled runs the test binary
// again with it, to have a parent it can kill.
func TestHelperCluster(t *testing.T) {
	dir := os.Getenv("PGLOCAL_HELPER_DIR")
	if dir == "" {
		t.Skip("helper process for TestParentKilled")
	}
	c, err := Start(t.Context(), Options{Dir: dir})
	require.NoError(t, err)
	fmt.Printf("READY %d\n", c.proc.pid())
	time.Sleep(time.Minute) // killed long before
}

func TestParentKilled(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the parent-death signal is Linux-only")
	}
	t.Parallel()
	dir := tempDir(t)
	helper := exec.Command(os.Args[0], "-test.run=^TestHelperCluster$", "-test.v")
	helper.Env = append(os.Environ(), "PGLOCAL_HELPER_DIR="+dir)
	out, err := helper.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, helper.Start())
	t.Cleanup(func() { _ = helper.Process.Kill(); _ = helper.Wait() })

	var postmaster int
	lines := bufio.NewScanner(out)
	for lines.Scan() {
		if rest, ok := strings.CutPrefix(lines.Text(), "READY "); ok {
			postmaster, err = strconv.Atoi(rest)
			require.NoError(t, err)
			break
		}
	}
	require.NotZero(t, postmaster, "helper never reported a running cluster")
	dataDir := filepath.Join(dir, "data")
	resolved, err := filepath.EvalSymlinks(dataDir)
	require.NoError(t, err)
	require.Contains(t, processesIn(resolved, ""), postmaster)

	require.NoError(t, helper.Process.Kill())
	_ = helper.Wait()
	require.Eventually(t, func() bool { return len(processesIn(resolved, "")) == 0 }, 10*time.Second, 20*time.Millisecond,
		"postgres outlived its killed parent")

	// What the killed server left behind does not prevent the next start.
	c := start(t, Options{Dir: dir, Logger: testLogger(t)})
	stop(t, c)
}

func TestStalePidFile(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("telling processes apart needs /proc")
	}
	t.Parallel()
	dir := tempDir(t)
	opts := Options{Dir: dir, Logger: testLogger(t)}
	stop(t, start(t, opts))
	pidFile := filepath.Join(dir, "data", "postmaster.pid")
	// The stand-in processes run as the server's user: postgres takes a pid
	// it may not signal (EPERM) for stale by itself.
	as, err := resolveRunAs("")
	require.NoError(t, err)

	// A postmaster.pid left by a killed server whose pid now belongs to
	// something else: postgres alone would refuse to start.
	other := exec.Command("sleep", "60")
	other.SysProcAttr = sysProcAttr(as, 0)
	require.NoError(t, other.Start())
	t.Cleanup(func() { _ = other.Process.Kill(); _ = other.Wait() })
	require.NoError(t, os.WriteFile(pidFile, fmt.Appendf(nil, "%d\n%s/data\n", other.Process.Pid, dir), 0o600))
	stop(t, start(t, opts))

	// One naming a zombie, as a killed server becomes when nothing reaps
	// it (containers whose pid 1 does not).
	zombie := exec.Command("true")
	zombie.SysProcAttr = sysProcAttr(as, 0)
	require.NoError(t, zombie.Start())
	t.Cleanup(func() { _ = zombie.Wait() })
	require.Eventually(t, func() bool {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", zombie.Process.Pid))
		return err == nil && strings.Contains(string(stat), ") Z ")
	}, 5*time.Second, 10*time.Millisecond)
	require.NoError(t, os.WriteFile(pidFile, fmt.Appendf(nil, "%d\n%s/data\n", zombie.Process.Pid, dir), 0o600))
	stop(t, start(t, opts))
}

// TestConcurrentStart starts two clusters on one new directory at once: one
// initialises and runs it, the other is told it is in use.
func TestConcurrentStart(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the start lock is Linux-only")
	}
	t.Parallel()
	dir := tempDir(t)
	type result struct {
		c   *Cluster
		err error
	}
	results := make(chan result, 2)
	for range 2 {
		go func() {
			c, err := Start(t.Context(), Options{Dir: dir})
			results <- result{c, err}
		}()
	}
	var started []*Cluster
	var errs []error
	for range 2 {
		r := <-results
		if r.err != nil {
			errs = append(errs, r.err)
		} else {
			t.Cleanup(func() { _ = r.c.Stop(context.Background()) })
			started = append(started, r.c)
		}
	}
	require.Len(t, started, 1, "errors: %v", errs)
	require.ErrorIs(t, errs[0], ErrInUse)
	stop(t, started[0])
}

// TestInUse starts a second cluster on a running one's directory.
func TestInUse(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("telling processes apart needs /proc")
	}
	t.Parallel()
	dir := tempDir(t)
	c := start(t, Options{Dir: dir, Logger: testLogger(t)})
	_, err := Start(t.Context(), Options{Dir: dir, Logger: testLogger(t)})
	require.ErrorIs(t, err, ErrInUse)
	stop(t, c)
}

func TestBusyPortFails(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	dir := tempDir(t)

	_, err = Start(t.Context(), Options{Dir: dir, Port: l.Addr().(*net.TCPAddr).Port, Logger: testLogger(t)})
	require.ErrorIs(t, err, ErrStartFailed)
	require.ErrorContains(t, err, "port already in use")
	resolved, err := filepath.EvalSymlinks(filepath.Join(dir, "data"))
	require.NoError(t, err)
	requireNoServer(t, resolved)
}

func TestMissingBinaries(t *testing.T) {
	t.Setenv(EnvBinDir, t.TempDir())
	_, err := FindBinDir()
	require.ErrorIs(t, err, ErrNoPostgres)
	require.Contains(t, err.Error(), "install the PostgreSQL server package")
	_, err = Start(t.Context(), Options{Dir: t.TempDir()})
	require.ErrorIs(t, err, ErrNoPostgres)
}

func TestFindBinDir(t *testing.T) {
	dir, err := FindBinDir()
	require.NoError(t, err)
	require.FileExists(t, filepath.Join(dir, "postgres"))
	require.FileExists(t, filepath.Join(dir, "initdb"))
}

func TestRootNeedsReachableDir(t *testing.T) {
	if os.Geteuid() != 0 || runtime.GOOS != "linux" {
		t.Skip("only root hands the cluster to another user")
	}
	// t.TempDir()'s parent is 0700 root: unreachable for the postgres user.
	_, err := Start(t.Context(), Options{Dir: filepath.Join(t.TempDir(), "cluster")})
	require.ErrorIs(t, err, ErrUnreachableDir)
}

func TestParseVersionOrder(t *testing.T) {
	require.True(t, versionLess(parseVersion("9.6"), parseVersion("10")))
	require.True(t, versionLess(parseVersion("15"), parseVersion("17")))
	require.False(t, versionLess(parseVersion("16"), parseVersion("16")))
}
