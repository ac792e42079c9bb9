package plugins

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestReadSpoolExactSize: the spool is read back into a buffer of exactly
// its size, so storeSlots bound memory by the size limit (a growing buffer
// doubles its capacity at the end to look for EOF).
func TestReadSpoolExactSize(t *testing.T) {
	t.Parallel()
	r := NewRegistry(nil)
	for _, size := range []int{1, 511, 4096, 1 << 20} {
		f, err := os.Create(filepath.Join(t.TempDir(), "spool"))
		require.NoError(t, err)
		want := make([]byte, size)
		for i := range want {
			want[i] = byte(i)
		}
		_, err = f.Write(want)
		require.NoError(t, err)

		got, release, err := r.readSpool(context.Background(), f, int64(size))
		require.NoError(t, err)
		require.Equal(t, want, got)
		require.Equal(t, size, cap(got), "no spare capacity")
		release()
		require.NoError(t, f.Close())
	}
}
