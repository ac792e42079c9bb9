package sim_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/pay1st"
	"github.com/partnerhub/partnerhub/pay1st/sim"
)

func TestPayDeliversSignedEventsInOrder(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ref := f.create(t, "order-pay")
	require.NoError(t, f.sim.Pay(context.Background(), ref))
	got, refused := f.recv.got()
	require.Empty(t, refused)
	require.Equal(t, []pay1st.Status{pay1st.StatusPending, pay1st.StatusSuccessful}, got)

	f.recv.mu.Lock()
	first, second := f.recv.events[0], f.recv.events[1]
	f.recv.mu.Unlock()
	require.True(t, second.UpdatedDate.After(first.UpdatedDate), "updatedDate orders the events")
	require.Equal(t, int64(42), second.PartnerID)
	require.Equal(t, "acme", second.PartnerCode)
	require.Equal(t, "order-pay", second.PartnerReference)
	require.Equal(t, ref, second.Reference)
	require.Equal(t, "200.5", second.OrderAmount.String())
	require.Equal(t, f.partner.WebhookURL, second.PartnerWebhookURL)

	hooks := f.sim.Webhooks()
	require.Len(t, hooks, 2)
	for _, h := range hooks {
		require.Equal(t, http.StatusOK, h.ResponseStatus)
		require.Equal(t, sim.KindPaymentEvent, h.Kind)
		require.True(t, pay1st.VerifyRequest(f.partner.SigningKey, h.Timestamp, h.Body, h.Signature))
	}
	p, _ := f.sim.Payment(ref)
	require.Equal(t, pay1st.StatusSuccessful, p.Status)
	require.Len(t, p.History, 3, "NEW, PENDING, SUCCESSFUL")

	require.ErrorIs(t, f.sim.Pay(context.Background(), ref), sim.ErrInvalidTransition)
	require.ErrorIs(t, f.sim.Pay(context.Background(), "C-nope-P"), sim.ErrUnknownPayment)
}

func TestDeliveryOptions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	S, P, R, C := pay1st.StatusSuccessful, pay1st.StatusPending, pay1st.StatusRefund, pay1st.StatusChargeback
	tests := []struct {
		name  string
		drive func(s *sim.Server, ref string) error
		want  []pay1st.Status
		final pay1st.Status
	}{
		{"duplicate", func(s *sim.Server, ref string) error { return s.Pay(ctx, ref, sim.Duplicate()) },
			[]pay1st.Status{P, P, S, S}, S},
		{"out of order", func(s *sim.Server, ref string) error { return s.Pay(ctx, ref, sim.OutOfOrder()) },
			[]pay1st.Status{S, P}, S},
		{"lost", func(s *sim.Server, ref string) error { return s.Pay(ctx, ref, sim.Lose()) }, nil, S},
		{"refund", func(s *sim.Server, ref string) error {
			require.NoError(t, s.Pay(ctx, ref))
			return s.Refund(ctx, ref)
		}, []pay1st.Status{P, S, R}, R},
		{"refund out of order", func(s *sim.Server, ref string) error {
			require.NoError(t, s.Pay(ctx, ref))
			return s.Refund(ctx, ref, sim.OutOfOrder())
		}, []pay1st.Status{P, S, R, S}, R},
		{"chargeback", func(s *sim.Server, ref string) error {
			require.NoError(t, s.Pay(ctx, ref))
			return s.Chargeback(ctx, ref)
		}, []pay1st.Status{P, S, C}, C},
		{"fail", func(s *sim.Server, ref string) error { return s.Fail(ctx, ref) },
			[]pay1st.Status{P, pay1st.StatusFailed}, pay1st.StatusFailed},
		{"redeliver", func(s *sim.Server, ref string) error {
			require.NoError(t, s.Pay(ctx, ref, sim.Lose()))
			return s.Redeliver(ctx, ref)
		}, []pay1st.Status{S}, S},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			ref := f.create(t, "order")
			require.NoError(t, tc.drive(f.sim, ref))
			got, refused := f.recv.got()
			require.Empty(t, refused)
			require.Equal(t, tc.want, got)
			p, _ := f.sim.Payment(ref)
			require.Equal(t, tc.final, p.Status)
		})
	}
}

func TestLostWebhookIsLoggedAndQueryable(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ref := f.create(t, "order-lost")
	require.NoError(t, f.sim.Pay(context.Background(), ref, sim.Lose()))
	hooks := f.sim.Webhooks()
	require.Len(t, hooks, 2)
	require.True(t, hooks[1].Lost)
	require.Zero(t, hooks[1].ResponseStatus)

	ts := f.clock.Now().Format(time.RFC3339Nano)
	req, err := http.NewRequest(http.MethodGet, f.sim.URL+pay1st.PathPayments+"?reference="+ref, nil)
	require.NoError(t, err)
	req.Header.Set(pay1st.HeaderAccessToken, "Bearer "+f.token(t))
	req.Header.Set(pay1st.HeaderTimestamp, ts)
	req.Header.Set(pay1st.HeaderSignature, pay1st.SignRequest(f.partner.SigningKey, ts, nil))
	a := do(t, req)
	require.Equal(t, http.StatusOK, a.status, a.body)
	ev, err := pay1st.ParsePaymentEvent([]byte(a.body))
	require.NoError(t, err, "the query answer is a valid §1 event")
	require.Equal(t, pay1st.StatusSuccessful, ev.Status)
	require.Equal(t, ref, ev.Reference)
}

func TestWebhookRefusalIsReported(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.recv.status = http.StatusServiceUnavailable
	ref := f.create(t, "order-503")
	err := f.sim.Pay(context.Background(), ref)
	var we *sim.WebhookError
	require.ErrorAs(t, err, &we)
	require.Equal(t, http.StatusServiceUnavailable, we.Status)
	p, _ := f.sim.Payment(ref)
	require.Equal(t, pay1st.StatusSuccessful, p.Status, "the status change stands, as at Pay1st")
	for _, h := range f.sim.Webhooks() {
		require.Equal(t, http.StatusServiceUnavailable, h.ResponseStatus)
	}
}

func TestWebhookTokenIsRedactedInLog(t *testing.T) {
	t.Parallel()
	f := setup(t)
	require.NoError(t, f.sim.SetWebhookURLs("acme", f.partner.WebhookURL+"?token=sekrit", f.partner.SummaryURL))
	ref := f.create(t, "order-token")
	require.NoError(t, f.sim.Pay(context.Background(), ref))
	for _, h := range f.sim.Webhooks() {
		require.NotContains(t, h.URL, "sekrit")
		require.Contains(t, h.URL, "token=REDACTED")
	}
}

func TestSummaryWebhook(t *testing.T) {
	t.Parallel()
	f := setup(t)
	sum, err := f.sim.SendSummary(context.Background(), "acme", pay1st.Summary{
		PlayerID: "player-1", ProductBundleID: 3, Amount: decimal.RequireFromString("1000"), Currency: "ZAR",
		TokensPurchased: decimal.NewFromInt(11), DigitalCurrency: pay1st.DigitalCurrency{Name: "Credits", Code: "CRE"},
	}, sim.Duplicate())
	require.NoError(t, err)
	require.NotEmpty(t, sum.Reference)
	_, refused := f.recv.got()
	require.Empty(t, refused)
	f.recv.mu.Lock()
	defer f.recv.mu.Unlock()
	require.Len(t, f.recv.summaries, 2)
	require.Equal(t, sum.Reference, f.recv.summaries[0].Reference)
	require.Equal(t, pay1st.StatusSuccessful, f.recv.summaries[0].Status)
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	f := setup(t)
	c, err := pay1st.NewClient(pay1st.ClientConfig{BaseURL: f.sim.URL, Now: f.clock.Now})
	require.NoError(t, err)
	creds := pay1st.Credentials{APIKey: f.partner.APIKey, APISecret: f.partner.APISecret, SigningKey: f.partner.SigningKey}
	var wg sync.WaitGroup
	refs := make([]string, 8)
	errs := make([]error, 16)
	for i := range refs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var created pay1st.CreatedPayment
			created, errs[i] = c.CreatePayment(context.Background(), creds, pay1st.CreatePaymentRequest{
				CountryCode: "NG", CurrencyCode: "NGN", Amount: decimal.NewFromInt(5),
				PartnerReference: "order-c-" + strings.Repeat("x", i),
				Products:         []pay1st.Product{{Title: "t", SKU: "s", Price: decimal.NewFromInt(5), Quantity: 1, CurrencyCode: "NGN"}},
			})
			refs[i] = created.Reference
		}()
	}
	wg.Wait()
	for i, ref := range refs {
		require.NoError(t, errs[i])
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[8+i] = f.sim.Pay(context.Background(), ref, sim.Duplicate())
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	got, refused := f.recv.got()
	require.Empty(t, refused)
	require.Len(t, got, 32)
	require.Len(t, f.sim.Webhooks(), 32)
}

// refusingTransport fails every request in transport, as an unreachable
// partnerhub would.
type refusingTransport struct{}

func (refusingTransport) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("connection refused")
}

// A webhook that fails in transport must not carry the webhook token (in
// the URL, token auth mode) in its error or the webhook log.
func TestWebhookTransportErrorHidesToken(t *testing.T) {
	t.Parallel()
	creds := pay1st.Credentials{APIKey: "k", APISecret: "s", SigningKey: "sig"}
	srv, err := sim.Start(sim.Options{HTTPClient: &http.Client{Transport: refusingTransport{}},
		Partners: []sim.Partner{{PartnerID: 1, PartnerCode: "acme", APIKey: "k", APISecret: "s", SigningKey: "sig"}}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	c, err := pay1st.NewClient(pay1st.ClientConfig{BaseURL: srv.URL, MaxAttempts: 1})
	require.NoError(t, err)
	price := decimal.RequireFromString("1")
	p, err := c.CreatePayment(context.Background(), creds, pay1st.CreatePaymentRequest{Amount: price, CountryCode: "NG",
		CurrencyCode: "NGN", PartnerReference: "r1",
		WebhookURL: "https://hub.example/pay1st/staging/acme/payment-events?token=SUPERSECRETTOKEN",
		Products:   []pay1st.Product{{Title: "x", SKU: "x", Price: price, Quantity: 1, CurrencyCode: "NGN"}}})
	require.NoError(t, err)
	err = srv.Pay(context.Background(), p.Reference)
	require.Error(t, err)
	require.NotContains(t, err.Error(), "SUPERSECRETTOKEN")
	hooks := srv.Webhooks()
	require.NotEmpty(t, hooks)
	for _, h := range hooks {
		require.NotEmpty(t, h.Err)
		require.NotContains(t, h.Err, "SUPERSECRETTOKEN")
		require.NotContains(t, h.URL, "SUPERSECRETTOKEN")
	}
}

// NoControl leaves the unauthenticated control endpoints out.
func TestNoControlHidesControlEndpoints(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		noControl bool
		want      int
	}{{false, http.StatusOK}, {true, http.StatusNotFound}} {
		srv, err := sim.Start(sim.Options{NoControl: tc.noControl})
		require.NoError(t, err)
		t.Cleanup(func() { _ = srv.Close() })
		resp, err := http.Get(srv.URL + sim.ControlPrefix + "webhooks")
		require.NoError(t, err)
		_ = resp.Body.Close()
		require.Equal(t, tc.want, resp.StatusCode, "NoControl %v", tc.noControl)
	}
}

func TestSendEventSignsACallersEvent(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	ev := pay1st.PaymentEvent{
		PartnerID: 42, PartnerCode: "acme", PartnerReference: "load-1", Reference: "L-1-P",
		OrderAmount: decimal.RequireFromString("77.25"), CurrencyCode: "NGN", CountryCode: "NG",
		Source: "web", Platform: "WEB", IPAddress: "203.0.113.9",
		CreatedDate: time.Now().UTC(), UpdatedDate: time.Now().UTC(), Status: pay1st.StatusSuccessful,
		Message: "Approved", CustomerID: 7, PaymentMethod: "CARD", TaxPercentage: decimal.Zero,
		PartnerWebhookURL: "https://elsewhere.example/ignored",
	}
	require.NoError(t, f.sim.SendEvent(ctx, "acme", ev, sim.Duplicate()))
	require.NoError(t, f.sim.SendEvent(ctx, "acme", ev, sim.Lose()))
	got, refused := f.recv.got()
	require.Empty(t, refused, "every copy verifies with the partner's Signing Key")
	require.Equal(t, []pay1st.Status{pay1st.StatusSuccessful, pay1st.StatusSuccessful}, got, "duplicate sent twice, lost not at all")
	f.recv.mu.Lock()
	sent := f.recv.events[0]
	f.recv.mu.Unlock()
	require.Equal(t, "L-1-P", sent.Reference)
	require.Equal(t, "77.25", sent.OrderAmount.String())
	require.Equal(t, f.partner.WebhookURL, sent.PartnerWebhookURL, "sent to the partner's Webhook URL")
	_, known := f.sim.Payment("L-1-P")
	require.False(t, known, "the simulator does not track a caller's event")

	require.ErrorIs(t, f.sim.SendEvent(ctx, "nobody", ev), sim.ErrUnknownPartner)
}
