package pglocal

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
)

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
// an oversized log and, when root, hands the whole tree to the postgres user,
// but for the superuser's password file.
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
			if callersOwn(dir, path) {
				return nil
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

// callersOwn reports whether path, in cluster directory dir, stays the
// caller's when the directory is handed to the postgres user: the superuser's
// password file and its temporary sibling.
func callersOwn(dir, path string) bool {
	return filepath.Dir(path) == dir && strings.HasPrefix(filepath.Base(path), passwordFile)
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
