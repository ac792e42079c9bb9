//go:build !linux

package pgtest

import "os"

// clusterBases lists where private clusters may live: os.TempDir() here.
func clusterBases() []string { return []string{os.TempDir()} }
