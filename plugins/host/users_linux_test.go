package host

import (
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/plugins/plugintest"
	"github.com/partnerhub/partnerhub/plugins/sdk"
)

var uidBlocks atomic.Uint32

// testUIDBase is a uid range of its own for one test (and test binary), so
// that RLIMIT_NPROC and process lists count only that test's plugins.
func testUIDBase(t *testing.T) uint32 {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: plugins switch user only when the host is root")
	}
	const block = 1 << 12 // tenant ids in tests stay far below 2048
	n := uidBlocks.Add(1)
	require.Less(t, n, uint32(64))
	return 1_800_000_000 + uint32(os.Getpid()%4096)*64*block + n*block
}

// uidOf is the uid key's plugin runs as in a host whose range starts at base.
func uidOf(t *testing.T, base uint32, key Key) uint32 {
	t.Helper()
	uid, err := uidRange{base: base, count: DefaultUIDCount}.uidFor(key)
	require.NoError(t, err)
	return uid
}

func TestEachTenantEnvironmentRunsAsItsOwnUser(t *testing.T) {
	t.Parallel()
	base := testUIDBase(t)
	bin := plugintest.Build(t, envPluginPackage)
	h := newTestHost(t, plugintest.NewSource(bin), func(c *Config) { c.UIDBase = base })

	keys := []Key{walletKey(bin, "staging"), walletKey(bin, "production"), tenantKey("a", bin)}
	seen := map[string]bool{}
	for _, key := range keys {
		p, err := h.Get(t.Context(), key)
		require.NoError(t, err)
		got, err := p.LookupUser(t.Context(), sdk.LookupUserRequest{PlayerID: "p"})
		require.NoError(t, err)
		want := strconv.FormatUint(uint64(base)+uint64(2*key.TenantID), 10)
		if key.Env == "production" {
			want = strconv.FormatUint(uint64(base)+uint64(2*key.TenantID+1), 10)
		}
		require.Equal(t, want, got.UserID, "%s/%s", key.PartnerCode, key.Env)
		require.Equal(t, want, got.ErrorCode, "gid = uid")
		require.False(t, seen[got.UserID], "a user of its own")
		seen[got.UserID] = true

		uid, gid, perm := ownerOf(t, filepath.Join(h.work, key.PartnerCode, key.Env))
		require.Equal(t, want, strconv.Itoa(uid))
		require.Equal(t, want, strconv.Itoa(gid))
		require.Equal(t, os.FileMode(0o700), perm)
		_, _, perm = ownerOf(t, filepath.Join(h.work, key.PartnerCode))
		require.Equal(t, os.FileMode(0o711), perm)
	}
	_, _, perm := ownerOf(t, h.cache)
	require.Equal(t, os.FileMode(0o711), perm, "binaries are reachable by name, the list is not")
	_, _, perm = ownerOf(t, filepath.Join(h.cache, bin.SHA256))
	require.Equal(t, os.FileMode(0o555), perm)

	// A tenant without an id, or beyond the range, runs nothing.
	_, err := h.Get(t.Context(), Key{PartnerCode: "noid", Env: "staging", SHA256: bin.SHA256})
	require.ErrorIs(t, err, ErrInvalidKey)
}

func TestWorkingDirectoryOfTheSharedUserIsHandedOver(t *testing.T) {
	t.Parallel()
	base := testUIDBase(t)
	bin := plugintest.Build(t, envPluginPackage)
	const shared = 47312
	h := newTestHost(t, plugintest.NewSource(bin), func(c *Config) {
		c.UIDBase = base
		c.RunAsUser = strconv.Itoa(shared) + ":" + strconv.Itoa(shared)
	})
	key := walletKey(bin, "staging")
	uid := int(uidOf(t, base, key))

	// What the shared user left: a data file, a subdirectory, a file with
	// a second name (which must not change hands), and root's file.
	dir := filepath.Join(h.work, "acme", "staging")
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "sub"), 0o700))
	for _, f := range []string{"wallet.json", "sub/data", "linked"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, f), []byte("{}"), 0o600))
	}
	other := filepath.Join(h.work, "elsewhere")
	require.NoError(t, os.Link(filepath.Join(dir, "linked"), other))
	for _, f := range []string{"", "wallet.json", "sub", "sub/data", "linked"} {
		require.NoError(t, os.Lchown(filepath.Join(dir, f), shared, shared))
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "roots"), nil, 0o600))

	requireAnswers(t, h.Host, key)
	for _, f := range []string{"", "wallet.json", "sub", "sub/data"} {
		got, _, _ := ownerOf(t, filepath.Join(dir, f))
		require.Equal(t, uid, got, f)
	}
	got, _, _ := ownerOf(t, other)
	require.Equal(t, shared, got, "a hard-linked file is left alone")
	got, _, _ = ownerOf(t, filepath.Join(dir, "roots"))
	require.Zero(t, got, "what no plugin user owned is left alone")
}

func TestTenantCannotReachAnotherTenantsPlugin(t *testing.T) {
	t.Parallel()
	base := testUIDBase(t)
	s := setupHostile(t, func(c *Config) { c.UIDBase = base })
	key := s.evil(t, "")
	requireAnswers(t, s.Host, key)

	// The bystander's data, readable by anyone who reaches it.
	byDir := filepath.Join(s.work, "bystander", "staging")
	data := filepath.Join(byDir, "wallet.json")
	require.NoError(t, os.WriteFile(data, []byte(`{"balances":{}}`), 0o644))
	byUID := int(uidOf(t, base, s.bystander))
	require.NoError(t, os.Chown(data, byUID, byUID))

	for _, tt := range []struct{ op, arg, want string }{
		{"read", data, "permission denied"},
		{"write", data, "permission denied"},
		{"list", byDir, "permission denied"},
		{"list", s.work, "permission denied"},
		{"list", s.cache, "permission denied"},
		{"kill", strconv.Itoa(s.byPID), "operation not permitted"},
	} {
		res, err := fulfil(t.Context(), s.Host, key, tt.op+":"+tt.arg)
		require.NoError(t, err)
		require.Contains(t, res.Reason, tt.want, "%s %s", tt.op, tt.arg)
	}
	got, err := os.ReadFile(data)
	require.NoError(t, err)
	require.JSONEq(t, `{"balances":{}}`, string(got))
	s.requireContained(t)

	// Its own directory it may use.
	own := filepath.Join(s.work, "evil", "staging", "notes")
	res, err := fulfil(t.Context(), s.Host, key, "write:"+own)
	require.NoError(t, err)
	require.Equal(t, "ok ", res.Reason)
}

func TestForkBombDoesNotStarveOtherTenants(t *testing.T) {
	t.Parallel()
	base := testUIDBase(t)
	const limit = 120
	hostile := plugintest.Build(t, hostilePackage)
	env := plugintest.Build(t, envPluginPackage)
	h := newTestHost(t, plugintest.NewSource(hostile, env), func(c *Config) {
		c.UIDBase = base
		c.Limits.Processes = limit
	})
	evil := tenantKey("evil", hostile)
	evilUID := int(uidOf(t, base, evil))

	res, err := fulfil(t.Context(), h.Host, evil, "fork")
	require.NoError(t, err)
	require.Contains(t, res.Reason, "resource temporarily unavailable", "stopped by the limit")

	// Other tenants start (a Go runtime needs threads) and work while the
	// bomb holds its own user's whole budget.
	for _, partner := range []string{"bystander", "a"} {
		requireAnswers(t, h.Host, tenantKey(partner, env))
	}
	require.NotEmpty(t, processesOf(evilUID))
	require.LessOrEqual(t, len(processesOf(evilUID)), limit)
	require.Len(t, processesOf(int(uidOf(t, base, tenantKey("bystander", env)))), 1)
}
