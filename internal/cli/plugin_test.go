package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// run runs the CLI against server with key, and returns its exit code,
// stdout and stderr.
func runCLI(t *testing.T, server, key string, args ...string) (int, string, string) {
	t.Helper()
	env := map[string]string{"PARTNERHUB_URL": server, "PARTNERHUB_KEY": key}
	var stdout, stderr bytes.Buffer
	err := Run(context.Background(), args, func(k string) string { return env[k] }, &stdout, &stderr)
	if err != nil {
		fmt.Fprintln(&stderr, err)
	}
	return ExitCode(err), stdout.String(), stderr.String()
}

func TestStudioUsage(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "plugin")
	require.NoError(t, os.WriteFile(file, []byte("\x7fELF"), 0o755))
	push := []string{"plugin", "push", "--tenant", "acme", "--name", "w", "--version", "1"}
	tests := []struct {
		name string
		args []string
	}{
		{"plugin alone", []string{"plugin"}},
		{"unknown plugin verb", []string{"plugin", "pull"}},
		{"push: no file", push},
		{"push: two files", append(push[:len(push):len(push)], file, file)},
		{"push: no tenant", []string{"plugin", "push", "--name", "w", "--version", "1", file}},
		{"push: no version", []string{"plugin", "push", "--tenant", "acme", "--name", "w", file}},
		{"push: bad env", append(push[:len(push):len(push)], "--activate", "qa", file)},
		{"push: unknown flag", append(push[:len(push):len(push)], "--force", file)},
		{"push: missing file", append(push[:len(push):len(push)], file+".nope")},
		{"push: a directory", append(push[:len(push):len(push)], t.TempDir())},
		{"activate: no id", []string{"plugin", "activate", "--tenant", "acme"}},
		{"activate: bad id", []string{"plugin", "activate", "--tenant", "acme", "seven"}},
		{"activate: bad env", []string{"plugin", "activate", "--tenant", "acme", "--env", "qa", "7"}},
		{"settings: no file", []string{"plugin", "settings", "set", "--tenant", "acme"}},
		{"payments list: bad time", []string{"payments", "list", "--tenant", "acme", "--from", "yesterday"}},
		{"payments list: bad limit", []string{"payments", "list", "--tenant", "acme", "--limit", "500"}},
		{"payments list: all and cursor", []string{"payments", "list", "--tenant", "acme", "--all", "--cursor", "x"}},
		{"payments list: no tenant", []string{"payments", "list"}},
		{"payments show: no reference", []string{"payments", "show", "--tenant", "acme"}},
		{"release-hold: no note", []string{"payments", "release-hold", "--tenant", "acme", "C-1-P"}},
		{"fulfilments list: bad state", []string{"fulfilments", "list", "--tenant", "acme", "--state", "broken"}},
		{"retry: nothing", []string{"fulfilments", "retry", "--tenant", "acme"}},
		{"retry: ids and all", []string{"fulfilments", "retry", "--tenant", "acme", "--all-failed", "4"}},
		{"retry: max", []string{"fulfilments", "retry", "--tenant", "acme", "--all-failed", "--max", "5000"}},
		{"retry: env with ids", []string{"fulfilments", "retry", "--tenant", "acme", "--env", "staging", "4"}},
		{"test run: no player", []string{"test-transactions", "run", "--tenant", "acme", "--bundle", "gems-100"}},
		{"test show: no reference", []string{"test-transactions", "show", "--tenant", "acme"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := runCLI(t, "http://127.0.0.1:1", "phk_x", tt.args...)
			require.Equal(t, ExitUsage, code, stderr)
			require.Empty(t, stdout)
		})
	}
	code, _, stderr := runCLI(t, "http://127.0.0.1:1", "", "plugin", "list", "--tenant", "acme")
	require.Equal(t, ExitUsage, code, "no key anywhere")
	require.Contains(t, stderr, "PARTNERHUB_KEY")
}

// TestStudioHelp: --help at every level of the studio verbs prints usage
// and exits 0, with the exit codes.
func TestStudioHelp(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"plugin"}, {"plugin", "push"}, {"plugin", "activate"}, {"plugin", "active"}, {"plugin", "list"}, {"plugin", "show"},
		{"plugin", "delete"}, {"plugin", "settings"}, {"plugin", "settings", "set"},
		{"payments"}, {"payments", "list"}, {"payments", "show"}, {"payments", "release-hold"}, {"payments", "retry-report"},
		{"fulfilments"}, {"fulfilments", "list"}, {"fulfilments", "retry"},
		{"test-transactions"}, {"test-transactions", "run"}, {"test-transactions", "show"},
	} {
		var stdout bytes.Buffer
		err := Run(context.Background(), append(args, "--help"), func(string) string { return "" }, &stdout, io.Discard)
		require.NoError(t, err, args)
		require.Contains(t, stdout.String(), "Usage: partnerhub "+args[0], args)
		require.Contains(t, stdout.String(), "Exit codes:", args)
	}
}

// fakePluginAPI answers push's requests: uploads succeed as plugin 7;
// activation answers with activate (nil: the connection is dropped before
// an answer, after switching when switches); GET of the environment's
// plugin fails when getFails, else shows the active one.
type fakePluginAPI struct {
	mu       sync.Mutex
	active   int64
	switches bool
	getFails bool
	activate func(w http.ResponseWriter)
	uploaded []byte
	length   int64
}

func (f *fakePluginAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case r.Method == http.MethodPost:
		f.uploaded, _ = io.ReadAll(r.Body)
		f.length = r.ContentLength
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"id":7,"name":"w","version":"1","sha256":"ab","size":4,"os":"linux","arch":"amd64","activeIn":[],"createdAt":"2026-03-17T08:00:00Z"}`)
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
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprintf(w, `{"environment":"staging","plugin":{"id":%d},"settingNames":[]}`, f.active)
	}
}

// TestPluginPushActivationAnswerLost: when the connection drops before the
// activation's answer, push does not claim the previous plugin stays
// active: it asks the server which one is, and says how to check (exit 6
// while the outcome stays unknown). The upload streamed the file with its
// Content-Length.
func TestPluginPushActivationAnswerLost(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "plugin")
	require.NoError(t, os.WriteFile(file, []byte("\x7fELF"), 0o755))
	tests := []struct {
		name    string
		api     *fakePluginAPI
		code    int
		want    []string
		notWant string
	}{
		{"switched before the drop", &fakePluginAPI{switches: true}, ExitOK, []string{"active in staging: plugin 7", "answer was lost"}, ""},
		{"not switched (yet)", &fakePluginAPI{active: 6}, ExitServer,
			[]string{"plugin 6 was still active", "may still be finishing", "GET http", "plugin active --tenant acme --env staging"}, "previous plugin stays active"},
		{"none active (yet)", &fakePluginAPI{}, ExitServer, []string{"no plugin was active", "GET http"}, "previous plugin stays active"},
		{"cannot check", &fakePluginAPI{getFails: true}, ExitServer, []string{"outcome is unknown", "GET http"}, "previous plugin stays active"},
		{"server timed out", &fakePluginAPI{active: 6, activate: func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusGatewayTimeout)
		}}, ExitServer, []string{"504", "may still be finishing"}, "previous plugin stays active"},
		{"refused", &fakePluginAPI{active: 6, activate: func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusUnprocessableEntity)
			_, _ = io.WriteString(w, `{"title":"plugin not activated (handshake)","status":422}`)
		}}, ExitRefused, []string{"422", "previous plugin stays active"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(tt.api)
			t.Cleanup(srv.Close)
			code, stdout, stderr := runCLI(t, srv.URL, "phk_x", "plugin", "push", "--tenant", "acme", "--name", "w",
				"--version", "1", "--activate", "staging", file)
			require.Equal(t, tt.code, code, "stdout: %s\nstderr: %s", stdout, stderr)
			require.Contains(t, stdout, "uploaded plugin 7: w 1 linux/amd64, 4 B, sha256 ab")
			got := stdout
			if tt.code != ExitOK {
				got = stderr
			}
			for _, w := range tt.want {
				require.Contains(t, got, w)
			}
			if tt.notWant != "" {
				require.NotContains(t, got, tt.notWant)
			}
			require.NotContains(t, stderr, "uploading", "no progress bar when stderr is not a terminal")
			tt.api.mu.Lock()
			defer tt.api.mu.Unlock()
			require.Equal(t, "\x7fELF", string(tt.api.uploaded))
			require.Equal(t, int64(4), tt.api.length, "Content-Length is sent: the server refuses too large before reading")
		})
	}
}

// TestPluginSettingsNeverEchoed: settings come from a file and their values
// appear in no output, not even when the file is malformed or the server
// refuses them.
func TestPluginSettingsNeverEchoed(t *testing.T) {
	t.Parallel()
	const secret = "s3cr3t-hmac-value"
	var mu sync.Mutex
	var got []byte
	refuse := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		got, _ = io.ReadAll(r.Body)
		if refuse {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusUnprocessableEntity)
			_, _ = io.WriteString(w, `{"title":"plugin refused its settings","status":422,"errors":[{"location":"body.settings","message":"settings"}]}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"environment":"staging","names":["endpoint","hmac_key"],"updatedAt":"2026-03-17T08:00:00Z"}`)
	}))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	good := filepath.Join(dir, "settings.json")
	require.NoError(t, os.WriteFile(good, []byte(`{"endpoint":"https://game.example.com","hmac_key":"`+secret+`"}`), 0o600))
	bad := filepath.Join(dir, "bad.json")
	require.NoError(t, os.WriteFile(bad, []byte(`{"hmac_key": `+secret+`}`), 0o600))

	code, stdout, stderr := runCLI(t, srv.URL, "phk_x", "plugin", "settings", "set", "--tenant", "acme", "--file", good)
	require.Equal(t, ExitOK, code, stderr)
	require.Equal(t, "staging plugin settings set: endpoint, hmac_key\n", stdout)
	mu.Lock()
	require.JSONEq(t, `{"settings":{"endpoint":"https://game.example.com","hmac_key":"`+secret+`"}}`, string(got))
	refuse = true
	mu.Unlock()

	code, stdout, stderr = runCLI(t, srv.URL, "phk_x", "plugin", "settings", "set", "--tenant", "acme", "--file", good, "-o", "json")
	require.Equal(t, ExitRefused, code)
	require.Contains(t, stderr, "plugin refused its settings")
	require.NotContains(t, stdout+stderr, secret)

	code, stdout, stderr = runCLI(t, srv.URL, "phk_x", "plugin", "settings", "set", "--tenant", "acme", "--file", bad)
	require.Equal(t, ExitUsage, code)
	require.NotContains(t, stdout+stderr, secret, "a malformed file is not quoted")
}
