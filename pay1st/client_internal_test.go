package pay1st

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"
)

// vectorRequest is the published Create Payment example of §5 as a Go value.
func vectorRequest() CreatePaymentRequest {
	return CreatePaymentRequest{
		CountryCode: "NG", CurrencyCode: "NGN", Amount: decimal.NewFromInt(100),
		PartnerReference:   "4a662291-2840-4bcd-aae9-553ab24601ed",
		CallbackSuccessURL: "<https://callback.success", CallbackFailureURL: "https://callback.failure",
		CallbackPendingURL: "https://callback.pending", CallbackCancelURL: "https://callback.cancel",
		WebhookURL: "https://webhook.success",
		Products: []Product{{Title: "10> Credits", SKU: "12345", Price: decimal.NewFromInt(100), Quantity: 1,
			CurrencyCode: "NGN"}},
		Metadata: []Metadata{{Key: "customerId", Value: "1"}},
	}
}

func TestCreatePaymentRequestMarshalsPublishedBody(t *testing.T) {
	t.Parallel()
	body, err := vectorRequest().MarshalJSON()
	require.NoError(t, err)
	require.Equal(t, gatewayVectorBody, string(body))
}

// TestClientSignsPublishedVector sends the published example with the
// published key at the published instant: the X-SIGNATURE on the wire is
// the published one (TestSignRequestVector checks SignRequest alone).
func TestClientSignsPublishedVector(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	got := map[string]string{}
	var gotBody []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		switch r.URL.Path {
		case PathToken:
			user, pass, _ := r.BasicAuth()
			got["basic"] = user + ":" + pass
			got["tokenType"] = r.Header.Get("Content-Type")
			got["tokenBody"] = string(body)
			_, _ = w.Write([]byte(`{"role":"API_USER","accessToken":"tok","refreshToken":"ref"}`))
		case PathCreate:
			got["type"] = r.Header.Get("Content-Type")
			got["token"] = r.Header.Get(HeaderAccessToken)
			got["ts"] = r.Header.Get(HeaderTimestamp)
			got["sig"] = r.Header.Get(HeaderSignature)
			gotBody = body
			_, _ = w.Write([]byte(`{"reference":"C-1-P","partnerReference":"4a662291-2840-4bcd-aae9-553ab24601ed","countryCode":"NG","currencyCode":"NGN","amount":100.10,"status":"NEW"}`))
		}
	}))
	t.Cleanup(srv.Close)
	at, err := ParseTime(gatewayVectorTimestamp)
	require.NoError(t, err)
	c, err := NewClient(ClientConfig{BaseURL: srv.URL, Now: func() time.Time { return at }})
	require.NoError(t, err)
	creds := Credentials{APIKey: "k", APISecret: "s", SigningKey: gatewayVectorKey}
	created, err := c.CreatePayment(context.Background(), creds, vectorRequest())
	require.NoError(t, err)
	require.Equal(t, "100.1", created.Amount.String())
	require.Equal(t, StatusNew, created.Status)

	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, "k:s", got["basic"])
	require.Equal(t, ContentTypeAuth, got["tokenType"])
	require.JSONEq(t, `{"role":"API_USER"}`, got["tokenBody"])
	require.Equal(t, ContentTypePayment, got["type"])
	require.Equal(t, "Bearer tok", got["token"])
	require.Equal(t, gatewayVectorTimestamp, got["ts"])
	require.Equal(t, gatewayVectorBody, string(gotBody))
	require.Equal(t, gatewayVectorSignature, got["sig"])
}

func TestParsePaymentState(t *testing.T) {
	t.Parallel()
	const minimal = `{"reference":"C-1-P","partnerReference":"o-1","orderAmount":10.50,"currencyCode":"NGN","updatedDate":"2026-01-02T03:04:05Z","status":"SUCCESSFUL"}`
	tests := []struct {
		name    string
		body    string
		wantErr string
	}{
		{"minimal", minimal, ""},
		{"amount instead of orderAmount", `{"reference":"C-1-P","partnerReference":"o-1","amount":10.5,"currencyCode":"NGN","updatedDate":"2026-01-02T03:04:05Z","status":"SUCCESSFUL"}`, ""},
		{"nulls for optional fields", `{"reference":"C-1-P","partnerReference":"o-1","orderAmount":10.5,"currencyCode":"NGN","updatedDate":"2026-01-02T03:04:05Z","status":"SUCCESSFUL","message":null,"partnerId":null}`, ""},
		{"missing status", `{"reference":"C-1-P","partnerReference":"o-1","orderAmount":10.5,"currencyCode":"NGN","updatedDate":"2026-01-02T03:04:05Z"}`, `"status" is missing`},
		{"missing updatedDate", `{"reference":"C-1-P","partnerReference":"o-1","orderAmount":10.5,"currencyCode":"NGN","status":"NEW"}`, `"updatedDate" is missing`},
		{"amount as string", `{"reference":"C-1-P","partnerReference":"o-1","orderAmount":"10.5","currencyCode":"NGN","updatedDate":"2026-01-02T03:04:05Z","status":"NEW"}`, "orderAmount"},
		{"unknown status", `{"reference":"C-1-P","partnerReference":"o-1","orderAmount":10.5,"currencyCode":"NGN","updatedDate":"2026-01-02T03:04:05Z","status":"PAID"}`, "status"},
		{"bad optional field", `{"reference":"C-1-P","partnerReference":"o-1","orderAmount":10.5,"currencyCode":"NGN","updatedDate":"2026-01-02T03:04:05Z","status":"NEW","countryCode":"nga"}`, "countryCode"},
		{"not an object", `[]`, "malformed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ev, err := ParsePaymentState([]byte(tc.body))
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, "10.5", ev.OrderAmount.String())
			require.Equal(t, ev.UpdatedDate, ev.CreatedDate, "createdDate defaults to updatedDate")
		})
	}
}

func TestBackoffStaysWithinBounds(t *testing.T) {
	t.Parallel()
	c, err := NewClient(ClientConfig{BaseURL: "http://x.example", RetryBaseDelay: 10 * time.Millisecond,
		RetryMaxDelay: 50 * time.Millisecond})
	require.NoError(t, err)
	for attempt := 1; attempt < 100; attempt++ {
		d := c.backoff(attempt)
		require.GreaterOrEqual(t, d, time.Duration(0))
		require.LessOrEqual(t, d, min(10*time.Millisecond<<min(attempt-1, 30), 50*time.Millisecond))
	}
}

func TestFulfilmentWireFormat(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 1, 2, 3, 4, 5, 600, time.FixedZone("x", 3600))
	body, err := json.Marshal(Fulfilment{Reference: "C-1-P", Products: []FulfilmentProduct{{SKU: "gem", Quantity: 2, FulfilmentTime: at}}})
	require.NoError(t, err)
	require.Equal(t, `{"reference":"C-1-P","products":[{"sku":"gem","fulfilmentStatus":"FULFILLED","quantity":2,"fulfilmentTime":"2026-01-02T02:04:05.0000006Z"}]}`, string(body))
}

// FuzzParsePaymentState: never a panic; a valid full event reads the same
// either way; what is accepted always carries the required members.
func FuzzParsePaymentState(f *testing.F) {
	f.Add(eventBody(nil))
	f.Add(eventBody(nil, "message", "partnerId", "createdDate"))
	f.Add(eventBody(nil, "status"))
	f.Add([]byte(`{"reference":"C-1-P","partnerReference":"o","amount":1,"currencyCode":"NGN","updatedDate":"2026-01-02T03:04:05Z","status":"NEW"}`))
	f.Add([]byte(`{"a":1,"a":2}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := ParsePaymentState(body)
		if err != nil {
			return
		}
		require.NotEmpty(t, ev.Reference)
		require.NotEmpty(t, ev.PartnerReference)
		require.True(t, ev.Status.Valid())
		require.False(t, ev.UpdatedDate.IsZero())
		if full, err := ParsePaymentEvent(body); err == nil {
			require.Equal(t, full, ev)
		}
	})
}

func TestErrorsNeverQuoteSecrets(t *testing.T) {
	t.Parallel()
	creds := Credentials{APIKey: "k", APISecret: "the-api-secret", SigningKey: "the-signing-key"}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"errorCode":"the-api-secret","errorMessage":"secret the-api-secret, key the-signing-key"}`))
	}))
	t.Cleanup(srv.Close)
	c, err := NewClient(ClientConfig{BaseURL: srv.URL})
	require.NoError(t, err)
	_, err = c.AccessToken(context.Background(), creds)
	require.ErrorIs(t, err, ErrUnauthorized)
	require.NotContains(t, err.Error(), "the-api-secret")
	require.NotContains(t, err.Error(), "the-signing-key")
	require.Contains(t, err.Error(), "[redacted]")
}
