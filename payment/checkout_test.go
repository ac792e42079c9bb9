package payment_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/internal/pgtest"
	"github.com/partnerhub/partnerhub/internal/seal"
	"github.com/partnerhub/partnerhub/jobs"
	"github.com/partnerhub/partnerhub/pay1st"
	"github.com/partnerhub/partnerhub/pay1st/sim"
	"github.com/partnerhub/partnerhub/payment"
	"github.com/partnerhub/partnerhub/tenant"
)

func TestOrderRequestValidate(t *testing.T) {
	t.Parallel()
	ok := payment.OrderRequest{PartnerReference: "ord-1", CustomerID: 1, CountryCode: "ZA",
		Products: []payment.OrderLine{{SKU: "gold-1", Quantity: 1}}}
	tests := []struct {
		name  string
		edit  func(r *payment.OrderRequest)
		field string // "" when valid
	}{
		{"valid", func(*payment.OrderRequest) {}, ""},
		{"reference with a slash", func(r *payment.OrderRequest) { r.PartnerReference = "a/b" }, "partnerReference"},
		{"reference too long", func(r *payment.OrderRequest) { r.PartnerReference = strings.Repeat("a", 129) }, "partnerReference"},
		{"no customer", func(r *payment.OrderRequest) { r.CustomerID = 0 }, "customer.id"},
		{"lower-case country", func(r *payment.OrderRequest) { r.CountryCode = "za" }, "countryCode"},
		{"bad currency", func(r *payment.OrderRequest) { r.CurrencyCode = "RAND" }, "currencyCode"},
		{"no products", func(r *payment.OrderRequest) { r.Products = nil }, "products"},
		{"zero quantity", func(r *payment.OrderRequest) { r.Products[0].Quantity = 0 }, "products[0].quantity"},
		{"bad SKU", func(r *payment.OrderRequest) { r.Products[0].SKU = "no spaces" }, "products[0].sku"},
		{"unknown gateway", func(r *payment.OrderRequest) { r.Gateway = "paypal" }, "gateway"},
		{"simulator", func(r *payment.OrderRequest) { r.Gateway = pay1st.GatewaySimulator }, ""},
		{"same SKU twice", func(r *payment.OrderRequest) {
			r.Products = append(r.Products, payment.OrderLine{SKU: "gold-1", Quantity: 2})
		}, "products[1].sku"},
	}
	for _, tt := range tests {
		r := ok
		r.Products = append([]payment.OrderLine(nil), ok.Products...)
		tt.edit(&r)
		err := r.Validate()
		if tt.field == "" {
			require.NoError(t, err, tt.name)
			continue
		}
		var fe *tenant.FieldError
		require.ErrorAs(t, err, &fe, tt.name)
		require.Equal(t, tt.field, fe.Field, tt.name)
	}
}

// checkoutBundle is a payment service with orders enabled against a
// simulator that knows acme's staging credentials.
type checkoutBundle struct {
	bundle
	tenant tenant.Tenant
	sim    *sim.Simulator
	front  *front
	logs   *lockedBuffer // the orders' log, JSON lines
	// checkout is what SetCheckout was given, to set again with changes.
	checkout payment.Checkout
}

// lockedBuffer is a log sink safe for concurrent writers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// front sits in front of the simulator: when set, beforeAnswer runs after
// the simulator answered a create, before the answer goes back (with the
// reference it answered), as an event arriving meanwhile would.
type front struct {
	sim          *sim.Simulator
	mu           sync.Mutex
	beforeAnswer func(reference string)
}

func (f *front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	hook := f.beforeAnswer
	f.mu.Unlock()
	if hook == nil || r.URL.Path != pay1st.PathCreate {
		f.sim.ServeHTTP(w, r)
		return
	}
	rec := httptest.NewRecorder()
	f.sim.ServeHTTP(rec, r)
	var got struct {
		Reference string `json:"reference"`
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &got)
	hook(got.Reference)
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

func (f *front) set(hook func(reference string)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.beforeAnswer = hook
}

func setupCheckout(t *testing.T) checkoutBundle {
	t.Helper()
	ctx := context.Background()
	pool := pgtest.New(t)
	box, err := seal.New(bytes.Repeat([]byte{1}, 32))
	require.NoError(t, err)
	tenants := tenant.NewService(pool, box)
	tn, err := tenants.Create(ctx, tenant.CreateParams{PartnerCode: "acme", PartnerID: 42, Name: "Acme"})
	require.NoError(t, err)
	ak, as, sk := "ak-checkout", "as-checkout-secret", "sk-checkout-signing"
	_, err = tenants.SetCredentials(ctx, tn.Tenant, tenant.Staging, tenant.Credentials{APIKey: &ak, APISecret: &as, SigningKey: &sk})
	require.NoError(t, err)
	p, err := tenants.CreateProduct(ctx, tn.ID, tenant.Staging, tenant.ProductParams{Name: "Gems",
		Countries: []string{"ZA"}, FulfilmentMethod: "plugin"})
	require.NoError(t, err)
	_, err = tenants.CreateBundle(ctx, tn.ID, tenant.Staging, tenant.BundleParams{ProductID: p.ID, SKU: "GEM-100",
		Name: "100 Gems", Quantity: decimal.RequireFromString("100.5"), DigitalCurrencyName: "Gems", DigitalCurrencyCode: "GEM",
		Prices: []tenant.Price{{CountryCode: "ZA", CurrencyCode: "ZAR", Amount: decimal.RequireFromString("50.25")}}})
	require.NoError(t, err)
	env, err := tenants.Env(ctx, "acme", tenant.Staging)
	require.NoError(t, err)

	s, err := sim.New(sim.Options{Partners: []sim.Partner{{PartnerID: 42, PartnerCode: "acme",
		APIKey: ak, APISecret: as, SigningKey: sk}}})
	require.NoError(t, err)
	f := &front{sim: s}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	client, err := pay1st.NewClient(pay1st.ClientConfig{BaseURL: srv.URL})
	require.NoError(t, err)
	enq, err := jobs.NewEnqueuer(pool, jobs.Config{FetchCooldown: 10 * time.Millisecond}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	payments := payment.NewService(pool, enq)
	logs := &lockedBuffer{}
	co := payment.Checkout{Tenants: tenants, Gateways: pay1st.NewGateways(client, nil),
		Logger: slog.New(slog.NewJSONHandler(logs, nil))}
	payments.SetCheckout(co)
	return checkoutBundle{bundle: bundle{pool: pool, payments: payments, env: env}, tenant: tn.Tenant, sim: s,
		front: f, logs: logs, checkout: co}
}

// placeOrder creates an order of quantity GEM-100 at the simulator.
func (b checkoutBundle) placeOrder(t *testing.T, partnerRef string, quantity int64) payment.Order {
	t.Helper()
	o, created, err := b.payments.CreateOrder(context.Background(), b.tenant, tenant.Staging, payment.OrderRequest{
		PartnerReference: partnerRef, CustomerID: 1001, CountryCode: "ZA",
		Products: []payment.OrderLine{{SKU: "GEM-100", Quantity: quantity}}})
	require.NoError(t, err)
	require.True(t, created)
	require.Equal(t, payment.OrderCreated, o.Status)
	return o
}

// orderEvent is the simulator's own event for the order's payment, with
// status and time set.
func (b checkoutBundle) orderEvent(t *testing.T, o payment.Order, status pay1st.Status, at time.Time) pay1st.PaymentEvent {
	t.Helper()
	ev := event(o.Reference, status, at)
	ev.PartnerReference, ev.OrderAmount, ev.CurrencyCode, ev.CountryCode = o.PartnerReference, o.Amount, o.CurrencyCode, o.CountryCode
	return ev
}

func TestOrderPaymentPurchaseHasItsItems(t *testing.T) {
	t.Parallel()
	b := setupCheckout(t)
	ctx := context.Background()
	o := b.placeOrder(t, "ord-items", 3)
	require.Equal(t, "150.75", o.Amount.String())
	got, err := b.payments.OrderByReference(ctx, b.env.TenantID, tenant.Staging, o.Reference)
	require.NoError(t, err)
	require.Equal(t, o.PartnerReference, got.PartnerReference)

	res := b.ingest(t, b.orderEvent(t, o, pay1st.StatusSuccessful, t0))
	require.False(t, res.Held, "the amount is the order's")
	require.True(t, res.Enqueued)
	p, pur, err := b.payments.PaymentAndPurchase(ctx, res.PaymentID)
	require.NoError(t, err)
	require.Equal(t, o.Reference, p.Reference)
	require.Equal(t, "1001", pur.PlayerID, "the order's customer")
	require.Len(t, pur.Items, 1)
	it := pur.Items[0]
	require.Equal(t, "GEM-100", it.SKU)
	require.Equal(t, "100 Gems", it.Name)
	require.EqualValues(t, 3, it.Quantity)
	require.Equal(t, "GEM", it.DigitalCurrencyCode)
	require.Equal(t, "Gems", it.DigitalCurrencyName)
	require.True(t, it.DigitalAmount.Valid)
	require.Equal(t, "100.5", it.DigitalAmount.Decimal.String())

	// A gateway payment partnerhub did not create has no purchase.
	other := b.ingest(t, event("C-not-ours-P", pay1st.StatusSuccessful, t0))
	_, pur, err = b.payments.PaymentAndPurchase(ctx, other.PaymentID)
	require.NoError(t, err)
	require.Empty(t, pur.Items)
	require.Empty(t, pur.PlayerID)
}

func TestWebhookAmountDiffersFromOrderHolds(t *testing.T) {
	t.Parallel()
	b := setupCheckout(t)
	ctx := context.Background()

	// The very first event is checked against the order.
	o := b.placeOrder(t, "ord-hold", 1)
	ev := b.orderEvent(t, o, pay1st.StatusSuccessful, t0)
	ev.OrderAmount = decimal.RequireFromString("50.24")
	res := b.ingest(t, ev)
	require.True(t, res.Held)
	require.False(t, res.Enqueued, "a held payment is not fulfilled")
	p, err := b.payments.Get(ctx, res.PaymentID)
	require.NoError(t, err)
	require.True(t, p.OnHold)
	require.Contains(t, p.HoldReason, "differs from the order (50.25)")

	// Same amount written with more zeros passes; another currency holds.
	o2 := b.placeOrder(t, "ord-cur", 1)
	ok := b.orderEvent(t, o2, pay1st.StatusPending, t0)
	ok.OrderAmount = decimal.RequireFromString("50.2500")
	require.False(t, b.ingest(t, ok).Held)
	cur := b.orderEvent(t, o2, pay1st.StatusSuccessful, t0.Add(time.Minute))
	cur.CurrencyCode = "USD"
	res = b.ingest(t, cur)
	require.True(t, res.Held)
	p, err = b.payments.Get(ctx, res.PaymentID)
	require.NoError(t, err)
	require.Contains(t, p.HoldReason, "currency USD differs from the order (ZAR)")
}

// storeOrder stores an order of 1 × GEM-100 (50.25 ZAR) as create-order
// leaves it in status, with reference ("" for none).
func (b checkoutBundle) storeOrder(t *testing.T, partnerRef, status, reference string) {
	t.Helper()
	_, err := b.pool.Exec(context.Background(), `INSERT INTO orders (tenant_id, environment, partner_reference, gateway,
		reference, status, country_code, currency_code, amount, customer_id, request_hash)
		VALUES ($1, 'staging', $2, 'pay1st', NULLIF($3, ''), $4, 'ZA', 'ZAR', 50.25, 1001, sha256('x'))`,
		b.env.TenantID, partnerRef, reference, status)
	require.NoError(t, err)
}

// eventFor is an event of payment reference naming partnerRef, for the
// amount of storeOrder's orders.
func eventFor(partnerRef, reference string, status pay1st.Status, at time.Time) pay1st.PaymentEvent {
	ev := event(reference, status, at)
	ev.PartnerReference, ev.OrderAmount, ev.CurrencyCode, ev.CountryCode = partnerRef, decimal.RequireFromString("50.25"), "ZAR", "ZA"
	return ev
}

// ingestErr is ingest for goroutines other than the test's.
func (b checkoutBundle) ingestErr(ev pay1st.PaymentEvent) error {
	body, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	_, err = b.payments.IngestEvent(context.Background(), b.env, payment.Delivery{SessionID: "s", PartnerCode: "acme",
		Env: "staging", RemoteAddr: "127.0.0.1:1", Headers: map[string]string{}, Body: body}, ev)
	return err
}

func (b checkoutBundle) order(t *testing.T, partnerRef string) payment.Order {
	t.Helper()
	o, err := b.payments.Order(context.Background(), b.env.TenantID, tenant.Staging, partnerRef)
	require.NoError(t, err)
	return o
}

func (b checkoutBundle) holdReason(t *testing.T, paymentID int64) string {
	t.Helper()
	p, err := b.payments.Get(context.Background(), paymentID)
	require.NoError(t, err)
	require.True(t, p.OnHold)
	return p.HoldReason
}

func TestSecondPaymentClaimingAnOrderIsHeldAndNotCredited(t *testing.T) {
	t.Parallel()
	b := setupCheckout(t)
	ctx := context.Background()
	o := b.placeOrder(t, "ord-two", 1)
	first := b.ingest(t, b.orderEvent(t, o, pay1st.StatusSuccessful, t0))
	require.True(t, first.Enqueued)

	// Another payment naming the same partnerReference, same amount.
	ev := b.orderEvent(t, o, pay1st.StatusSuccessful, t0)
	ev.Reference = "C-second-P"
	second := b.ingest(t, ev)
	require.True(t, second.Held)
	require.False(t, second.Enqueued)
	require.Equal(t, "payment C-second-P claims order ord-two, which is "+o.Reference, b.holdReason(t, second.PaymentID))
	// Even released by an operator, it is not credited with the order's
	// items: they are the first payment's.
	_, pur, err := b.payments.PaymentAndPurchase(ctx, second.PaymentID)
	require.NoError(t, err)
	require.Empty(t, pur.Items)
	require.Empty(t, pur.PlayerID)
	_, pur, err = b.payments.PaymentAndPurchase(ctx, first.PaymentID)
	require.NoError(t, err)
	require.Len(t, pur.Items, 1)
	_, err = b.payments.OrderByReference(ctx, b.env.TenantID, tenant.Staging, "C-second-P")
	require.ErrorIs(t, err, payment.ErrNotFound)
}

func TestOrderLearnsALongReference(t *testing.T) {
	t.Parallel()
	b := setupCheckout(t)
	b.storeOrder(t, "ord-long", payment.OrderUnknown, "")
	ref := strings.Repeat("R", 300)
	ev := eventFor("ord-long", ref, pay1st.StatusSuccessful, t0)
	require.NoError(t, ev.Validate(), "a valid event")
	res := b.ingest(t, ev)
	require.False(t, res.Held)
	o := b.order(t, "ord-long")
	require.Equal(t, payment.OrderCreated, o.Status)
	require.Equal(t, ref, o.Reference)
}

func TestOrderLearnsReferenceOnlyFromItsAmountAndCurrency(t *testing.T) {
	t.Parallel()
	b := setupCheckout(t)
	b.storeOrder(t, "ord-learn", payment.OrderUnknown, "")

	cheap := eventFor("ord-learn", "C-cheap-P", pay1st.StatusSuccessful, t0)
	cheap.OrderAmount = decimal.RequireFromString("1.00")
	require.True(t, b.ingest(t, cheap).Held)
	usd := eventFor("ord-learn", "C-usd-P", pay1st.StatusSuccessful, t0)
	usd.CurrencyCode = "USD"
	require.True(t, b.ingest(t, usd).Held)
	o := b.order(t, "ord-learn")
	require.Equal(t, payment.OrderUnknown, o.Status, "not taught by a payment that is not the order's")
	require.Empty(t, o.Reference)

	right := eventFor("ord-learn", "C-right-P", pay1st.StatusPending, t0)
	right.OrderAmount = decimal.RequireFromString("50.2500")
	require.False(t, b.ingest(t, right).Held)
	o = b.order(t, "ord-learn")
	require.Equal(t, payment.OrderCreated, o.Status)
	require.Equal(t, "C-right-P", o.Reference)
}

func TestOrderDoesNotLearnAReferenceAnotherOrderHolds(t *testing.T) {
	t.Parallel()
	b := setupCheckout(t)
	a := b.placeOrder(t, "ord-a", 1)
	b.storeOrder(t, "ord-b", payment.OrderUnknown, "")

	// A's payment, said to be B's: recorded (the unique index must not fail
	// the ingest), held, and B learns nothing.
	res := b.ingest(t, eventFor("ord-b", a.Reference, pay1st.StatusSuccessful, t0))
	require.True(t, res.Held)
	require.False(t, res.Enqueued)
	require.Equal(t, "payment "+a.Reference+" claims order ord-b, but "+a.Reference+" is order ord-a's reference",
		b.holdReason(t, res.PaymentID))
	o := b.order(t, "ord-b")
	require.Equal(t, payment.OrderUnknown, o.Status)
	require.Empty(t, o.Reference)
	require.Equal(t, a.Reference, b.order(t, "ord-a").Reference)
}

func TestEventBeforeCreateAnswerTeachesTheSameReference(t *testing.T) {
	t.Parallel()
	b := setupCheckout(t)
	var hookErr error
	b.front.set(func(ref string) { hookErr = b.ingestErr(eventFor("ord-early", ref, pay1st.StatusPending, t0)) })
	o, created, err := b.payments.CreateOrder(context.Background(), b.tenant, tenant.Staging, payment.OrderRequest{
		PartnerReference: "ord-early", CustomerID: 1001, CountryCode: "ZA",
		Products: []payment.OrderLine{{SKU: "GEM-100", Quantity: 1}}})
	require.NoError(t, err)
	require.NoError(t, hookErr)
	require.True(t, created)
	require.Equal(t, payment.OrderCreated, o.Status)
	require.NotEmpty(t, o.CheckoutURL)
	paid, ok := b.sim.PaymentByPartnerReference("acme", "ord-early")
	require.True(t, ok)
	require.Equal(t, paid.Reference, o.Reference)
	stored := b.order(t, "ord-early")
	require.Equal(t, payment.OrderCreated, stored.Status)
	require.Equal(t, paid.Reference, stored.Reference)
	require.Empty(t, stored.LastError)
	require.Equal(t, "PENDING", stored.PaymentStatus)
}

func TestCreateAnswerDisagreeingWithAnEventFlagsTheOrder(t *testing.T) {
	t.Parallel()
	b := setupCheckout(t)
	ctx := context.Background()
	req := payment.OrderRequest{PartnerReference: "ord-flag", CustomerID: 1001, CountryCode: "ZA",
		Products: []payment.OrderLine{{SKU: "GEM-100", Quantity: 1}}}
	var hookErr error
	b.front.set(func(string) { hookErr = b.ingestErr(eventFor("ord-flag", "C-early-P", pay1st.StatusPending, t0)) })
	_, _, err := b.payments.CreateOrder(ctx, b.tenant, tenant.Staging, req)
	require.NoError(t, hookErr)
	require.ErrorIs(t, err, payment.ErrOrderFlagged)
	b.front.set(nil)
	paid, ok := b.sim.PaymentByPartnerReference("acme", "ord-flag")
	require.True(t, ok)

	o := b.order(t, "ord-flag")
	require.Equal(t, payment.OrderFlagged, o.Status)
	require.Equal(t, "C-early-P", o.Reference, "the first stays")
	require.Contains(t, o.LastError, paid.Reference)
	require.Contains(t, b.logs.String(), `"level":"ERROR"`)
	require.Contains(t, b.logs.String(), paid.Reference)

	// Pay1st is not asked again; both payments' events are held.
	_, _, err = b.payments.CreateOrder(ctx, b.tenant, tenant.Staging, req)
	require.ErrorIs(t, err, payment.ErrOrderFlagged)
	creates := 0
	for _, r := range b.sim.Requests() {
		if r.Path == pay1st.PathCreate {
			creates++
		}
	}
	require.Equal(t, 1, creates)
	res := b.ingest(t, eventFor("ord-flag", paid.Reference, pay1st.StatusSuccessful, t0))
	require.True(t, res.Held)
	require.Contains(t, b.holdReason(t, res.PaymentID), "which is C-early-P")
	res = b.ingest(t, eventFor("ord-flag", "C-early-P", pay1st.StatusSuccessful, t0.Add(time.Minute)))
	require.True(t, res.Held)
	require.Contains(t, b.holdReason(t, res.PaymentID), "flagged")
}

func TestCreateOrderBudgetStartsWithTheRequest(t *testing.T) {
	t.Parallel()
	b := setupCheckout(t)
	// A budget spent before the first read: the reads before Pay1st are
	// under it too, so nothing is stored and Pay1st is not called (a
	// budget that started at the Pay1st call would store the order first).
	co := b.checkout
	co.CallTimeout = time.Nanosecond
	b.payments.SetCheckout(co)
	_, _, err := b.payments.CreateOrder(context.Background(), b.tenant, tenant.Staging, payment.OrderRequest{
		PartnerReference: "ord-late", CustomerID: 1001, CountryCode: "ZA",
		Products: []payment.OrderLine{{SKU: "GEM-100", Quantity: 1}}})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Zero(t, b.count(t, `SELECT count(*) FROM orders`))
	require.Empty(t, b.sim.Requests())
}
