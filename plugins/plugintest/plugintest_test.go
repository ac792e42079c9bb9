package plugintest

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestBuildOnceAndHash(t *testing.T) {
	t.Parallel()
	first := Wallet(t)
	require.NotEmpty(t, first.Bytes)
	sum := sha256.Sum256(first.Bytes)
	require.Equal(t, hex.EncodeToString(sum[:]), first.SHA256)

	again := Build(t, WalletPackage)
	require.Same(t, &first.Bytes[0], &again.Bytes[0], "built once, then shared")
}

func TestSource(t *testing.T) {
	t.Parallel()
	bin := Binary{Bytes: []byte("x"), SHA256: "abc"}
	src := NewSource(bin)

	got, err := src.Blob(t.Context(), "abc")
	require.NoError(t, err)
	require.Equal(t, []byte("x"), got)
	_, err = src.Blob(t.Context(), "missing")
	require.ErrorIs(t, err, ErrNotFound)
	require.Equal(t, 1, src.Fetches("abc"))
	require.Equal(t, 1, src.Fetches("missing"))
}
