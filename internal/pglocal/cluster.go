package pglocal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
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

// Options configure Start.
type Options struct {
	// Dir holds the cluster: data in Dir/data, the Unix socket in Dir/sock,
	// the server log in Dir/postgres.log, the superuser's password in
	// Dir/superuser.password. Created if missing, kept across runs: a Dir
	// with a cluster in it is started again, not re-initialised.
	Dir string
	// Port is the TCP port on 127.0.0.1; 0 picks a free one at each start.
	Port int
	// Database is created if missing; default "partnerhub".
	Database string
	// RunAs is the unprivileged user postgres runs as when the caller is
	// root (ignored otherwise); default "postgres", else "nobody". That user
	// owns the data files, password or not: it must not be one that
	// untrusted code (tenant plugins) runs as.
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
	dir     string
	dataDir string
	sockArg string
	logPath string
	// pwPath is the superuser's password file, password its content: ""
	// for a cluster made before passwords, which trusts local connections.
	pwPath   string
	password string
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
		pwPath:   filepath.Join(dir, passwordFile),
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
	if c.password, err = c.readPassword(ctx); err != nil {
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
	if c.password == "" {
		// Only now: a cluster that wants the missing password fails above,
		// and is no trust cluster.
		c.logger.WarnContext(ctx, "this cluster was made before passwords and trusts every local connection: "+
			"any user on this machine can connect to it as superuser; "+
			"to have a password-protected one made instead, stop partnerhub and delete the directory (its data is lost)")
	}
	if err := c.createDatabase(ctx); err != nil {
		c.quit()
		return nil, err
	}
	return c, nil
}

// URL is the connection URL of the cluster's database, as the superuser. It
// carries the superuser's password: do not log it.
func (c *Cluster) URL() string { return c.AdminURL(c.database) }

// AdminURL is the connection URL of database db on the cluster, as the
// superuser (who may create and drop databases). It carries the superuser's
// password (none for a cluster made before passwords): do not log it.
func (c *Cluster) AdminURL(db string) string {
	user := url.User(Superuser)
	if c.password != "" {
		user = url.UserPassword(Superuser, c.password)
	}
	u := url.URL{
		Scheme:   "postgres",
		User:     user,
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
