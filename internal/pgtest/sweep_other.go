//go:build !unix

package pgtest

// lockDir and sweep do nothing without flock: directories of killed test
// binaries stay in the temporary directory.
func lockDir(string) (unlock func()) { return func() {} }

func sweep(string) {}
