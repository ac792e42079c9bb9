package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/internal/cli"
)

// cliResult is one in-process run of a CLI verb, as main would see it.
type cliResult struct {
	out, err string
	code     int
}

// cli runs `partnerhub ARGS` in-process against s with key (the operator
// key when empty), and returns stdout, stderr (with main's error line) and
// the exit code main would use.
func (s *server) cli(t *testing.T, key string, args ...string) cliResult {
	t.Helper()
	if key == "" {
		key = s.operatorKey
	}
	var out, errb bytes.Buffer
	args = append(args, "--server", s.url, "--key", key)
	err := run(context.Background(), args, &out, &errb)
	if err != nil {
		errb.WriteString("partnerhub: " + err.Error() + "\n")
	}
	return cliResult{out: out.String(), err: errb.String(), code: cli.ExitCode(err)}
}

func (r cliResult) ok(t *testing.T) cliResult {
	t.Helper()
	require.Equal(t, 0, r.code, "stdout:\n%s\nstderr:\n%s", r.out, r.err)
	return r
}

func (r cliResult) json(t *testing.T, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal([]byte(r.out), v), r.out)
}

const cliCatalog = `products:
  - name: Gold
    fulfilmentMethod: manual
    countries: [NG, KE]
    description: The currency of Acme Quest.
    bundles:
      - sku: gold-100
        name: 100 Gold
        quantity: 100
        digitalCurrency: {code: GLD, name: Gold}
        prices:
          - {countryCode: NG, currencyCode: NGN, amount: "1500"}
          - {countryCode: KE, currencyCode: KES, amount: 130.50}
      - sku: gold-500
        name: 500 Gold
        quantity: "500"
        digitalCurrency: {code: GLD, name: Gold}
        prices:
          - {countryCode: NG, currencyCode: NGN, amount: "7000"}
  - name: Boost
    fulfilmentMethod: manual
    countries: [NG]
`

// The operator verbs against one real `partnerhub serve`, through the
// generated client: output, exit codes and idempotent catalog import.
// Subtests share the server (and build on each other's tenant) to keep the
// run short.
func TestCLIOperator(t *testing.T) {
	s := startServer(t)
	dir := t.TempDir()

	t.Run("tenants", func(t *testing.T) {
		r := s.cli(t, "", "tenants", "create", "--code", "acme", "--partner-id", "101", "--name", "Acme Games", "--contact-email", "ops@acme.test").ok(t)
		require.Contains(t, r.out, "acme")
		require.Contains(t, r.out, "Staging Signing Key (shown once")

		// The same code again: 409, exit 4, the problem printed.
		r = s.cli(t, "", "tenants", "create", "--code", "acme", "--partner-id", "102", "--name", "Again")
		require.Equal(t, 4, r.code, r.err)
		require.Contains(t, r.err, "409")

		// Bad input the server refuses: 422, exit 4, with the location.
		r = s.cli(t, "", "tenants", "create", "--code", "Not A Code", "--partner-id", "103", "--name", "X")
		require.Equal(t, 4, r.code, r.err)
		require.Contains(t, r.err, "422")
		require.Contains(t, r.err, "partnerCode")

		// Bad input the CLI refuses: exit 2.
		r = s.cli(t, "", "tenants", "create", "--code", "x")
		require.Equal(t, 2, r.code, r.err)
		r = s.cli(t, "", "tenants", "list", "--output", "xml")
		require.Equal(t, 2, r.code, r.err)

		// Not found: exit 3.
		r = s.cli(t, "", "tenants", "show", "nobody")
		require.Equal(t, 3, r.code, r.err)
		require.Contains(t, r.err, "404")

		// A wrong key: exit 5, and the key is never printed.
		r = s.cli(t, "phk_wrong_0123456789", "tenants", "list")
		require.Equal(t, 5, r.code, r.err)
		require.NotContains(t, r.out+r.err, "phk_wrong_0123456789")

		r = s.cli(t, "", "tenants", "update", "acme", "--name", "Acme Studios", "--contact-email", "").ok(t)
		require.Contains(t, r.out, "Acme Studios")

		var list []map[string]any
		s.cli(t, "", "tenants", "list", "--output", "json").ok(t).json(t, &list)
		require.Len(t, list, 1)
		require.Equal(t, "acme", list[0]["partnerCode"])
		require.Equal(t, "Acme Studios", list[0]["name"])
		require.Equal(t, "", list[0]["contactEmail"])

		var tn map[string]any
		s.cli(t, "", "tenants", "suspend", "acme", "-o", "json").ok(t).json(t, &tn)
		require.Equal(t, "suspended", tn["status"])
		s.cli(t, "", "tenants", "list", "--status", "suspended").ok(t)
		s.cli(t, "", "tenants", "resume", "acme", "-o", "json").ok(t).json(t, &tn)
		require.Equal(t, "active", tn["status"])
		require.Contains(t, s.cli(t, "", "tenants", "show", "acme").ok(t).out, "active")
	})

	t.Run("keys", func(t *testing.T) {
		var k map[string]any
		s.cli(t, "", "keys", "create", "--tenant", "acme", "--name", "ci", "--role", "viewer", "-o", "json").ok(t).json(t, &k)
		key, prefix := k["key"].(string), k["prefix"].(string)
		require.True(t, strings.HasPrefix(key, "phk_"), key)

		// The tenant's viewer key reads its tenant...
		s.cli(t, key, "tenants", "show", "acme").ok(t)
		// ...but may not write: 403, exit 5.
		r := s.cli(t, key, "tenants", "update", "acme", "--name", "Mine")
		require.Equal(t, 5, r.code, r.err)

		r = s.cli(t, "", "keys", "list", "--tenant", "acme").ok(t)
		require.Contains(t, r.out, prefix)
		require.NotContains(t, r.out, key, "a list never shows a key")
		s.cli(t, "", "keys", "revoke", prefix, "--tenant", "acme").ok(t)
		r = s.cli(t, key, "tenants", "show", "acme")
		require.Equal(t, 5, r.code, "a revoked key no longer works: %s", r.err)

		r = s.cli(t, "", "keys", "create", "--name", "second operator").ok(t)
		require.Contains(t, r.out, "API key (shown once")
		require.Contains(t, s.cli(t, "", "keys", "list").ok(t).out, "second operator")
		r = s.cli(t, "", "keys", "revoke", "aaaaaaaa")
		require.Equal(t, 3, r.code, r.err)
	})

	t.Run("envs and credentials", func(t *testing.T) {
		r := s.cli(t, "", "envs", "list", "--tenant", "acme").ok(t)
		require.Contains(t, r.out, "staging")
		require.Contains(t, r.out, "production")

		s.cli(t, "", "envs", "update", "--tenant", "acme", "--env", "staging",
			"--callback-success-url", "https://acme.test/ok", "--ip-allow-list", "10.0.0.0/8, 192.168.1.1").ok(t)
		var env map[string]any
		s.cli(t, "", "envs", "show", "--tenant", "acme", "--env", "staging", "-o", "json").ok(t).json(t, &env)
		require.Equal(t, "https://acme.test/ok", env["callbackSuccessUrl"])
		require.Len(t, env["ipAllowList"], 2)
		r = s.cli(t, "", "envs", "update", "--tenant", "acme", "--env", "production", "--auth-mode", "none")
		require.Equal(t, 4, r.code, "none is refused in production: %s", r.err)

		require.Contains(t, s.cli(t, "", "envs", "urls", "--tenant", "acme", "--env", "staging").ok(t).out, "/pay1st/staging/acme/")

		creds := filepath.Join(dir, "creds.yaml")
		require.NoError(t, os.WriteFile(creds, []byte("apiKey: live-key\napiSecret: s3cr3t-value\n"), 0o600))
		r = s.cli(t, "", "credentials", "set", "--tenant", "acme", "--env", "staging", "--file", creds).ok(t)
		require.NotContains(t, r.out+r.err, "s3cr3t-value")
		var c map[string]any
		s.cli(t, "", "credentials", "show", "--tenant", "acme", "--env", "staging", "-o", "json").ok(t).json(t, &c)
		require.Equal(t, true, c["apiKeySet"])
		require.Equal(t, true, c["apiSecretSet"])

		var rot map[string]any
		s.cli(t, "", "credentials", "rotate", "signing-key", "--tenant", "acme", "--env", "staging", "-o", "json").ok(t).json(t, &rot)
		require.NotEmpty(t, rot["signingKey"])
		r = s.cli(t, "", "credentials", "rotate", "webhook-token", "--tenant", "acme", "--env", "staging")
		require.Equal(t, 4, r.code, "no token outside token mode: %s", r.err)
	})

	// The built binary: server and key from the environment, secrets from
	// stdin, and main's exit code.
	t.Run("binary", func(t *testing.T) {
		bins, err := binaries()
		require.NoError(t, err)
		exe := func(stdin string, key string, args ...string) (string, int) {
			cmd := exec.Command(bins["partnerhub"], args...)
			cmd.Env = []string{"PARTNERHUB_URL=" + s.url, "PARTNERHUB_KEY=" + key}
			cmd.Stdin = strings.NewReader(stdin)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				return string(out), exit.ExitCode()
			}
			require.NoError(t, err, string(out))
			return string(out), 0
		}
		out, code := exe("basicAuthUsername: shop\nbasicAuthPassword: pa55-word-value\n", s.operatorKey,
			"credentials", "set", "--tenant", "acme", "--env", "staging")
		require.Equal(t, 0, code, out)
		require.NotContains(t, out, "pa55-word-value")
		require.Regexp(t, `basicAuthPassword\s+true`, out)

		out, code = exe("", "phk_wrong_0123456789", "tenants", "list")
		require.Equal(t, 5, code, out)
		out, code = exe("", s.operatorKey, "tenants", "show", "nobody")
		require.Equal(t, 3, code, out)
		out, code = exe("", s.operatorKey, "tenants", "bogus")
		require.Equal(t, 2, code, out)
		require.Contains(t, out, `partnerhub: usage: unknown command "bogus" for partnerhub tenants`)
		// A misplaced argument (here a key) is not echoed.
		out, code = exe("", s.operatorKey, "tenants", "list", "phk_pasted_SECRETVALUE")
		require.Equal(t, 2, code, out)
		require.NotContains(t, out, "SECRETVALUE")
	})

	// Something in front of the server redirects (308 keeps the method:
	// Go's client would re-send the POST there and create the tenant). The
	// CLI does not follow: exit 6, where to point --server, and nothing is
	// created.
	t.Run("redirect not followed", func(t *testing.T) {
		front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, s.url+r.URL.RequestURI(), http.StatusPermanentRedirect)
		}))
		t.Cleanup(front.Close)
		var out, errb bytes.Buffer
		err := run(context.Background(), []string{"tenants", "create", "--code", "redirected", "--partner-id", "909", "--name", "R",
			"--server", front.URL, "--key", s.operatorKey}, &out, &errb)
		require.Equal(t, 6, cli.ExitCode(err), "%v", err)
		require.ErrorContains(t, err, "use "+s.url+" as --server")
		require.ErrorContains(t, err, "not applied")
		require.Empty(t, out.String())
		require.Equal(t, 3, s.cli(t, "", "tenants", "show", "redirected").code, "nothing was created")
	})

	t.Run("catalog round trip", func(t *testing.T) {
		src := filepath.Join(dir, "catalog.yaml")
		require.NoError(t, os.WriteFile(src, []byte(cliCatalog), 0o644))
		imp := func(extra ...string) cliResult {
			return s.cli(t, "", append([]string{"catalog", "import", "--tenant", "acme", "--env", "staging", "--file", src}, extra...)...)
		}

		r := imp("--dry-run").ok(t)
		require.Contains(t, r.out, "gold-100")
		r = imp("--check")
		require.Equal(t, 1, r.code, "a diff with --check: %s", r.err)
		r = imp()
		require.Equal(t, 2, r.code, "no terminal, no --yes: %s", r.err)
		var res struct {
			Changes []map[string]any `json:"changes"`
			Applied bool             `json:"applied"`
		}
		imp("--yes", "-o", "json").ok(t).json(t, &res)
		require.True(t, res.Applied)
		require.Len(t, res.Changes, 4) // 2 products, 2 bundles

		// Again: nothing changes.
		require.Contains(t, imp("--yes").ok(t).out, "No changes")
		imp("--check").ok(t)

		// Export, and import the export: nothing changes; export is stable.
		out1 := filepath.Join(dir, "export.yaml")
		s.cli(t, "", "catalog", "export", "--tenant", "acme", "--env", "staging", "--file", out1).ok(t)
		a, err := os.ReadFile(out1)
		require.NoError(t, err)
		require.Contains(t, string(a), "gold-500")
		r = s.cli(t, "", "catalog", "import", "--tenant", "acme", "--env", "staging", "--file", out1, "--yes", "--prune").ok(t)
		require.Contains(t, r.out, "No changes")
		b := s.cli(t, "", "catalog", "export", "--tenant", "acme", "--env", "staging").ok(t).out
		require.Equal(t, string(a), b)
		js := s.cli(t, "", "catalog", "export", "--tenant", "acme", "--env", "staging", "-o", "json").ok(t).out
		require.True(t, json.Valid([]byte(js)), js)

		// A changed file: the diff names the fields; --prune removes.
		changed := strings.Replace(cliCatalog, `amount: "7000"`, `amount: "6900"`, 1)
		changed = changed[:strings.Index(changed, "  - name: Boost")]
		require.NoError(t, os.WriteFile(src, []byte(changed), 0o644))
		r = imp("--dry-run").ok(t)
		require.Contains(t, r.out, "prices")
		require.NotContains(t, r.out, "remove", "without --prune nothing is removed")
		r = imp("--dry-run", "--prune").ok(t)
		require.Contains(t, r.out, "remove")
		require.Contains(t, r.out, "Boost")
		imp("--yes", "--prune").ok(t)
		require.Contains(t, imp("--yes", "--prune").ok(t).out, "No changes")
		require.NotContains(t, s.cli(t, "", "catalog", "export", "--tenant", "acme", "--env", "staging").ok(t).out, "Boost")

		// Countries move in the same import as the prices that need them:
		// KE goes (with its price), ZA comes (with one). The API refuses a
		// product narrowed below its bundles' prices, so import widens first
		// and narrows last.
		moved := strings.NewReplacer("countries: [NG, KE]", "countries: [NG, ZA]",
			`{countryCode: KE, currencyCode: KES, amount: 130.50}`, `{countryCode: ZA, currencyCode: ZAR, amount: "20"}`).Replace(changed)
		require.NoError(t, os.WriteFile(src, []byte(moved), 0o644))
		r = imp("--yes").ok(t)
		require.Contains(t, r.out, "countries")
		require.Contains(t, imp("--check").ok(t).out, "No changes")
		exported := s.cli(t, "", "catalog", "export", "--tenant", "acme", "--env", "staging").ok(t).out
		require.Contains(t, exported, "countries: [NG, ZA]")
		require.NotContains(t, exported, "KES")

		// A file the CLI refuses: exit 2; one the server refuses: exit 4.
		require.NoError(t, os.WriteFile(src, []byte("products:\n  - name: X\n    colour: red\n"), 0o644))
		require.Equal(t, 2, imp("--dry-run").code)
		require.NoError(t, os.WriteFile(src, []byte("products:\n  - name: Bad\n    fulfilmentMethod: manual\n    countries: [XX]\n"), 0o644))
		r = imp("--yes")
		require.Equal(t, 4, r.code, r.err)
		require.Contains(t, r.err, "applied 0 of 1")
	})

	t.Run("promote", func(t *testing.T) {
		r := s.cli(t, "", "promote", "--tenant", "acme", "--dry-run").ok(t)
		require.Contains(t, r.out, "gold-100")
		require.Contains(t, r.out, "create")
		require.Equal(t, 1, s.cli(t, "", "promote", "--tenant", "acme", "--check").code)
		require.Equal(t, 2, s.cli(t, "", "promote", "--tenant", "acme").code, "no terminal, no --yes")
		r = s.cli(t, "", "promote", "--tenant", "acme", "--yes").ok(t)
		require.Contains(t, r.out, "Promoted")
		require.Contains(t, s.cli(t, "", "promote", "--tenant", "acme", "--yes").ok(t).out, "No changes")
		s.cli(t, "", "promote", "--tenant", "acme", "--check").ok(t)
		prod := s.cli(t, "", "catalog", "export", "--tenant", "acme", "--env", "production").ok(t).out
		require.Contains(t, prod, "gold-500")
		require.Equal(t, 3, s.cli(t, "", "promote", "--tenant", "nobody", "--dry-run").code)
	})

	t.Run("checklist", func(t *testing.T) {
		var c struct {
			Steps []struct {
				Key       string `json:"key"`
				Automatic bool   `json:"automatic"`
				Observed  string `json:"observed"`
			} `json:"steps"`
		}
		s.cli(t, "", "checklist", "show", "--tenant", "acme", "-o", "json").ok(t).json(t, &c)
		require.NotEmpty(t, c.Steps)
		step := ""
		for _, st := range c.Steps {
			if st.Observed == "" {
				step = st.Key
				break
			}
		}
		require.NotEmpty(t, step, "a step only a person marks")
		r := s.cli(t, "", "checklist", "set", step, "in_progress", "--tenant", "acme", "--note", "on it").ok(t)
		require.Contains(t, r.out, "on it")
		require.Contains(t, r.out, "day(s) left")
		r = s.cli(t, "", "checklist", "set", "no-such-step", "done", "--tenant", "acme")
		require.Equal(t, 3, r.code, r.err)
	})
}
