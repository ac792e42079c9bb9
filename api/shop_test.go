package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/api"
	"github.com/partnerhub/partnerhub/internal/db"
	"github.com/partnerhub/partnerhub/internal/pgtest"
	"github.com/partnerhub/partnerhub/internal/seal"
	"github.com/partnerhub/partnerhub/jobs"
	"github.com/partnerhub/partnerhub/pay1st"
	"github.com/partnerhub/partnerhub/payment"
	"github.com/partnerhub/partnerhub/plugins"
	"github.com/partnerhub/partnerhub/plugins/host"
	"github.com/partnerhub/partnerhub/plugins/plugintest"
	"github.com/partnerhub/partnerhub/tenant"
)

// shopBundle is setup's bundle with the plugin host, for the Shop-side
// endpoints: tenant "acme" (staging) runs the example wallet plugin with
// Basic Auth credentials set, "slowco" runs api/testdata/lookupplugin, and
// "bare" has no plugin and no credentials.
type shopBundle struct {
	bundle
	payments *payment.Service
	registry *plugins.Registry
}

const (
	shopUser = "apiuser"
	shopPass = "apipassword"
)

type shopOpts struct {
	userInfoTimeout time.Duration
	rate            float64
	burst           int
}

func setupShop(t *testing.T, o shopOpts) shopBundle {
	t.Helper()
	ctx := context.Background()
	pool := pgtest.New(t)
	box, err := seal.New(bytes.Repeat([]byte{3}, 32))
	require.NoError(t, err)
	logs := &bytes.Buffer{}
	logger := slog.New(slog.NewJSONHandler(&lockedWriter{w: logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	tenants := tenant.NewService(pool, box, tenant.WithLogger(logger))
	enq, err := jobs.NewEnqueuer(pool, jobs.Config{FetchCooldown: 10 * time.Millisecond}, logger)
	require.NoError(t, err)
	payments := payment.NewService(pool, enq)
	registry := plugins.NewRegistry(pool)
	dir, err := os.MkdirTemp("", "partnerhub-api-")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(dir, 0o755)) // plugins run as nobody when tests run as root
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	h, err := host.New(host.Config{CacheDir: filepath.Join(dir, "cache"), WorkDir: filepath.Join(dir, "work"), Logger: logger}, registry)
	require.NoError(t, err)
	t.Cleanup(func() { _ = h.Close() })

	srv := httptest.NewServer(api.New(api.Deps{
		Tenants: tenants, Payments: payments, Logger: logger,
		Ready:        func(ctx context.Context) error { return pool.Ping(ctx) },
		MaxBodyBytes: 1 << 20, SignatureWindow: 5 * time.Minute,
		Plugins: registry, PluginHost: h, UserInfoTimeout: o.userInfoTimeout,
		RateLimitPerTenant: o.rate, RateLimitBurst: o.burst,
	}))
	t.Cleanup(srv.Close)
	key := tenant.NewKey()
	require.NoError(t, tenants.EnsureOperatorKey(ctx, key, "test"))
	b := shopBundle{bundle: bundle{pool: pool, srv: srv, operatorKey: key, logs: logs, tenants: tenants},
		payments: payments, registry: registry}

	b.createTenant(t, "acme", 1)
	b.createTenant(t, "slowco", 2)
	b.createTenant(t, "bare", 3)
	b.activate(t, "acme", plugintest.Wallet(t).Bytes)
	b.activate(t, "slowco", plugintest.Build(t, "github.com/partnerhub/partnerhub/api/testdata/lookupplugin").Bytes)
	acme, err := tenants.Get(ctx, "acme")
	require.NoError(t, err)
	user, pass := shopUser, shopPass
	_, err = tenants.SetCredentials(ctx, acme, tenant.Staging, tenant.Credentials{BasicAuthUsername: &user, BasicAuthPassword: &pass})
	require.NoError(t, err)
	return b
}

func (b shopBundle) activate(t *testing.T, code string, bin []byte) {
	t.Helper()
	ctx := context.Background()
	tn, err := b.tenants.Get(ctx, code)
	require.NoError(t, err)
	pl, err := b.registry.Register(ctx, plugins.RegisterParams{TenantID: tn.ID, Name: "p", Version: "1",
		OS: runtime.GOOS, Arch: runtime.GOARCH, Binary: bin})
	require.NoError(t, err)
	require.NoError(t, db.InTx(ctx, b.pool, func(tx pgx.Tx) error {
		return b.tenants.SetActivePluginTx(ctx, tx, tn, tenant.Staging, pl.ID)
	}))
}

// addBundle creates a product and a bundle whose Pay1st id is pay1stID.
func (b shopBundle) addBundle(t *testing.T, code string, pay1stID int64) tenant.Bundle {
	t.Helper()
	ctx := context.Background()
	tn, err := b.tenants.Get(ctx, code)
	require.NoError(t, err)
	p, err := b.tenants.CreateProduct(ctx, tn.ID, tenant.Staging, tenant.ProductParams{Name: "Credits",
		Countries: []string{"ZA"}, FulfilmentMethod: "plugin"})
	require.NoError(t, err)
	bd, err := b.tenants.CreateBundle(ctx, tn.ID, tenant.Staging, tenant.BundleParams{ProductID: p.ID, SKU: "CRE-11",
		Name: "11 Credits", Quantity: decimal.RequireFromString("11"), DigitalCurrencyName: "Credits",
		DigitalCurrencyCode: "CRE", Pay1stBundleID: pay1stID,
		Prices: []tenant.Price{{CountryCode: "ZA", CurrencyCode: "ZAR", Amount: decimal.RequireFromString("1000")}}})
	require.NoError(t, err)
	return bd
}

// raw sends a request with the given headers and returns status, headers
// and body.
func (b shopBundle) raw(t *testing.T, method, path string, body []byte, hdr map[string]string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, b.srv.URL+path, bytes.NewReader(body))
	require.NoError(t, err)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, out
}

func decode(t *testing.T, raw []byte) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m), string(raw))
	return m
}

// lastDelivery returns the newest delivery of a kind.
func (b shopBundle) lastDelivery(t *testing.T, kind string) (verdict, reason string, status int) {
	t.Helper()
	require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT verdict, reason, status_code FROM deliveries
		WHERE kind = $1 ORDER BY id DESC LIMIT 1`, kind).Scan(&verdict, &reason, &status))
	return verdict, reason, status
}

func (b shopBundle) count(t *testing.T, query string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, b.pool.QueryRow(context.Background(), query, args...).Scan(&n))
	return n
}

const summaryBody = `{"reference":"C1st_d6213ccf-e838-4c42-9222-4356bb67a7a2","playerId":"12345","productBundleId":1,"amount":1000,"currency":"ZAR","tokensPurchased":11,"digitalCurrency":{"name":"Credits","code":"CRE"},"status":"SUCCESSFUL"}`

// summaryVector is the published signature of summaryBody.
const summaryVector = "e6ed74ec975440b8653212fafa91e079cbe83af234b541ebfcdeab9dedd1c923"

func TestSummaryWebhook(t *testing.T) {
	t.Parallel()
	b := setupShop(t, shopOpts{})
	bd := b.addBundle(t, "acme", 1)
	path := "/pay1st/staging/acme/summary"
	signed := map[string]string{"Content-Type": "application/json", pay1st.HeaderSignature: summaryVector}

	// Accepted once: payment, item and one fulfil job, after commit.
	status, _, raw := b.raw(t, http.MethodPost, path, []byte(summaryBody+"\n"), signed)
	require.Equal(t, http.StatusOK, status, string(raw))
	ack := decode(t, raw)
	require.Equal(t, "accepted", ack["status"])
	require.NotEmpty(t, ack["sessionId"])
	var source, player, amount, st string
	var paymentID int64
	require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT id, source, player_id, amount::text, status FROM payments
		WHERE reference = 'C1st_d6213ccf-e838-4c42-9222-4356bb67a7a2'`).Scan(&paymentID, &source, &player, &amount, &st))
	require.Equal(t, []string{"shop", "12345", "1000", "SUCCESSFUL"}, []string{source, player, amount, st})
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM payment_items WHERE payment_id = $1 AND bundle_id = $2`, paymentID, bd.ID))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM river_job WHERE kind = 'fulfil'`))

	// What the fulfil worker sends the plugin.
	pur, err := b.payments.PurchaseOf(context.Background(), paymentID)
	require.NoError(t, err)
	require.Equal(t, "12345", pur.PlayerID)
	require.Len(t, pur.Items, 1)
	it := pur.Items[0]
	require.Equal(t, []any{"CRE-11", "11 Credits", int64(1), "CRE", "Credits", "11"},
		[]any{it.SKU, it.Name, it.Quantity, it.DigitalCurrencyCode, it.DigitalCurrencyName, it.DigitalAmount.Decimal.String()})

	// The same reference again: duplicate, nothing new.
	status, _, raw = b.raw(t, http.MethodPost, path, []byte(summaryBody), signed)
	require.Equal(t, http.StatusOK, status, string(raw))
	require.Equal(t, "duplicate", decode(t, raw)["status"])
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM payment_items`))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM river_job WHERE kind = 'fulfil'`))
	verdict, _, _ := b.lastDelivery(t, payment.KindSummary)
	require.Equal(t, payment.VerdictDuplicate, verdict)

	refused := []struct {
		name   string
		path   string
		body   string
		sig    string
		status int
		code   string
		reason string
	}{
		{"bad signature", path, summaryBody, strings.Repeat("0", 64), 401, pay1st.CodeUnauthorized, "signature does not match"},
		{"no signature", path, summaryBody, "", 401, pay1st.CodeUnauthorized, "missing X-SIGNATURE"},
		{"signed by other credentials", path, summaryBody, pay1st.SignSummary("apiuser", "other", []byte(summaryBody)), 401, pay1st.CodeUnauthorized, "signature does not match"},
		{"missing credentials", "/pay1st/staging/bare/summary", summaryBody, summaryVector, 401, pay1st.CodeUnauthorized, "no Basic Auth credentials"},
		{"unknown tenant", "/pay1st/staging/nobody/summary", summaryBody, summaryVector, 404, pay1st.CodeNotFound, "unknown partnerCode"},
		{"unknown bundle", path, strings.Replace(summaryBody, `"productBundleId":1`, `"productBundleId":7`, 1), "", 422, pay1st.CodeUnknownBundle, "productBundleId 7"},
		{"bad field", path, strings.Replace(summaryBody, `"amount":1000`, `"amount":"1000"`, 1), "", 422, pay1st.CodeInvalidField, "field amount"},
		{"not successful", path, strings.Replace(summaryBody, `SUCCESSFUL`, `FAILED`, 1), "", 422, pay1st.CodeNotSuccessful, "only SUCCESSFUL"},
		{"malformed", path, `{"reference":`, "", 400, pay1st.CodeMalformed, "malformed"},
		{"too large", path, `{"x":"` + strings.Repeat("a", 1<<20) + `"}`, "", 413, pay1st.CodePayloadTooLarge, "larger than the limit"},
		{"control character in reference", path, strings.Replace(summaryBody, `"reference":"C1st_`, `"reference":"\u0000C1st_`, 1), "", 422, pay1st.CodeInvalidField, "field reference"},
	}
	for _, tc := range refused {
		sig := tc.sig
		if sig == "" && tc.status != 401 {
			sig = pay1st.SignSummary(shopUser, shopPass, []byte(tc.body))
		}
		hdr := map[string]string{"Content-Type": "application/json"}
		if sig != "" {
			hdr[pay1st.HeaderSignature] = sig
		}
		status, _, raw := b.raw(t, http.MethodPost, tc.path, []byte(tc.body), hdr)
		require.Equal(t, tc.status, status, "%s: %s", tc.name, raw)
		body := decode(t, raw)
		require.Equal(t, tc.code, body["errorCode"], tc.name)
		require.NotEmpty(t, body["sessionId"], tc.name)
		verdict, reason, recorded := b.lastDelivery(t, payment.KindSummary)
		require.Equal(t, payment.VerdictRejected, verdict, tc.name)
		require.Contains(t, reason, tc.reason, tc.name)
		require.Equal(t, tc.status, recorded, tc.name)
	}
	// Nothing refused was fulfilled.
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM river_job WHERE kind = 'fulfil'`))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM payments`))

	status, _, _ = b.raw(t, http.MethodGet, path, nil, nil)
	require.Equal(t, http.StatusMethodNotAllowed, status)

	// A suspended tenant's summaries are recorded, not acted on; Pay1st
	// retries later.
	status, _, _ = b.call(t, http.MethodPost, "/v1/tenants/acme/suspend", b.operatorKey, nil)
	require.Equal(t, http.StatusOK, status)
	other := strings.Replace(summaryBody, "C1st_d6213ccf", "C1st_00000000", 1)
	status, _, _ = b.raw(t, http.MethodPost, path, []byte(other),
		map[string]string{pay1st.HeaderSignature: pay1st.SignSummary(shopUser, shopPass, []byte(other))})
	require.Equal(t, http.StatusServiceUnavailable, status, "suspending forgets this node's cached environment")
	_, reason, _ := b.lastDelivery(t, payment.KindSummary)
	require.Equal(t, "tenant is suspended", reason)
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM river_job WHERE kind = 'fulfil'`))
}

func TestUserInfoWebhook(t *testing.T) {
	t.Parallel()
	b := setupShop(t, shopOpts{userInfoTimeout: 2 * time.Second})
	basic := func(u, p string) map[string]string {
		r, _ := http.NewRequest(http.MethodGet, "http://x", nil)
		r.SetBasicAuth(u, p)
		return map[string]string{"Authorization": r.Header.Get("Authorization")}
	}
	good := basic(shopUser, shopPass)
	// Start both plugins: a cold start may take longer than the deadline,
	// and goes on in the background when it does.
	for _, path := range []string{"/pay1st/staging/acme/user-info?playerId=warm", "/pay1st/staging/slowco/user-info?playerId=warm"} {
		require.Eventually(t, func() bool {
			status, _, _ := b.raw(t, http.MethodGet, path, nil, good)
			return status == http.StatusOK
		}, 60*time.Second, 50*time.Millisecond)
	}

	// Found, through the wallet plugin: amount exact, echoed.
	status, _, raw := b.raw(t, http.MethodGet, "/pay1st/staging/acme/user-info?playerId=TEST123&externalReference=EXT_REF&amount=1000.50&currencyCode=NGN&countryCode=NG&quantity=1&productBundleId=1&productBundleExternalId=CRE-11", nil, good)
	require.Equal(t, http.StatusOK, status, string(raw))
	require.JSONEq(t, `{"userId":"TEST123","externalReference":"EXT_REF","amount":1000.50,"currencyCode":"NGN"}`, string(raw))
	require.Contains(t, string(raw), `"amount":1000.5`, "an exact JSON number, not a string or a float")
	verdict, _, _ := b.lastDelivery(t, payment.KindUserInfo)
	require.Equal(t, payment.VerdictAccepted, verdict)

	cases := []struct {
		name   string
		path   string
		hdr    map[string]string
		status int
		code   string
		reason string
	}{
		{"not found", "/pay1st/staging/acme/user-info?playerId=" + url.QueryEscape("no such player!"), good, 400, "PLAYER_NOT_FOUND", "player not found"},
		{"no basic auth", "/pay1st/staging/acme/user-info?playerId=TEST123", nil, 401, pay1st.CodeUnauthorized, "missing or malformed"},
		{"wrong password", "/pay1st/staging/acme/user-info?playerId=TEST123", basic(shopUser, "nope"), 401, pay1st.CodeUnauthorized, "do not match"},
		{"missing playerId", "/pay1st/staging/acme/user-info?amount=1", good, 400, pay1st.CodeInvalidField, "playerId is missing"},
		{"long playerId", "/pay1st/staging/acme/user-info?playerId=" + strings.Repeat("p", 129), good, 400, pay1st.CodeInvalidField, "longer than 128"},
		{"twice playerId", "/pay1st/staging/acme/user-info?playerId=a&playerId=b", good, 400, pay1st.CodeInvalidField, "more than once"},
		{"bad amount", "/pay1st/staging/acme/user-info?playerId=a&amount=1e999", good, 400, pay1st.CodeInvalidField, "amount"},
		{"float garbage amount", "/pay1st/staging/acme/user-info?playerId=a&amount=NaN", good, 400, pay1st.CodeInvalidField, "amount"},
		{"bad quantity", "/pay1st/staging/acme/user-info?playerId=a&quantity=1.5", good, 400, pay1st.CodeInvalidField, "quantity"},
		{"bad bundle", "/pay1st/staging/acme/user-info?playerId=a&productBundleId=-3", good, 400, pay1st.CodeInvalidField, "productBundleId"},
		{"bad currency", "/pay1st/staging/acme/user-info?playerId=a&currencyCode=ngn", good, 400, pay1st.CodeInvalidField, "currencyCode"},
		{"bad country", "/pay1st/staging/acme/user-info?playerId=a&countryCode=NGA", good, 400, pay1st.CodeInvalidField, "countryCode"},
		{"control char", "/pay1st/staging/acme/user-info?playerId=a%00b", good, 400, pay1st.CodeInvalidField, "playerId"},
		{"no plugin", "/pay1st/staging/bare/user-info?playerId=a", nil, 503, pay1st.CodeUnavailable, "no active plugin"},
		{"plugin fails", "/pay1st/staging/slowco/user-info?playerId=boom", nil, 502, pay1st.CodePluginFailed, "exploded"},
		{"plugin says no", "/pay1st/staging/slowco/user-info?playerId=nobody", nil, 400, "BANNED", "BANNED"},
		{"unknown tenant", "/pay1st/staging/ghost/user-info?playerId=a", nil, 404, pay1st.CodeNotFound, "unknown partnerCode"},
	}
	for _, tc := range cases {
		status, _, raw := b.raw(t, http.MethodGet, tc.path, nil, tc.hdr)
		require.Equal(t, tc.status, status, "%s: %s", tc.name, raw)
		body := decode(t, raw)
		require.Equal(t, tc.code, body["errorCode"], tc.name)
		require.NotEmpty(t, body["sessionId"], tc.name)
		require.NotContains(t, body["errorMessage"], "\n", tc.name)
		verdict, reason, recorded := b.lastDelivery(t, payment.KindUserInfo)
		require.Equal(t, payment.VerdictRejected, verdict, tc.name)
		require.Contains(t, reason, tc.reason, tc.name)
		require.Equal(t, tc.status, recorded, tc.name)
	}

	// A plugin slower than the deadline: 504 at the deadline, not a hang.
	start := time.Now()
	status, _, raw = b.raw(t, http.MethodGet, "/pay1st/staging/slowco/user-info?playerId=slow", nil, nil)
	elapsed := time.Since(start)
	require.Equal(t, http.StatusGatewayTimeout, status, string(raw))
	require.Equal(t, pay1st.CodePluginFailed, decode(t, raw)["errorCode"])
	require.Less(t, elapsed, 5*time.Second)
	require.GreaterOrEqual(t, elapsed, 2*time.Second)
	_, reason, _ := b.lastDelivery(t, payment.KindUserInfo)
	require.Contains(t, reason, "did not answer within 2s")
}

func TestCustomerReturn(t *testing.T) {
	t.Parallel()
	b := setupShop(t, shopOpts{})
	ctx := context.Background()
	acme, err := b.tenants.Get(ctx, "acme")
	require.NoError(t, err)
	success, cancel := "https://game.example/done?from=pay1st#top", "https://game.example/cancelled"
	_, err = b.tenants.UpdateEnvironment(ctx, acme, tenant.Staging, tenant.EnvPatch{CallbackSuccessURL: &success, CallbackCancelURL: &cancel})
	require.NoError(t, err)

	status, hdr, _ := b.raw(t, http.MethodGet, "/pay1st/staging/acme/return/success?reference=C-123-P", nil, nil)
	require.Equal(t, http.StatusSeeOther, status)
	require.Equal(t, "https://game.example/done?from=pay1st&reference=C-123-P#top", hdr.Get("Location"))
	status, hdr, _ = b.raw(t, http.MethodGet, "/pay1st/staging/acme/return/cancel?reference=C1st_d6213ccf:x~y", nil, nil)
	require.Equal(t, http.StatusSeeOther, status)
	require.Equal(t, "https://game.example/cancelled?reference=C1st_d6213ccf%3Ax~y", hdr.Get("Location"))
	verdict, _, recorded := b.lastDelivery(t, payment.KindReturn)
	require.Equal(t, payment.VerdictAccepted, verdict)
	require.Equal(t, http.StatusSeeOther, recorded)

	// No callback for pending: the hosted page, self-contained.
	status, hdr, raw := b.raw(t, http.MethodGet, "/pay1st/staging/acme/return/pending?reference=C-9-P", nil, nil)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "text/html; charset=utf-8", hdr.Get("Content-Type"))
	require.Contains(t, hdr.Get("Content-Security-Policy"), "default-src 'none'")
	require.Contains(t, string(raw), "Payment pending")
	require.Contains(t, string(raw), "C-9-P")
	require.NotContains(t, string(raw), "http")
	require.NotContains(t, string(raw), "<script")

	for _, tc := range []struct {
		name, path string
		status     int
	}{
		{"script in reference", "/pay1st/staging/acme/return/success?reference=" + url.QueryEscape(`<script>alert(1)</script>`), 400},
		{"header injection", "/pay1st/staging/acme/return/success?reference=a%0d%0aSet-Cookie:x=1", 400},
		{"open redirect", "/pay1st/staging/acme/return/success?reference=" + url.QueryEscape("https://evil.example/"), 400},
		{"query smuggling", "/pay1st/staging/acme/return/success?reference=" + url.QueryEscape("a&reference=b"), 400},
		{"twice", "/pay1st/staging/acme/return/success?reference=a&reference=b", 400},
		{"too long", "/pay1st/staging/acme/return/success?reference=" + strings.Repeat("a", 129), 400},
		{"unknown outcome", "/pay1st/staging/acme/return/refunded?reference=a", 404},
		{"traversal", "/pay1st/staging/acme/return/..%2f..%2fv1?reference=a", 404},
		{"unknown tenant", "/pay1st/staging/ghost/return/success", 404},
	} {
		status, hdr, raw := b.raw(t, http.MethodGet, tc.path, nil, nil)
		require.Equal(t, tc.status, status, "%s: %s", tc.name, raw)
		require.Empty(t, hdr.Get("Location"), tc.name)
		require.Empty(t, hdr.Values("Set-Cookie"), tc.name)
		require.NotEmpty(t, decode(t, raw)["errorCode"], tc.name)
		verdict, _, _ := b.lastDelivery(t, payment.KindReturn)
		require.Equal(t, payment.VerdictRejected, verdict, tc.name)
	}
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	b := setupShop(t, shopOpts{rate: 5, burst: 2})
	path := "/pay1st/staging/acme/return/pending"
	for range 2 {
		status, _, _ := b.raw(t, http.MethodGet, path, nil, nil)
		require.Equal(t, http.StatusOK, status)
	}
	// Over the burst: 429 with Retry-After and Pay1st's body; other tenants
	// are not affected.
	refused := 0
	for range 20 {
		status, hdr, raw := b.raw(t, http.MethodGet, path, nil, nil)
		if status == http.StatusTooManyRequests {
			refused++
			require.Equal(t, "1", hdr.Get("Retry-After"))
			require.Equal(t, pay1st.CodeRateLimited, decode(t, raw)["errorCode"])
		}
	}
	require.GreaterOrEqual(t, refused, 15)
	status, _, _ := b.raw(t, http.MethodGet, "/pay1st/staging/bare/return/pending", nil, nil)
	require.Equal(t, http.StatusOK, status)

	// Refusals are recorded, at most a few per tenant and second.
	recorded := b.count(t, `SELECT count(*) FROM deliveries WHERE status_code = 429`)
	require.Positive(t, recorded)
	require.LessOrEqual(t, recorded, 10)
	var reason string
	require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT reason FROM deliveries WHERE status_code = 429
		ORDER BY id DESC LIMIT 1`).Scan(&reason))
	require.Contains(t, reason, "rate limit")

	// Recovery: tokens come back at the rate.
	time.Sleep(time.Second)
	status, _, _ = b.raw(t, http.MethodGet, path, nil, nil)
	require.Equal(t, http.StatusOK, status)
}
