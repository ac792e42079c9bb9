//go:build unix

package pgtest

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

const lockName = "pgtest.lock"

// lockDir takes an exclusive lock on a file in dir for as long as this
// process lives or until the returned func is called. The kernel drops it
// when the process dies, however it dies, which is how sweep knows.
func lockDir(dir string) (unlock func()) {
	f, err := os.OpenFile(filepath.Join(dir, lockName), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return func() {}
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		return func() {}
	}
	return func() { _ = f.Close() }
}

// sweep removes the cluster directories of test binaries that were killed
// before they could (interrupted, timed out): the parent-death signal stops
// their servers, but the directories, tens of megabytes each, would pile up.
// A directory is abandoned when nobody holds its lock; flock works across
// processes and pid namespaces alike, unlike checking a pid. Errors are
// ignored: the directory may be another user's, or gone already.
func sweep(tmp string) {
	dirs, _ := filepath.Glob(filepath.Join(tmp, dirPrefix+"*"))
	for _, dir := range dirs {
		f, err := os.Open(filepath.Join(dir, lockName))
		if errors.Is(err, fs.ErrNotExist) {
			// Either just created, lock not taken yet, or broken.
			if fi, err := os.Stat(dir); err == nil && time.Since(fi.ModTime()) > 10*time.Minute {
				_ = os.RemoveAll(dir)
			}
			continue
		}
		if err != nil {
			continue
		}
		if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil {
			_ = os.RemoveAll(dir)
		}
		_ = f.Close()
	}
}
