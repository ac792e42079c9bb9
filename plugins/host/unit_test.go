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

func TestUIDRange(t *testing.T) {
	t.Parallel()
	r := uidRange{base: 2_000_000_000, count: 100}
	tests := []struct {
		name   string
		tenant int64
		env    string
		uid    uint32
		ok     bool
	}{
		{"first tenant staging", 1, "staging", 2_000_000_002, true},
		{"first tenant production", 1, "production", 2_000_000_003, true},
		{"second tenant staging", 2, "staging", 2_000_000_004, true},
		{"last tenant that fits", 49, "production", 2_000_000_099, true},
		{"beyond the range", 50, "staging", 0, false},
		{"far beyond the range", 1 << 40, "staging", 0, false},
		{"no tenant id", 0, "staging", 0, false},
		{"negative tenant id", -1, "staging", 0, false},
		{"unknown environment", 1, "qa", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			uid, err := r.uidFor(Key{PartnerCode: "acme", TenantID: tt.tenant, Env: tt.env})
			if !tt.ok {
				require.ErrorIs(t, err, ErrInvalidKey)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.uid, uid)
			require.True(t, r.contains(uid))
		})
	}
	require.False(t, r.contains(1_999_999_999))
	require.False(t, r.contains(2_000_000_100))
	require.False(t, uidRange{}.contains(0), "disabled")
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
		require.Equal(t, os.FileMode(0o711), fi.Mode().Perm(), "searchable, not listable, by plugin users")
	}
	require.Equal(t, DefaultMaxFetches, cap(h.fetches))
	require.Equal(t, DefaultCacheTTL, h.cfg.CacheTTL)
	require.Zero(t, h.cfg.UIDBase, "one shared plugin user unless a range is configured")

	for _, r := range []struct{ base, count uint32 }{{1<<32 - 10, 100}, {1000, 1}, {1<<32 - 2, 0}} {
		_, err := New(Config{CacheDir: ok.CacheDir, WorkDir: ok.WorkDir, UIDBase: r.base, UIDCount: r.count}, src)
		require.ErrorContains(t, err, "uid range", "%d+%d", r.base, r.count)
	}
	h2, err := New(Config{CacheDir: ok.CacheDir, WorkDir: ok.WorkDir, UIDBase: 2_000_000_000}, src)
	require.NoError(t, err)
	require.Equal(t, uint32(DefaultUIDCount), h2.cfg.UIDCount)
	require.NoError(t, h2.Close())
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
