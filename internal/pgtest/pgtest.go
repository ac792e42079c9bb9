// Package pgtest gives each test its own PostgreSQL database with
// partnerhub's full schema (River's and ours), cheaply enough that every test
// can have one and run in parallel.
//
// A test package opts in with
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// and its tests call New (a pool) or NewURL (a URL, for a server started as a
// subprocess). Main uses the server at $TEST_DATABASE_URL when set (its user
// must be allowed to CREATE DATABASE), and otherwise starts a private cluster
// from the system's PostgreSQL installation (pglocal) for the package, which
// it stops and removes when the tests end. The schema is migrated once per
// package into a template database; each test's database is a copy of it
// (CREATE DATABASE ... TEMPLATE), dropped when the test ends.
package pgtest

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/internal/pglocal"
	"github.com/partnerhub/partnerhub/migrations"
)

// EnvURL names the variable that points tests at an existing server instead
// of a private cluster.
const EnvURL = "TEST_DATABASE_URL"

// dirPrefix names the private clusters' directories.
const dirPrefix = "partnerhub-pgtest-"

// setUpTimeout bounds Main's setup: initdb, start, migrations.
const setUpTimeout = 2 * time.Minute

// ErrBadURL reports a $TEST_DATABASE_URL that cannot be used.
var ErrBadURL = errors.New("pgtest: bad " + EnvURL)

// current is the package's server, set by Main before any test runs: Main
// and New can only meet through a package variable, testing.M carrying no
// state of ours.
var current *server

type server struct {
	// urlFor is the URL of database db on the server.
	urlFor   func(db string) string
	admin    *pgxpool.Pool
	template string
	runID    string
	seq      atomic.Int64
	// createMu serialises CREATE DATABASE ... TEMPLATE: Postgres refuses to
	// copy a template that another session is using.
	createMu sync.Mutex
	// createOptions ends CREATE DATABASE statements.
	createOptions string
	// shutdown stops what open started; nil for a shared server.
	shutdown func(context.Context) error
}

// Main provides a Postgres server to the package's tests and exits with
// m.Run's code; call it from TestMain. If the server cannot be had, no test
// runs and the package fails, saying why.
func Main(m *testing.M) {
	os.Exit(Run(m))
}

// Run is Main without the exit, for a TestMain with cleanup of its own.
func Run(m *testing.M) int {
	// testing.Verbose needs the flags, which m.Run would parse only later.
	flag.Parse()
	s, err := setUp()
	if err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
		return 1
	}
	current = s
	code := m.Run()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.close(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// setUp starts or connects to the server and builds the template, within a
// bound: a stuck server must fail the package, not hang it until go test's
// timeout (whose panic would skip all cleanup).
func setUp() (*server, error) {
	ctx, cancel := context.WithTimeout(context.Background(), setUpTimeout)
	defer cancel()
	began := time.Now()
	s, err := open(ctx)
	if err != nil {
		return nil, err
	}
	serverReady := time.Since(began)
	if err := s.migrateTemplate(ctx); err != nil {
		closeCtx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err2 := s.close(closeCtx); err2 != nil {
			err = errors.Join(err, err2)
		}
		return nil, err
	}
	if testing.Verbose() {
		fmt.Fprintf(os.Stderr, "pgtest: server ready in %v, template migrated in %v\n",
			serverReady.Round(time.Millisecond), (time.Since(began) - serverReady).Round(time.Millisecond))
	}
	return s, nil
}

// New returns a pool connected to a fresh, fully migrated database private to
// the test; the pool is closed and the database dropped when the test ends.
// It is safe to call from parallel tests.
func New(t testing.TB) *pgxpool.Pool {
	t.Helper()
	dbURL := NewURL(t)
	pool, err := pgxpool.New(t.Context(), dbURL)
	require.NoError(t, err, "pgtest: connect")
	// Registered after NewURL's drop, so it runs first.
	t.Cleanup(pool.Close)
	return pool
}

// NewURL is like New but returns the database's connection URL, for tests
// that start a real server as a subprocess against it.
func NewURL(t testing.TB) string {
	t.Helper()
	s := current
	if s == nil {
		t.Fatal("pgtest: no database server: add `func TestMain(m *testing.M) { pgtest.Main(m) }` to this package's tests")
		return ""
	}
	name := s.nextName(t.Name())
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	require.NoError(t, s.create(ctx, name), "pgtest: create test database")
	t.Cleanup(func() {
		// t.Context() is already cancelled when cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := s.drop(ctx, name); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return s.urlFor(name)
}

func open(ctx context.Context) (*server, error) {
	s := &server{runID: fmt.Sprintf("%08x", rand.Uint32())}
	if base := os.Getenv(EnvURL); base != "" {
		return s, s.openShared(ctx, base)
	}
	return s, s.openLocal(ctx)
}

// openShared uses the server at base, leaving the database base names alone
// but for connecting to it.
func (s *server) openShared(ctx context.Context, base string) error {
	if _, err := pgx.ParseConfig(base); err != nil {
		return fmt.Errorf("%w: %w", ErrBadURL, err)
	}
	s.urlFor = func(db string) string { return withDatabase(base, db) }
	return s.connectAdmin(ctx, base)
}

// openLocal starts a private, non-durable cluster in a new directory.
func (s *server) openLocal(ctx context.Context) error {
	bases := clusterBases()
	for _, base := range bases {
		sweep(base)
	}
	// In /dev/shm or os.TempDir() (normally /tmp), both searchable by
	// everyone, not t.TempDir(): when root, the server runs as an
	// unprivileged user, who must be able to reach the directory (see
	// pglocal).
	dir, err := os.MkdirTemp(bases[0], dirPrefix+"*")
	if err != nil {
		return fmt.Errorf("pgtest: cluster directory: %w", err)
	}
	// Held while the cluster lives, so that sweep can tell abandoned
	// directories (from killed test binaries) from live ones.
	unlock := lockDir(dir)
	cleanup := func() {
		unlock()
		_ = os.RemoveAll(dir)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cluster, err := pglocal.Start(ctx, pglocal.Options{Dir: dir, Database: "postgres", Logger: logger})
	if err != nil {
		cleanup()
		return err
	}
	s.urlFor = cluster.AdminURL
	s.shutdown = func(ctx context.Context) error {
		defer cleanup()
		if err := cluster.Stop(ctx); err != nil {
			return fmt.Errorf("pgtest: stop cluster: %w", err)
		}
		return nil
	}
	if err := s.connectAdmin(ctx, cluster.AdminURL("postgres")); err != nil {
		_ = s.shutdown(ctx)
		return err
	}
	var version int
	if err := s.admin.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&version); err != nil {
		_ = s.close(ctx)
		return fmt.Errorf("pgtest: server version: %w", err)
	}
	if version >= 150000 {
		// FILE_COPY copies the template's files instead of writing them
		// all through the WAL (WAL_LOG, the default since Postgres 15):
		// faster for a small template, and the WAL, in RAM on tmpfs,
		// stays small. Its price, two checkpoints per database, is low
		// with fsync off. Shared servers keep their default.
		s.createOptions = " STRATEGY FILE_COPY"
	}
	return nil
}

func (s *server) connectAdmin(ctx context.Context, adminURL string) error {
	pool, err := pgxpool.New(ctx, adminURL)
	if err == nil {
		err = pool.Ping(ctx)
	}
	if err != nil {
		if pool != nil {
			pool.Close()
		}
		return fmt.Errorf("pgtest: connect to server: %w", err)
	}
	s.admin = pool
	return nil
}

// migrateTemplate builds the database every test database is copied from.
func (s *server) migrateTemplate(ctx context.Context) error {
	name := "pgtest_tmpl_" + s.runID
	if _, err := s.admin.Exec(ctx, "CREATE DATABASE "+ident(name)); err != nil {
		return fmt.Errorf("pgtest: create template database: %w", err)
	}
	s.template = name
	pool, err := pgxpool.New(ctx, s.urlFor(name))
	if err != nil {
		return fmt.Errorf("pgtest: connect to template database: %w", err)
	}
	err = migrations.Up(ctx, pool, slog.New(slog.DiscardHandler))
	pool.Close()
	if err != nil {
		return fmt.Errorf("pgtest: migrate template database: %w", err)
	}
	// No connection may hold the template while it is copied; this makes
	// sure none will (autovacuum included), nor anything written by mistake.
	if _, err := s.admin.Exec(ctx, "ALTER DATABASE "+ident(name)+" ALLOW_CONNECTIONS false"); err != nil {
		return fmt.Errorf("pgtest: seal template database: %w", err)
	}
	return nil
}

func (s *server) close(ctx context.Context) error {
	var errs []error
	if s.admin != nil {
		if s.template != "" && s.shutdown == nil {
			// A shared server outlives us: leave it as we found it.
			if _, err := s.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+ident(s.template)); err != nil {
				errs = append(errs, fmt.Errorf("pgtest: drop template database: %w", err))
			}
		}
		s.admin.Close()
	}
	if s.shutdown != nil {
		errs = append(errs, s.shutdown(ctx))
	}
	return errors.Join(errs...)
}

func (s *server) create(ctx context.Context, name string) error {
	s.createMu.Lock()
	defer s.createMu.Unlock()
	if _, err := s.admin.Exec(ctx, "CREATE DATABASE "+ident(name)+" TEMPLATE "+ident(s.template)+s.createOptions); err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}

func (s *server) drop(ctx context.Context, name string) error {
	// FORCE: connections a test leaked (a pool never closed, a server
	// subprocess still running) would otherwise block the drop.
	if _, err := s.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+ident(name)+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	return nil
}

// nextName returns a database name unique on the server (the run id sets
// apart test binaries sharing one) that says which test it belongs to.
func (s *server) nextName(test string) string {
	name := fmt.Sprintf("pgtest_%s_%d_%s", s.runID, s.seq.Add(1), sanitize(test))
	const maxIdentifier = 63 // Postgres truncates longer names, uniqueness with them
	if len(name) > maxIdentifier {
		name = name[:maxIdentifier]
	}
	return name
}

// sanitize keeps lower-case letters and digits, which need no quoting.
func sanitize(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else if !strings.HasSuffix(b.String(), "_") {
			b.WriteByte('_')
		}
	}
	return strings.Trim(b.String(), "_")
}

func ident(name string) string { return pgx.Identifier{name}.Sanitize() }

// withDatabase returns base, a URL or keyword/value connection string, set to
// connect to database db.
func withDatabase(base, db string) string {
	if strings.HasPrefix(base, "postgres://") || strings.HasPrefix(base, "postgresql://") {
		u, err := url.Parse(base)
		if err == nil {
			u.Path, u.RawPath = "/"+db, ""
			q := u.Query()
			q.Del("dbname") // would override the path
			u.RawQuery = q.Encode()
			return u.String()
		}
	}
	// A later keyword wins.
	return base + " dbname=" + db
}
