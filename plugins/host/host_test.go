package host

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/plugins/plugintest"
	"github.com/partnerhub/partnerhub/plugins/sdk"
)

const envPluginPackage = "github.com/partnerhub/partnerhub/plugins/host/testdata/envplugin"

func TestMain(m *testing.M) {
	SandboxMain() // tests with resource limits re-execute this binary as the shim
	code := m.Run()
	// Every test closes its host; a child still alive here is a leak.
	if left := leftoverChildren(); code == 0 && len(left) > 0 {
		fmt.Fprintf(os.Stderr, "plugin processes left running: %v\n", left)
		code = 1
	}
	os.Exit(code)
}

// reachableTempDir is t.TempDir() opened up (0755, parent too) so that a
// plugin running as nobody can reach binaries and working directories in it.
func reachableTempDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.Chmod(filepath.Dir(dir), 0o755))
	require.NoError(t, os.Chmod(dir, 0o755))
	return dir
}

type testHost struct {
	*Host
	cache, work string
}

// newTestHost returns a Host over src in fresh directories, closed (and its
// processes checked dead) by t.Cleanup.
func newTestHost(t *testing.T, src BlobSource, configure ...func(*Config)) testHost {
	t.Helper()
	root := reachableTempDir(t)
	cfg := Config{
		CacheDir: filepath.Join(root, "cache"),
		WorkDir:  filepath.Join(root, "work"),
		Logger:   slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, f := range configure {
		f(&cfg)
	}
	h, err := New(cfg, src)
	require.NoError(t, err)
	t.Cleanup(func() {
		pids := h.pids()
		require.NoError(t, h.Close())
		for _, pid := range pids {
			require.Falsef(t, pidAlive(pid), "pid %d still alive after Close", pid)
		}
	})
	return testHost{Host: h, cache: cfg.CacheDir, work: cfg.WorkDir}
}

// pids lists the processes the host runs now.
func (h *Host) pids() []int {
	h.mu.Lock()
	defer h.mu.Unlock()
	var pids []int
	for _, s := range h.slots {
		if s.inst != nil {
			pids = append(pids, s.inst.pid)
		}
	}
	return pids
}

// running returns the instance serving partner/env, or nil.
func (h *Host) running(partner, env string) *instance {
	h.mu.Lock()
	defer h.mu.Unlock()
	if s := h.slots[slotKey{partner, env}]; s != nil {
		return s.inst
	}
	return nil
}

func walletKey(bin plugintest.Binary, env string) Key {
	return Key{PartnerCode: "acme", TenantID: testTenantIDs["acme"], Env: env, SHA256: bin.SHA256}
}

func gold(amount string) sdk.Item {
	return sdk.Item{SKU: "gold", Quantity: 1, DigitalCurrencyCode: "GOLD",
		DigitalAmount: decimal.NewNullDecimal(decimal.RequireFromString(amount))}
}

func TestWalletFulfilsOnceThroughRealProcess(t *testing.T) {
	t.Parallel()
	bin := plugintest.Wallet(t)
	src := plugintest.NewSource(bin)
	h := newTestHost(t, src)
	ctx := t.Context()

	p, err := h.Get(ctx, walletKey(bin, "staging"))
	require.NoError(t, err)
	desc, err := p.Describe(ctx)
	require.NoError(t, err)
	require.Equal(t, "wallet", desc.Name)

	req := sdk.FulfilRequest{
		IdempotencyKey: "fulfil:PAY-1", PartnerCode: "acme", Environment: "staging", PlayerID: "player-1",
		Payment: sdk.Payment{Reference: "PAY-1", Amount: decimal.RequireFromString("1000.50"), CurrencyCode: "NGN"},
		Items:   []sdk.Item{gold("250.25")},
	}
	first, err := p.Fulfil(ctx, req)
	require.NoError(t, err)
	require.Equal(t, sdk.OutcomeFulfilled, first.Outcome)

	p, err = h.Get(ctx, walletKey(bin, "staging"))
	require.NoError(t, err)
	again, err := p.Fulfil(ctx, req)
	require.NoError(t, err)
	require.Equal(t, first, again)

	// The wallet keeps its file in the working directory the host gave it.
	data, err := os.ReadFile(filepath.Join(h.work, "acme", "staging", "wallet.json"))
	require.NoError(t, err)
	var f struct {
		Balances map[string]map[string]string `json:"balances"`
		Applied  map[string]json.RawMessage   `json:"applied"`
	}
	require.NoError(t, json.Unmarshal(data, &f))
	require.Equal(t, map[string]map[string]string{"player-1": {"GOLD": "250.25"}}, f.Balances)
	require.Len(t, f.Applied, 1)

	rev, err := p.Reverse(ctx, sdk.ReverseRequest{
		IdempotencyKey: "reverse:PAY-1", PartnerCode: "acme", Environment: "staging", Reason: sdk.ReasonChargeback,
		Payment: req.Payment,
	})
	require.NoError(t, err)
	require.Equal(t, sdk.OutcomeFulfilled, rev.Outcome)
	data, err = os.ReadFile(filepath.Join(h.work, "acme", "staging", "wallet.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &f))
	require.Equal(t, map[string]map[string]string{"player-1": {"GOLD": "0"}}, f.Balances)

	require.Equal(t, 1, src.Fetches(bin.SHA256), "the cached binary is reused")
	fi, err := os.Stat(filepath.Join(h.cache, bin.SHA256))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o555), fi.Mode().Perm())
}

func TestGetReusesTheProcess(t *testing.T) {
	t.Parallel()
	bin := plugintest.Build(t, envPluginPackage)
	h := newTestHost(t, plugintest.NewSource(bin))
	key := walletKey(bin, "staging")
	key.Settings = map[string]string{"a": "1"}

	_, err := h.Get(t.Context(), key)
	require.NoError(t, err)
	first := h.running("acme", "staging")
	require.NotNil(t, first)

	key.Settings = map[string]string{"a": "1"} // equal, not the same map
	_, err = h.Get(t.Context(), key)
	require.NoError(t, err)
	require.Same(t, first, h.running("acme", "staging"))
}

func TestConcurrentGetsStartOneProcess(t *testing.T) {
	t.Parallel()
	bin := plugintest.Build(t, envPluginPackage)
	src := plugintest.NewSource(bin)
	h := newTestHost(t, src)

	const n = 12
	var wg sync.WaitGroup
	plugins := make([]sdk.Plugin, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { plugins[i], errs[i] = h.Get(t.Context(), walletKey(bin, "staging")) })
	}
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i])
		require.Same(t, plugins[0].(*client).inst, plugins[i].(*client).inst)
	}
	require.Equal(t, 1, src.Fetches(bin.SHA256))
	require.Len(t, h.pids(), 1)
}

func TestBlobWithWrongChecksumStartsNothing(t *testing.T) {
	t.Parallel()
	wallet := plugintest.Wallet(t)
	env := plugintest.Build(t, envPluginPackage)
	src := plugintest.NewSource()
	src.Put(wallet.SHA256, env.Bytes) // the bytes do not hash to the key
	h := newTestHost(t, src)

	_, err := h.Get(t.Context(), walletKey(wallet, "staging"))
	require.ErrorIs(t, err, ErrChecksum)
	require.NoFileExists(t, filepath.Join(h.cache, wallet.SHA256))
	require.NoDirExists(t, filepath.Join(h.work, "acme"), "no working directory, so no process")
	require.Empty(t, h.pids())
}

func TestTamperedCacheFileIsRefusedAndRefetched(t *testing.T) {
	t.Parallel()
	bin := plugintest.Build(t, envPluginPackage)
	src := plugintest.NewSource(bin)
	h := newTestHost(t, src)
	cached := filepath.Join(h.cache, bin.SHA256)
	require.NoError(t, os.WriteFile(cached, []byte("#!/bin/sh\necho pwned\n"), 0o555))

	// go-plugin checks the file before exec.
	_, err := h.Get(t.Context(), walletKey(bin, "staging"))
	require.ErrorIs(t, err, ErrChecksum)
	require.NoFileExists(t, cached, "a bad cached file is dropped")
	require.Empty(t, h.pids())
	require.Zero(t, src.Fetches(bin.SHA256))

	p, err := h.Get(t.Context(), walletKey(bin, "staging"))
	require.NoError(t, err)
	_, err = p.Describe(t.Context())
	require.NoError(t, err)
	require.Equal(t, 1, src.Fetches(bin.SHA256))
}

// TestPluginEnvironmentIsEmpty cannot be parallel: it sets a variable.
func TestPluginEnvironmentIsEmpty(t *testing.T) {
	t.Setenv("PARTNERHUB_SECRET_TEST", "x")
	bin := plugintest.Build(t, envPluginPackage)
	h := newTestHost(t, plugintest.NewSource(bin))

	p, err := h.Get(t.Context(), walletKey(bin, "production"))
	require.NoError(t, err)
	seen, err := p.LookupUser(t.Context(), sdk.LookupUserRequest{PlayerID: "p"})
	require.NoError(t, err)

	require.NotContains(t, seen.ErrorMessage, "PARTNERHUB_SECRET_TEST")
	// Only go-plugin's own handshake variables may be there.
	allowed := map[string]bool{
		sdk.Handshake.MagicCookieKey: true, "PLUGIN_MIN_PORT": true, "PLUGIN_MAX_PORT": true,
		"PLUGIN_PROTOCOL_VERSIONS": true, "PLUGIN_CLIENT_CERT": true, "PLUGIN_UNIX_SOCKET_DIR": true,
	}
	vars := strings.Split(seen.ErrorMessage, "\x00")
	require.NotEmpty(t, vars)
	for _, v := range vars {
		name, _, _ := strings.Cut(v, "=")
		require.Truef(t, allowed[name], "plugin sees host variable %q", name)
	}
	require.Equal(t, filepath.Join(h.work, "acme", "production"), seen.ExternalReference)
}

func TestPluginRunsAsNobodyWhenHostIsRoot(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	nobody, err := user.Lookup("nobody")
	require.NoError(t, err)
	bin := plugintest.Build(t, envPluginPackage)
	h := newTestHost(t, plugintest.NewSource(bin))

	p, err := h.Get(t.Context(), walletKey(bin, "staging"))
	require.NoError(t, err)
	seen, err := p.LookupUser(t.Context(), sdk.LookupUserRequest{PlayerID: "p"})
	require.NoError(t, err)
	require.Equal(t, nobody.Uid, seen.UserID)
	require.Equal(t, nobody.Gid, seen.ErrorCode)

	uid, gid, perm := ownerOf(t, filepath.Join(h.work, "acme", "staging"))
	require.Equal(t, nobody.Uid, strconv.Itoa(uid))
	require.Equal(t, nobody.Gid, strconv.Itoa(gid))
	require.Equal(t, os.FileMode(0o700), perm)
}

func TestCrashedPluginIsRestarted(t *testing.T) {
	t.Parallel()
	bin := plugintest.Build(t, envPluginPackage)
	h := newTestHost(t, plugintest.NewSource(bin))
	ctx := t.Context()

	p, err := h.Get(ctx, walletKey(bin, "staging"))
	require.NoError(t, err)
	crashed := h.running("acme", "staging")
	_, err = p.Fulfil(ctx, sdk.FulfilRequest{IdempotencyKey: "k", PlayerID: "crash"})
	require.Error(t, err)
	require.Eventually(t, crashed.client.Exited, 5*time.Second, 10*time.Millisecond)

	p, err = h.Get(ctx, walletKey(bin, "staging"))
	require.NoError(t, err)
	res, err := p.Fulfil(ctx, sdk.FulfilRequest{IdempotencyKey: "k", PlayerID: "p"})
	require.NoError(t, err)
	require.Equal(t, sdk.OutcomeFulfilled, res.Outcome)
	restarted := h.running("acme", "staging")
	require.NotSame(t, crashed, restarted)
	require.NotEqual(t, crashed.pid, restarted.pid)
	require.False(t, pidAlive(crashed.pid))
}

func TestCloseKillsEveryProcess(t *testing.T) {
	t.Parallel()
	bin := plugintest.Build(t, envPluginPackage)
	h := newTestHost(t, plugintest.NewSource(bin))
	ctx := t.Context()

	var plugins []sdk.Plugin
	var insts []*instance
	for _, env := range []string{"staging", "production"} {
		p, err := h.Get(ctx, walletKey(bin, env))
		require.NoError(t, err)
		plugins = append(plugins, p)
		insts = append(insts, h.running("acme", env))
	}
	for _, inst := range insts {
		require.True(t, pidAlive(inst.pid))
	}

	require.NoError(t, h.Close())
	for _, inst := range insts {
		require.True(t, inst.client.Exited())
		require.False(t, pidAlive(inst.pid))
	}
	_, err := h.Get(ctx, walletKey(bin, "staging"))
	require.ErrorIs(t, err, ErrClosed)
	_, err = plugins[0].Describe(ctx)
	require.ErrorIs(t, err, ErrClosed)
	require.NoError(t, h.Close(), "Close is idempotent")
}

func TestCallTimeout(t *testing.T) {
	t.Parallel()
	bin := plugintest.Build(t, envPluginPackage)
	h := newTestHost(t, plugintest.NewSource(bin), func(c *Config) { c.CallTimeout = 300 * time.Millisecond })

	p, err := h.Get(t.Context(), walletKey(bin, "staging"))
	require.NoError(t, err)
	began := time.Now()
	_, err = p.Fulfil(t.Context(), sdk.FulfilRequest{IdempotencyKey: "k", PlayerID: "sleep"})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(began), 3*time.Second)

	// An earlier deadline on ctx wins.
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	began = time.Now()
	_, err = p.Fulfil(ctx, sdk.FulfilRequest{IdempotencyKey: "k", PlayerID: "sleep"})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(began), 250*time.Millisecond)

	// The process survived its slow calls.
	res, err := p.Fulfil(t.Context(), sdk.FulfilRequest{IdempotencyKey: "k", PlayerID: "p"})
	require.NoError(t, err)
	require.Equal(t, sdk.OutcomeFulfilled, res.Outcome)
}

func TestNewSettingsOrBinaryReplaceTheProcess(t *testing.T) {
	t.Parallel()
	env := plugintest.Build(t, envPluginPackage)
	wallet := plugintest.Wallet(t)
	h := newTestHost(t, plugintest.NewSource(env, wallet))
	ctx := t.Context()

	key := walletKey(env, "staging")
	key.Settings = map[string]string{"token": "old"}
	_, err := h.Get(ctx, key)
	require.NoError(t, err)
	old := h.running("acme", "staging")

	key.Settings = map[string]string{"token": "new"}
	_, err = h.Get(ctx, key)
	require.NoError(t, err)
	replaced := h.running("acme", "staging")
	require.NotEqual(t, old.pid, replaced.pid)
	require.True(t, old.client.Exited())

	p, err := h.Get(ctx, walletKey(wallet, "staging"))
	require.NoError(t, err)
	desc, err := p.Describe(ctx)
	require.NoError(t, err)
	require.Equal(t, "wallet", desc.Name)
	require.True(t, replaced.client.Exited())
	require.Len(t, h.pids(), 1, "one process per tenant environment")
}

func TestStartFailures(t *testing.T) {
	t.Parallel()
	bin := plugintest.Build(t, envPluginPackage)

	t.Run("settings refused", func(t *testing.T) {
		t.Parallel()
		h := newTestHost(t, plugintest.NewSource(bin))
		key := walletKey(bin, "staging")
		key.Settings = map[string]string{"fail": "yes"}
		_, err := h.Get(t.Context(), key)
		require.ErrorIs(t, err, ErrStart)
		require.ErrorIs(t, err, sdk.ErrInvalidSettings)
		require.Empty(t, h.pids())
	})

	t.Run("wrong protocol", func(t *testing.T) {
		t.Parallel()
		h := newTestHost(t, plugintest.NewSource(bin))
		dir := filepath.Join(h.work, "acme", "staging")
		require.NoError(t, os.MkdirAll(dir, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "protocol"), []byte("2"), 0o644))
		_, err := h.Get(t.Context(), walletKey(bin, "staging"))
		require.ErrorIs(t, err, ErrStart)
		require.ErrorContains(t, err, "protocol 2")
		require.Empty(t, h.pids())
	})

	t.Run("not a plugin", func(t *testing.T) {
		t.Parallel()
		script := []byte("#!/bin/sh\nexit 0\n")
		src := plugintest.NewSource(plugintest.Binary{Bytes: script, SHA256: sha256Hex(script)})
		h := newTestHost(t, src, func(c *Config) { c.StartTimeout = 2 * time.Second })
		_, err := h.Get(t.Context(), Key{PartnerCode: "acme", Env: "staging", SHA256: sha256Hex(script)})
		require.ErrorIs(t, err, ErrStart)
		require.Empty(t, h.pids())
	})

	t.Run("blob source fails", func(t *testing.T) {
		t.Parallel()
		h := newTestHost(t, plugintest.NewSource())
		_, err := h.Get(t.Context(), walletKey(bin, "staging"))
		require.ErrorIs(t, err, ErrStart)
		require.ErrorIs(t, err, plugintest.ErrNotFound)
	})
}
