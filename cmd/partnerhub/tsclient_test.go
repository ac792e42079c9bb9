package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/payment"
	"github.com/partnerhub/partnerhub/tenant"
)

// tsClientDir is the TypeScript client (openapi-typescript types,
// openapi-fetch, the smoke script), from this package's directory.
const tsClientDir = "../../clients/typescript"

// requireNodeEnv makes a missing node or npm a failure instead of a skip:
// CI (.ci/run) sets it, so the TypeScript tests never silently skip there.
const requireNodeEnv = "PARTNERHUB_REQUIRE_NODE"

// needNode returns the paths of node and npm. Without them it skips the
// test, or fails it when PARTNERHUB_REQUIRE_NODE=1.
func needNode(t *testing.T) (node, npm string) {
	t.Helper()
	node, errNode := exec.LookPath("node")
	npm, errNpm := exec.LookPath("npm")
	if errNode == nil && errNpm == nil {
		return node, npm
	}
	msg := "the TypeScript client needs node and npm on PATH"
	if os.Getenv(requireNodeEnv) == "1" {
		t.Fatalf("%s (%s=1)", msg, requireNodeEnv)
	}
	t.Skip(msg + "; set " + requireNodeEnv + "=1 to make this a failure")
	return "", ""
}

// tsWaitDelay bounds the wait for a subprocess's output after its context
// expires and it is killed: npm starts children (node, tsc) that inherit
// the output pipes, and without WaitDelay Wait blocks until the last of
// them exits, so the context's timeout alone would not bound the test.
const tsWaitDelay = 10 * time.Second

// tsInstall runs `npm ci` in clients/typescript when node_modules is
// missing or older than package-lock.json (CI runs it beforehand), once
// per test binary.
var tsInstall = sync.OnceValue(func() error {
	installed, err := os.Stat(filepath.Join(tsClientDir, "node_modules", ".package-lock.json"))
	lock, lockErr := os.Stat(filepath.Join(tsClientDir, "package-lock.json"))
	if lockErr != nil {
		return lockErr
	}
	if err == nil && !installed.ModTime().Before(lock.ModTime()) {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund", "--loglevel", "error")
	cmd.Dir = tsClientDir
	cmd.WaitDelay = tsWaitDelay
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("npm ci in %s: %w\n%s", tsClientDir, err, out)
	}
	return nil
})

// tsBuild type-checks and compiles the smoke script against the committed
// generated types (tsc), once per test binary.
var tsBuild = sync.OnceValue(func() error {
	if err := tsInstall(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "run", "--silent", "build")
	cmd.Dir = tsClientDir
	cmd.WaitDelay = tsWaitDelay
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("npm run build (tsc) in %s: %w\n%s", tsClientDir, err, out)
	}
	return nil
})

// TestTypeScriptTypesUpToDate: clients/typescript/src/schema.d.ts is what
// openapi-typescript makes of openapi.yaml now.
func TestTypeScriptTypesUpToDate(t *testing.T) {
	t.Parallel()
	node, _ := needNode(t)
	require.NoError(t, tsInstall())
	fresh := filepath.Join(t.TempDir(), "schema.d.ts")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "scripts/generate.mjs", fresh)
	cmd.Dir = tsClientDir
	cmd.WaitDelay = tsWaitDelay
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	want, err := os.ReadFile(fresh)
	require.NoError(t, err)
	got, err := os.ReadFile(filepath.Join(tsClientDir, "src", "schema.d.ts"))
	require.NoError(t, err)
	require.True(t, bytes.Equal(want, got),
		"clients/typescript/src/schema.d.ts is stale: run `npm run generate` in clients/typescript (after `go run ./cmd/partnerhub openapi > openapi.yaml`)")
}

// smokeSummary is the smoke script's last stdout line.
type smokeSummary struct {
	PartnerCode      string `json:"partnerCode"`
	PartnerID        int64  `json:"partnerId"`
	PluginID         int64  `json:"pluginId"`
	PartnerReference string `json:"partnerReference"`
	Reference        string `json:"reference"`
}

// TestTypeScriptSmoke is issue 7's TypeScript smoke test: the smoke script,
// compiled by tsc against the generated types, drives a real `partnerhub
// serve` through openapi-fetch with the operator key — creates a tenant,
// configures staging, pages through the tenants, uploads and activates
// the wallet plugin, runs a test transaction and reads the payment back. The server's own records
// then show that payment fulfilled once, by the uploaded plugin, and no
// secret in any output.
func TestTypeScriptSmoke(t *testing.T) {
	node, _ := needNode(t)
	require.NoError(t, tsBuild())
	bins, err := binaries()
	require.NoError(t, err)
	s := startServer(t)
	s.createTenant(t, "ts-other", 7041) // so that listing the tenants takes two pages of one
	const code, partnerID = "ts-smoke", 7042

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "dist/smoke.js")
	cmd.Dir = tsClientDir
	cmd.WaitDelay = tsWaitDelay
	cmd.Env = append(os.Environ(),
		"PARTNERHUB_URL="+s.url,
		"PARTNERHUB_KEY="+s.operatorKey,
		"PARTNERHUB_SMOKE_PLUGIN="+bins["wallet"],
		"PARTNERHUB_SMOKE_TENANT="+code,
		fmt.Sprintf("PARTNERHUB_SMOKE_PARTNER_ID=%d", partnerID),
	)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err = cmd.Run()
	t.Logf("the smoke script ran for %s", time.Since(start).Round(time.Millisecond))
	require.NoError(t, err, "smoke script failed\nstdout: %s\nstderr: %s", stdout.String(), stderr.String())
	t.Logf("smoke script:\n%s", stderr.String())
	require.Contains(t, stderr.String(), "found it, 2 page(s) of 1", "the script followed nextCursor")

	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var sum smokeSummary
	require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &sum), stdout.String())
	require.Equal(t, code, sum.PartnerCode)
	require.EqualValues(t, partnerID, sum.PartnerID)
	require.NotEmpty(t, sum.Reference)

	// Server-side: the test transaction's payment, fulfilled once by the
	// plugin the script uploaded, and reported to the simulator.
	bg := context.Background()
	tn, err := s.tenants.Get(bg, code)
	require.NoError(t, err)
	count := func(sql string, args ...any) int {
		t.Helper()
		var n int
		require.NoError(t, s.pool.QueryRow(bg, sql, args...).Scan(&n))
		return n
	}
	var status string
	require.NoError(t, s.pool.QueryRow(bg, `SELECT status FROM payments WHERE tenant_id = $1 AND environment = $2 AND reference = $3`,
		tn.ID, tenant.Staging, sum.Reference).Scan(&status))
	require.Equal(t, "SUCCESSFUL", status)
	require.Equal(t, 1, count(`SELECT count(*) FROM payments WHERE tenant_id = $1`, tn.ID), "one payment, the test transaction's")
	require.Equal(t, 1, count(`SELECT count(*) FROM fulfilments f JOIN payments p ON p.id = f.payment_id
		WHERE p.reference = $1 AND f.kind = 'fulfil' AND f.state = 'succeeded' AND f.attempts = 1 AND f.plugin_id = $2`,
		sum.Reference, sum.PluginID), "fulfilled once, by the uploaded plugin")
	require.Equal(t, 1, count(`SELECT count(*) FROM fulfilments WHERE tenant_id = $1`, tn.ID), "nothing else fulfilled or reversed")
	require.Equal(t, 1, count(`SELECT count(*) FROM river_job WHERE kind = 'fulfil'`), "one fulfil job")
	w := s.wallet(t, code)
	require.Len(t, w.Applied, 1, "the wallet credited once")
	require.Contains(t, w.Applied, payment.IdempotencyKey(code, tenant.Staging, sum.Reference, payment.KindFulfil))
	require.Equal(t, map[string]string{"GEM": "100"}, normalise(w.Balances["501"]), "the bundle's 100 GEM for player 501")

	// No secret in the script's output or the server's logs.
	creds, err := s.tenants.GatewayCredentials(bg, code, tenant.Staging)
	require.NoError(t, err)
	for name, secret := range map[string]string{"operator key": s.operatorKey, "API secret": creds.APISecret, "Signing Key": creds.SigningKey} {
		require.NotContains(t, stdout.String()+stderr.String(), secret, "the smoke script printed the %s", name)
		require.NotContains(t, s.logs.String(), secret, "the server logged the %s", name)
	}
}
