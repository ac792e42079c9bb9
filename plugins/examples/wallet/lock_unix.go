//go:build unix

package main

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
)

// lockName is the lock file beside wallet.json.
const lockName = "wallet.lock"

// lockFile takes an exclusive flock on f, waiting for other holders: other
// processes, or other open files of the same lock in this one. The lock
// goes with the process if it dies, so a killed node never leaves it held.
func lockFile(f *os.File) (unlock func(), err error) {
	fd := int(f.Fd())
	for {
		err = syscall.Flock(fd, syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	return func() { _ = syscall.Flock(fd, syscall.LOCK_UN) }, nil
}

// inode is fi's inode number: a rename over wallet.json gives it a new one.
func inode(fi fs.FileInfo) uint64 {
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(sys.Ino)
	}
	return 0
}
