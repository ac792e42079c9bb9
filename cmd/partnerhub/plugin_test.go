package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/internal/config"
	"github.com/partnerhub/partnerhub/payment"
)

func TestPluginPushUsage(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "plugin")
	require.NoError(t, os.WriteFile(file, []byte("\x7fELF"), 0o755))
	env := map[string]string{"PARTNERHUB_KEY": "phk_x", "PARTNERHUB_URL": "http://127.0.0.1:1"}
	getenv := func(k string) string { return env[k] }
	tests := []struct {
		name string
		args []string
	}{
		{"no verb", nil},
		{"unknown verb", []string{"pull"}},
		{"no file", []string{"push", "--tenant", "acme", "--name", "w", "--version", "1"}},
		{"two files", []string{"push", "--tenant", "acme", "--name", "w", "--version", "1", file, file}},
		{"no tenant", []string{"push", "--name", "w", "--version", "1", file}},
		{"no version", []string{"push", "--tenant", "acme", "--name", "w", file}},
		{"bad env", []string{"push", "--tenant", "acme", "--name", "w", "--version", "1", "--activate", "qa", file}},
		{"bad server", []string{"push", "--tenant", "acme", "--name", "w", "--version", "1", "--server", "ftp://x", file}},
		{"unknown flag", []string{"push", "--tenant", "acme", "--name", "w", "--version", "1", "--force", file}},
		{"missing file", []string{"push", "--tenant", "acme", "--name", "w", "--version", "1", file + ".nope"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := pluginCmd(context.Background(), tt.args, getenv, &stdout, &stderr)
			require.ErrorIs(t, err, config.ErrInvalid, "usage errors exit 2")
			require.Empty(t, stdout.String())
		})
	}
	var stderr bytes.Buffer
	err := pluginCmd(context.Background(), []string{"push", "--tenant", "acme", "--name", "w", "--version", "1", file},
		func(string) string { return "" }, &bytes.Buffer{}, &stderr)
	require.ErrorIs(t, err, config.ErrInvalid, "no key anywhere")
	require.Contains(t, err.Error(), "PARTNERHUB_KEY")
}

func TestProgressPlainLines(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	p := newProgress(&out, 400, "uploading w 1")
	for range 8 {
		_, err := p.Write(make([]byte, 50))
		require.NoError(t, err)
	}
	p.done()
	require.Equal(t, "uploading w 1: 400 B\n"+
		"uploading w 1: 25% (100 B of 400 B)\n"+
		"uploading w 1: 50% (200 B of 400 B)\n"+
		"uploading w 1: 75% (300 B of 400 B)\n"+
		"uploading w 1: 100% (400 B of 400 B)\n", out.String(), "no terminal: a line per quarter, no bar")
}

// pushCLI runs the built `partnerhub plugin push` against s and returns its
// exit code, stdout and stderr.
func pushCLI(t *testing.T, s *server, key string, args ...string) (int, string, string) {
	t.Helper()
	bins, err := binaries()
	require.NoError(t, err)
	cmd := exec.Command(bins["partnerhub"], append([]string{"plugin", "push"}, args...)...)
	cmd.Env = []string{"PARTNERHUB_URL=" + s.url, "PARTNERHUB_KEY=" + key}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), stdout.String(), stderr.String()
	}
	require.NoError(t, err)
	return 0, stdout.String(), stderr.String()
}

// TestPluginPushEndToEnd: the CLI uploads the wallet plugin to a real
// server and activates it in staging; a signed payment event is then
// fulfilled by that uploaded plugin. A second push of the same bytes is a
// no-op; a broken plugin is refused and the wallet stays active.
func TestPluginPushEndToEnd(t *testing.T) {
	s := startServer(t)
	signingKey := s.createTenant(t, "acme", 1042)
	bins, err := binaries()
	require.NoError(t, err)

	code, stdout, stderr := pushCLI(t, s, s.operatorKey, "--tenant", "acme", "--name", "wallet", "--version", "1.0.0",
		"--activate", "staging", bins["wallet"])
	require.Equal(t, 0, code, "stdout: %s\nstderr: %s", stdout, stderr)
	require.Contains(t, stdout, "uploaded plugin ")
	require.Contains(t, stdout, "active in staging")
	require.Contains(t, stdout, "protocol 1")
	require.Contains(t, stderr, "uploading wallet 1.0.0: 100%", "plain progress lines when stderr is not a terminal")

	status, out := s.sendEvent(t, "acme", 1042, signingKey, "C-PUSH-1-P")
	require.Equal(t, http.StatusOK, status, out)
	require.Eventually(t, func() bool { return s.fulfilmentState(t, "C-PUSH-1-P") == payment.StateSucceeded },
		20*time.Second, 50*time.Millisecond, "the uploaded plugin fulfils")
	require.Equal(t, map[string]string{"NGN": "100.5"}, normalise(s.wallet(t, "acme").Balances["77"]))

	code, stdout, _ = pushCLI(t, s, s.operatorKey, "--tenant", "acme", "--name", "wallet", "--version", "1.0.0", bins["wallet"])
	require.Equal(t, 0, code)
	require.Contains(t, stdout, "already uploaded")

	broken := filepath.Join(tempDir(t), "broken")
	require.NoError(t, os.WriteFile(broken, []byte("#!/bin/sh\necho nope\n"), 0o755))
	code, stdout, stderr = pushCLI(t, s, s.operatorKey, "--tenant", "acme", "--name", "wallet", "--version", "1.0.0", broken)
	require.Equal(t, 1, code, "same version, other bytes: refused")
	require.Contains(t, stderr, "409")
	require.Empty(t, stdout)

	code, _, stderr = pushCLI(t, s, s.operatorKey, "--tenant", "acme", "--name", "broken", "--version", "1", "--activate", "staging", broken)
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "handshake")
	require.Contains(t, stderr, "previous plugin stays active")

	status, out = s.sendEvent(t, "acme", 1042, signingKey, "C-PUSH-2-P")
	require.Equal(t, http.StatusOK, status, out)
	require.Eventually(t, func() bool { return s.fulfilmentState(t, "C-PUSH-2-P") == payment.StateSucceeded },
		20*time.Second, 50*time.Millisecond, "the wallet is still the active plugin")

	code, _, stderr = pushCLI(t, s, "phk_nobody_000000000000000000000000000000000", "--tenant", "acme", "--name", "x", "--version", "1", broken)
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "401")
	code, _, _ = pushCLI(t, s, s.operatorKey, "--tenant", "acme", "--name", "x", broken)
	require.Equal(t, 2, code, "usage")
	require.False(t, strings.Contains(s.logs.String(), s.operatorKey))
}
