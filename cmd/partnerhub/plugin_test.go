package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
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

// fakeAPI answers push's requests: uploads succeed as plugin 7;
// activation answers with activate (nil: the connection is dropped before
// an answer, after switching when switches); GET of the environment's
// plugin fails when getFails, else shows the active one.
type fakeAPI struct {
	mu       sync.Mutex
	active   int64
	switches bool
	getFails bool
	activate func(w http.ResponseWriter)
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case r.Method == http.MethodPost:
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"id":7,"name":"w","version":"1","sha256":"ab","size":4,"os":"linux","arch":"amd64","activeIn":[]}`)
	case r.Method == http.MethodPut && f.activate != nil:
		f.activate(w)
	case r.Method == http.MethodPut:
		if f.switches {
			f.active = 7
		}
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			_ = conn.Close()
		}
	case f.getFails:
		w.WriteHeader(http.StatusBadGateway)
	case f.active == 0:
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"title":"Not Found","status":404,"detail":"this environment has no active plugin"}`)
	default:
		_, _ = fmt.Fprintf(w, `{"environment":"staging","plugin":{"id":%d}}`, f.active)
	}
}

// TestPluginPushActivationAnswerLost: when the connection drops before the
// activation's answer, push does not claim the previous plugin stays
// active: it asks the server which one is, and says how to check.
func TestPluginPushActivationAnswerLost(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "plugin")
	require.NoError(t, os.WriteFile(file, []byte("\x7fELF"), 0o755))
	tests := []struct {
		name    string
		api     *fakeAPI
		ok      bool
		want    []string
		notWant string
	}{
		{"switched before the drop", &fakeAPI{switches: true}, true, []string{"active in staging: plugin 7", "answer was lost"}, ""},
		{"not switched (yet)", &fakeAPI{active: 6}, false,
			[]string{"plugin 6 was still active", "may still be finishing", "GET http"}, "previous plugin stays active"},
		{"none active (yet)", &fakeAPI{}, false, []string{"no plugin was active", "GET http"}, "previous plugin stays active"},
		{"cannot check", &fakeAPI{getFails: true}, false, []string{"outcome is unknown", "GET http"}, "previous plugin stays active"},
		{"server timed out", &fakeAPI{active: 6, activate: func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusGatewayTimeout)
		}}, false, []string{"504", "may still be finishing"}, "previous plugin stays active"},
		{"refused", &fakeAPI{active: 6, activate: func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusUnprocessableEntity)
			_, _ = io.WriteString(w, `{"title":"plugin not activated (handshake)","status":422}`)
		}}, false, []string{"422", "previous plugin stays active"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(tt.api)
			t.Cleanup(srv.Close)
			var stdout, stderr bytes.Buffer
			err := pluginCmd(context.Background(), []string{"push", "--tenant", "acme", "--name", "w", "--version", "1",
				"--activate", "staging", "--server", srv.URL, "--key", "phk_x", file}, func(string) string { return "" }, &stdout, &stderr)
			got := stdout.String()
			if tt.ok {
				require.NoError(t, err, stderr.String())
			} else {
				require.Error(t, err)
				require.NotErrorIs(t, err, config.ErrInvalid, "exit 1, not usage")
				got = err.Error()
			}
			for _, w := range tt.want {
				require.Contains(t, got, w)
			}
			if tt.notWant != "" {
				require.NotContains(t, got, tt.notWant)
			}
		})
	}
}
