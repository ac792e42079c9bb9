package pglocal

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// pwfileName is the file initdb reads the new superuser's password from, in
// Dir, for the time initdb runs.
const pwfileName = "initdb.pwfile"

// initdb creates the cluster unless Dir/data already holds one. It builds it
// in a scratch directory renamed into place on success, so that an initdb
// killed halfway leaves no half-made cluster that looks like a real one. The
// superuser's password is saved before that rename: a cluster in Dir/data
// always has its password file.
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
	password := newPassword()
	pwfile, err := c.writePwfile(password, as)
	if err != nil {
		return err
	}
	defer func() { _ = os.Remove(pwfile) }() // if not removed below already
	// scram-sha-256 for socket and TCP connections alike (--auth sets
	// both), with the superuser's password read from pwfile: initdb
	// itself sets password_encryption to match. C locale: byte-order
	// collation and English messages whatever the machine's locale, and no
	// dependence on locales being installed (CI images often have none).
	// --no-sync: the cluster is re-creatable and syncing costs seconds.
	cmd := exec.Command(filepath.Join(binDir, "initdb"),
		"-D", scratch, "-U", Superuser, "--auth=scram-sha-256", "--pwfile="+pwfile,
		"--encoding=UTF8", "--locale=C", "--no-sync")
	cmd.Dir = c.dir
	cmd.Env = childEnv()
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	// SIGKILL is right for initdb: its half-made scratch directory is
	// thrown away by the next run.
	cmd.SysProcAttr = sysProcAttr(as, syscall.SIGKILL)
	err = runProcess(ctx, cmd)
	_ = os.Remove(pwfile)
	if err != nil {
		_ = os.RemoveAll(scratch)
		return c.startError(fmt.Sprintf("initdb: %v", err), offset)
	}
	// Saved before the cluster is moved into place: a crash in between
	// leaves a scratch directory, thrown away by the next run, which also
	// replaces the password.
	if err := writePassword(c.pwPath, password); err != nil {
		_ = os.RemoveAll(scratch)
		return err
	}
	_ = os.Remove(c.dataDir) // an empty directory in the way, if any
	if err := os.Rename(scratch, c.dataDir); err != nil {
		return fmt.Errorf("pglocal: move new cluster into place: %w", err)
	}
	c.logger.InfoContext(ctx, "initialised postgres cluster", "auth", "scram-sha-256",
		"password_file", c.pwPath, "elapsed", time.Since(start))
	return nil
}

// writePwfile writes password to a new file in Dir for initdb, which runs as
// as, to read; it returns the file's path. Dir is 0700 (see prepareDir), and
// the file is 0600 and owned by as.
func (c *Cluster) writePwfile(password string, as *runAs) (string, error) {
	path := filepath.Join(c.dir, pwfileName)
	// A killed Start's leftover, or anything else in the way: O_EXCL
	// below follows no symlink and writes into no existing file.
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("pglocal: remove leftover %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("pglocal: password file for initdb: %w", err)
	}
	err = f.Chmod(0o600) // whatever the umask
	if err == nil && as != nil {
		err = f.Chown(as.uid, as.gid)
	}
	if err == nil {
		_, err = f.WriteString(password + "\n")
	}
	if err2 := f.Close(); err == nil {
		err = err2
	}
	if err != nil {
		_ = os.Remove(path)
		// err comes from the os package: it names the file, never its
		// content.
		return "", fmt.Errorf("pglocal: password file for initdb: %w", err)
	}
	return path, nil
}
