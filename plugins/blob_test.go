package plugins_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/plugins"
)

// pieces records the sizes of the writes it gets.
type pieces struct {
	bytes.Buffer
	largest int
}

func (p *pieces) Write(b []byte) (int, error) {
	p.largest = max(p.largest, len(b))
	return p.Buffer.Write(b)
}

func TestWriteBlobStreamsInPieces(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	data := make([]byte, 9<<20+7)
	_, _ = rand.Read(data)
	pl, err := b.reg.Register(ctx, plugins.RegisterParams{TenantID: b.acme.ID, Name: "big", Version: "1",
		OS: runtime.GOOS, Arch: runtime.GOARCH, Binary: data})
	require.NoError(t, err)

	var w pieces
	n, err := b.reg.WriteBlob(ctx, pl.SHA256, &w)
	require.NoError(t, err)
	require.Equal(t, int64(len(data)), n)
	require.True(t, bytes.Equal(data, w.Bytes()))
	require.LessOrEqual(t, w.largest, 4<<20, "never the whole executable at once")

	_, err = b.reg.WriteBlob(ctx, "00"+pl.SHA256[2:], &w)
	require.ErrorIs(t, err, plugins.ErrNotFound)
}
