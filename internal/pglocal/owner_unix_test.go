//go:build unix

package pglocal

import (
	"os"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// requireOwnedByCaller fails unless the file belongs to this process's user.
func requireOwnedByCaller(t *testing.T, fi os.FileInfo) {
	t.Helper()
	st, ok := fi.Sys().(*syscall.Stat_t)
	require.True(t, ok)
	require.Equal(t, os.Geteuid(), int(st.Uid), "owner of %s", fi.Name())
}
