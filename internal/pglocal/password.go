package pglocal

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// passwordFile names the superuser's password file in Dir. prepareDir leaves
// it, and its temporary sibling, to the caller's user.
const passwordFile = "superuser.password"

// newPassword returns a random password: 32 bytes from the system's CSPRNG,
// base64url-encoded without padding (43 characters, none of which need
// escaping in a URL).
func newPassword() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails: crypto/rand crashes the program instead
	return base64.RawURLEncoding.EncodeToString(b)
}

// writePassword replaces the file at path with one holding password,
// atomically (a new file renamed over it) and durably (file and directory
// synced), mode 0600 and owned by the calling process's user.
func writePassword(path, password string) error {
	tmp := path + ".tmp"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("pglocal: remove leftover %s: %w", tmp, err)
	}
	// Errors below come from the os package: they name the file, never its
	// content.
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("pglocal: save superuser password: %w", err)
	}
	err = f.Chmod(0o600) // whatever the umask
	if err == nil {
		_, err = f.WriteString(password + "\n")
	}
	if err == nil {
		err = f.Sync()
	}
	if err2 := f.Close(); err == nil {
		err = err2
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("pglocal: save superuser password: %w", err)
	}
	// Best effort: not every system can sync a directory.
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// readPassword returns the superuser's password from Dir/superuser.password,
// or "" when there is no such file: a cluster made before passwords, which
// trusts local connections (Start warns once it is sure). A file others may
// read is made private again.
func (c *Cluster) readPassword(ctx context.Context) (string, error) {
	f, err := os.Open(c.pwPath)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("pglocal: read superuser password: %w", err)
	}
	defer f.Close()
	// Only a regular file, and the one opened: Dir may belong to the
	// server's user, who must not make root read, or chmod, another file
	// through a symlink.
	fi, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("pglocal: read superuser password: %w", err)
	}
	li, err := os.Lstat(c.pwPath)
	if err != nil {
		return "", fmt.Errorf("pglocal: read superuser password: %w", err)
	}
	if !fi.Mode().IsRegular() || !li.Mode().IsRegular() || !os.SameFile(fi, li) {
		return "", fmt.Errorf("pglocal: %s is not a regular file; delete %s to start afresh (its data is lost)", c.pwPath, c.dir)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		if err := f.Chmod(0o600); err != nil {
			return "", fmt.Errorf("pglocal: %s is readable by others (mode %v) and cannot be made private: %w", c.pwPath, perm, err)
		}
		c.logger.WarnContext(ctx, "superuser password file was readable by others; made private",
			"file", c.pwPath, "mode", perm.String())
	}
	b, err := io.ReadAll(io.LimitReader(f, 1<<10))
	if err != nil {
		return "", fmt.Errorf("pglocal: read superuser password: %w", err)
	}
	password := strings.TrimSpace(string(b))
	if password == "" {
		return "", fmt.Errorf("pglocal: %s is empty; delete %s to start afresh (its data is lost)", c.pwPath, c.dir)
	}
	return password, nil
}

// connConfig is the configuration of a connection to database db as the
// superuser, password included: what every connection pglocal makes uses.
func (c *Cluster) connConfig(db string) (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(c.AdminURL(db))
	if err != nil {
		// Not err: pgx's parse errors quote the URL, and redact its
		// password on a best-effort basis only.
		return nil, errors.New("pglocal: the cluster's connection URL does not parse")
	}
	return cfg, nil
}

// connect connects to database db as the superuser; its errors are safe to
// show (see safeError).
func (c *Cluster) connect(ctx context.Context, db string) (*pgx.Conn, error) {
	cfg, err := c.connConfig(db)
	if err != nil {
		return nil, err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, c.safeError(err)
	}
	return conn, nil
}

// safeError returns err, an error from pgx, fit to log and to return. pgx's
// messages do not quote passwords, but a *pgconn.ConnectError holds the whole
// connection configuration, password included, for anyone unwrapping it or
// printing it as a struct. What is kept: the message, with the password
// masked in case, and the *pgconn.PgError and context errors it wraps, if any,
// for errors.As and errors.Is.
func (c *Cluster) safeError(err error) error {
	if err == nil {
		return nil
	}
	e := &connError{msg: err.Error()}
	if c.password != "" {
		e.msg = strings.ReplaceAll(e.msg, c.password, "xxxxx")
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		e.causes = append(e.causes, pgErr)
	}
	for _, ctxErr := range []error{context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, ctxErr) {
			e.causes = append(e.causes, ctxErr)
		}
	}
	return e
}

type connError struct {
	msg    string
	causes []error
}

func (e *connError) Error() string   { return e.msg }
func (e *connError) Unwrap() []error { return e.causes }

// isAuthFailure reports whether err is the server refusing to let us in:
// SQLSTATE class 28, invalid authorization specification (28P01 is a wrong
// password, 28000 no pg_hba.conf entry).
func isAuthFailure(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && strings.HasPrefix(pgErr.Code, "28")
}

// authError explains a server of this cluster refusing the superuser.
func (c *Cluster) authError(err error, offset int64) error {
	why := "the superuser password in " + c.pwPath + " is refused (was the file replaced?)"
	if c.password == "" {
		why = "the cluster asks for a password, and " + c.pwPath + " is missing (deleted?)"
	}
	return c.startError(fmt.Sprintf("%s: %v; restore the file, or delete %s to have a new cluster made (its data is lost)",
		why, err, c.dir), offset)
}
