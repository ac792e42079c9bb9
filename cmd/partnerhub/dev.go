package main

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/partnerhub/partnerhub/internal/config"
	"github.com/partnerhub/partnerhub/internal/db"
	"github.com/partnerhub/partnerhub/internal/pglocal"
	"github.com/partnerhub/partnerhub/pay1st/sim"
	"github.com/partnerhub/partnerhub/plugins"
	"github.com/partnerhub/partnerhub/tenant"
)

// The demo tenant dev mode seeds.
const (
	demoPartnerCode = "demo"
	demoPartnerID   = 1
	walletPackage   = "github.com/partnerhub/partnerhub/plugins/examples/wallet"
)

// devDefaults are dev mode's own defaults: readable logs, and the
// in-process simulator as staging's Pay1st. Explicit settings win.
var devDefaults = map[string]string{
	"PARTNERHUB_LOG_FORMAT": "text",
	"PARTNERHUB_SIMULATOR":  config.SimulatorStaging,
}

// devEnv applies devDefaults to getenv.
func devEnv(getenv func(string) string) func(string) string {
	return func(k string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return devDefaults[k]
	}
}

// dev runs the whole stack on one machine: a private Postgres kept under the
// data directory, migrations, the demo tenant with the wallet plugin active in
// staging, and the server. Ctrl-C stops the server, plugins and Postgres.
func dev(ctx context.Context, cfg config.Config, logger *slog.Logger, stdout io.Writer) error {
	dir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return err
	}
	cfg.DataDir = dir
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	if cfg.SecretKey == nil {
		key, err := readOrCreate(filepath.Join(dir, "secret.key"), func() string {
			return base64.StdEncoding.EncodeToString(randomBytes(32))
		})
		if err != nil {
			return err
		}
		if cfg.SecretKey, err = base64.StdEncoding.DecodeString(key); err != nil || len(cfg.SecretKey) != 32 {
			return fmt.Errorf("%s is not base64 of 32 bytes; delete it to start over", filepath.Join(dir, "secret.key"))
		}
	}
	if cfg.OperatorKey == "" {
		if cfg.OperatorKey, err = readOrCreate(filepath.Join(dir, "operator.key"), tenant.NewKey); err != nil {
			return err
		}
	}

	cluster, err := pglocal.Start(ctx, pglocal.Options{
		Dir: filepath.Join(dir, "postgres"), Durable: true, Logger: logger.With("component", "postgres"),
	})
	if err != nil {
		return err
	}
	defer func() {
		if err := cluster.Stop(context.WithoutCancel(ctx)); err != nil {
			logger.Error("stop postgres", "err", err)
		}
	}()
	cfg.DatabaseURL = cluster.URL()
	// If Postgres dies, dev stops rather than serving errors.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-cluster.Done():
			logger.Error("postgres exited; stopping", "log", cluster.LogPath())
			cancel()
		case <-ctx.Done():
		}
	}()
	if err := migrate(ctx, cfg, logger); err != nil {
		return err
	}
	wallet, err := buildWallet(ctx, dir)
	if err != nil {
		return err
	}
	return serve(ctx, cfg, logger, func(svc services, addr net.Addr) error {
		return seedDemo(ctx, svc, cfg, wallet, baseURL(addr), stdout)
	})
}

// buildWallet compiles the example wallet plugin from this module's source.
func buildWallet(ctx context.Context, dir string) ([]byte, error) {
	out := filepath.Join(dir, "bin", "wallet")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, walletPackage)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build the wallet plugin (run dev from the partnerhub source tree, with Go installed): %w\n%s", err, msg)
	}
	return os.ReadFile(out)
}

func seedDemo(ctx context.Context, svc services, cfg config.Config, wallet []byte, url string, stdout io.Writer) error {
	t, err := svc.tenants.Get(ctx, demoPartnerCode)
	if errors.Is(err, tenant.ErrNotFound) {
		var c tenant.Created
		c, err = svc.tenants.Create(ctx, tenant.CreateParams{PartnerCode: demoPartnerCode, PartnerID: demoPartnerID, Name: "Demo Studio"})
		t = c.Tenant
	}
	if err != nil {
		return fmt.Errorf("seed demo tenant: %w", err)
	}
	sum := sha256Hex(wallet)
	pl, err := svc.plugins.Register(ctx, plugins.RegisterParams{
		TenantID: t.ID, Name: "wallet", Version: "dev-" + sum[:12], OS: runtime.GOOS, Arch: runtime.GOARCH, Binary: wallet,
	})
	if err != nil {
		return fmt.Errorf("register wallet plugin: %w", err)
	}
	if err := db.InTx(ctx, svc.pool, func(tx pgx.Tx) error {
		return svc.tenants.SetActivePluginTx(ctx, tx, t, tenant.Staging, pl.ID)
	}); err != nil {
		return fmt.Errorf("activate wallet plugin: %w", err)
	}
	if err := seedDemoCatalog(ctx, svc, t); err != nil {
		return err
	}
	simURL, err := seedDemoGateway(ctx, svc, t)
	if err != nil {
		return err
	}
	env, err := svc.tenants.Env(ctx, demoPartnerCode, tenant.Staging)
	if err != nil {
		return err
	}
	envFile := filepath.Join(cfg.DataDir, "demo.env")
	lines := []string{
		"PARTNERHUB_URL=" + url,
		"PARTNERHUB_OPERATOR_KEY=" + cfg.OperatorKey,
		"DEMO_PARTNER_CODE=" + demoPartnerCode,
		fmt.Sprintf("DEMO_PARTNER_ID=%d", demoPartnerID),
		"DEMO_SIGNING_KEY=" + env.SigningKey,
		"DEMO_SIMULATOR_URL=" + simURL,
	}
	if err := os.WriteFile(envFile, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", envFile, err)
	}
	script := filepath.Join(cfg.DataDir, "send-event.sh")
	if err := os.WriteFile(script, []byte(sendEventScript), 0o755); err != nil {
		return fmt.Errorf("write %s: %w", script, err)
	}
	buy := filepath.Join(cfg.DataDir, "buy.sh")
	if err := os.WriteFile(buy, []byte(buyScript), 0o755); err != nil {
		return fmt.Errorf("write %s: %w", buy, err)
	}
	wallets := filepath.Join(cfg.DataDir, "plugins", "work", demoPartnerCode, tenant.Staging, "wallet.json")
	fmt.Fprintf(stdout, `
partnerhub dev is ready at %s (docs: %s/docs)
  demo tenant %q (partnerId %d), wallet plugin active in staging, bundle %s in %s
  staging's Pay1st is the simulator at %s
  credentials: %s

Run a whole purchase: order at the simulator, signed webhook, wallet plugin,
fulfilment report (a staging test transaction; PLAYER=7 SKU=... to choose):
  sh %s

Send a signed SUCCESSFUL payment event (each run is a new payment):
  sh %s
Send one payment's event again (acknowledged as a duplicate, credited once):
  SAME_REFERENCE=C-1-P sh %s; SAME_REFERENCE=C-1-P sh %s

Then look at the player's balance:
  cat %s

Ctrl-C stops the server, the plugins and Postgres.
`, url, url, demoPartnerCode, demoPartnerID, demoSKU, demoCountry, simURL, envFile, buy, script, script, script, wallets)
	return nil
}

// The demo catalog: one bundle the demo purchase buys.
const (
	demoSKU     = "gems-100"
	demoCountry = "NG"
)

// seedDemoCatalog gives the demo tenant's staging a product sold in
// demoCountry and the bundle demoSKU, unless it has that bundle already.
func seedDemoCatalog(ctx context.Context, svc services, t tenant.Tenant) error {
	page, err := svc.tenants.ListBundles(ctx, t.ID, tenant.Staging, tenant.BundleFilter{SKU: demoSKU, Limit: 1})
	if err != nil || len(page.Bundles) > 0 {
		return err
	}
	prod, err := svc.tenants.CreateProduct(ctx, t.ID, tenant.Staging, tenant.ProductParams{
		Name: "Demo Gems", Countries: []string{demoCountry}, FulfilmentMethod: tenant.FulfilPlugin})
	if err != nil {
		return fmt.Errorf("seed demo product: %w", err)
	}
	_, err = svc.tenants.CreateBundle(ctx, t.ID, tenant.Staging, tenant.BundleParams{
		ProductID: prod.ID, SKU: demoSKU, Name: "100 Gems", Quantity: decimal.NewFromInt(100),
		DigitalCurrencyName: "Gems", DigitalCurrencyCode: "GEM",
		Prices: []tenant.Price{{CountryCode: demoCountry, CurrencyCode: "NGN", Amount: decimal.RequireFromString("100.50")}}})
	if err != nil {
		return fmt.Errorf("seed demo bundle: %w", err)
	}
	return nil
}

// seedDemoGateway gives the demo tenant staging Pay1st credentials (made
// up once, kept sealed like any tenant's) and registers them with the
// in-process simulator, staging's Pay1st in dev mode; it returns the
// simulator's URL.
func seedDemoGateway(ctx context.Context, svc services, t tenant.Tenant) (string, error) {
	if svc.sim == nil {
		return "", errors.New("dev mode needs the simulator: PARTNERHUB_SIMULATOR must not be off")
	}
	creds, err := svc.tenants.GatewayCredentials(ctx, demoPartnerCode, tenant.Staging)
	if errors.Is(err, tenant.ErrCredentialsMissing) {
		key, secret := "demo-"+hex.EncodeToString(randomBytes(8)), hex.EncodeToString(randomBytes(24))
		if _, err := svc.tenants.SetCredentials(ctx, t, tenant.Staging, tenant.Credentials{APIKey: &key, APISecret: &secret}); err != nil {
			return "", fmt.Errorf("seed demo credentials: %w", err)
		}
		creds, err = svc.tenants.GatewayCredentials(ctx, demoPartnerCode, tenant.Staging)
	}
	if err != nil {
		return "", fmt.Errorf("demo credentials: %w", err)
	}
	if err := svc.sim.simulator().SetPartner(sim.Partner{PartnerID: demoPartnerID, PartnerCode: demoPartnerCode,
		APIKey: creds.APIKey, APISecret: creds.APISecret, SigningKey: creds.SigningKey}); err != nil {
		return "", err
	}
	return svc.sim.srv.URL, nil
}

// buyScript runs a staging test transaction for the demo tenant with curl
// and prints its steps.
const buyScript = `#!/bin/sh
# Buys a bundle for a player through the whole path (a staging test transaction).
set -eu
. "$(dirname "$0")/demo.env"
curl -sS -X POST "$PARTNERHUB_URL/v1/tenants/$DEMO_PARTNER_CODE/environments/staging/test-transactions" \
  -H "Authorization: Bearer $PARTNERHUB_OPERATOR_KEY" -H "Content-Type: application/json" \
  --data-binary "{\"sku\":\"${SKU:-gems-100}\",\"playerId\":${PLAYER:-42}}"
echo
`

// sendEventScript signs and posts a sample event with curl and openssl. Each
// run is a new payment; SAME_REFERENCE=<ref> resends an earlier one.
const sendEventScript = `#!/bin/sh
# Sends a signed SUCCESSFUL Payment Webhook Event to the demo tenant.
set -eu
. "$(dirname "$0")/demo.env"
REF="${SAME_REFERENCE:-C-$(date +%s)-$$-P}"
NOW=$(date -u +%Y-%m-%dT%H:%M:%SZ)
BODY=$(printf '{"partnerId":%s,"partnerCode":"%s","partnerReference":"order-%s","reference":"%s","orderAmount":100.50,"currencyCode":"NGN","countryCode":"NG","source":"dev","platform":"WEB","ipAddress":"127.0.0.1","createdDate":"2026-01-01T00:00:00Z","updatedDate":"2026-01-01T00:01:00Z","status":"SUCCESSFUL","message":"Approved","statusCode":0,"customerId":42,"paymentMethod":"CARD","taxPercentage":7.5,"partnerWebhookUrl":"%s/pay1st/staging/%s/payment-events"}' \
  "$DEMO_PARTNER_ID" "$DEMO_PARTNER_CODE" "$REF" "$REF" "$PARTNERHUB_URL" "$DEMO_PARTNER_CODE")
SIG=$(printf '%s%s' "$NOW" "$BODY" | openssl dgst -sha256 -hmac "$DEMO_SIGNING_KEY" | sed 's/^.*= //')
curl -sS -X POST "$PARTNERHUB_URL/pay1st/staging/$DEMO_PARTNER_CODE/payment-events" \
  -H "Content-Type: application/json" -H "X-TIMESTAMP: $NOW" -H "X-SIGNATURE: $SIG" --data-binary "$BODY"
echo
`

func baseURL(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "http://" + addr.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// readOrCreate returns the trimmed content of path, creating it (0600) with
// gen() on first use.
func readOrCreate(path string, gen func() string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	v := gen()
	if err := os.WriteFile(path, []byte(v+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	return v, nil
}
