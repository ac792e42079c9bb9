package host

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/plugins/plugintest"
	"github.com/partnerhub/partnerhub/plugins/sdk"
)

const hostilePackage = "github.com/partnerhub/partnerhub/plugins/host/testdata/hostile"

// hostileSetup is a Host running the hostile plugin for tenant "evil" next
// to a well-behaved plugin for tenant "bystander", which must keep
// answering whatever evil does.
type hostileSetup struct {
	testHost
	hostile   plugintest.Binary
	bystander Key
	byPID     int
}

func setupHostile(t *testing.T, configure ...func(*Config)) hostileSetup {
	t.Helper()
	hostile := plugintest.Build(t, hostilePackage)
	env := plugintest.Build(t, envPluginPackage)
	h := newTestHost(t, plugintest.NewSource(hostile, env), configure...)
	s := hostileSetup{testHost: h, hostile: hostile, bystander: tenantKey("bystander", env)}
	requireAnswers(t, h.Host, s.bystander)
	s.byPID = h.running("bystander", "staging").pid
	return s
}

// evil is the hostile plugin's key; mode, if set, is what it does at start.
func (s hostileSetup) evil(t *testing.T, mode string) Key {
	t.Helper()
	if mode != "" {
		dir := filepath.Join(s.work, "evil", "staging")
		require.NoError(t, os.MkdirAll(dir, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "mode"), []byte(mode), 0o644))
	}
	return tenantKey("evil", s.hostile)
}

// requireContained checks that the host and the bystander's process are
// unaffected.
func (s hostileSetup) requireContained(t *testing.T) {
	t.Helper()
	requireAnswers(t, s.Host, s.bystander)
	require.Equal(t, s.byPID, s.running("bystander", "staging").pid, "the bystander's process was never restarted")
}

func TestHostilePluginCrashesMidCall(t *testing.T) {
	t.Parallel()
	s := setupHostile(t)
	key := s.evil(t, "")
	requireAnswers(t, s.Host, key)
	pid := s.running("evil", "staging").pid

	_, err := fulfil(t.Context(), s.Host, key, "crash")
	require.ErrorIs(t, err, ErrCrashed)
	require.NotErrorIs(t, err, ErrTimeout)
	require.ErrorContains(t, err, "evil/staging")
	require.ErrorContains(t, err, "exit status 3")
	require.False(t, pidAlive(pid))
	s.requireContained(t)
	requireAnswers(t, s.Host, key) // restarted on next use
}

func TestHostilePluginHangsForever(t *testing.T) {
	t.Parallel()
	s := setupHostile(t, func(c *Config) { c.CallTimeout = 300 * time.Millisecond })
	key := s.evil(t, "")

	_, err := fulfil(t.Context(), s.Host, key, "hang")
	require.ErrorIs(t, err, ErrTimeout)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.NotErrorIs(t, err, ErrCrashed)
	s.requireContained(t)
	// The stuck call holds one call slot; the process answers on the others.
	requireAnswers(t, s.Host, key)
}

func TestHostilePluginAnswersSlowly(t *testing.T) {
	t.Parallel()
	s := setupHostile(t)
	key := s.evil(t, "")

	// Slow but within the deadline: fine, and nobody else waits for it.
	done := make(chan error, 1)
	go func() {
		res, err := fulfil(t.Context(), s.Host, key, "slow")
		if err == nil && res.Outcome != sdk.OutcomeFulfilled {
			err = errUnexpected(res)
		}
		done <- err
	}()
	s.requireContained(t)
	require.NoError(t, <-done)

	// Slower than the caller's deadline: a timeout.
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err := fulfil(ctx, s.Host, key, "slow")
	require.ErrorIs(t, err, ErrTimeout)
	require.NotErrorIs(t, err, ErrCrashed)
}

type errUnexpectedResult sdk.Result

func (e errUnexpectedResult) Error() string { return "unexpected result " + string(e.Outcome) }

func errUnexpected(r sdk.Result) error { return errUnexpectedResult(r) }

func TestHostilePluginWritesGarbageToStdout(t *testing.T) {
	t.Parallel()

	t.Run("after the handshake", func(t *testing.T) {
		t.Parallel()
		s := setupHostile(t)
		key := s.evil(t, "")
		res, err := fulfil(t.Context(), s.Host, key, "garbage")
		require.NoError(t, err)
		require.Equal(t, sdk.OutcomeFulfilled, res.Outcome)
		requireAnswers(t, s.Host, key)
		s.requireContained(t)
	})

	t.Run("instead of the handshake", func(t *testing.T) {
		t.Parallel()
		s := setupHostile(t)
		_, err := s.Get(t.Context(), s.evil(t, "garbage"))
		require.ErrorIs(t, err, ErrStart)
		require.ErrorContains(t, err, "Unrecognized remote plugin message")
		require.Nil(t, s.running("evil", "staging"))
		s.requireContained(t)
	})
}

// TestHostilePluginCannotReadHostSecrets cannot be parallel: it sets a
// variable.
func TestHostilePluginCannotReadHostSecrets(t *testing.T) {
	const secret = "c2VjcmV0LXRoYXQtbXVzdC1ub3QtbGVhaw"
	t.Setenv("PARTNERHUB_SECRET_KEY", secret)
	t.Setenv("DATABASE_URL", "postgres://user:"+secret+"@db/partnerhub")
	s := setupHostile(t)

	p, err := s.Get(t.Context(), s.evil(t, ""))
	require.NoError(t, err)
	seen, err := p.LookupUser(t.Context(), sdk.LookupUserRequest{PlayerID: "p"})
	require.NoError(t, err)
	own, host, ok := strings.Cut(seen.ErrorMessage, "\n--\n")
	require.True(t, ok, "the plugin reported: %q", seen.ErrorMessage)

	require.NotContains(t, own, secret)
	require.NotContains(t, own, "DATABASE_URL")
	require.NotContains(t, own, "PARTNERHUB_SECRET_KEY")
	if os.Geteuid() != 0 {
		// Plugins share a non-root host's user, which may read its
		// /proc/<pid>/environ: documented, and why production runs as root.
		t.Log("not root: the plugin runs as the host's user; /proc check skipped")
		return
	}
	require.NotContains(t, host, secret)
	require.Contains(t, host, "permission denied")
	s.requireContained(t)
}

func TestHostilePluginAllocatesWithoutBound(t *testing.T) {
	t.Parallel()
	s := setupHostile(t, func(c *Config) { c.Limits.MemoryBytes = 1 << 30 })
	key := s.evil(t, "")
	requireAnswers(t, s.Host, key)

	_, err := fulfil(t.Context(), s.Host, key, "alloc")
	require.ErrorIs(t, err, ErrCrashed)
	require.NotErrorIs(t, err, ErrTimeout)
	s.requireContained(t)
	requireAnswers(t, s.Host, key)
}

func TestHostilePluginBurnsCPU(t *testing.T) {
	t.Parallel()
	s := setupHostile(t, func(c *Config) { c.Limits.CPUTime = time.Second })
	key := s.evil(t, "")

	_, err := fulfil(t.Context(), s.Host, key, "spin")
	require.ErrorIs(t, err, ErrCrashed)
	require.ErrorContains(t, err, "killed")
	s.requireContained(t)
}

func TestHostilePluginForksWithoutBound(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root: RLIMIT_NPROC counts every process of the user, so only a user of its own makes the bound testable")
	}
	// A uid of its own (no passwd entry needed), so that only this test's
	// plugins count against the limit.
	const uid = 47311
	const limit = 120
	s := setupHostile(t, func(c *Config) {
		c.RunAsUser = strconv.Itoa(uid) + ":" + strconv.Itoa(uid)
		c.Limits.Processes = limit
	})
	key := s.evil(t, "")
	requireAnswers(t, s.Host, key)
	pid := s.running("evil", "staging").pid

	res, err := fulfil(t.Context(), s.Host, key, "fork")
	require.NoError(t, err)
	spawned, err := strconv.Atoi(res.Reference)
	require.NoError(t, err)
	require.Contains(t, res.Reason, "resource temporarily unavailable", "stopped by the limit")
	require.Positive(t, spawned)
	require.Less(t, spawned, limit)
	require.LessOrEqual(t, len(processesOf(uid)), limit)
	require.NotEmpty(t, groupMembers(pid), "its children live in its process group")

	// Its children go when it goes (here: it crashes), even though they
	// were never the host's children.
	_, err = fulfil(t.Context(), s.Host, key, "crash")
	require.ErrorIs(t, err, ErrCrashed)
	require.Eventually(t, func() bool { return len(groupMembers(pid)) == 0 }, 10*time.Second, 10*time.Millisecond)
	s.requireContained(t)
	require.Len(t, processesOf(uid), 1, "only the bystander is left")

	// Close leaves nothing of that user either.
	requireAnswers(t, s.Host, key)
	_, err = fulfil(t.Context(), s.Host, key, "fork")
	require.NoError(t, err)
	require.NoError(t, s.Close())
	// Close has sent SIGKILL to the whole group; the kernel finishes them.
	require.Eventually(t, func() bool { return len(processesOf(uid)) == 0 }, 10*time.Second, 10*time.Millisecond)
}

func TestNotAPlugin(t *testing.T) {
	t.Parallel()

	for _, tt := range []struct{ name, mode, want string }{
		{"exits at once", "exit", "Failed to read any lines from plugin's stdout"},
		{"never answers", "silent", "timeout while waiting for plugin to start"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := setupHostile(t, func(c *Config) { c.StartTimeout = time.Second })
			_, err := s.Get(t.Context(), s.evil(t, tt.mode))
			require.ErrorIs(t, err, ErrStart)
			require.ErrorContains(t, err, tt.want)
			require.Nil(t, s.running("evil", "staging"))
			s.requireContained(t)
		})
	}

	t.Run("shell script, then backoff", func(t *testing.T) {
		t.Parallel()
		script := []byte("#!/bin/sh\necho 'I am not a plugin'\nexit 1\n")
		bin := plugintest.Binary{Bytes: script, SHA256: sha256Hex(script)}
		env := plugintest.Build(t, envPluginPackage)
		h := newTestHost(t, plugintest.NewSource(bin, env), func(c *Config) { c.RestartBackoff = time.Hour })
		requireAnswers(t, h.Host, tenantKey("bystander", env))
		key := tenantKey("evil", bin)

		for range 2 { // the first retry is immediate
			_, err := h.Get(t.Context(), key)
			require.ErrorIs(t, err, ErrStart)
			require.NotErrorIs(t, err, ErrBackoff)
		}
		_, err := h.Get(t.Context(), key)
		require.ErrorIs(t, err, ErrBackoff)
		require.ErrorIs(t, err, ErrStart)
		require.ErrorContains(t, err, "next start allowed in 1h")
		requireAnswers(t, h.Host, tenantKey("bystander", env))
	})
}
