package pglocal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"
)

// logBuffer collects a cluster's log lines, to check what they say and what
// they do not.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func recordingLogger(t *testing.T, b *logBuffer) *slog.Logger {
	t.Helper()
	return slog.New(slog.NewTextHandler(io.MultiWriter(t.Output(), b), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// requireRefused fails unless connecting with cfg is refused for a wrong
// password.
func requireRefused(t *testing.T, cfg *pgx.ConnConfig) {
	t.Helper()
	conn, err := pgx.ConnectConfig(t.Context(), cfg)
	if err == nil {
		_ = conn.Close(context.Background())
		t.Fatalf("connected to %s:%d without the password", cfg.Host, cfg.Port)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		require.Equal(t, "28P01", pgErr.Code, "%v", err)
	} else {
		require.ErrorContains(t, err, "password authentication failed")
	}
}

func TestPasswordAuthentication(t *testing.T) {
	t.Parallel()
	dir := tempDir(t)
	var logs logBuffer
	opts := Options{Dir: dir, Logger: recordingLogger(t, &logs)}
	c := start(t, opts)

	u, err := url.Parse(c.URL())
	require.NoError(t, err)
	password, ok := u.User.Password()
	require.True(t, ok, "no password in the URL")
	require.Regexp(t, `^[A-Za-z0-9_-]{43}$`, password) // 32 bytes, base64url
	require.Regexp(t, `^postgres://postgres:[A-Za-z0-9_-]{43}@127\.0\.0\.1:\d+/partnerhub\?sslmode=disable$`, c.URL())

	// The password file: the password, 0600, the caller's (not the server
	// user's when root).
	pwPath := filepath.Join(dir, "superuser.password")
	fi, err := os.Lstat(pwPath)
	require.NoError(t, err)
	require.True(t, fi.Mode().IsRegular())
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	requireOwnedByCaller(t, fi)
	b, err := os.ReadFile(pwPath)
	require.NoError(t, err)
	require.Equal(t, password+"\n", string(b))
	for _, leftover := range []string{pwfileName, passwordFile + ".tmp", "data.initdb"} {
		require.NoFileExists(t, filepath.Join(dir, leftover))
	}

	// The URL works, and every rule of pg_hba.conf asks for the password.
	conn, err := pgx.Connect(t.Context(), c.URL())
	require.NoError(t, err)
	rows, err := conn.Query(t.Context(), "SELECT type || ' ' || auth_method FROM pg_hba_file_rules ORDER BY line_number")
	require.NoError(t, err)
	rules, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.NotEmpty(t, rules)
	for _, r := range rules {
		require.True(t, strings.HasSuffix(r, " scram-sha-256"), "pg_hba.conf rule %q", r)
	}
	require.NoError(t, conn.Close(t.Context()))

	// Without the password, or with another, TCP and the socket refuse.
	noPassword := *u
	noPassword.User = url.User(Superuser)
	_, err = pgx.Connect(t.Context(), noPassword.String())
	require.Error(t, err, "connected without the password")
	cfg, err := pgx.ParseConfig(noPassword.String())
	require.NoError(t, err)
	cfg.Password = "" // whatever PGPASSWORD or a .pgpass says
	requireRefused(t, cfg)
	cfg.Password = newPassword()
	requireRefused(t, cfg)
	if c.sockArg != "" {
		cfg, err := pgx.ParseConfig(fmt.Sprintf("host=%s port=%d user=%s dbname=postgres sslmode=disable",
			c.sockArg, c.Port(), Superuser))
		require.NoError(t, err)
		cfg.Password = ""
		requireRefused(t, cfg)
	}

	// A restart on the same directory keeps the password, and works.
	stop(t, c)
	c = start(t, opts)
	require.Equal(t, u.User.String(), mustParse(t, c.URL()).User.String())
	conn, err = pgx.Connect(t.Context(), c.URL())
	require.NoError(t, err)
	require.NoError(t, conn.Close(t.Context()))
	stop(t, c)

	require.NotContains(t, logs.String(), password, "the password was logged")
	require.NotContains(t, logs.String(), "trusts every local connection")
}

func mustParse(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	require.NoError(t, err)
	return u
}

// TestLegacyTrustCluster starts a cluster made before passwords: trust
// authentication, no password file.
func TestLegacyTrustCluster(t *testing.T) {
	t.Parallel()
	dir := tempDir(t)
	opts := Options{Dir: dir, Logger: testLogger(t)}
	stop(t, start(t, opts))
	require.NoError(t, os.Remove(filepath.Join(dir, passwordFile)))
	hba := filepath.Join(dir, "data", "pg_hba.conf")
	fi, err := os.Stat(hba)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(hba, []byte("local all all trust\nhost all all 127.0.0.1/32 trust\n"), fi.Mode().Perm()))

	var logs logBuffer
	opts.Logger = recordingLogger(t, &logs)
	c := start(t, opts)
	require.Regexp(t, `^postgres://postgres@127\.0\.0\.1:\d+/partnerhub\?sslmode=disable$`, c.URL())
	conn, err := pgx.Connect(t.Context(), c.URL())
	require.NoError(t, err)
	require.NoError(t, conn.Close(t.Context()))
	require.Equal(t, 1, strings.Count(logs.String(), "trusts every local connection"), "warning logged once:\n%s", logs.String())
	require.Contains(t, logs.String(), "delete the directory")
	require.NoFileExists(t, filepath.Join(dir, passwordFile), "a trust cluster got a password file it does not use")
	stop(t, c)
}

// TestLostPassword starts a password-protected cluster whose password file
// is gone, then wrong: Start fails at once, and says why.
func TestLostPassword(t *testing.T) {
	t.Parallel()
	dir := tempDir(t)
	opts := Options{Dir: dir, Logger: testLogger(t)}
	stop(t, start(t, opts))
	pwPath := filepath.Join(dir, passwordFile)
	require.NoError(t, os.Remove(pwPath))

	began := time.Now()
	_, err := Start(t.Context(), opts)
	t.Logf("Start without the password file: %v", err)
	require.ErrorIs(t, err, ErrStartFailed)
	require.ErrorContains(t, err, "superuser.password is missing")
	require.ErrorContains(t, err, "password authentication failed")
	require.Less(t, time.Since(began), startTimeout/2, "Start waited for a server that will never let it in")
	resolved, err := filepath.EvalSymlinks(filepath.Join(dir, "data"))
	require.NoError(t, err)
	requireNoServer(t, resolved)

	wrong := newPassword()
	require.NoError(t, os.WriteFile(pwPath, []byte(wrong+"\n"), 0o600))
	_, err = Start(t.Context(), opts)
	require.ErrorIs(t, err, ErrStartFailed)
	require.ErrorContains(t, err, "is refused")
	require.NotContains(t, err.Error(), wrong)
	requireNoServer(t, resolved)
}

// TestPasswordFileMadePrivate: a password file others may read is made
// private again at start.
func TestPasswordFileMadePrivate(t *testing.T) {
	t.Parallel()
	dir := tempDir(t)
	opts := Options{Dir: dir, Logger: testLogger(t)}
	stop(t, start(t, opts))
	pwPath := filepath.Join(dir, passwordFile)
	require.NoError(t, os.Chmod(pwPath, 0o644))
	stop(t, start(t, opts))
	fi, err := os.Stat(pwPath)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
}

// TestSafeError: what pglocal returns of a pgx connection error keeps the
// server's error but not the configuration holding the password.
func TestSafeError(t *testing.T) {
	t.Parallel()
	dir := tempDir(t)
	c := start(t, Options{Dir: dir, Logger: testLogger(t)})
	wrong := &Cluster{password: newPassword(), port: c.Port(), database: "postgres"}
	_, err := wrong.connect(t.Context(), "postgres")
	require.Error(t, err)
	var connectErr *pgconn.ConnectError
	require.False(t, errors.As(err, &connectErr), "the connection config, password included, is reachable")
	var pgErr *pgconn.PgError
	require.ErrorAs(t, err, &pgErr)
	require.Equal(t, "28P01", pgErr.Code)
	require.True(t, isAuthFailure(err))
	require.NotContains(t, err.Error(), wrong.password)

	masked := wrong.safeError(fmt.Errorf("quoting %s: %w", wrong.password, context.Canceled))
	require.NotContains(t, masked.Error(), wrong.password)
	require.ErrorIs(t, masked, context.Canceled)
	stop(t, c)
}
