//go:build !linux

package host

import (
	"os"
	"syscall"
	"testing"
)

func pidAlive(pid int) bool { return syscall.Kill(pid, 0) == nil }

func leftoverChildren() []int { return nil }

func ownerOf(t *testing.T, path string) (uid, gid int, perm os.FileMode) {
	t.Helper()
	t.Skip("ownership checks are Linux-only")
	return 0, 0, 0
}

func processesOf(int) []int { return nil }

func groupMembers(int) []int { return nil }
