package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/pay1st"
)

func eventBody(t *testing.T, code string, id int64, reference string, mutate func(map[string]any)) []byte {
	t.Helper()
	ev := map[string]any{
		"partnerId": id, "partnerCode": code, "partnerReference": "order-" + reference, "reference": reference,
		"orderAmount": json.Number("100.50"), "currencyCode": "NGN", "countryCode": "NG", "source": "web",
		"platform": "WEB", "ipAddress": "203.0.113.9", "createdDate": "2026-03-17T08:10:52Z",
		"updatedDate": "2026-03-17T08:11:52.544247646Z", "status": "SUCCESSFUL", "message": "Approved",
		"statusCode": 0, "customerId": 77, "paymentMethod": "CARD", "taxPercentage": json.Number("7.5"),
		"partnerWebhookUrl": "https://hub.example.com/pay1st/staging/" + code + "/payment-events",
	}
	if mutate != nil {
		mutate(ev)
	}
	raw, err := json.Marshal(ev)
	require.NoError(t, err)
	return raw
}

func signedHeaders(key string, body []byte, at time.Time) map[string]string {
	ts := at.UTC().Format(time.RFC3339Nano)
	return map[string]string{
		"Content-Type": "application/json", pay1st.HeaderTimestamp: ts, pay1st.HeaderSignature: pay1st.SignRequest(key, ts, body),
	}
}

func (b bundle) post(t *testing.T, path string, body []byte, headers map[string]string) (int, http.Header, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.srv.URL+path, bytes.NewReader(body))
	require.NoError(t, err)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var out map[string]any
	require.NoError(t, json.Unmarshal(raw, &out), string(raw))
	return resp.StatusCode, resp.Header, out
}

func (b bundle) count(t *testing.T, sql string) int {
	t.Helper()
	var n int
	require.NoError(t, b.pool.QueryRow(context.Background(), sql).Scan(&n))
	return n
}

func TestPaymentEventAcceptedOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	key := b.createTenant(t, "acme", 1042)
	body := eventBody(t, "acme", 1042, "C-100-P", nil)

	for i, want := range []string{"accepted", "duplicate", "duplicate"} {
		status, hdr, out := b.post(t, "/pay1st/staging/acme/payment-events", body, signedHeaders(key, body, time.Now()))
		require.Equal(t, http.StatusOK, status, "attempt %d: %v", i, out)
		require.Equal(t, "application/json", hdr.Get("Content-Type"))
		require.Equal(t, want, out["status"])
		require.Equal(t, "C-100-P", out["reference"])
		require.NotEmpty(t, out["sessionId"])
	}
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM payments`))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM river_job WHERE kind = 'fulfil'`))
	require.Equal(t, 3, b.count(t, `SELECT count(*) FROM deliveries`))

	var amount string
	require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT amount::text FROM payments`).Scan(&amount))
	require.Equal(t, "100.5", amount, "exact decimal, normalised")
	require.NotContains(t, b.logs.String(), key, "the Signing Key never reaches the logs")
}

func TestPaymentEventBadInput(t *testing.T) {
	t.Parallel()
	b := setup(t)
	key := b.createTenant(t, "acme", 1042)
	now := time.Now()
	good := eventBody(t, "acme", 1042, "C-1-P", nil)
	path := "/pay1st/staging/acme/payment-events"
	signed := func(body []byte) map[string]string { return signedHeaders(key, body, now) }
	without := func(field string) []byte {
		return eventBody(t, "acme", 1042, "C-1-P", func(m map[string]any) { delete(m, field) })
	}
	with := func(field string, v any) []byte {
		return eventBody(t, "acme", 1042, "C-1-P", func(m map[string]any) { m[field] = v })
	}
	huge := append([]byte(`{"pad":"`), bytes.Repeat([]byte("x"), 1<<20)...)
	huge = append(huge, `"}`...)

	tests := []struct {
		name    string
		path    string
		body    []byte
		headers map[string]string
		status  int
		code    string
		mention string
	}{
		{"unknown partnerCode", "/pay1st/staging/nobody/payment-events", good, signed(good), 404, pay1st.CodeNotFound, "unknown"},
		{"path traversal partnerCode", "/pay1st/staging/..%2F..%2Fetc/payment-events", good, signed(good), 404, pay1st.CodeNotFound, "unknown"},
		{"unknown env", "/pay1st/sandbox/acme/payment-events", good, signed(good), 404, pay1st.CodeNotFound, "unknown"},
		{"production without key", "/pay1st/production/acme/payment-events", good, signed(good), 401, pay1st.CodeUnauthorized, "Signing Key"},
		{"no signature", path, good, map[string]string{pay1st.HeaderTimestamp: now.Format(time.RFC3339)}, 401, pay1st.CodeUnauthorized, "missing"},
		{"no timestamp", path, good, map[string]string{pay1st.HeaderSignature: signed(good)[pay1st.HeaderSignature]}, 401, pay1st.CodeUnauthorized, "missing"},
		{"wrong key", path, good, signedHeaders("not-the-key", good, now), 401, pay1st.CodeUnauthorized, "signature"},
		{"signature of other body", path, good, signed(with("orderAmount", json.Number("1"))), 401, pay1st.CodeUnauthorized, "signature"},
		{"stale timestamp", path, good, signedHeaders(key, good, now.Add(-6*time.Minute)), 401, pay1st.CodeUnauthorized, "X-TIMESTAMP"},
		{"future timestamp", path, good, signedHeaders(key, good, now.Add(6*time.Minute)), 401, pay1st.CodeUnauthorized, "X-TIMESTAMP"},
		{"malformed JSON", path, []byte(`{"partnerId":`), signed([]byte(`{"partnerId":`)), 400, pay1st.CodeMalformed, ""},
		{"missing reference", path, without("reference"), signed(without("reference")), 422, pay1st.CodeInvalidField, "reference"},
		{"missing updatedDate", path, without("updatedDate"), signed(without("updatedDate")), 422, pay1st.CodeInvalidField, "updatedDate"},
		{"status outside enum", path, with("status", "PAID"), signed(with("status", "PAID")), 422, pay1st.CodeInvalidField, "status"},
		{"amount as string", path, with("orderAmount", "100"), signed(with("orderAmount", "100")), 422, pay1st.CodeInvalidField, "orderAmount"},
		{"negative amount", path, with("orderAmount", json.Number("-1")), signed(with("orderAmount", json.Number("-1"))), 422, pay1st.CodeInvalidField, "orderAmount"},
		{"partnerCode of another tenant", path, with("partnerCode", "other"), signed(with("partnerCode", "other")), 422, pay1st.CodeTenantMismatch, "partnerCode"},
		{"partnerId of another tenant", path, with("partnerId", 7), signed(with("partnerId", 7)), 422, pay1st.CodeTenantMismatch, "partnerId"},
		{"body over 1 MiB", path, huge, signed(huge), 413, pay1st.CodePayloadTooLarge, "limit"},
		{"NUL in partnerCode", "/pay1st/staging/%00/payment-events", good, signed(good), 404, pay1st.CodeNotFound, "unknown"},
		{"invalid UTF-8 in env", "/pay1st/%ff%fe/acme/payment-events", good, signed(good), 404, pay1st.CodeNotFound, "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, hdr, out := b.post(t, tt.path, tt.body, tt.headers)
			require.Equal(t, tt.status, status, out)
			require.Equal(t, "application/json", hdr.Get("Content-Type"), "Pay1st's error body, not problem+json")
			require.Equal(t, tt.code, out["errorCode"])
			require.NotEmpty(t, out["sessionId"])
			require.Contains(t, out["errorMessage"], tt.mention)
			require.NotContains(t, out["errorMessage"], key)
			// The refusal is on record under its session id, with its reason.
			var verdict, reason string
			var code int
			require.NoError(t, b.pool.QueryRow(context.Background(),
				`SELECT verdict, reason, status_code FROM deliveries WHERE session_id = $1`, out["sessionId"]).Scan(&verdict, &reason, &code))
			require.Equal(t, "rejected", verdict)
			require.Equal(t, out["errorMessage"], reason)
			require.Equal(t, tt.status, code)
		})
	}
	require.Equal(t, 0, b.count(t, `SELECT count(*) FROM payments`), "bad input changes nothing")
	require.Equal(t, 0, b.count(t, `SELECT count(*) FROM payment_events`))
	require.Equal(t, 0, b.count(t, `SELECT count(*) FROM river_job`))
	require.Equal(t, len(tests), b.count(t, `SELECT count(*) FROM deliveries WHERE verdict = 'rejected'`))
	require.LessOrEqual(t, b.count(t, `SELECT max(length(body)) FROM deliveries`), 64<<10, "rejected bodies are kept bounded")
	require.NotContains(t, b.logs.String(), key)

	// And the genuine event still goes through afterwards.
	status, _, out := b.post(t, path, good, signed(good))
	require.Equal(t, http.StatusOK, status, out)
	require.Equal(t, "accepted", out["status"])
}

func TestPaymentEventWrongMethod(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.createTenant(t, "acme", 1042)
	for _, method := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
		req, err := http.NewRequest(method, b.srv.URL+"/pay1st/staging/acme/payment-events", nil)
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		var out pay1st.ErrorBody
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
		resp.Body.Close()
		require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
		require.Equal(t, http.MethodPost, resp.Header.Get("Allow"))
		require.NotEmpty(t, out.SessionID)
	}
	require.Equal(t, 3, b.count(t, `SELECT count(*) FROM deliveries WHERE status_code = 405`))
}

func TestSuspendedTenantRecordsButRefuses(t *testing.T) {
	t.Parallel()
	b := setup(t)
	key := b.createTenant(t, "frozen", 77)
	_, err := b.pool.Exec(context.Background(), `UPDATE tenants SET status = 'suspended' WHERE partner_code = 'frozen'`)
	require.NoError(t, err)
	body := eventBody(t, "frozen", 77, "C-F-P", nil)

	status, _, out := b.post(t, "/pay1st/staging/frozen/payment-events", body, signedHeaders("wrong", body, time.Now()))
	require.Equal(t, http.StatusUnauthorized, status, "an unauthenticated caller learns nothing about the tenant's status")
	require.Equal(t, pay1st.CodeUnauthorized, out["errorCode"])

	status, _, out = b.post(t, "/pay1st/staging/frozen/payment-events", body, signedHeaders(key, body, time.Now()))
	require.Equal(t, http.StatusServiceUnavailable, status)
	require.Equal(t, pay1st.CodeUnavailable, out["errorCode"])
	require.Contains(t, out["errorMessage"], "suspended")

	var recorded string
	require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT encode(body, 'escape') FROM deliveries WHERE session_id = $1`,
		out["sessionId"]).Scan(&recorded))
	require.Equal(t, string(body), recorded, "what a suspended tenant receives is kept")
	require.Equal(t, 0, b.count(t, `SELECT count(*) FROM payments`))
}

func TestPaymentEventConcurrentDuplicates(t *testing.T) {
	t.Parallel()
	b := setup(t)
	key := b.createTenant(t, "acme", 1042)
	body := eventBody(t, "acme", 1042, "C-RACE-P", nil)
	const n = 8
	statuses := make(chan string, n)
	for range n {
		go func() {
			req, _ := http.NewRequest(http.MethodPost, b.srv.URL+"/pay1st/staging/acme/payment-events", bytes.NewReader(body))
			for k, v := range signedHeaders(key, body, time.Now()) {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				statuses <- err.Error()
				return
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			statuses <- strconv.Itoa(resp.StatusCode) + " " + string(raw)
		}()
	}
	accepted := 0
	for range n {
		s := <-statuses
		require.True(t, strings.HasPrefix(s, "200 "), s)
		if strings.Contains(s, `"accepted"`) {
			accepted++
		}
	}
	require.Equal(t, 1, accepted, "exactly one delivery is the accepted one")
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM payment_events`))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM river_job WHERE kind = 'fulfil'`))
}
