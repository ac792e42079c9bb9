// Package pglocal runs a private PostgreSQL cluster from the system's
// PostgreSQL installation as a child process of the caller: `partnerhub dev`
// keeps one under ./.partnerhub across runs, and tests (through pgtest) start a
// throwaway one per test package. It needs no Docker, no system service and no
// running server, only the server binaries (see FindBinDir).
//
// The cluster trusts every connection from this machine (auth "trust" on
// 127.0.0.1 and on its Unix socket, superuser "postgres", no password): it is
// for development and tests, never for anything that holds real data.
//
// Root: Postgres refuses to run as root, so when the caller is root the
// cluster runs as Options.RunAs and its directory is handed to that user.
// Every parent of Options.Dir must then be searchable by that user; a
// directory under a 0700 one (t.TempDir(), /root) is not, and Start fails
// with ErrUnreachableDir. os.MkdirTemp("", ...) (under /tmp) works.
package pglocal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

var (
	// ErrNoPostgres reports that no PostgreSQL server installation was found.
	ErrNoPostgres = errors.New("pglocal: PostgreSQL server binaries (initdb, postgres) not found: " +
		"install the PostgreSQL server package (Debian/Ubuntu: apt-get install postgresql; " +
		"Fedora: dnf install postgresql-server; macOS: brew install postgresql) " +
		"or set " + EnvBinDir + " to the directory holding them")
	// ErrInvalidOptions reports unusable Options.
	ErrInvalidOptions = errors.New("pglocal: invalid options")
	// ErrNoUser reports that, running as root, there is no unprivileged user
	// to run Postgres as.
	ErrNoUser = errors.New("pglocal: no unprivileged user to run postgres as")
	// ErrUnreachableDir reports a cluster directory whose parents the
	// unprivileged Postgres user cannot enter.
	ErrUnreachableDir = errors.New("pglocal: cluster directory unreachable for the postgres user")
	// ErrNotCluster reports a data directory that exists, is not empty and
	// holds no cluster: it is left alone rather than overwritten.
	ErrNotCluster = errors.New("pglocal: data directory exists but holds no PostgreSQL cluster")
	// ErrInUse reports that another postgres already runs on the cluster.
	ErrInUse = errors.New("pglocal: another postgres is running on this cluster")
	// ErrStartFailed reports that initdb or postgres failed; the message
	// carries the tail of the cluster's log.
	ErrStartFailed = errors.New("pglocal: postgres did not start")
	// ErrStopFailed reports a postgres that survived even SIGKILL.
	ErrStopFailed = errors.New("pglocal: postgres did not stop")

	// errPortInUse marks a start that lost the race for a picked port.
	errPortInUse = errors.New("port already in use")
)

const (
	// Superuser is the name of the cluster's superuser.
	Superuser       = "postgres"
	defaultDatabase = "partnerhub"

	// startTimeout bounds the wait for connections; generous because a dev
	// cluster stopped by SIGQUIT or SIGKILL replays its WAL first.
	startTimeout = 60 * time.Second
	pollInterval = 10 * time.Millisecond
	// stopGrace is how long a fast shutdown (which writes a checkpoint) may
	// take before Stop escalates; quitGrace and killGrace bound the
	// escalations.
	stopGrace = 30 * time.Second
	quitGrace = 5 * time.Second
	killGrace = 5 * time.Second
	// staleWait is how long Start waits for a postgres still running on the
	// data directory (an orphan finishing its immediate shutdown) to go.
	staleWait = 3 * time.Second

	portAttempts = 5
	// maxLogSize: postgres.log is moved to postgres.log.old at start past it,
	// so a dev cluster's log does not grow forever.
	maxLogSize = 16 << 20
	// maxSocketPath is the portable bound on a Unix socket path (macOS 104,
	// Linux 108, both counting the NUL).
	maxSocketPath = 103
)

// deathSignal is what the kernel sends postgres when its parent dies (Linux).
// SIGQUIT is Postgres's immediate shutdown: the postmaster makes every child
// quit and exits within milliseconds, and the next start replays the WAL, so
// the data directory stays consistent and every transaction committed in
// Durable mode survives. SIGKILL would orphan the backends, which keep the
// shared memory attached for a while (the next start then fails with
// "pre-existing shared memory block is still in use") and leave lock files
// behind; SIGINT (fast shutdown) writes a checkpoint first, which can take long
// with nobody left to wait for it, and an immediate restart would find the old
// server still running.
const deathSignal = syscall.SIGQUIT

// Options configure Start.
type Options struct {
	// Dir holds the cluster: data in Dir/data, the Unix socket in Dir/sock,
	// the server log in Dir/postgres.log. Created if missing, kept across
	// runs: a Dir with a cluster in it is started again, not re-initialised.
	Dir string
	// Port is the TCP port on 127.0.0.1; 0 picks a free one at each start.
	Port int
	// Database is created if missing; default "partnerhub".
	Database string
	// RunAs is the unprivileged user postgres runs as when the caller is
	// root (ignored otherwise); default "postgres", else "nobody".
	RunAs string
	// Durable keeps Postgres's crash-safe defaults (dev). False (tests)
	// turns off fsync, synchronous_commit and full_page_writes: much faster,
	// and a machine crash may corrupt the cluster, which tests throw away.
	Durable bool
	// Logger receives the cluster's lifecycle events; nil discards them. The
	// server's own log goes to Dir/postgres.log.
	Logger *slog.Logger
}

// Cluster is a running postgres started by Start. Stop it when done; if the
// caller dies first, the kernel stops it (Linux).
type Cluster struct {
	dir      string
	dataDir  string
	sockArg  string
	logPath  string
	exe      string
	database string
	logger   *slog.Logger

	port   int
	proc   *process
	stopMu sync.Mutex
}

type runAs struct {
	name     string
	uid, gid int
}

// Start starts the cluster in opts.Dir, initialising it first if needed, and
// returns once it accepts connections and opts.Database exists. On error no
// process is left running.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	if opts.Dir == "" {
		return nil, fmt.Errorf("%w: Dir is required", ErrInvalidOptions)
	}
	if opts.Port < 0 || opts.Port > 65535 {
		return nil, fmt.Errorf("%w: port %d", ErrInvalidOptions, opts.Port)
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	database := opts.Database
	if database == "" {
		database = defaultDatabase
	}
	binDir, err := FindBinDir()
	if err != nil {
		return nil, err
	}
	as, err := resolveRunAs(opts.RunAs)
	if err != nil {
		return nil, err
	}
	dir, err := prepareDir(opts.Dir, as)
	if err != nil {
		return nil, err
	}
	unlock, err := lockStart(ctx, dir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	c := &Cluster{
		dir:      dir,
		dataDir:  filepath.Join(dir, "data"),
		logPath:  filepath.Join(dir, "postgres.log"),
		database: database,
		logger:   logger.With("dir", dir),
	}
	c.exe, err = filepath.EvalSymlinks(filepath.Join(binDir, "postgres"))
	if err != nil {
		return nil, fmt.Errorf("pglocal: %w", err)
	}
	c.sockArg = filepath.Join(dir, "sock")
	if len(c.sockArg)+len("/.s.PGSQL.65535") > maxSocketPath {
		// Too long for a socket address: TCP alone will do.
		c.logger.DebugContext(ctx, "cluster path too long for a Unix socket; TCP only")
		c.sockArg = ""
	}

	if err := c.initdb(ctx, binDir, as); err != nil {
		return nil, err
	}
	if err := c.clearStale(ctx); err != nil {
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		port := opts.Port
		if port == 0 {
			if port, err = freePort(); err != nil {
				return nil, err
			}
		}
		err = c.launch(ctx, as, port, opts.Durable)
		if err == nil {
			break
		}
		// A picked port can be taken between probing and binding, by
		// another test package's cluster for instance: pick again.
		if !errors.Is(err, errPortInUse) || opts.Port != 0 || attempt == portAttempts {
			return nil, err
		}
		c.logger.DebugContext(ctx, "port taken meanwhile; retrying", "port", port)
	}
	if err := c.createDatabase(ctx); err != nil {
		c.quit()
		return nil, err
	}
	return c, nil
}

// URL is the connection URL of the cluster's database, as the superuser.
func (c *Cluster) URL() string { return c.AdminURL(c.database) }

// AdminURL is the connection URL of database db on the cluster, as the
// superuser (who may create and drop databases).
func (c *Cluster) AdminURL(db string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User(Superuser),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port)),
		Path:     "/" + db,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// Port is the TCP port the cluster listens on, on 127.0.0.1.
func (c *Cluster) Port() int { return c.port }

// LogPath is the server's log file.
func (c *Cluster) LogPath() string { return c.logPath }

// Done is closed when postgres exits, through Stop or otherwise, so that a
// long-running caller (dev) notices a server that died under it.
func (c *Cluster) Done() <-chan struct{} { return c.proc.done }

// Stop shuts postgres down and waits for it to exit: a fast shutdown (SIGINT:
// sessions are ended, a checkpoint written), escalated to an immediate one
// (SIGQUIT) when ctx ends or after 30s, and to SIGKILL 5s later. It returns
// nil once the server is gone, however it went; calling it again is a no-op.
func (c *Cluster) Stop(ctx context.Context) error {
	c.stopMu.Lock()
	defer c.stopMu.Unlock()
	p := c.proc
	if p.exited() {
		return nil
	}
	start := time.Now()
	c.logger.DebugContext(ctx, "stopping postgres", "pid", p.pid())
	_ = p.signal(os.Interrupt)
	grace := time.NewTimer(stopGrace)
	defer grace.Stop()
	reason := "fast shutdown took too long"
	select {
	case <-p.done:
		c.logger.InfoContext(ctx, "postgres stopped", "elapsed", time.Since(start))
		return nil
	case <-ctx.Done():
		reason = "caller gave up waiting: " + ctx.Err().Error()
	case <-grace.C:
	}
	c.logger.WarnContext(ctx, "postgres immediate shutdown", "pid", p.pid(), "reason", reason)
	if !c.quit() {
		return fmt.Errorf("%w: pid %d", ErrStopFailed, p.pid())
	}
	return nil
}

// quit stops postgres at once: an immediate shutdown (SIGQUIT), then SIGKILL.
// It reports whether the postmaster is gone.
func (c *Cluster) quit() bool {
	if c.proc.exited() {
		return true
	}
	_ = c.proc.signal(syscall.SIGQUIT)
	if c.proc.wait(quitGrace) {
		return true
	}
	c.logger.Warn("postgres ignores SIGQUIT; killing it", "pid", c.proc.pid())
	return c.kill()
}

// kill SIGKILLs the postmaster and its children, which would otherwise
// linger until they notice their parent is gone, and reports whether the
// postmaster is gone.
func (c *Cluster) kill() bool {
	if c.proc == nil || c.proc.exited() {
		return true
	}
	children := processesIn(c.dataDir, c.exe)
	_ = c.proc.signal(os.Kill)
	for _, pid := range children {
		if pid == c.proc.pid() {
			continue
		}
		if p, err := os.FindProcess(pid); err == nil {
			_ = p.Kill()
			_ = p.Release()
		}
	}
	return c.proc.wait(killGrace)
}

// resolveRunAs returns the user to run postgres as, or nil when the caller is
// not root and postgres simply runs as the caller.
func resolveRunAs(name string) (*runAs, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	if !canSwitchUser {
		return nil, fmt.Errorf("%w: running as root is supported on Linux only; run as a normal user", ErrNoUser)
	}
	names := []string{name}
	if name == "" {
		names = []string{"postgres", "nobody"}
	}
	for _, n := range names {
		u, err := user.Lookup(n)
		if err != nil {
			continue
		}
		uid, err1 := strconv.Atoi(u.Uid)
		gid, err2 := strconv.Atoi(u.Gid)
		if err1 != nil || err2 != nil {
			continue
		}
		if uid == 0 {
			return nil, fmt.Errorf("%w: %s is root", ErrNoUser, n)
		}
		return &runAs{name: n, uid: uid, gid: gid}, nil
	}
	return nil, fmt.Errorf("%w: running as root, and user %s does not exist: create it or set Options.RunAs",
		ErrNoUser, strings.Join(names, " nor "))
}

// prepareDir creates the cluster directory and the socket directory, rotates
// an oversized log and, when root, hands the whole tree to the postgres user.
// It returns the directory's absolute path with symlinks resolved, which is
// how the kernel reports the server's working directory.
func prepareDir(dir string, as *runAs) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("pglocal: %w", err)
	}
	if as != nil {
		// Checked before creating anything, so that a bad choice of
		// directory leaves nothing behind.
		if err := checkTraversable(nearestExisting(filepath.Dir(dir)), as); err != nil {
			return "", err
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("pglocal: create cluster directory: %w", err)
	}
	if dir, err = filepath.EvalSymlinks(dir); err != nil {
		return "", fmt.Errorf("pglocal: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "sock"), 0o700); err != nil {
		return "", fmt.Errorf("pglocal: create socket directory: %w", err)
	}
	logPath := filepath.Join(dir, "postgres.log")
	if fi, err := os.Stat(logPath); err == nil && fi.Size() > maxLogSize {
		_ = os.Rename(logPath, logPath+".old")
	}
	if as != nil {
		err := filepath.WalkDir(dir, func(path string, _ fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			return os.Lchown(path, as.uid, as.gid)
		})
		if err != nil {
			return "", fmt.Errorf("pglocal: hand %s to %s: %w", dir, as.name, err)
		}
		// Again, on the path with symlinks resolved: that is the one the
		// server walks.
		if err := checkTraversable(dir, as); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// nearestExisting returns dir or its nearest existing parent: MkdirAll will
// create the rest, 0700 but owned by root, and prepareDir then hands only the
// cluster directory itself to the postgres user.
func nearestExisting(dir string) string {
	for {
		if _, err := os.Stat(dir); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return dir
		}
		dir = parent
	}
}

// initdb creates the cluster unless Dir/data already holds one. It builds it
// in a scratch directory renamed into place on success, so that an initdb
// killed halfway leaves no half-made cluster that looks like a real one.
func (c *Cluster) initdb(ctx context.Context, binDir string, as *runAs) error {
	_, err := os.Stat(filepath.Join(c.dataDir, "PG_VERSION"))
	if err == nil {
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("pglocal: %w", err)
	}
	if entries, err := os.ReadDir(c.dataDir); err == nil && len(entries) > 0 {
		return fmt.Errorf("%w: %s has no PG_VERSION; move it away to start afresh", ErrNotCluster, c.dataDir)
	}
	scratch := c.dataDir + ".initdb"
	if err := os.RemoveAll(scratch); err != nil {
		return fmt.Errorf("pglocal: remove leftover %s: %w", scratch, err)
	}
	start := time.Now()
	c.logger.InfoContext(ctx, "initialising postgres cluster", "bin", binDir)
	logFile, offset, err := c.openLog()
	if err != nil {
		return err
	}
	defer logFile.Close()
	// C locale: byte-order collation and English messages whatever the
	// machine's locale, and no dependence on locales being installed
	// (CI images often have none). --no-sync: the cluster is re-creatable
	// and syncing costs seconds.
	cmd := exec.Command(filepath.Join(binDir, "initdb"),
		"-D", scratch, "-U", Superuser, "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync")
	cmd.Dir = c.dir
	cmd.Env = childEnv()
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	// SIGKILL is right for initdb: its half-made scratch directory is
	// thrown away by the next run.
	cmd.SysProcAttr = sysProcAttr(as, syscall.SIGKILL)
	if err := runProcess(ctx, cmd); err != nil {
		_ = os.RemoveAll(scratch)
		return c.startError(fmt.Sprintf("initdb: %v", err), offset)
	}
	_ = os.Remove(c.dataDir) // an empty directory in the way, if any
	if err := os.Rename(scratch, c.dataDir); err != nil {
		return fmt.Errorf("pglocal: move new cluster into place: %w", err)
	}
	c.logger.InfoContext(ctx, "initialised postgres cluster", "elapsed", time.Since(start))
	return nil
}

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
// it exits.
func (c *Cluster) waitReady(ctx context.Context, offset int64) error {
	cfg, err := pgx.ParseConfig(c.AdminURL("postgres"))
	if err != nil {
		return fmt.Errorf("pglocal: %w", err)
	}
	cfg.ConnectTimeout = 2 * time.Second
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	for {
		err := c.ping(ctx, cfg)
		if err == nil {
			return nil
		}
		select {
		case <-c.proc.done:
			tail := readTail(c.logPath, offset)
			if strings.Contains(tail, "Address already in use") {
				return fmt.Errorf("%w: %d: %w", ErrStartFailed, c.port, errPortInUse)
			}
			return c.startError(fmt.Sprintf("postgres exited: %v", c.proc.err), offset)
		case <-ctx.Done():
			return c.startError(fmt.Sprintf("no connection after %v (%v): %v", startTimeout, ctx.Err(), err), offset)
		case <-time.After(pollInterval):
		}
	}
}

// ping connects and checks that the server answering is this cluster's: a
// port picked as free may meanwhile be another cluster's, and connecting to
// it would look just like success. It gives up as soon as the server exits,
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
		return err
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	var dataDir string
	if err := conn.QueryRow(ctx, "SHOW data_directory").Scan(&dataDir); err != nil {
		return err
	}
	if filepath.Clean(dataDir) != c.dataDir {
		return fmt.Errorf("port %d is served by another cluster (%s)", c.port, dataDir)
	}
	return nil
}

func (c *Cluster) createDatabase(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, c.AdminURL("postgres"))
	if err != nil {
		return fmt.Errorf("pglocal: connect: %w", err)
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", c.database).Scan(&exists); err != nil {
		return fmt.Errorf("pglocal: look up database %s: %w", c.database, err)
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
		return fmt.Errorf("pglocal: create database %s: %w", c.database, err)
	}
	c.logger.InfoContext(ctx, "created database", "database", c.database)
	return nil
}

// openLog opens the server log for appending and returns its current size, the
// offset from which this run's messages start.
func (c *Cluster) openLog() (*os.File, int64, error) {
	f, err := os.OpenFile(c.logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, 0, fmt.Errorf("pglocal: open log: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, 0, fmt.Errorf("pglocal: open log: %w", err)
	}
	return f, fi.Size(), nil
}

func (c *Cluster) startError(what string, offset int64) error {
	return fmt.Errorf("%w: %s\n--- %s ---\n%s", ErrStartFailed, what, c.logPath, readTail(c.logPath, offset))
}

// readTail returns at most the last 4 KiB written to path since offset.
func readTail(path string, offset int64) string {
	const limit = 4 << 10
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(log unreadable: %v)", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Sprintf("(log unreadable: %v)", err)
	}
	from := max(offset, fi.Size()-limit)
	b, err := io.ReadAll(io.NewSectionReader(f, from, fi.Size()-from))
	if err != nil {
		return fmt.Sprintf("(log unreadable: %v)", err)
	}
	return strings.TrimSpace(string(b))
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

// process is a started child. Its goroutine keeps the OS thread that forked it
// for as long as it runs: the kernel sends the parent-death signal when that
// thread exits, not the process (go.dev/issue/27505), and Go may end a thread
// any time a goroutine locked to it returns.
type process struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error // Wait's result, set before done is closed
}

func startProcess(cmd *exec.Cmd) (*process, error) {
	p := &process{cmd: cmd, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		p.err = cmd.Wait()
		close(p.done)
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return p, nil
}

// runProcess runs cmd to completion, killing it if ctx ends first.
func runProcess(ctx context.Context, cmd *exec.Cmd) error {
	p, err := startProcess(cmd)
	if err != nil {
		return err
	}
	select {
	case <-p.done:
		return p.err
	case <-ctx.Done():
		_ = p.signal(os.Kill)
		<-p.done
		return ctx.Err()
	}
}

func (p *process) pid() int { return p.cmd.Process.Pid }

func (p *process) signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// wait reports whether the process exited within d.
func (p *process) wait(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-p.done:
		return true
	case <-t.C:
		return false
	}
}
