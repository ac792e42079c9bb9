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
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// testEnv is an Env against url (as newEnv builds it) with its stdout and
// stderr; jsonOut is --output json.
func testEnv(t *testing.T, url string, jsonOut bool) (*Env, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	var out, errb bytes.Buffer
	o := "table"
	if jsonOut {
		o = "json"
	}
	e, err := newEnv(globals{server: url, key: "phk_secret_KEYVALUE", output: o}, &out, &errb)
	require.NoError(t, err)
	e.in, e.inTerminal = strings.NewReader(""), false
	return e, &out, &errb
}

// fakeServer is an httptest server for h, closed with the test.
func fakeServer(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// A redirect is never followed: Go's client would re-send a write as a
// GET and the GET's 200 would read as the write's success. Writes and
// reads stop with exit 6, saying where it pointed (the --server to use)
// and, for a write, that it was not applied.
func TestRedirectNeverFollowed(t *testing.T) {
	t.Parallel()
	var gets atomic.Int32
	target := fakeServer(t, func(w http.ResponseWriter, r *http.Request) {
		gets.Add(1) // what following the redirect would reach
		w.Header().Set("Content-Type", "application/json")
		switch {
		case strings.HasSuffix(r.URL.Path, "/environments/staging"):
			fmt.Fprint(w, `{"name":"staging","authMode":"signature","ipAllowList":[],"credentials":{},"updatedAt":"2026-01-01T00:00:00Z"}`)
		case strings.HasSuffix(r.URL.Path, "/products"):
			fmt.Fprint(w, `{"items":[{"id":1,"name":"Gold","description":"old","fulfilmentMethod":"manual","countries":["NG"]}]}`)
		default:
			fmt.Fprint(w, `{"items":[]}`)
		}
	})
	// Like a load balancer sending http:// to https://: every request,
	// same path, another base.
	lb := fakeServer(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+r.URL.RequestURI(), http.StatusMovedPermanently)
	})
	catalog := filepath.Join(t.TempDir(), "c.yaml")
	require.NoError(t, os.WriteFile(catalog, []byte("products:\n  - name: Gold\n    description: new\n    fulfilmentMethod: manual\n    countries: [NG]\n"), 0o644))
	for _, tc := range []struct {
		name  string
		json  bool
		run   func(context.Context, *Env, []string) error
		args  []string
		write bool
	}{
		{"envs update", false, envsUpdate, []string{"--tenant", "acme", "--env", "staging", "--auth-mode", "none"}, true},
		{"keys create -o json", true, keysCreate, []string{"--name", "ci"}, true},
		{"tenants create -o json", true, tenantsCreate, []string{"--code", "acme", "--partner-id", "1", "--name", "A"}, true},
		{"tenants list", false, tenantsList, nil, false},
		{"envs show", false, envsShow, []string{"--tenant", "acme", "--env", "staging"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, out, _ := testEnv(t, lb.URL, tc.json)
			err := tc.run(context.Background(), e, tc.args)
			require.Equal(t, ExitServer, ExitCode(err), "%v", err)
			require.Empty(t, out.String())
			require.ErrorContains(t, err, "redirected (301 Moved Permanently) to "+target.URL)
			require.ErrorContains(t, err, "use "+target.URL+" as --server")
			if tc.write {
				require.ErrorContains(t, err, "not applied")
			} else {
				require.NotContains(t, err.Error(), "not applied")
			}
		})
	}
	// catalog import reads through the redirect too: it stops at the first
	// read, before any write.
	e, out, _ := testEnv(t, lb.URL, false)
	err := catalogImport(context.Background(), e, []string{"--tenant", "acme", "--env", "staging", "--file", catalog, "--yes"})
	require.Equal(t, ExitServer, ExitCode(err), "%v", err)
	require.NotContains(t, out.String(), "Applied")
	require.Zero(t, gets.Load(), "no redirect was followed")
}

// A 2xx that is not the API's JSON (a proxy's login page, a body that does
// not decode) is exit 6 "unexpected answer", never a nil dereference; for
// a write it says how to check, and the body (which may carry a secret
// shown once) is not quoted.
func TestUnexpectedAnswer(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	catalog := filepath.Join(dir, "c.yaml")
	require.NoError(t, os.WriteFile(catalog, []byte("products:\n  - name: Gold\n    fulfilmentMethod: manual\n    countries: [NG]\n"), 0o644))
	settings := filepath.Join(dir, "s.json")
	require.NoError(t, os.WriteFile(settings, []byte(`{"a":"b"}`), 0o600))
	creds := filepath.Join(dir, "creds.yaml")
	require.NoError(t, os.WriteFile(creds, []byte("apiKey: k\n"), 0o600))
	for _, body := range []struct{ name, contentType, body string }{
		{"html", "text/html", "<html>proxy login SECRET-IN-BODY</html>"},
		{"broken json", "application/json", `{"items": [SECRET-IN-BODY`},
		{"empty json", "application/json", ``},
	} {
		srv := fakeServer(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", body.contentType)
			fmt.Fprint(w, body.body)
		})
		for _, tc := range []struct {
			name  string
			run   func(context.Context, *Env, []string) error
			args  []string
			check string // for writes: the hint
		}{
			{"tenants show", tenantsShow, []string{"acme"}, ""},
			{"tenants list", tenantsList, nil, ""},
			{"tenants create", tenantsCreate, []string{"--code", "acme", "--partner-id", "1", "--name", "A"}, "partnerhub tenants show acme"},
			{"tenants update", tenantsUpdate, []string{"acme", "--name", "B"}, "partnerhub tenants show acme"},
			{"tenants suspend", tenantsSetStatus(false), []string{"acme"}, "partnerhub tenants show acme"},
			{"keys list", keysList, nil, ""},
			{"keys create", keysCreate, []string{"--name", "ci"}, "partnerhub keys list"},
			{"keys revoke", keysRevoke, []string{"abc", "--tenant", "acme"}, "partnerhub keys list --tenant acme"},
			{"envs list", envsList, []string{"--tenant", "acme"}, ""},
			{"envs show", envsShow, []string{"--tenant", "acme", "--env", "staging"}, ""},
			{"envs update", envsUpdate, []string{"--tenant", "acme", "--env", "staging", "--auth-mode", "none"}, "partnerhub envs show"},
			{"envs urls", envsURLs, []string{"--tenant", "acme", "--env", "staging"}, ""},
			{"credentials show", credentialsShow, []string{"--tenant", "acme", "--env", "staging"}, ""},
			{"credentials set", credentialsSet, []string{"--tenant", "acme", "--env", "staging", "--file", creds}, "partnerhub credentials show"},
			{"rotate signing key", credentialsRotate, []string{"signing-key", "--tenant", "acme", "--env", "staging"}, "partnerhub credentials show"},
			{"rotate webhook token", credentialsRotate, []string{"webhook-token", "--tenant", "acme", "--env", "staging"}, "partnerhub credentials show"},
			{"catalog export", catalogExport, []string{"--tenant", "acme", "--env", "staging"}, ""},
			{"catalog import", catalogImport, []string{"--tenant", "acme", "--env", "staging", "--file", catalog, "--yes"}, ""},
			{"promote", promote, []string{"--tenant", "acme", "--yes"}, ""},
			{"checklist show", checklistShow, []string{"--tenant", "acme"}, ""},
			{"checklist set", checklistSet, []string{"step", "done", "--tenant", "acme"}, "partnerhub checklist show"},
			{"plugin list", pluginList, []string{"--tenant", "acme"}, ""},
			{"plugin show", pluginShow, []string{"--tenant", "acme", "7"}, ""},
			{"plugin active", pluginActive, []string{"--tenant", "acme"}, ""},
			{"plugin settings set", pluginSettingsSet, []string{"--tenant", "acme", "--file", settings}, "partnerhub plugin active"},
			{"payments list", paymentsList, []string{"--tenant", "acme"}, ""},
			{"payments show", paymentsShow, []string{"--tenant", "acme", "C-1-P"}, ""},
			{"release hold", paymentsReleaseHold, []string{"--tenant", "acme", "--note", "ok", "C-1-P"}, "partnerhub payments show"},
			{"retry report", paymentsRetryReport, []string{"--tenant", "acme", "C-1-P"}, "partnerhub payments show"},
			{"fulfilments list", fulfilmentsList, []string{"--tenant", "acme"}, ""},
			{"retry one", fulfilmentsRetry, []string{"--tenant", "acme", "4"}, "partnerhub fulfilments list"},
			{"retry bulk", fulfilmentsRetry, []string{"--tenant", "acme", "4", "5"}, "partnerhub fulfilments list"},
			{"test run", testTxRun, []string{"--tenant", "acme", "--bundle", "gold", "--player", "1"}, "partnerhub test-transactions show"},
			{"test show", testTxShow, []string{"--tenant", "acme", "ref"}, ""},
		} {
			t.Run(body.name+"/"+tc.name, func(t *testing.T) {
				e, out, errb := testEnv(t, srv.URL, false)
				var err error
				require.NotPanics(t, func() { err = tc.run(context.Background(), e, tc.args) })
				require.Equal(t, ExitServer, ExitCode(err), "%v", err)
				require.ErrorIs(t, err, ErrUnexpectedAnswer)
				if tc.check != "" {
					require.ErrorContains(t, err, "the outcome is unknown; check with: "+tc.check)
				}
				require.NotContains(t, err.Error()+out.String()+errb.String(), "SECRET-IN-BODY")
			})
		}
	}
}

// Ctrl-C while a write waits for its answer: the server may have applied
// it, so it is exit 6 with how to check, like a lost connection. An
// interrupted read is exit 1: nothing to check.
func TestCancelledWrite(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	hit := make(chan struct{}, 4)
	srv := fakeServer(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"dryRun":true,"applied":false,"changes":[{"action":"create","kind":"product","key":"Gold","fields":null}]}`)
			return
		}
		_, _ = io.Copy(io.Discard, r.Body) // then the server notices the client leave
		hit <- struct{}{}
		select { // the server got the write (and may apply it); its answer never comes back
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	e, _, _ := testEnv(t, srv.URL, false)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-hit; cancel() }()
	err := promote(ctx, e, []string{"--tenant", "acme", "--yes"})
	require.Equal(t, ExitServer, ExitCode(err), "%v", err)
	require.ErrorContains(t, err, "interrupted before the server's answer")
	require.ErrorContains(t, err, "check with: partnerhub promote --tenant acme --dry-run")

	e, _, _ = testEnv(t, srv.URL, false)
	ctx, cancel = context.WithCancel(context.Background())
	go func() { <-hit; cancel() }()
	err = tenantsShow(ctx, e, []string{"acme"})
	require.Equal(t, ExitFailed, ExitCode(err), "%v", err)
	require.NotContains(t, err.Error(), "check with")

	// An activation interrupted: no time left to ask which plugin is
	// active; say how to.
	e, _, _ = testEnv(t, srv.URL, false)
	ctx, cancel = context.WithCancel(context.Background())
	go func() { <-hit; cancel() }()
	_, err = activate(ctx, e, "acme", "staging", 7)
	require.Equal(t, ExitServer, ExitCode(err), "%v", err)
	require.ErrorContains(t, err, "check with: partnerhub plugin active --tenant acme --env staging")
}

// A user:password in --server never shows: not in hints, not in errors.
func TestServerUserinfoRedacted(t *testing.T) {
	t.Parallel()
	srv := fakeServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
	})
	u := strings.Replace(srv.URL, "http://", "http://ops:pr0xy-PASSWORD@", 1)
	e, out, errb := testEnv(t, u, false)
	require.Equal(t, strings.Replace(srv.URL, "http://", "http://ops:xxxxx@", 1), e.Server)
	_, err := activate(context.Background(), e, "acme", "staging", 7)
	require.Equal(t, ExitServer, ExitCode(err))
	require.ErrorContains(t, err, "check with: partnerhub plugin active")
	require.NotContains(t, err.Error()+out.String()+errb.String(), "pr0xy-PASSWORD")

	// Nor when the server cannot be reached.
	e, _, _ = testEnv(t, "http://ops:pr0xy-PASSWORD@127.0.0.1:1", false)
	err = tenantsCreate(context.Background(), e, []string{"--code", "acme", "--partner-id", "1", "--name", "A"})
	require.Equal(t, ExitServer, ExitCode(err))
	require.NotContains(t, err.Error(), "pr0xy-PASSWORD")
}

// A 5xx on upload says how to check once, not twice.
func TestUploadServerErrorHintOnce(t *testing.T) {
	t.Parallel()
	srv := fakeServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
	})
	file := filepath.Join(t.TempDir(), "plugin")
	require.NoError(t, os.WriteFile(file, []byte("\x7fELF"), 0o755))
	code, _, stderr := runCLI(t, srv.URL, "phk_x", "plugin", "push", "--tenant", "acme", "--name", "w", "--version", "1", file)
	require.Equal(t, ExitServer, code, stderr)
	require.Equal(t, 1, strings.Count(stderr, "check with"), stderr)
}
