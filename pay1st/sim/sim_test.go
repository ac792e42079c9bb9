package sim_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/pay1st"
	"github.com/partnerhub/partnerhub/pay1st/sim"
)

// clock is a settable clock shared by the simulator and its callers.
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

// receiver is a stand-in partnerhub: it verifies every webhook exactly as
// api/webhooks.go and api/summary.go do and keeps what passed.
type receiver struct {
	t          *testing.T
	signingKey string
	user, pass string
	now        func() time.Time
	status     int // answer to give; 200 when 0

	mu        sync.Mutex
	events    []pay1st.PaymentEvent
	summaries []pay1st.Summary
	refused   []string
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	refuse := func(why string) {
		rc.refused = append(rc.refused, why)
		w.WriteHeader(http.StatusUnauthorized)
	}
	switch r.URL.Path {
	case "/events":
		ts, sig := r.Header.Get(pay1st.HeaderTimestamp), r.Header.Get(pay1st.HeaderSignature)
		if err := pay1st.CheckTimestamp(ts, rc.now(), pay1st.DefaultTimestampWindow); err != nil {
			refuse("timestamp: " + err.Error())
			return
		}
		if !pay1st.VerifyRequest(rc.signingKey, ts, body, sig) {
			refuse("signature")
			return
		}
		ev, err := pay1st.ParsePaymentEvent(body)
		if err != nil {
			refuse("parse: " + err.Error())
			return
		}
		rc.events = append(rc.events, ev)
	case "/summary":
		if !pay1st.VerifySummary(rc.user, rc.pass, body, r.Header.Get(pay1st.HeaderSignature)) {
			refuse("summary signature")
			return
		}
		s, err := pay1st.ParseSummary(body)
		if err != nil {
			refuse("parse summary: " + err.Error())
			return
		}
		rc.summaries = append(rc.summaries, s)
	default:
		w.WriteHeader(http.StatusNotFound)
		return
	}
	if rc.status != 0 {
		w.WriteHeader(rc.status)
		return
	}
	_, _ = w.Write([]byte(`{"status":"accepted"}`))
}

func (rc *receiver) got() ([]pay1st.Status, []string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []pay1st.Status
	for _, e := range rc.events {
		out = append(out, e.Status)
	}
	return out, append([]string(nil), rc.refused...)
}

type fixture struct {
	sim     *sim.Server
	partner sim.Partner
	recv    *receiver
	clock   *clock
}

var testPartner = sim.Partner{
	PartnerID: 42, PartnerCode: "acme", APIKey: "key-acme", APISecret: "secret-acme",
	SigningKey: "signing-acme", BasicAuthUsername: "basic-user", BasicAuthPassword: "basic-pass",
}

func setup(t *testing.T) *fixture {
	t.Helper()
	clk := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	recv := &receiver{t: t, signingKey: testPartner.SigningKey, user: testPartner.BasicAuthUsername,
		pass: testPartner.BasicAuthPassword, now: clk.Now}
	hub := httptest.NewServer(recv)
	t.Cleanup(hub.Close)
	p := testPartner
	p.WebhookURL, p.SummaryURL = hub.URL+"/events", hub.URL+"/summary"
	s, err := sim.Start(sim.Options{Partners: []sim.Partner{p}, Now: clk.Now})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return &fixture{sim: s, partner: p, recv: recv, clock: clk}
}

// token fetches an access token over raw HTTP.
func (f *fixture) token(t *testing.T) string {
	t.Helper()
	resp := f.post(t, pay1st.PathToken, pay1st.ContentTypeAuth, []byte(`{"role":"API_USER"}`), func(r *http.Request) {
		r.SetBasicAuth(f.partner.APIKey, f.partner.APISecret)
	})
	require.Equal(t, http.StatusOK, resp.status, resp.body)
	var tok struct{ AccessToken, RefreshToken, Role string }
	require.NoError(t, json.Unmarshal([]byte(resp.body), &tok))
	require.Equal(t, "API_USER", tok.Role)
	require.NotEmpty(t, tok.AccessToken)
	require.NotEmpty(t, tok.RefreshToken)
	return tok.AccessToken
}

type answer struct {
	status int
	body   string
	code   string
}

func (f *fixture) post(t *testing.T, path, contentType string, body []byte, edit func(*http.Request)) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.sim.URL+path, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", contentType)
	if edit != nil {
		edit(req)
	}
	return do(t, req)
}

func do(t *testing.T, req *http.Request) answer {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var e pay1st.ErrorBody
	_ = json.Unmarshal(b, &e)
	return answer{status: resp.StatusCode, body: string(b), code: e.ErrorCode}
}

// signed posts a Gateway call signed with key at ts.
func (f *fixture) signed(t *testing.T, path, contentType, tok, key, ts string, body []byte) answer {
	t.Helper()
	return f.post(t, path, contentType, body, func(r *http.Request) {
		if tok != "" {
			r.Header.Set(pay1st.HeaderAccessToken, "Bearer "+tok)
		}
		if ts != "" {
			r.Header.Set(pay1st.HeaderTimestamp, ts)
		}
		if key != "" {
			r.Header.Set(pay1st.HeaderSignature, pay1st.SignRequest(key, ts, body))
		}
	})
}

func createBody(partnerRef string) []byte {
	b, _ := pay1st.CreatePaymentRequest{
		CountryCode: "NG", CurrencyCode: "NGN", Amount: decimal.RequireFromString("200.50"),
		PartnerReference: partnerRef,
		Products: []pay1st.Product{{Title: "Coins", SKU: "coins-100", Price: decimal.RequireFromString("100.25"),
			Quantity: 2, CurrencyCode: "NGN"}},
	}.MarshalJSON()
	return b
}

func (f *fixture) create(t *testing.T, partnerRef string) string {
	t.Helper()
	ts := f.clock.Now().Format(time.RFC3339Nano)
	a := f.signed(t, pay1st.PathCreate, pay1st.ContentTypePayment, f.token(t), f.partner.SigningKey, ts, createBody(partnerRef))
	require.Equal(t, http.StatusOK, a.status, a.body)
	var out struct {
		Reference string
		Status    string
		Amount    json.Number
	}
	require.NoError(t, json.Unmarshal([]byte(a.body), &out))
	require.Equal(t, "NEW", out.Status)
	require.Equal(t, "200.5", out.Amount.String())
	return out.Reference
}

func TestTokenEndpoint(t *testing.T) {
	t.Parallel()
	f := setup(t)
	auth := func(key, secret string) func(*http.Request) {
		return func(r *http.Request) { r.SetBasicAuth(key, secret) }
	}
	body := []byte(`{"role":"API_USER"}`)
	tests := []struct {
		name        string
		contentType string
		body        []byte
		edit        func(*http.Request)
		status      int
		code        string
	}{
		{"good", pay1st.ContentTypeAuth, body, auth("key-acme", "secret-acme"), 200, ""},
		{"no auth", pay1st.ContentTypeAuth, body, nil, 401, sim.CodeBadCredentials},
		{"wrong secret", pay1st.ContentTypeAuth, body, auth("key-acme", "secret-acme2"), 401, sim.CodeBadCredentials},
		{"unknown key", pay1st.ContentTypeAuth, body, auth("nobody", "secret-acme"), 401, sim.CodeBadCredentials},
		{"not basic", pay1st.ContentTypeAuth, body, func(r *http.Request) {
			r.Header.Set("Authorization", "Bearer "+base64.StdEncoding.EncodeToString([]byte("key-acme:secret-acme")))
		}, 401, sim.CodeBadCredentials},
		{"wrong content type", "application/json", body, auth("key-acme", "secret-acme"), 415, sim.CodeUnsupportedType},
		{"wrong role", pay1st.ContentTypeAuth, []byte(`{"role":"ADMIN"}`), auth("key-acme", "secret-acme"), 400, sim.CodeBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := f.post(t, pay1st.PathToken, tc.contentType, tc.body, tc.edit)
			require.Equal(t, tc.status, a.status, a.body)
			require.Equal(t, tc.code, a.code)
			require.NotContains(t, a.body, "secret-acme")
		})
	}
}

func TestSignedCallsAreCheckedStrictly(t *testing.T) {
	t.Parallel()
	f := setup(t)
	tok := f.token(t)
	key := f.partner.SigningKey
	now := f.clock.Now()
	ts := now.Format(time.RFC3339Nano)
	body := createBody("strict-1")
	tests := []struct {
		name   string
		tok    string
		key    string
		ts     string
		edit   func(*http.Request)
		status int
		code   string
	}{
		{"no token", "", key, ts, nil, 401, sim.CodeBadToken},
		{"unknown token", "at_nope", key, ts, nil, 401, sim.CodeBadToken},
		{"no signature", tok, "", ts, nil, 401, sim.CodeBadSignature},
		{"no timestamp", tok, key, "", func(r *http.Request) { r.Header.Del(pay1st.HeaderTimestamp) }, 401, sim.CodeBadSignature},
		{"wrong key", tok, key + "x", ts, nil, 401, sim.CodeBadSignature},
		{"stale timestamp", tok, key, now.Add(-5*time.Minute - time.Second).Format(time.RFC3339Nano), nil, 401, sim.CodeStaleTimestamp},
		{"future timestamp", tok, key, now.Add(5*time.Minute + time.Second).Format(time.RFC3339Nano), nil, 401, sim.CodeStaleTimestamp},
		{"malformed timestamp", tok, key, "yesterday", nil, 401, sim.CodeStaleTimestamp},
		{"signature of another timestamp", tok, key, ts, func(r *http.Request) {
			r.Header.Set(pay1st.HeaderTimestamp, now.Add(time.Second).Format(time.RFC3339Nano))
		}, 401, sim.CodeBadSignature},
		{"body re-encoded after signing", tok, key, ts, func(r *http.Request) {
			r.Body = io.NopCloser(bytes.NewReader(append([]byte(" "), body...)))
			r.ContentLength++
		}, 401, sim.CodeBadSignature},
		{"edge of window", tok, key, now.Add(-5 * time.Minute).Format(time.RFC3339Nano), nil, 200, ""},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := createBody("strict-" + tc.name)
			if tc.name == "body re-encoded after signing" {
				b = body
			}
			a := f.post(t, pay1st.PathCreate, pay1st.ContentTypePayment, b, func(r *http.Request) {
				if tc.tok != "" {
					r.Header.Set(pay1st.HeaderAccessToken, "Bearer "+tc.tok)
				}
				r.Header.Set(pay1st.HeaderTimestamp, tc.ts)
				if tc.key != "" {
					r.Header.Set(pay1st.HeaderSignature, pay1st.SignRequest(tc.key, tc.ts, b))
				}
				if tc.edit != nil {
					tc.edit(r)
				}
			})
			require.Equal(t, tc.status, a.status, "%d %s", i, a.body)
			require.Equal(t, tc.code, a.code)
		})
	}
}

func TestTokensExpireAndRefresh(t *testing.T) {
	t.Parallel()
	f := setup(t)
	tok := f.token(t)
	query := func(tok string) answer {
		ts := f.clock.Now().Format(time.RFC3339Nano)
		req, err := http.NewRequest(http.MethodGet, f.sim.URL+pay1st.PathPayments+"?reference=C-none-P", nil)
		require.NoError(t, err)
		req.Header.Set(pay1st.HeaderAccessToken, "Bearer "+tok)
		req.Header.Set(pay1st.HeaderTimestamp, ts)
		req.Header.Set(pay1st.HeaderSignature, pay1st.SignRequest(f.partner.SigningKey, ts, nil))
		return do(t, req)
	}
	require.Equal(t, http.StatusNotFound, query(tok).status, "a valid token reaches the handler")
	f.clock.Add(sim.DefaultTokenLifetime)
	a := query(tok)
	require.Equal(t, http.StatusUnauthorized, a.status)
	require.Equal(t, sim.CodeBadToken, a.code)

	// The refresh token from a fresh pair works once.
	resp := f.post(t, pay1st.PathToken, pay1st.ContentTypeAuth, []byte(`{"role":"API_USER"}`), func(r *http.Request) {
		r.SetBasicAuth(f.partner.APIKey, f.partner.APISecret)
	})
	var pair struct{ AccessToken, RefreshToken string }
	require.NoError(t, json.Unmarshal([]byte(resp.body), &pair))
	refresh := []byte(`{"role":"API_USER","refreshToken":"` + pair.RefreshToken + `"}`)
	a = f.post(t, pay1st.PathRefresh, pay1st.ContentTypeAuth, refresh, nil)
	require.Equal(t, http.StatusOK, a.status, a.body)
	var next struct{ AccessToken string }
	require.NoError(t, json.Unmarshal([]byte(a.body), &next))
	require.Equal(t, http.StatusNotFound, query(next.AccessToken).status)
	a = f.post(t, pay1st.PathRefresh, pay1st.ContentTypeAuth, refresh, nil)
	require.Equal(t, http.StatusUnauthorized, a.status, "refresh tokens are single-use")

	f.sim.RevokeTokens()
	require.Equal(t, http.StatusUnauthorized, query(next.AccessToken).status)
}

func TestCreatePayment(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ref := f.create(t, "order-1")
	p, ok := f.sim.Payment(ref)
	require.True(t, ok)
	require.Equal(t, pay1st.StatusNew, p.Status)
	require.Equal(t, "order-1", p.PartnerReference)
	require.True(t, decimal.RequireFromString("200.50").Equal(p.Amount))
	byRef, ok := f.sim.PaymentByPartnerReference("acme", "order-1")
	require.True(t, ok)
	require.Equal(t, ref, byRef.Reference)

	tok := f.token(t)
	ts := f.clock.Now().Format(time.RFC3339Nano)
	key := f.partner.SigningKey
	a := f.signed(t, pay1st.PathCreate, pay1st.ContentTypePayment, tok, key, ts, createBody("order-1"))
	require.Equal(t, http.StatusConflict, a.status, "partnerReference is unique forever")
	require.Equal(t, sim.CodeDuplicateRef, a.code)

	wrongTotal := bytes.Replace(createBody("order-2"), []byte(`"amount":200.5`), []byte(`"amount":200.51`), 1)
	a = f.signed(t, pay1st.PathCreate, pay1st.ContentTypePayment, tok, key, ts, wrongTotal)
	require.Equal(t, http.StatusBadRequest, a.status, a.body)
	require.Equal(t, sim.CodeAmountMismatch, a.code)

	a = f.signed(t, pay1st.PathCreate, "application/json", tok, key, ts, createBody("order-3"))
	require.Equal(t, http.StatusUnsupportedMediaType, a.status)

	a = f.signed(t, pay1st.PathCreate, pay1st.ContentTypePayment, tok, key, ts, []byte(`{"amount":"1"}`))
	require.Equal(t, http.StatusBadRequest, a.status)
}

func TestFulfilmentCompletion(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ref := f.create(t, "order-fulfil")
	key := f.partner.SigningKey
	report := func(sku, status string) answer {
		body, err := json.Marshal(pay1st.Fulfilment{Reference: ref, Products: []pay1st.FulfilmentProduct{
			{SKU: sku, FulfilmentStatus: status, Quantity: 2, FulfilmentTime: f.clock.Now()}}})
		require.NoError(t, err)
		ts := f.clock.Now().Format(time.RFC3339Nano)
		return f.signed(t, pay1st.PathFulfilments, "application/json", f.token(t), key, ts, body)
	}
	a := report("coins-100", "FULFILLED")
	require.Equal(t, http.StatusConflict, a.status, "not paid yet")
	require.Equal(t, sim.CodePaymentNotPaid, a.code)
	require.NoError(t, f.sim.Pay(context.Background(), ref))
	a = report("coins-999", "FULFILLED")
	require.Equal(t, http.StatusBadRequest, a.status)
	require.Equal(t, sim.CodeUnknownSKU, a.code)
	a = report("coins-100", "DONE")
	require.Equal(t, http.StatusBadRequest, a.status)
	require.Empty(t, f.sim.Fulfilments(ref))
	a = report("coins-100", "FULFILLED")
	require.Equal(t, http.StatusOK, a.status, a.body)
	require.Empty(t, a.body)
	got := f.sim.Fulfilments(ref)
	require.Len(t, got, 1)
	require.Equal(t, "coins-100", got[0].Products[0].SKU)
	require.Equal(t, int64(2), got[0].Products[0].Quantity)
	require.True(t, f.clock.Now().Equal(got[0].Products[0].FulfilmentTime))
}

func TestOtherPartnersPaymentIsNotFound(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ref := f.create(t, "order-mine")
	other := sim.Partner{PartnerID: 7, PartnerCode: "other", APIKey: "key-other", APISecret: "s", SigningKey: "k"}
	require.NoError(t, f.sim.AddPartner(other))
	require.Error(t, f.sim.AddPartner(other), "a partner is registered once")
	resp := f.post(t, pay1st.PathToken, pay1st.ContentTypeAuth, []byte(`{"role":"API_USER"}`), func(r *http.Request) {
		r.SetBasicAuth("key-other", "s")
	})
	var tok struct{ AccessToken string }
	require.NoError(t, json.Unmarshal([]byte(resp.body), &tok))
	ts := f.clock.Now().Format(time.RFC3339Nano)
	req, err := http.NewRequest(http.MethodGet, f.sim.URL+pay1st.PathPayments+"?reference="+ref, nil)
	require.NoError(t, err)
	req.Header.Set(pay1st.HeaderAccessToken, "Bearer "+tok.AccessToken)
	req.Header.Set(pay1st.HeaderTimestamp, ts)
	req.Header.Set(pay1st.HeaderSignature, pay1st.SignRequest("k", ts, nil))
	require.Equal(t, http.StatusNotFound, do(t, req).status)
}

func TestRequestLogAndBodyLimit(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.token(t)
	a := f.post(t, pay1st.PathCreate, pay1st.ContentTypePayment, bytes.Repeat([]byte("x"), sim.DefaultMaxBodyBytes+1), nil)
	require.Equal(t, http.StatusRequestEntityTooLarge, a.status)
	a = f.post(t, "/api/pay1st/nope", "application/json", nil, nil)
	require.Equal(t, http.StatusNotFound, a.status)
	reqs := f.sim.Requests()
	require.Len(t, reqs, 3)
	require.Equal(t, pay1st.PathToken, reqs[0].Path)
	require.Equal(t, "acme", reqs[0].PartnerCode)
	require.Equal(t, http.StatusOK, reqs[0].Status)
	require.Equal(t, sim.CodeTooLarge, reqs[1].ErrorCode)
	require.Equal(t, http.StatusNotFound, reqs[2].Status)
}

func TestControlEndpoints(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ref := f.create(t, "order-control")
	a := f.post(t, sim.ControlPrefix+"payments/"+ref+"/pay?duplicate=true", "", nil, nil)
	require.Equal(t, http.StatusOK, a.status, a.body)
	require.Contains(t, a.body, `"status":"SUCCESSFUL"`)
	got, _ := f.recv.got()
	require.Len(t, got, 4)
	a = f.post(t, sim.ControlPrefix+"payments/"+ref+"/pay", "", nil, nil)
	require.Equal(t, http.StatusConflict, a.status)
	a = f.post(t, sim.ControlPrefix+"payments/C-nope-P/refund", "", nil, nil)
	require.Equal(t, http.StatusNotFound, a.status)
	resp, err := http.Get(f.sim.URL + sim.ControlPrefix + "payments/" + ref)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, string(b), `"history"`)
	require.Len(t, f.sim.Requests(), 2, "control calls are not in the request log (token + create only)")
}

func TestLogsAreBounded(t *testing.T) {
	t.Parallel()
	s, err := sim.New(sim.Options{MaxLog: 10})
	require.NoError(t, err)
	for range 25 {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/nope", nil))
		require.Equal(t, http.StatusNotFound, rec.Code)
	}
	n := len(s.Requests())
	require.LessOrEqual(t, n, 10)
	require.GreaterOrEqual(t, n, 5)
}
