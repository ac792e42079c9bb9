package pglocal

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// clearStale deals with what a killed server left behind. Postgres replaces a
// postmaster.pid whose process is gone by itself, but refuses to start while
// that pid is alive, and it may be alive without being a server: reused by an
// unrelated process (common in containers, where pids restart from 1) or a
// zombie (the dead server's parent gone, and a container's pid 1 that reaps
// nothing). Such a file is removed here, once no process of the old server
// (orphaned backends included) still works in the data directory. A server
// really running on it is waited for briefly (an orphan finishing its
// immediate shutdown), then reported as ErrInUse. Where processes cannot be
// inspected, all is left to postgres.
func (c *Cluster) clearStale(ctx context.Context) error {
	pidFile := filepath.Join(c.dataDir, "postmaster.pid")
	deadline := time.Now().Add(staleWait)
	for {
		b, err := os.ReadFile(pidFile)
		if errors.Is(err, fs.ErrNotExist) {
			break
		}
		if err != nil {
			return fmt.Errorf("pglocal: %w", err)
		}
		first, _, _ := strings.Cut(string(b), "\n")
		pid, err := strconv.Atoi(strings.TrimSpace(first))
		if err != nil || pid <= 0 {
			return nil // not ours to judge: postgres will say what is wrong
		}
		busy, known := c.inUse(pid)
		if !known {
			return nil // postgres will judge, and leave its sockets alone
		}
		if !busy {
			if err := os.Remove(pidFile); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("pglocal: remove stale %s: %w", pidFile, err)
			}
			c.logger.InfoContext(ctx, "removed stale postmaster.pid", "pid", pid)
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: pid %d on %s; stop it first", ErrInUse, pid, c.dataDir)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("pglocal: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	// No server runs here, so socket lock files are stale too, and they
	// have the same pid problem.
	if c.sockArg != "" {
		stale, _ := filepath.Glob(filepath.Join(c.sockArg, ".s.PGSQL.*"))
		for _, f := range stale {
			_ = os.Remove(f)
		}
	}
	return nil
}

// inUse reports whether a server still runs on the data directory: the
// postmaster pid, or processes it left behind.
func (c *Cluster) inUse(pid int) (busy, known bool) {
	yes, known := runsIn(pid, c.dataDir, c.exe)
	if !known || yes {
		return yes, known
	}
	return len(processesIn(c.dataDir, c.exe)) > 0, true
}

// launch starts postgres on port and waits until it accepts connections. On
// error the process is gone.
func (c *Cluster) launch(ctx context.Context, as *runAs, port int, durable bool) error {
	logFile, offset, err := c.openLog()
	if err != nil {
		return err
	}
	args := []string{
		"-D", c.dataDir,
		"-p", strconv.Itoa(port),
		"-k", c.sockArg,
		"-c", "listen_addresses=127.0.0.1",
		"-c", "max_connections=200",
	}
	if !durable {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	cmd := exec.Command(c.exe, args...)
	cmd.Dir = c.dir
	cmd.Env = childEnv()
	// The file itself, not a pipe: postgres writes to it directly and
	// nothing in this process has to copy its output.
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = sysProcAttr(as, deathSignal)
	p, err := startProcess(cmd)
	_ = logFile.Close() // postgres has its own descriptor now
	if err != nil {
		return fmt.Errorf("%w: %w", ErrStartFailed, err)
	}
	c.port, c.proc = port, p
	start := time.Now()
	if err := c.waitReady(ctx, offset); err != nil {
		c.quit()
		return err
	}
	c.logger.InfoContext(ctx, "postgres ready", "port", port, "pid", p.pid(), "elapsed", time.Since(start))
	return nil
}

// waitReady polls until the server accepts connections, and fails early when
// it exits or refuses the superuser.
func (c *Cluster) waitReady(ctx context.Context, offset int64) error {
	cfg, err := c.connConfig("postgres")
	if err != nil {
		return err
	}
	cfg.ConnectTimeout = 2 * time.Second
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	for {
		// Safe to show: ping's errors come through safeError.
		err := c.ping(ctx, cfg)
		if err == nil {
			return nil
		}
		// A refusal may come from another cluster holding the port
		// (a pglocal one with another password), which ping's identity
		// check cannot see past: it is ours only once our server says it
		// is up on that port, since then nothing else can hold it.
		if isAuthFailure(err) && c.serving() {
			return c.authError(err, offset)
		}
		select {
		case <-c.proc.done:
			tail := readTail(c.logPath, offset)
			if strings.Contains(tail, "Address already in use") {
				return fmt.Errorf("%w: %d: %w", ErrStartFailed, c.port, errPortInUse)
			}
			return c.startError(fmt.Sprintf("postgres exited: %v", c.proc.err), offset)
		case <-ctx.Done():
			if isAuthFailure(err) {
				return c.authError(err, offset)
			}
			return c.startError(fmt.Sprintf("no connection after %v (%v): %v", startTimeout, ctx.Err(), err), offset)
		case <-time.After(pollInterval):
		}
	}
}

// serving reports whether postmaster.pid says that our postmaster accepts
// connections on our port. Postgres before 10 does not say: false.
func (c *Cluster) serving() bool {
	b, err := os.ReadFile(filepath.Join(c.dataDir, "postmaster.pid"))
	if err != nil {
		return false
	}
	// Lines: pid, data directory, start time, port, socket directory,
	// listen address, shared memory key, status.
	lines := strings.Split(string(b), "\n")
	return len(lines) >= 8 &&
		strings.TrimSpace(lines[0]) == strconv.Itoa(c.proc.pid()) &&
		strings.TrimSpace(lines[3]) == strconv.Itoa(c.port) &&
		strings.TrimSpace(lines[7]) == "ready"
}

// ping connects and checks that the server answering is this cluster's: a
// port picked as free may meanwhile be another cluster's, and connecting to
// it (one that trusts, or shares our password) would look just like
// success. Its errors are safe to show (see safeError). It gives up as soon as the server exits,
// rather than waiting out a connect timeout against whatever else holds the
// port.
func (c *Cluster) ping(ctx context.Context, cfg *pgx.ConnConfig) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-c.proc.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return c.safeError(err)
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	var dataDir string
	if err := conn.QueryRow(ctx, "SHOW data_directory").Scan(&dataDir); err != nil {
		return c.safeError(err)
	}
	if filepath.Clean(dataDir) != c.dataDir {
		return fmt.Errorf("port %d is served by another cluster (%s)", c.port, dataDir)
	}
	return nil
}

func (c *Cluster) createDatabase(ctx context.Context) error {
	conn, err := c.connect(ctx, "postgres")
	if err != nil {
		return fmt.Errorf("pglocal: connect: %w", err)
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", c.database).Scan(&exists); err != nil {
		return fmt.Errorf("pglocal: look up database %s: %w", c.database, c.safeError(err))
	}
	if exists {
		return nil
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{c.database}.Sanitize())
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P04" { // duplicate_database: someone else just made it
		err = nil
	}
	if err != nil {
		return fmt.Errorf("pglocal: create database %s: %w", c.database, c.safeError(err))
	}
	c.logger.InfoContext(ctx, "created database", "database", c.database)
	return nil
}

// childEnv is the caller's environment without what would change the
// server's behaviour or language behind our back: PG* variables and locale
// settings (messages are matched in English above).
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "PG") || strings.HasPrefix(k, "LC_") || k == "LANG" || k == "LANGUAGE" {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "LC_ALL=C")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pglocal: pick a port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
