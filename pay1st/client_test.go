package pay1st_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/pay1st"
	"github.com/partnerhub/partnerhub/pay1st/sim"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// faults sits in front of the simulator and answers the next n requests to
// a path with a status, or hangs up on them.
type faults struct {
	next http.Handler
	mu   sync.Mutex
	path string
	n    int
	code int // 0: hang up without an answer
	hits map[string]int
}

func (f *faults) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.hits[r.URL.Path]++
	inject := r.URL.Path == f.path && f.n > 0
	if inject {
		f.n--
	}
	code := f.code
	f.mu.Unlock()
	if !inject {
		f.next.ServeHTTP(w, r)
		return
	}
	if code == 0 {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			_ = conn.Close()
		}
		return
	}
	w.WriteHeader(code)
	_, _ = w.Write([]byte(`{"errorCode":"INJECTED","errorMessage":"injected failure"}`))
}

func (f *faults) inject(path string, n, code int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.path, f.n, f.code = path, n, code
}

func (f *faults) count(path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits[path]
}

type clientFixture struct {
	sim    *sim.Simulator
	faults *faults
	client *pay1st.Client
	creds  pay1st.Credentials
	clock  *clock
	logs   *bytes.Buffer
	hub    *hub
}

// hub counts the webhooks partnerhub would receive.
type hub struct {
	mu     sync.Mutex
	events []string
}

func (h *hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.events = append(h.events, r.Header.Get(pay1st.HeaderSignature))
	w.WriteHeader(http.StatusOK)
}

var testCreds = pay1st.Credentials{APIKey: "key-acme", APISecret: "api-secret-acme", SigningKey: "signing-key-acme"}

func setup(t *testing.T, edit func(*pay1st.ClientConfig)) *clientFixture {
	t.Helper()
	clk := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	h := &hub{}
	hubSrv := httptest.NewServer(h)
	t.Cleanup(hubSrv.Close)
	s, err := sim.New(sim.Options{Now: clk.Now, Partners: []sim.Partner{{
		PartnerID: 42, PartnerCode: "acme", APIKey: testCreds.APIKey, APISecret: testCreds.APISecret,
		SigningKey: testCreds.SigningKey, WebhookURL: hubSrv.URL + "/events",
	}}})
	require.NoError(t, err)
	f := &faults{next: s, hits: map[string]int{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	logs := &bytes.Buffer{}
	cfg := pay1st.ClientConfig{
		BaseURL: srv.URL, Now: clk.Now, RetryBaseDelay: time.Millisecond, RetryMaxDelay: 5 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&lockedWriter{w: logs}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if edit != nil {
		edit(&cfg)
	}
	c, err := pay1st.NewClient(cfg)
	require.NoError(t, err)
	return &clientFixture{sim: s, faults: f, client: c, creds: testCreds, clock: clk, logs: logs, hub: h}
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func paymentRequest(ref string) pay1st.CreatePaymentRequest {
	return pay1st.CreatePaymentRequest{
		CountryCode: "NG", CurrencyCode: "NGN", Amount: decimal.RequireFromString("0.30"), PartnerReference: ref,
		Products: []pay1st.Product{{Title: "Gem", SKU: "gem", Price: decimal.RequireFromString("0.1"), Quantity: 3, CurrencyCode: "NGN"}},
		Metadata: []pay1st.Metadata{{Key: "customerId", Value: "7"}},
	}
}

// paths lists the Gateway paths the simulator received, in order.
func (f *clientFixture) paths() []string {
	var out []string
	for _, r := range f.sim.Requests() {
		out = append(out, r.Path)
	}
	return out
}

// noSecrets fails if any secret or token appears in s.
func (f *clientFixture) noSecrets(t *testing.T, s string) {
	t.Helper()
	require.NotContains(t, s, f.creds.APISecret)
	require.NotContains(t, s, f.creds.SigningKey)
	require.NotContains(t, s, "at_", "no access token")
	require.NotContains(t, s, "rt_", "no refresh token")
}

func TestClientPaymentLifecycle(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	ctx := context.Background()
	created, err := f.client.CreatePayment(ctx, f.creds, paymentRequest("order-1"))
	require.NoError(t, err)
	require.Equal(t, pay1st.StatusNew, created.Status)
	require.Equal(t, "order-1", created.PartnerReference)
	require.Equal(t, "0.3", created.Amount.String(), "exact, never through float64")
	stored, ok := f.sim.Payment(created.Reference)
	require.True(t, ok)
	require.Equal(t, []pay1st.Metadata{{Key: "customerId", Value: "7"}}, stored.Metadata)

	ev, err := f.client.QueryPayment(ctx, f.creds, created.Reference)
	require.NoError(t, err)
	require.Equal(t, pay1st.StatusNew, ev.Status)

	require.NoError(t, f.sim.Pay(ctx, created.Reference))
	ev, err = f.client.QueryPayment(ctx, f.creds, created.Reference)
	require.NoError(t, err)
	require.Equal(t, pay1st.StatusSuccessful, ev.Status)
	require.Equal(t, created.Reference, ev.Reference)
	require.Equal(t, "order-1", ev.PartnerReference)
	require.True(t, decimal.RequireFromString("0.3").Equal(ev.OrderAmount))
	require.Equal(t, int64(42), ev.PartnerID)
	require.NoError(t, ev.Validate(), "a query answer feeds the state machine like a webhook")

	when := f.clock.Now().Add(-time.Second)
	require.NoError(t, f.client.CompleteFulfilment(ctx, f.creds, pay1st.Fulfilment{Reference: created.Reference,
		Products: []pay1st.FulfilmentProduct{{SKU: "gem", Quantity: 3, FulfilmentTime: when}}}))
	reports := f.sim.Fulfilments(created.Reference)
	require.Len(t, reports, 1)
	require.Equal(t, pay1st.FulfilmentStatusFulfilled, reports[0].Products[0].FulfilmentStatus)
	require.True(t, when.Equal(reports[0].Products[0].FulfilmentTime))

	_, err = f.client.QueryPayment(ctx, f.creds, "C-unknown-P")
	require.ErrorIs(t, err, pay1st.ErrNotFound)

	require.Equal(t, []string{pay1st.PathToken, pay1st.PathCreate, pay1st.PathPayments, pay1st.PathPayments,
		pay1st.PathFulfilments, pay1st.PathPayments}, f.paths(), "one token, cached, for every call")
	for _, r := range f.sim.Requests()[1:] {
		require.NotEmpty(t, r.Signature)
		require.Equal(t, f.clock.Now().Format(time.RFC3339Nano), r.Timestamp)
	}
	f.noSecrets(t, f.logs.String())
}

func TestClientConflictAndBadRequestAreNotRetried(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	ctx := context.Background()
	_, err := f.client.CreatePayment(ctx, f.creds, paymentRequest("order-dup"))
	require.NoError(t, err)
	_, err = f.client.CreatePayment(ctx, f.creds, paymentRequest("order-dup"))
	require.ErrorIs(t, err, pay1st.ErrConflict)
	require.ErrorIs(t, err, pay1st.ErrBadRequest, "every 4xx is a refused request")
	require.NotErrorIs(t, err, pay1st.ErrUnavailable)
	var ae *pay1st.APIError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, 409, ae.Status)
	require.Equal(t, sim.CodeDuplicateRef, ae.Code)
	require.NotEmpty(t, ae.Message)

	bad := paymentRequest("order-bad")
	bad.Amount = decimal.RequireFromString("9")
	_, err = f.client.CreatePayment(ctx, f.creds, bad)
	require.ErrorIs(t, err, pay1st.ErrBadRequest)
	require.Equal(t, 3, f.faults.count(pay1st.PathCreate), "one attempt per call: 4xx is never retried")

	f.faults.inject(pay1st.PathCreate, 1, http.StatusBadRequest)
	_, err = f.client.CreatePayment(ctx, f.creds, paymentRequest("order-400"))
	require.ErrorIs(t, err, pay1st.ErrBadRequest)
	require.Equal(t, 4, f.faults.count(pay1st.PathCreate))
	f.noSecrets(t, err.Error())
}

func TestClientRetries5xxAndNetworkErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		code int
	}{
		{"503", http.StatusServiceUnavailable},
		{"500", http.StatusInternalServerError},
		{"connection dropped", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// Without keep-alive, so that net/http's own retry of an idempotent
			// request on a reused connection does not blur the count.
			f := setup(t, func(c *pay1st.ClientConfig) {
				c.HTTPClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
			})
			f.faults.inject(pay1st.PathCreate, pay1st.DefaultMaxAttempts-1, tc.code)
			created, err := f.client.CreatePayment(context.Background(), f.creds, paymentRequest("order-retry"))
			require.NoError(t, err)
			require.NotEmpty(t, created.Reference)
			require.Equal(t, pay1st.DefaultMaxAttempts, f.faults.count(pay1st.PathCreate))

			// One more failure than attempts: the last error is returned.
			f.faults.inject(pay1st.PathPayments, pay1st.DefaultMaxAttempts, tc.code)
			_, err = f.client.QueryPayment(context.Background(), f.creds, created.Reference)
			require.ErrorIs(t, err, pay1st.ErrUnavailable)
			require.Equal(t, pay1st.DefaultMaxAttempts, f.faults.count(pay1st.PathPayments))
		})
	}
}

func TestClientRefreshesTokenOn401(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	ctx := context.Background()
	created, err := f.client.CreatePayment(ctx, f.creds, paymentRequest("order-401"))
	require.NoError(t, err)
	f.sim.RevokeTokens()
	_, err = f.client.QueryPayment(ctx, f.creds, created.Reference)
	require.NoError(t, err)
	require.Equal(t, []string{pay1st.PathToken, pay1st.PathCreate, pay1st.PathPayments, pay1st.PathRefresh,
		pay1st.PathPayments}, f.paths())
	reqs := f.sim.Requests()
	require.Equal(t, http.StatusUnauthorized, reqs[2].Status)
	require.Equal(t, http.StatusOK, reqs[4].Status)

	// A persistent 401 (a wrong Signing Key) is answered after one refresh.
	bad := f.creds
	bad.SigningKey = "not-the-key"
	_, err = f.client.QueryPayment(ctx, bad, created.Reference)
	require.ErrorIs(t, err, pay1st.ErrUnauthorized)
	var ae *pay1st.APIError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, sim.CodeBadSignature, ae.Code)
	require.Equal(t, 4, f.faults.count(pay1st.PathPayments), "first try, then once after refreshing")
	f.noSecrets(t, err.Error())
	require.NotContains(t, err.Error(), "not-the-key")
}

func TestClientRefreshesTokenBeforeExpiry(t *testing.T) {
	t.Parallel()
	f := setup(t, func(c *pay1st.ClientConfig) { c.TokenLifetime = 10 * time.Minute })
	ctx := context.Background()
	created, err := f.client.CreatePayment(ctx, f.creds, paymentRequest("order-exp"))
	require.NoError(t, err)
	f.clock.Add(9 * time.Minute)
	_, err = f.client.QueryPayment(ctx, f.creds, created.Reference)
	require.NoError(t, err)
	f.clock.Add(time.Minute)
	_, err = f.client.QueryPayment(ctx, f.creds, created.Reference)
	require.NoError(t, err)
	require.Equal(t, []string{pay1st.PathToken, pay1st.PathCreate, pay1st.PathPayments, pay1st.PathRefresh,
		pay1st.PathPayments}, f.paths(), "refreshed at the lifetime, before any 401")
	for _, r := range f.sim.Requests() {
		require.NotEqual(t, http.StatusUnauthorized, r.Status)
	}

	// A refresh token the server no longer knows: a new token instead.
	f.clock.Add(sim.DefaultRefreshLifetime)
	_, err = f.client.QueryPayment(ctx, f.creds, created.Reference)
	require.NoError(t, err)
	require.Equal(t, []string{pay1st.PathRefresh, pay1st.PathToken, pay1st.PathPayments}, f.paths()[5:])
}

func TestClientFetchesOneTokenForConcurrentCalls(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := f.client.CreatePayment(context.Background(), f.creds, paymentRequest(fmt.Sprint("order-c", i)))
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, 1, f.faults.count(pay1st.PathToken))
	require.Equal(t, 16, f.faults.count(pay1st.PathCreate))
}

func TestClientHonoursContext(t *testing.T) {
	t.Parallel()
	f := setup(t, func(c *pay1st.ClientConfig) {
		c.RetryBaseDelay, c.RetryMaxDelay, c.MaxAttempts = time.Hour, time.Hour, 10
	})
	ctx, cancel := context.WithCancel(context.Background())
	f.faults.inject(pay1st.PathCreate, 10, http.StatusServiceUnavailable)
	done := make(chan error, 1)
	go func() {
		_, err := f.client.CreatePayment(ctx, f.creds, paymentRequest("order-ctx"))
		done <- err
	}()
	require.Eventually(t, func() bool { return f.faults.count(pay1st.PathCreate) == 1 }, 5*time.Second, time.Millisecond)
	cancel()
	err := <-done
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, 1, f.faults.count(pay1st.PathCreate), "no attempt after cancellation")

	_, err = f.client.QueryPayment(ctx, f.creds, "C-x-P")
	require.ErrorIs(t, err, context.Canceled)
}

func TestClientTimeoutPerAttempt(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var mu sync.Mutex
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		mu.Unlock()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	c, err := pay1st.NewClient(pay1st.ClientConfig{BaseURL: srv.URL, Timeout: 20 * time.Millisecond, MaxAttempts: 2,
		RetryBaseDelay: time.Millisecond, RetryMaxDelay: time.Millisecond})
	require.NoError(t, err)
	_, err = c.AccessToken(context.Background(), testCreds)
	require.ErrorIs(t, err, pay1st.ErrUnavailable)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, 2, calls, "a timed-out attempt is retried")
}

func TestClientLimitsResponseSize(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"accessToken":"` + strings.Repeat("a", 2000) + `"}`))
	}))
	t.Cleanup(srv.Close)
	c, err := pay1st.NewClient(pay1st.ClientConfig{BaseURL: srv.URL, MaxResponseBytes: 1000})
	require.NoError(t, err)
	_, err = c.AccessToken(context.Background(), testCreds)
	require.ErrorIs(t, err, pay1st.ErrResponseTooLarge)
}

func TestClientBadCredentials(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	bad := f.creds
	bad.APISecret = "wrong-secret"
	_, err := f.client.CreatePayment(context.Background(), bad, paymentRequest("order-creds"))
	require.ErrorIs(t, err, pay1st.ErrUnauthorized)
	require.NotContains(t, err.Error(), "wrong-secret")
	require.Equal(t, 1, f.faults.count(pay1st.PathToken))
	require.Zero(t, f.faults.count(pay1st.PathCreate))
	require.NotContains(t, fmt.Sprintf("%v %+v %#v", bad, bad, bad), "wrong-secret")
	require.NotContains(t, fmt.Sprintf("%v", bad), bad.SigningKey)
}

func TestNewClientValidates(t *testing.T) {
	t.Parallel()
	for _, base := range []string{"", "example.com", "ftp://example.com", "http://"} {
		_, err := pay1st.NewClient(pay1st.ClientConfig{BaseURL: base})
		require.Error(t, err, base)
	}
	_, err := pay1st.NewClient(pay1st.ClientConfig{BaseURL: "https://x.example", MaxAttempts: -1})
	require.Error(t, err)
}

func TestCheckoutURL(t *testing.T) {
	t.Parallel()
	c, err := pay1st.NewClient(pay1st.ClientConfig{BaseURL: "https://api.example", CheckoutBaseURL: "https://pay.example/"})
	require.NoError(t, err)
	require.Equal(t, "https://pay.example/checkout?accessToken=a%2Bb%26c&channelId=web+1&reference=C-1-P",
		c.CheckoutURL("C-1-P", "web 1", "a+b&c"))
}

func TestAPIErrorIs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status int
		is     []error
		isNot  []error
	}{
		{400, []error{pay1st.ErrBadRequest}, []error{pay1st.ErrUnavailable, pay1st.ErrNotFound}},
		{401, []error{pay1st.ErrUnauthorized, pay1st.ErrBadRequest}, []error{pay1st.ErrForbidden}},
		{403, []error{pay1st.ErrForbidden}, []error{pay1st.ErrUnauthorized}},
		{404, []error{pay1st.ErrNotFound}, []error{pay1st.ErrConflict}},
		{409, []error{pay1st.ErrConflict}, []error{pay1st.ErrNotFound}},
		{429, []error{pay1st.ErrRateLimited}, []error{pay1st.ErrUnavailable}},
		{502, []error{pay1st.ErrUnavailable}, []error{pay1st.ErrBadRequest}},
	}
	for _, tc := range tests {
		err := fmt.Errorf("wrapped: %w", &pay1st.APIError{Op: "x", Status: tc.status})
		for _, target := range tc.is {
			require.True(t, errors.Is(err, target), "%d is %v", tc.status, target)
		}
		for _, target := range tc.isNot {
			require.False(t, errors.Is(err, target), "%d is not %v", tc.status, target)
		}
	}
}
