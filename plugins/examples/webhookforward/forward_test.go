package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/plugins/sdk"
)

const testSecret = "a-studio-secret-of-some-length"

// received is one request as the backend saw it.
type received struct {
	header http.Header
	body   []byte
}

// reply is the backend's scripted answer to the n-th request (from 0).
type reply func(n int, w http.ResponseWriter, r *http.Request)

// backend is a studio backend that records every request.
type backend struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []received
}

func newBackend(t *testing.T, tls bool, answer reply) *backend {
	t.Helper()
	b := &backend{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		b.mu.Lock()
		n := len(b.got)
		b.got = append(b.got, received{header: r.Header.Clone(), body: body})
		b.mu.Unlock()
		answer(n, w, r)
	})
	if tls {
		b.srv = httptest.NewTLSServer(h)
	} else {
		b.srv = httptest.NewServer(h)
	}
	t.Cleanup(b.srv.Close)
	return b
}

func (b *backend) requests() []received {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]received(nil), b.got...)
}

func status(code int, body string) reply {
	return func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(code)
		_, _ = io.WriteString(w, body)
	}
}

// setup returns the host's view of a forwarder configured with settings
// (url and secret filled in for b unless given).
func setup(t *testing.T, b *backend, settings map[string]string) sdk.Plugin {
	t.Helper()
	f := newForwarder(slog.New(slog.DiscardHandler))
	f.backoff = time.Millisecond
	if b != nil {
		f.transport = b.srv.Client().Transport // trusts the test certificate
	}
	all := map[string]string{}
	if b != nil {
		all[settingURL] = b.srv.URL + "/partnerhub?token=t0ken"
		all[settingSecret] = testSecret
		if strings.HasPrefix(b.srv.URL, "http://") {
			all[settingAllowInsecureHTTP] = "true"
		}
	}
	for k, v := range settings {
		all[k] = v
	}
	p := sdk.TestClient(t, f)
	require.NoError(t, p.Configure(context.Background(), sdk.ConfigureRequest{Settings: all, PartnerCode: "acme", Environment: "staging"}))
	return p
}

func fulfilReq(key string) sdk.FulfilRequest {
	return sdk.FulfilRequest{
		IdempotencyKey: key, PartnerCode: "acme", Environment: "staging", PlayerID: "player-7",
		Payment: sdk.Payment{
			Reference: "PAY-1", PartnerReference: "order-1", Status: "SUCCESSFUL",
			Amount: decimal.RequireFromString("1000.50"), CurrencyCode: "NGN", CountryCode: "NG",
			CustomerID: 77, PaymentMethod: "CARD",
		},
		Items: []sdk.Item{{
			SKU: "gems-50", Name: "50 gems", Quantity: 2, DigitalCurrencyCode: "GEM", DigitalCurrencyName: "Gems",
			DigitalAmount: decimal.NewNullDecimal(decimal.RequireFromString("0.1")),
		}},
	}
}

// verify is the README's verification snippet: the studio's side.
func verify(secret []byte, header http.Header, body []byte, now time.Time) bool {
	ts := header.Get("X-Partnerhub-Timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || now.Sub(time.Unix(sec, 0)).Abs() > 5*time.Minute {
		return false
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(ts + "." + string(body)))
	want := hex.EncodeToString(mac.Sum(nil))
	return hmac.Equal([]byte(want), []byte(header.Get("X-Partnerhub-Signature")))
}

func TestFulfilForwardsASignedRequest(t *testing.T) {
	t.Parallel()
	b := newBackend(t, true, status(http.StatusOK, `{"reference":"game-tx-9"}`))
	p := setup(t, b, nil)

	res, err := p.Fulfil(context.Background(), fulfilReq("fulfil:acme:staging:PAY-1"))
	require.NoError(t, err)
	require.Equal(t, sdk.Fulfilled("game-tx-9"), res)

	got := b.requests()
	require.Len(t, got, 1)
	require.True(t, verify([]byte(testSecret), got[0].header, got[0].body, time.Now()), "the signature verifies")
	require.False(t, verify([]byte("another-secret-of-some-length"), got[0].header, got[0].body, time.Now()), "and only with the secret")
	tampered := append([]byte(nil), got[0].body...)
	tampered[len(tampered)-2] ^= 1
	require.False(t, verify([]byte(testSecret), got[0].header, tampered, time.Now()), "a changed body does not verify")

	require.Equal(t, "fulfil:acme:staging:PAY-1", got[0].header.Get("Idempotency-Key"))
	require.Equal(t, "fulfil", got[0].header.Get("X-Partnerhub-Event"))
	require.Equal(t, "application/json", got[0].header.Get("Content-Type"))

	var ev map[string]any
	require.NoError(t, json.Unmarshal(got[0].body, &ev))
	require.Equal(t, "fulfil", ev["type"])
	require.Equal(t, "fulfil:acme:staging:PAY-1", ev["idempotencyKey"])
	require.Equal(t, "acme", ev["partnerCode"])
	require.Equal(t, "staging", ev["environment"])
	require.Equal(t, "player-7", ev["playerId"])
	pay := ev["payment"].(map[string]any)
	require.Equal(t, "PAY-1", pay["reference"])
	require.Equal(t, "1000.5", pay["amount"], "amounts are exact decimal strings")
	require.Equal(t, "NGN", pay["currencyCode"])
	require.EqualValues(t, 77, pay["customerId"])
	items := ev["items"].([]any)
	require.Len(t, items, 1)
	require.Equal(t, map[string]any{
		"sku": "gems-50", "name": "50 gems", "quantity": float64(2),
		"digitalCurrencyCode": "GEM", "digitalCurrencyName": "Gems", "digitalAmount": "0.1",
	}, items[0])
}

func TestFulfilWithoutReference(t *testing.T) {
	t.Parallel()
	b := newBackend(t, false, status(http.StatusNoContent, ""))
	p := setup(t, b, nil)
	res, err := p.Fulfil(context.Background(), fulfilReq("k"))
	require.NoError(t, err)
	require.Equal(t, sdk.Fulfilled(""), res)
}

func TestServerErrorThenSuccessRetriesInProcess(t *testing.T) {
	t.Parallel()
	b := newBackend(t, false, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, `{"reference":"r-2"}`)
	})
	p := setup(t, b, nil) // retries: default 2

	res, err := p.Fulfil(context.Background(), fulfilReq("fulfil:K-1"))
	require.NoError(t, err)
	require.Equal(t, sdk.Fulfilled("r-2"), res)
	got := b.requests()
	require.Len(t, got, 2)
	for _, r := range got {
		require.Equal(t, "fulfil:K-1", r.header.Get("Idempotency-Key"), "every try carries the same key")
		require.True(t, verify([]byte(testSecret), r.header, r.body, time.Now()))
	}
	require.Equal(t, got[0].body, got[1].body, "and the same body")
}

func TestServerErrorIsLeftToTheHost(t *testing.T) {
	t.Parallel()
	b := newBackend(t, false, func(n int, w http.ResponseWriter, r *http.Request) {
		if n < 3 {
			http.Error(w, "database\x00 down\n", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	p := setup(t, b, nil)

	// Three tries in process (1 + 2 retries), all 500: the host retries later.
	res, err := p.Fulfil(context.Background(), fulfilReq("fulfil:K-2"))
	require.NoError(t, err)
	require.Equal(t, sdk.Retry("backend answered 500: database down"), res)
	require.Len(t, b.requests(), 3)

	// The host's retry: same key, now accepted.
	res, err = p.Fulfil(context.Background(), fulfilReq("fulfil:K-2"))
	require.NoError(t, err)
	require.Equal(t, sdk.OutcomeFulfilled, res.Outcome)
	got := b.requests()
	require.Len(t, got, 4)
	for _, r := range got {
		require.Equal(t, "fulfil:K-2", r.header.Get("Idempotency-Key"))
	}
}

func TestAnswers(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 1000)
	tests := []struct {
		name     string
		code     int
		body     string
		want     sdk.Result
		requests int
	}{
		{"rejected with JSON reason", http.StatusUnprocessableEntity, `{"reason":"player banned"}`,
			sdk.Rejected("backend answered 422: player banned"), 1},
		{"rejected with text reason", http.StatusBadRequest, "no such sku\n",
			sdk.Rejected("backend answered 400: no such sku"), 1},
		{"rejected reason bounded", http.StatusConflict, long,
			sdk.Rejected("backend answered 409: " + strings.Repeat("é", maxReasonLength/2)), 1},
		{"too many requests is transient", http.StatusTooManyRequests, "",
			sdk.Retry("backend answered 429"), 3},
		{"bad gateway is transient", http.StatusBadGateway, "",
			sdk.Retry("backend answered 502"), 3},
		{"redirect is not followed", http.StatusFound, "",
			sdk.Retry("backend answered 302 (redirects are not followed; set url to the final address)"), 1},
		{"huge success body is cut", http.StatusOK, `{"reference":"` + strings.Repeat("x", 1<<20) + `"}`,
			sdk.Fulfilled(""), 1}, // cut at 64 KiB: no longer JSON, so no reference
		{"reference bounded", http.StatusOK, `{"reference":"` + strings.Repeat("r", 500) + `"}`,
			sdk.Fulfilled(strings.Repeat("r", maxReasonLength)), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := newBackend(t, false, func(_ int, w http.ResponseWriter, _ *http.Request) {
				if tt.code == http.StatusFound {
					w.Header().Set("Location", "/elsewhere")
				}
				w.WriteHeader(tt.code)
				_, _ = io.WriteString(w, tt.body)
			})
			p := setup(t, b, nil)
			res, err := p.Fulfil(context.Background(), fulfilReq("k"))
			require.NoError(t, err)
			require.Equal(t, tt.want, res)
			require.Len(t, b.requests(), tt.requests)
			for _, r := range b.requests() {
				require.NotContains(t, r.header.Get("Referer"), "elsewhere")
			}
		})
	}
}

func TestTimeoutIsRetried(t *testing.T) {
	t.Parallel()
	b := newBackend(t, false, func(_ int, w http.ResponseWriter, r *http.Request) {
		select { // hang until the plugin gives up
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	p := setup(t, b, map[string]string{settingTimeout: "50ms", settingRetries: "1"})
	res, err := p.Fulfil(context.Background(), fulfilReq("fulfil:K-3"))
	require.NoError(t, err)
	require.Equal(t, sdk.Retry("backend did not answer within 50ms"), res)
	got := b.requests()
	require.Len(t, got, 2)
	require.Equal(t, got[0].header.Get("Idempotency-Key"), got[1].header.Get("Idempotency-Key"))
}

func TestUnreachableBackendIsRetriedWithoutLeakingTheURL(t *testing.T) {
	t.Parallel()
	b := newBackend(t, false, status(http.StatusOK, ""))
	p := setup(t, b, map[string]string{settingRetries: "0"})
	b.srv.Close()
	res, err := p.Fulfil(context.Background(), fulfilReq("k"))
	require.NoError(t, err)
	require.Equal(t, sdk.OutcomeRetry, res.Outcome)
	require.Contains(t, res.Reason, "backend unreachable")
	require.NotContains(t, res.Reason, "t0ken")
}

func TestHostDeadlineEndsRetries(t *testing.T) {
	t.Parallel()
	b := newBackend(t, false, status(http.StatusServiceUnavailable, ""))
	p := setup(t, b, map[string]string{settingRetries: "5"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := p.Fulfil(ctx, fulfilReq("k"))
	// The SDK's adapter reports the cancelled call as an error: the host
	// then retries later, as for retry.
	if err == nil {
		require.Equal(t, sdk.OutcomeRetry, res.Outcome)
	}
	require.LessOrEqual(t, len(b.requests()), 1)
}

func TestReverse(t *testing.T) {
	t.Parallel()
	b := newBackend(t, false, status(http.StatusOK, `{"reference":"rev-1"}`))
	p := setup(t, b, nil)
	f := fulfilReq("")
	res, err := p.Reverse(context.Background(), sdk.ReverseRequest{
		IdempotencyKey: "reverse:PAY-1", PartnerCode: "acme", Environment: "staging",
		Payment: f.Payment, PlayerID: f.PlayerID, Items: f.Items, Reason: sdk.ReasonChargeback,
	})
	require.NoError(t, err)
	require.Equal(t, sdk.Fulfilled("rev-1"), res)
	got := b.requests()
	require.Len(t, got, 1)
	require.Equal(t, "reverse", got[0].header.Get("X-Partnerhub-Event"))
	require.Equal(t, "reverse:PAY-1", got[0].header.Get("Idempotency-Key"))
	var ev map[string]any
	require.NoError(t, json.Unmarshal(got[0].body, &ev))
	require.Equal(t, "reverse", ev["type"])
	require.Equal(t, "CHARGEBACK", ev["reason"])
	require.True(t, verify([]byte(testSecret), got[0].header, got[0].body, time.Now()))
}

func TestMissingKeyIsRejected(t *testing.T) {
	t.Parallel()
	b := newBackend(t, false, status(http.StatusOK, ""))
	p := setup(t, b, nil)
	res, err := p.Fulfil(context.Background(), fulfilReq(""))
	require.NoError(t, err)
	require.Equal(t, sdk.OutcomeRejected, res.Outcome)
	require.Empty(t, b.requests())
}

func TestLookupUser(t *testing.T) {
	t.Parallel()
	b := newBackend(t, false, func(_ int, w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.Contains(r.URL.RawQuery, "missing"):
			http.Error(w, "", http.StatusNotFound)
		case strings.Contains(r.URL.RawQuery, "banned"):
			_, _ = io.WriteString(w, `{"found":false,"errorCode":"BANNED","errorMessage":"player is banned"}`)
		case strings.Contains(r.URL.RawQuery, "broken"):
			w.WriteHeader(http.StatusInternalServerError)
		default:
			_, _ = io.WriteString(w, `{"found":true,"userId":"u-7","amount":"12.50"}`)
		}
	})
	req := sdk.LookupUserRequest{
		PlayerID: "player-7", SKU: "gems-50", ExternalReference: "ext-1", CurrencyCode: "NGN",
		Amount: decimal.NewNullDecimal(decimal.RequireFromString("10")),
	}
	lookup := func(query string) (sdk.LookupUserResponse, error) {
		f := newForwarder(slog.New(slog.DiscardHandler))
		p := sdk.TestClient(t, f)
		require.NoError(t, p.Configure(context.Background(), sdk.ConfigureRequest{Settings: map[string]string{
			settingURL: b.srv.URL + "/?" + query, settingSecret: testSecret, settingAllowInsecureHTTP: "true",
		}, PartnerCode: "acme", Environment: "production"}))
		return p.LookupUser(context.Background(), req)
	}

	res, err := lookup("ok")
	require.NoError(t, err)
	require.True(t, res.Found)
	require.Equal(t, "u-7", res.UserID)
	require.Equal(t, "ext-1", res.ExternalReference, "echoed when the backend sends none")
	require.Equal(t, "12.5", res.Amount.Decimal.String())
	require.Equal(t, "NGN", res.CurrencyCode)

	got := b.requests()
	require.Equal(t, "lookup_user", got[0].header.Get("X-Partnerhub-Event"))
	require.Empty(t, got[0].header.Get("Idempotency-Key"))
	require.True(t, verify([]byte(testSecret), got[0].header, got[0].body, time.Now()))
	var ev map[string]any
	require.NoError(t, json.Unmarshal(got[0].body, &ev))
	require.Equal(t, "acme", ev["partnerCode"])
	require.Equal(t, "production", ev["environment"])
	require.Equal(t, "10", ev["lookup"].(map[string]any)["amount"])

	res, err = lookup("missing")
	require.NoError(t, err)
	require.Equal(t, sdk.LookupUserResponse{Found: false, ErrorCode: "PLAYER_NOT_FOUND", ErrorMessage: "unknown player"}, res)

	res, err = lookup("banned")
	require.NoError(t, err)
	require.Equal(t, sdk.LookupUserResponse{Found: false, ErrorCode: "BANNED", ErrorMessage: "player is banned"}, res)

	_, err = lookup("broken")
	require.Error(t, err)
}

func TestConfigureRefusesBadSettings(t *testing.T) {
	t.Parallel()
	good := func(mod func(map[string]string)) map[string]string {
		m := map[string]string{settingURL: "https://game.example.com/hook?token=t0ken", settingSecret: testSecret}
		mod(m)
		return m
	}
	tests := []struct {
		name     string
		settings map[string]string
		want     string
	}{
		{"no url", good(func(m map[string]string) { delete(m, settingURL) }), "url is required"},
		{"no secret", good(func(m map[string]string) { delete(m, settingSecret) }), "secret is required"},
		{"short secret", good(func(m map[string]string) { m[settingSecret] = "short" }), "at least 16"},
		{"plain http", good(func(m map[string]string) { m[settingURL] = "http://game.example.com/?token=t0ken" }), "must use https"},
		{"other scheme", good(func(m map[string]string) { m[settingURL] = "ftp://game.example.com/?token=t0ken" }), "absolute http(s) URL"},
		{"relative url", good(func(m map[string]string) { m[settingURL] = "/hook?token=t0ken" }), "absolute http(s) URL"},
		{"credentials in url", good(func(m map[string]string) { m[settingURL] = "https://u:t0ken@game.example.com/" }), "must not carry credentials"},
		{"bad insecure flag", good(func(m map[string]string) { m[settingAllowInsecureHTTP] = "maybe" }), "true or false"},
		{"bad timeout", good(func(m map[string]string) { m[settingTimeout] = "soon" }), "timeout must be a duration"},
		{"timeout too long", good(func(m map[string]string) { m[settingTimeout] = "1h" }), "at most 2m0s"},
		{"bad retries", good(func(m map[string]string) { m[settingRetries] = "9" }), "from 0 to 5"},
		{"unknown setting", good(func(m map[string]string) { m["secrett"] = "x" }), "unknown setting(s) secrett"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := sdk.TestClient(t, newForwarder(slog.New(slog.DiscardHandler)))
			err := p.Configure(context.Background(), sdk.ConfigureRequest{Settings: tt.settings})
			require.ErrorIs(t, err, sdk.ErrInvalidSettings)
			require.ErrorContains(t, err, tt.want)
			require.NotContains(t, err.Error(), testSecret, "the secret is never quoted")
			require.NotContains(t, err.Error(), "t0ken", "nor the URL")

			// A refused configuration leaves the plugin unusable, not open.
			res, err := p.Fulfil(context.Background(), fulfilReq("k"))
			require.NoError(t, err)
			require.Equal(t, sdk.OutcomeRetry, res.Outcome)
		})
	}

	p := sdk.TestClient(t, newForwarder(slog.New(slog.DiscardHandler)))
	require.NoError(t, p.Configure(context.Background(), sdk.ConfigureRequest{Settings: map[string]string{
		settingURL: "http://localhost:9/", settingSecret: testSecret, settingAllowInsecureHTTP: "true",
		settingTimeout: "3s", settingRetries: "0",
	}}), "http is allowed when asked for")
}

func TestDescribe(t *testing.T) {
	t.Parallel()
	p := sdk.TestClient(t, newForwarder(slog.New(slog.DiscardHandler)))
	d, err := p.Describe(context.Background())
	require.NoError(t, err)
	require.Equal(t, sdk.Description{
		Name: "webhookforward", Version: "1.0.0", ProtocolVersion: sdk.ProtocolVersion,
		Capabilities: []sdk.Capability{sdk.CapabilityLookupUser, sdk.CapabilityFulfil, sdk.CapabilityReverse},
	}, d)
}

func TestClean(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"", ""},
		{"  plain  ", "plain"},
		{"two\nlines\r\n", "two lines"},
		{"nul\x00 and \x1b[31mescape", "nul and [31mescape"},
		{"bad \xff utf8", "bad utf8"},
		{strings.Repeat("a", 300), strings.Repeat("a", maxReasonLength)},
		{strings.Repeat("€", 100), strings.Repeat("€", maxReasonLength/3)},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, clean(tt.in), "clean(%q)", tt.in)
	}
}
