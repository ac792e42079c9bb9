package host

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/plugins/plugintest"
)

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func TestKeyValidate(t *testing.T) {
	t.Parallel()
	sha := sha256Hex([]byte("x"))
	tests := []struct {
		name string
		key  Key
		ok   bool
	}{
		{"valid", Key{PartnerCode: "acme", Env: "staging", SHA256: sha}, true},
		{"valid with dash and underscore", Key{PartnerCode: "a_b-9", Env: "production", SHA256: sha}, true},
		{"empty partner", Key{Env: "staging", SHA256: sha}, false},
		{"partner escapes the work dir", Key{PartnerCode: "..", Env: "staging", SHA256: sha}, false},
		{"partner with slash", Key{PartnerCode: "a/b", Env: "staging", SHA256: sha}, false},
		{"partner too long", Key{PartnerCode: strings.Repeat("a", 65), Env: "staging", SHA256: sha}, false},
		{"env with dots", Key{PartnerCode: "acme", Env: "../x", SHA256: sha}, false},
		{"empty env", Key{PartnerCode: "acme", SHA256: sha}, false},
		{"sha upper case", Key{PartnerCode: "acme", Env: "staging", SHA256: strings.ToUpper(sha)}, false},
		{"sha short", Key{PartnerCode: "acme", Env: "staging", SHA256: sha[:63]}, false},
		{"sha path", Key{PartnerCode: "acme", Env: "staging", SHA256: "../../bin/sh"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.key.validate()
			if tt.ok {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrInvalidKey)
		})
	}
}

func TestGetRejectsInvalidKey(t *testing.T) {
	t.Parallel()
	h := newTestHost(t, plugintest.NewSource())
	_, err := h.Get(t.Context(), Key{PartnerCode: "../etc", Env: "staging", SHA256: sha256Hex(nil)})
	require.ErrorIs(t, err, ErrInvalidKey)
}

func TestNewValidatesConfig(t *testing.T) {
	t.Parallel()
	src := plugintest.NewSource()
	root := reachableTempDir(t)
	ok := Config{CacheDir: filepath.Join(root, "c"), WorkDir: filepath.Join(root, "w")}

	_, err := New(ok, nil)
	require.Error(t, err)
	_, err = New(Config{WorkDir: ok.WorkDir}, src)
	require.Error(t, err)
	_, err = New(Config{CacheDir: ok.CacheDir}, src)
	require.Error(t, err)

	h, err := New(ok, src)
	require.NoError(t, err)
	require.Equal(t, DefaultStartTimeout, h.cfg.StartTimeout)
	require.Equal(t, DefaultCallTimeout, h.cfg.CallTimeout)
	require.Equal(t, DefaultRunAsUser, h.cfg.RunAsUser)
	for _, dir := range []string{ok.CacheDir, ok.WorkDir} {
		fi, err := os.Stat(dir)
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o755), fi.Mode().Perm())
	}
	require.NoError(t, h.Close())
}

func TestNewRefusesWhatRootCannotSandbox(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	src := plugintest.NewSource()

	// Plugins never run as root.
	root := reachableTempDir(t)
	_, err := New(Config{CacheDir: filepath.Join(root, "c"), WorkDir: filepath.Join(root, "w"), RunAsUser: "root"}, src)
	require.ErrorContains(t, err, "root")

	// Under a 0700 directory, nobody could not exec a cached binary.
	private := filepath.Join(root, "private")
	require.NoError(t, os.Mkdir(private, 0o700))
	_, err = New(Config{CacheDir: filepath.Join(private, "c"), WorkDir: filepath.Join(root, "w")}, src)
	require.ErrorContains(t, err, "not searchable")

	_, err = New(Config{CacheDir: filepath.Join(root, "c"), WorkDir: filepath.Join(root, "w"), RunAsUser: "no-such-user-x"}, src)
	require.Error(t, err)
}
