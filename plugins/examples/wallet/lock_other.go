//go:build !unix

package main

import (
	"io/fs"
	"os"
)

// lockName is the lock file beside wallet.json.
const lockName = "wallet.lock"

// lockFile does nothing here: without flock, only one process may use a
// data directory at a time (the in-process mutex still serialises calls).
func lockFile(*os.File) (unlock func(), err error) { return func() {}, nil }

// inode is not known here; size and modification time still tell changes.
func inode(fs.FileInfo) uint64 { return 0 }
