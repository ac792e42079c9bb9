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
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/api"
	"github.com/partnerhub/partnerhub/internal/pgtest"
	"github.com/partnerhub/partnerhub/internal/seal"
	"github.com/partnerhub/partnerhub/jobs"
	"github.com/partnerhub/partnerhub/pay1st"
	"github.com/partnerhub/partnerhub/pay1st/sim"
	"github.com/partnerhub/partnerhub/payment"
	"github.com/partnerhub/partnerhub/tenant"
)

// faults sits in front of the simulator and spoils create-payment answers
// on request, in order: "500" answers a 5xx without reaching the simulator;
// "lose" lets the simulator create the payment, then cuts the connection
// before the answer; "429" answers Pay1st's rate limit; "echo400" and
// "echo503" refuse, quoting the webhookUrl sent (token and all); "400dup"
// refuses a reused partnerReference with a 400, as Pay1st may instead of
// 409. Everything else reaches the simulator untouched.
type faults struct {
	sim  *sim.Simulator
	mu   sync.Mutex
	next []string
}

func (f *faults) then(actions ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.next = append(f.next, actions...)
}

// pending is how many actions are still queued (Pay1st not called for
// them).
func (f *faults) pending() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.next)
}

func (f *faults) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	action := ""
	if r.URL.Path == pay1st.PathCreate {
		f.mu.Lock()
		if len(f.next) > 0 {
			action, f.next = f.next[0], f.next[1:]
		}
		f.mu.Unlock()
	}
	switch action {
	case "500":
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"errorMessage":"try later","errorCode":"UNAVAILABLE"}`))
	case "429":
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write([]byte(`{"errorMessage":"slow down","errorCode":"RATE_LIMITED"}`))
	case "echo400", "echo503":
		var body struct {
			WebhookURL string `json:"webhookUrl"`
		}
		raw, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(raw, &body)
		msg, _ := json.Marshal(map[string]string{"errorMessage": "webhookUrl " + body.WebhookURL + " is not reachable", "errorCode": "BAD_URL"})
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(map[string]int{"echo400": http.StatusBadRequest, "echo503": http.StatusServiceUnavailable}[action])
		_, _ = w.Write(msg)
	case "400dup":
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"errorMessage":"partnerReference already used","errorCode":"DUPLICATE"}`))
	case "lose":
		f.sim.ServeHTTP(httptest.NewRecorder(), r)
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			_ = conn.Close()
		}
	default:
		f.sim.ServeHTTP(w, r)
	}
}

// orderBundle is an API with orders enabled against a simulator, and a
// tenant "acme" whose staging credentials the simulator knows, with a
// catalog of two bundles sold in ZA.
type orderBundle struct {
	bundle
	sim    *sim.Simulator
	faults *faults
	path   string
}

const (
	orderAPIKey     = "ak-orders-0001"
	orderAPISecret  = "as-orders-secret-0002"
	orderSigningKey = "sk-orders-signing-0003"
)

func setupOrders(t *testing.T) orderBundle {
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

	simulator, err := sim.New(sim.Options{})
	require.NoError(t, err)
	f := &faults{sim: simulator}
	gw := httptest.NewServer(f) // loopback
	t.Cleanup(gw.Close)
	client, err := pay1st.NewClient(pay1st.ClientConfig{BaseURL: gw.URL, CheckoutBaseURL: "https://checkout.example.com",
		MaxAttempts: 2, RetryBaseDelay: time.Millisecond, RetryMaxDelay: time.Millisecond, Logger: logger})
	require.NoError(t, err)

	payments := payment.NewService(pool, enq)
	srv := httptest.NewUnstartedServer(nil)
	srv.Start()
	t.Cleanup(srv.Close)
	payments.SetCheckout(payment.Checkout{Tenants: tenants, Gateways: pay1st.NewGateways(client, nil),
		PublicURL: srv.URL, Logger: logger})
	srv.Config.Handler = api.New(api.Deps{
		Tenants: tenants, Payments: payments, Logger: logger, PublicURL: srv.URL,
		Ready:        func(ctx context.Context) error { return pool.Ping(ctx) },
		MaxBodyBytes: 1 << 20, SignatureWindow: 5 * time.Minute,
	})
	key := tenant.NewKey()
	require.NoError(t, tenants.EnsureOperatorKey(ctx, key, "test"))
	b := orderBundle{bundle: bundle{pool: pool, srv: srv, operatorKey: key, logs: logs, tenants: tenants},
		sim: simulator, faults: f, path: "/v1/tenants/acme/environments/staging/orders"}

	b.createTenant(t, "acme", 4242)
	status, _, out := b.call(t, http.MethodPut, "/v1/tenants/acme/environments/staging/credentials", key,
		map[string]any{"apiKey": orderAPIKey, "apiSecret": orderAPISecret, "signingKey": orderSigningKey})
	require.Equal(t, http.StatusOK, status, out)
	require.NoError(t, simulator.AddPartner(sim.Partner{PartnerID: 4242, PartnerCode: "acme",
		APIKey: orderAPIKey, APISecret: orderAPISecret, SigningKey: orderSigningKey}))

	status, _, product := b.call(t, http.MethodPost, "/v1/tenants/acme/environments/staging/products", key,
		map[string]any{"name": "Gold", "countries": []string{"ZA", "NG"}, "fulfilmentMethod": "plugin"})
	require.Equal(t, http.StatusCreated, status, product)
	for _, bd := range []map[string]any{
		{"sku": "gold-100", "name": "100 Gold", "quantity": "100", "prices": []map[string]any{
			{"countryCode": "ZA", "currencyCode": "ZAR", "amount": "19.99"}, {"countryCode": "NG", "currencyCode": "NGN", "amount": "1000.00"}}},
		{"sku": "gold-550", "name": "550 Gold", "quantity": "550.5", "prices": []map[string]any{
			{"countryCode": "ZA", "currencyCode": "ZAR", "amount": "0.10000001"}}},
	} {
		bd["productId"] = product["id"]
		bd["digitalCurrency"] = map[string]any{"name": "Gold", "code": "GLD"}
		status, _, out := b.call(t, http.MethodPost, "/v1/tenants/acme/environments/staging/bundles", key, bd)
		require.Equal(t, http.StatusCreated, status, out)
	}
	return b
}

func orderBody(ref string) map[string]any {
	return map[string]any{"partnerReference": ref, "customer": map[string]any{"id": 1001}, "countryCode": "ZA",
		"products": []map[string]any{{"sku": "gold-100", "quantity": 2}, {"sku": "gold-550", "quantity": 3}}}
}

// creates are the create-payment requests the simulator answered.
func (b orderBundle) creates() []sim.Request {
	var out []sim.Request
	for _, r := range b.sim.Requests() {
		if r.Path == pay1st.PathCreate {
			out = append(out, r)
		}
	}
	return out
}

func (b orderBundle) orderCount(t *testing.T) int {
	t.Helper()
	var n int
	require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT count(*) FROM orders`).Scan(&n))
	return n
}

func TestCreateOrderPricesFromCatalogAndIsIdempotent(t *testing.T) {
	t.Parallel()
	b := setupOrders(t)

	status, _, out := b.call(t, http.MethodPost, b.path, b.operatorKey, orderBody("ord-1"))
	require.Equal(t, http.StatusCreated, status, out)
	require.Equal(t, "created", out["status"])
	require.Equal(t, "ZAR", out["currencyCode"], "the one currency of the catalog in ZA")
	require.Equal(t, "40.28000003", out["amount"], "2 × 19.99 + 3 × 0.10000001, exact")
	ref := out["reference"].(string)
	require.NotEmpty(t, ref)
	link, err := url.Parse(out["checkoutUrl"].(string))
	require.NoError(t, err)
	require.Equal(t, "checkout.example.com", link.Host)
	require.Equal(t, "/checkout", link.Path)
	require.Equal(t, ref, link.Query().Get("reference"))
	require.Equal(t, "4242", link.Query().Get("channelId"))
	require.NotEmpty(t, link.Query().Get("accessToken"))
	items := out["items"].([]any)
	require.Len(t, items, 2)
	require.Equal(t, "550.5", items[1].(map[string]any)["digitalAmount"])

	// The simulator saw one signed create with the catalog's prices and
	// partnerhub's own URLs (it checks the signature and the total itself).
	creates := b.creates()
	require.Len(t, creates, 1)
	require.Equal(t, http.StatusOK, creates[0].Status)
	require.True(t, pay1st.VerifyRequest(orderSigningKey, creates[0].Timestamp, creates[0].Body, creates[0].Signature))
	var sent map[string]any
	dec := json.NewDecoder(bytes.NewReader(creates[0].Body))
	dec.UseNumber()
	require.NoError(t, dec.Decode(&sent))
	require.Equal(t, json.Number("40.28000003"), sent["amount"])
	require.Equal(t, json.Number("19.99"), sent["products"].([]any)[0].(map[string]any)["price"])
	require.Equal(t, b.srv.URL+"/pay1st/staging/acme/payment-events", sent["webhookUrl"])
	require.Equal(t, b.srv.URL+"/pay1st/staging/acme/return/success", sent["callbackSuccessUrl"])
	paid, ok := b.sim.Payment(ref)
	require.True(t, ok)
	require.Equal(t, "ord-1", paid.PartnerReference)

	// The same request again: the stored order, no second create.
	status, _, again := b.call(t, http.MethodPost, b.path, b.operatorKey, orderBody("ord-1"))
	require.Equal(t, http.StatusOK, status, again)
	require.Equal(t, ref, again["reference"])
	require.NotEmpty(t, again["checkoutUrl"])
	require.Len(t, b.creates(), 1)

	// Another body with the same partnerReference: a conflict, nothing sent.
	other := orderBody("ord-1")
	other["customer"] = map[string]any{"id": 2002}
	status, _, conflict := b.call(t, http.MethodPost, b.path, b.operatorKey, other)
	require.Equal(t, http.StatusConflict, status, conflict)
	require.Contains(t, conflict["detail"], "partnerReference")
	require.Len(t, b.creates(), 1)

	// Read it back: no checkout link (it holds an access token).
	status, _, got := b.call(t, http.MethodGet, b.path+"/ord-1", b.operatorKey, nil)
	require.Equal(t, http.StatusOK, status, got)
	require.Equal(t, ref, got["reference"])
	require.NotContains(t, got, "checkoutUrl")
	status, _, list := b.call(t, http.MethodGet, b.path+"?status=created", b.operatorKey, nil)
	require.Equal(t, http.StatusOK, status, list)
	require.Len(t, list["items"], 1)
	require.NotContains(t, b.logs.String(), link.Query().Get("accessToken"), "the access token is never logged")
}

func TestCreateOrderBadInputStoresNothing(t *testing.T) {
	t.Parallel()
	b := setupOrders(t)
	withProducts := func(country string, lines ...map[string]any) map[string]any {
		body := orderBody("bad-1")
		body["countryCode"], body["products"] = country, lines
		return body
	}
	tests := []struct {
		name   string
		body   map[string]any
		status int
		detail string
	}{
		{"unknown SKU", withProducts("ZA", map[string]any{"sku": "nope-1", "quantity": 1}), 422, "nope-1"},
		{"country not priced", withProducts("KE", map[string]any{"sku": "gold-100", "quantity": 1}), 422, "gold-100"},
		{"one line not priced in the country", withProducts("NG", map[string]any{"sku": "gold-100", "quantity": 1},
			map[string]any{"sku": "gold-550", "quantity": 1}), 422, "gold-550"},
		{"quantity too large", withProducts("ZA", map[string]any{"sku": "gold-100", "quantity": 1001}), 422, ""},
		{"SKU twice", withProducts("ZA", map[string]any{"sku": "gold-100", "quantity": 1},
			map[string]any{"sku": "gold-100", "quantity": 1}), 422, "gold-100"},
		{"currency not priced", func() map[string]any {
			body := orderBody("bad-1")
			body["currencyCode"] = "USD"
			return body
		}(), 422, "gold-100"},
	}
	for _, tt := range tests {
		status, ctype, out := b.call(t, http.MethodPost, b.path, b.operatorKey, tt.body)
		require.Equal(t, tt.status, status, "%s: %v", tt.name, out)
		require.Equal(t, "application/problem+json", ctype)
		blob, _ := json.Marshal(out)
		require.Contains(t, string(blob), tt.detail, tt.name)
	}
	require.Zero(t, b.orderCount(t), "nothing stored")
	require.Empty(t, b.creates(), "Pay1st not called")

	// No gateway for production; a viewer key may not create.
	status, _, out := b.call(t, http.MethodPost, "/v1/tenants/acme/environments/production/orders", b.operatorKey, orderBody("prod-1"))
	require.Equal(t, http.StatusServiceUnavailable, status, out)
	acme, err := b.tenants.Get(context.Background(), "acme")
	require.NoError(t, err)
	viewer, err := b.tenants.CreateTenantKey(context.Background(), acme, tenant.RoleViewer, "viewer")
	require.NoError(t, err)
	status, _, out = b.call(t, http.MethodPost, b.path, viewer, orderBody("view-1"))
	require.Equal(t, http.StatusForbidden, status, out)
	require.Zero(t, b.orderCount(t))
}

func TestCreateOrderRetriesPay1st5xx(t *testing.T) {
	t.Parallel()
	b := setupOrders(t)

	// A 5xx, then the client's retry goes through: created, one payment.
	b.faults.then("500")
	status, _, out := b.call(t, http.MethodPost, b.path, b.operatorKey, orderBody("ord-5xx"))
	require.Equal(t, http.StatusCreated, status, out)
	require.Len(t, b.creates(), 1, "the 5xx never reached the simulator")

	// 5xx on every attempt: 502, the order kept and retryable.
	b.faults.then("500", "500")
	status, _, out = b.call(t, http.MethodPost, b.path, b.operatorKey, orderBody("ord-down"))
	require.Equal(t, http.StatusBadGateway, status, out)
	require.Contains(t, out["detail"], "UNAVAILABLE")
	status, _, got := b.call(t, http.MethodGet, b.path+"/ord-down", b.operatorKey, nil)
	require.Equal(t, http.StatusOK, status, got)
	require.Equal(t, "creating", got["status"])
	require.Contains(t, got["lastError"], "try later")
	status, _, out = b.call(t, http.MethodPost, b.path, b.operatorKey, orderBody("ord-down"))
	require.Equal(t, http.StatusCreated, status, out)
	require.Equal(t, "created", out["status"])
	require.Len(t, b.creates(), 2)
}

func TestCreateOrderLostAnswerIsUnknownNeverTwice(t *testing.T) {
	t.Parallel()
	b := setupOrders(t)

	// The simulator creates the payment but the answer is lost, and so is
	// the answer to the client's retry: partnerhub cannot know yet.
	b.faults.then("lose", "lose")
	status, _, out := b.call(t, http.MethodPost, b.path, b.operatorKey, orderBody("ord-lost"))
	require.Equal(t, http.StatusBadGateway, status, out)
	paid, ok := b.sim.PaymentByPartnerReference("acme", "ord-lost")
	require.True(t, ok, "Pay1st has it")

	// The same request again: Pay1st refuses the reused reference; the
	// order is unknown, said so, and no second payment exists.
	status, _, out = b.call(t, http.MethodPost, b.path, b.operatorKey, orderBody("ord-lost"))
	require.Equal(t, http.StatusConflict, status, out)
	require.Contains(t, out["detail"], "unknown")
	status, _, got := b.call(t, http.MethodGet, b.path+"/ord-lost", b.operatorKey, nil)
	require.Equal(t, http.StatusOK, status, got)
	require.Equal(t, "unknown", got["status"])
	require.NotContains(t, got, "reference")
	status, _, out = b.call(t, http.MethodPost, b.path, b.operatorKey, orderBody("ord-lost"))
	require.Equal(t, http.StatusConflict, status, out)
	n := 0
	for _, r := range b.creates() {
		if r.Status == http.StatusOK {
			n++
		}
	}
	require.Equal(t, 1, n, "one payment at Pay1st: %s", paid.Reference)

	// Its webhook tells: the customer paid, and the order learns its
	// reference from the event.
	require.NoError(t, b.sim.Pay(context.Background(), paid.Reference))
	status, _, got = b.call(t, http.MethodGet, b.path+"/ord-lost", b.operatorKey, nil)
	require.Equal(t, http.StatusOK, status, got)
	require.Equal(t, "created", got["status"])
	require.Equal(t, paid.Reference, got["reference"])
	require.Equal(t, "SUCCESSFUL", got["paymentStatus"])
	status, _, again := b.call(t, http.MethodPost, b.path, b.operatorKey, orderBody("ord-lost"))
	require.Equal(t, http.StatusOK, status, again)
	require.NotEmpty(t, again["checkoutUrl"])
}

func TestCreateOrderNeedsCredentials(t *testing.T) {
	t.Parallel()
	b := setupOrders(t)
	b.createTenant(t, "bare", 7)
	status, _, out := b.call(t, http.MethodPost, "/v1/tenants/bare/environments/staging/orders", b.operatorKey, orderBody("x-1"))
	require.Equal(t, http.StatusConflict, status, out)
	require.Contains(t, out["detail"], "apiKey")
	require.False(t, strings.Contains(b.logs.String(), orderAPISecret), "no secret in logs")
	require.Zero(t, b.orderCount(t))
}

// bravoOrder stores an order for tenant bravo (as create-order leaves it)
// and returns its partnerReference.
func bravoOrder(t *testing.T, b bundle) string {
	t.Helper()
	_, err := b.pool.Exec(context.Background(), `INSERT INTO orders (tenant_id, environment, partner_reference, gateway,
		reference, status, country_code, currency_code, amount, customer_id, request_hash)
		SELECT id, 'staging', 'bravo-ord-1', 'pay1st', 'C-BRAVO-ORD-P', 'created', 'ZA', 'ZAR', 9.99, 5, sha256('x')
		FROM tenants WHERE partner_code = 'bravo'`)
	require.NoError(t, err)
	return "bravo-ord-1"
}

func TestCreateOrderPay1stRefusalIsShownAndRetryable(t *testing.T) {
	t.Parallel()
	b := setupOrders(t)
	// A Signing Key Pay1st does not know: the simulator refuses every
	// signature (401), the client's token refresh does not help.
	wrong := "sk-wrong-signing-key-0004"
	status, _, out := b.call(t, http.MethodPut, "/v1/tenants/acme/environments/staging/credentials", b.operatorKey,
		map[string]any{"signingKey": wrong})
	require.Equal(t, http.StatusOK, status, out)
	status, _, out = b.call(t, http.MethodPost, b.path, b.operatorKey, orderBody("ord-refused"))
	require.Equal(t, http.StatusBadGateway, status, out)
	require.Contains(t, out["detail"], "signature does not match", "Pay1st's own words")
	blob, _ := json.Marshal(out)
	for _, secret := range []string{wrong, orderAPISecret} {
		require.NotContains(t, string(blob), secret)
		require.NotContains(t, b.logs.String(), secret)
	}
	status, _, got := b.call(t, http.MethodGet, b.path+"/ord-refused", b.operatorKey, nil)
	require.Equal(t, http.StatusOK, status, got)
	require.Equal(t, "failed", got["status"])
	require.Contains(t, got["lastError"], "HTTP 401")

	// Fixed: the same request goes through.
	status, _, out = b.call(t, http.MethodPut, "/v1/tenants/acme/environments/staging/credentials", b.operatorKey,
		map[string]any{"signingKey": orderSigningKey})
	require.Equal(t, http.StatusOK, status, out)
	status, _, out = b.call(t, http.MethodPost, b.path, b.operatorKey, orderBody("ord-refused"))
	require.Equal(t, http.StatusCreated, status, out)
	require.Equal(t, "created", out["status"])
}

func TestCreateOrderConcurrentSameRequestCreatesOnce(t *testing.T) {
	t.Parallel()
	b := setupOrders(t)
	const n = 8
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			statuses[i], _, _ = b.call(t, http.MethodPost, b.path, b.operatorKey, orderBody("ord-race"))
		})
	}
	wg.Wait()
	created := 0
	for _, s := range statuses {
		// 503: another request was creating it (retry after Retry-After).
		require.Contains(t, []int{http.StatusCreated, http.StatusOK, http.StatusServiceUnavailable}, s, "%v", statuses)
		if s == http.StatusCreated {
			created++
		}
	}
	require.Equal(t, 1, created, "%v", statuses)
	require.Len(t, b.creates(), 1, "one create at Pay1st")
	require.Equal(t, 1, b.orderCount(t))
}
