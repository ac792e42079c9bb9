package seal_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/internal/seal"
)

func TestSealOpen(t *testing.T) {
	t.Parallel()
	key := bytes.Repeat([]byte{7}, 32)
	box, err := seal.New(key)
	require.NoError(t, err)

	sealed := box.Seal([]byte("hCyO_Flnu6aid"), "signing_key:1:staging")
	require.NotContains(t, string(sealed), "hCyO_Flnu6aid")

	got, err := box.Open(sealed, "signing_key:1:staging")
	require.NoError(t, err)
	require.Equal(t, "hCyO_Flnu6aid", string(got))

	// Two seals of one value differ (fresh nonce each time).
	require.NotEqual(t, sealed, box.Seal([]byte("hCyO_Flnu6aid"), "signing_key:1:staging"))

	tests := []struct {
		name    string
		box     *seal.Box
		sealed  []byte
		context string
	}{
		{"other context", box, sealed, "signing_key:2:staging"},
		{"other key", must(t, bytes.Repeat([]byte{8}, 32)), sealed, "signing_key:1:staging"},
		{"tampered", box, flip(sealed, len(sealed)-1), "signing_key:1:staging"},
		{"truncated", box, sealed[:10], "signing_key:1:staging"},
		{"empty", box, nil, "signing_key:1:staging"},
		{"unknown version", box, flip(sealed, 0), "signing_key:1:staging"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.box.Open(tt.sealed, tt.context)
			require.ErrorIs(t, err, seal.ErrOpen)
		})
	}
}

func TestNewRejectsShortKey(t *testing.T) {
	t.Parallel()
	_, err := seal.New(make([]byte, 16))
	require.ErrorIs(t, err, seal.ErrKey)
}

func must(t *testing.T, key []byte) *seal.Box {
	t.Helper()
	b, err := seal.New(key)
	require.NoError(t, err)
	return b
}

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0xff
	return c
}
