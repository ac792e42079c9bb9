package api_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/pay1st"
)

// TestHostileRequests sends malformed and hostile requests to the four
// Pay1st-facing endpoints. Each must get the right status in Pay1st's error
// body, be recorded in the deliveries log with its reason, and change
// nothing: no payment, no job.
func TestHostileRequests(t *testing.T) {
	t.Parallel()
	b := setupShop(t, shopOpts{userInfoTimeout: 2 * time.Second})
	ctx := context.Background()
	b.addBundle(t, "acme", 1)
	env, err := b.tenants.Env(ctx, "acme", "staging")
	require.NoError(t, err)
	key := env.SigningKeys(time.Now())[0]
	now := time.Now()

	ev := func(mutate func(map[string]any)) []byte { return eventBody(t, "acme", 1, "C-HOSTILE-P", mutate) }
	good := ev(nil)
	sig := func(body []byte) map[string]string { return signedHeaders(key, body, now) }
	with := func(h map[string]string, k, v string) map[string]string {
		out := map[string]string{}
		for a, b := range h {
			out[a] = b
		}
		out[k] = v
		return out
	}
	raw := func(s string) []byte { return []byte(s) }
	// A body whose fields are fine but whose JSON text is the attack.
	replace := func(old, new string) []byte { return []byte(strings.Replace(string(good), old, new, 1)) }
	sumSig := func(body string) map[string]string {
		return map[string]string{"Content-Type": "application/json", pay1st.HeaderSignature: pay1st.SignSummary(shopUser, shopPass, []byte(body))}
	}
	summary := func(old, new string) string { return strings.Replace(summaryBody, old, new, 1) }
	basic := map[string]string{"Authorization": "Basic YXBpdXNlcjphcGlwYXNzd29yZA=="} // apiuser:apipassword
	huge := append(append([]byte(`{"pad":"`), bytes.Repeat([]byte("x"), 1<<20)...), `"}`...)
	nested := append(append([]byte(`{"x":`), bytes.Repeat([]byte("["), 10000)...), bytes.Repeat([]byte("]"), 10000)...)
	nested = append(nested, '}')

	const P, S = "/pay1st/staging/acme/payment-events", "/pay1st/staging/acme/summary"
	const U, R = "/pay1st/staging/acme/user-info", "/pay1st/staging/acme/return/"
	tests := []struct {
		name    string
		method  string
		path    string
		body    []byte
		headers map[string]string
		status  int
	}{
		// Payment Webhook Events: forged and replayed signatures, stale times.
		{"event: forged signature", "POST", P, good, with(sig(good), pay1st.HeaderSignature, strings.Repeat("ab", 32)), 401},
		{"event: signature replayed on another body", "POST", P, ev(func(m map[string]any) { m["reference"] = "C-OTHER-P" }), sig(good), 401},
		{"event: signed with another tenant's key", "POST", P, good, signedHeaders("other-key", good, now), 401},
		{"event: signature over another timestamp", "POST", P, good, with(sig(good), pay1st.HeaderTimestamp, now.Add(time.Second).UTC().Format(time.RFC3339Nano)), 401},
		{"event: stale timestamp", "POST", P, good, signedHeaders(key, good, now.Add(-10*time.Minute)), 401},
		{"event: future timestamp", "POST", P, good, signedHeaders(key, good, now.Add(10*time.Minute)), 401},
		{"event: timestamp not a date", "POST", P, good, with(sig(good), pay1st.HeaderTimestamp, "yesterday"), 401},
		{"event: no signature headers", "POST", P, good, map[string]string{"Content-Type": "application/json"}, 401},
		// Malformed JSON.
		{"event: truncated JSON", "POST", P, good[:len(good)/2], sig(good[:len(good)/2]), 400},
		{"event: empty body", "POST", P, raw(""), sig(raw("")), 400},
		{"event: array at top level", "POST", P, raw(`[1,2]`), sig(raw(`[1,2]`)), 400},
		{"event: deeply nested unknown field", "POST", P, nested, sig(nested), 400},
		{"event: trailing garbage", "POST", P, append(append([]byte{}, good...), '}'), sig(append(append([]byte{}, good...), '}')), 400},
		{"event: duplicate status member", "POST", P, replace(`"status":"SUCCESSFUL"`, `"status":"SUCCESSFUL","status":"REFUND"`), sig(replace(`"status":"SUCCESSFUL"`, `"status":"SUCCESSFUL","status":"REFUND"`)), 400},
		{"event: float garbage amount", "POST", P, replace(`"orderAmount":100.50`, `"orderAmount":100.5.0`), sig(replace(`"orderAmount":100.50`, `"orderAmount":100.5.0`)), 400},
		// Wrong types and values.
		{"event: partnerId as string", "POST", P, ev(func(m map[string]any) { m["partnerId"] = "1" }), sig(ev(func(m map[string]any) { m["partnerId"] = "1" })), 422},
		{"event: status as object", "POST", P, ev(func(m map[string]any) { m["status"] = map[string]any{} }), sig(ev(func(m map[string]any) { m["status"] = map[string]any{} })), 422},
		{"event: huge amount", "POST", P, replace(`"orderAmount":100.50`, `"orderAmount":1e400`), sig(replace(`"orderAmount":100.50`, `"orderAmount":1e400`)), 422},
		{"event: 16-digit amount", "POST", P, replace(`"orderAmount":100.50`, `"orderAmount":1000000000000000`), sig(replace(`"orderAmount":100.50`, `"orderAmount":1000000000000000`)), 422},
		{"event: negative amount", "POST", P, replace(`"orderAmount":100.50`, `"orderAmount":-1`), sig(replace(`"orderAmount":100.50`, `"orderAmount":-1`)), 422},
		{"event: 9 fraction digits", "POST", P, replace(`"orderAmount":100.50`, `"orderAmount":0.123456789`), sig(replace(`"orderAmount":100.50`, `"orderAmount":0.123456789`)), 422},
		{"event: unknown status", "POST", P, replace(`"SUCCESSFUL"`, `"PAID"`), sig(replace(`"SUCCESSFUL"`, `"PAID"`)), 422},
		{"event: lower-case status", "POST", P, replace(`"SUCCESSFUL"`, `"successful"`), sig(replace(`"SUCCESSFUL"`, `"successful"`)), 422},
		{"event: control character", "POST", P, replace(`"Approved"`, `"Appr\u0007oved"`), sig(replace(`"Approved"`, `"Appr\u0007oved"`)), 422},
		{"event: NUL in reference", "POST", P, replace(`"C-HOSTILE-P"`, `"C-\u0000-P"`), sig(replace(`"C-HOSTILE-P"`, `"C-\u0000-P"`)), 422},
		{"event: invalid UTF-8", "POST", P, replace(`"Approved"`, "\"Appr\xffoved\""), sig(replace(`"Approved"`, "\"Appr\xffoved\"")), 422},
		{"event: partnerId of another tenant", "POST", P, ev(func(m map[string]any) { m["partnerId"] = 2 }), sig(ev(func(m map[string]any) { m["partnerId"] = 2 })), 422},
		// Sizes, types, paths, methods.
		{"event: body over 1 MiB", "POST", P, huge, sig(huge), 413},
		{"event: oversized header", "POST", P, good, with(sig(good), "X-Padding", strings.Repeat("p", 40<<10)), 431},
		{"event: text/plain", "POST", P, good, with(sig(good), "Content-Type", "text/plain"), 415},
		{"event: form content type", "POST", P, good, with(sig(good), "Content-Type", "application/x-www-form-urlencoded"), 415},
		{"event: path traversal", "POST", "/pay1st/staging/..%2F..%2Fetc%2Fpasswd/payment-events", good, sig(good), 404},
		{"event: NUL partnerCode", "POST", "/pay1st/staging/%00/payment-events", good, sig(good), 404},
		{"event: unknown env", "POST", "/pay1st/prod/acme/payment-events", good, sig(good), 404},
		{"event: GET", "GET", P, nil, nil, 405},
		// Summary Webhook.
		{"summary: no signature", "POST", S, raw(summaryBody), map[string]string{"Content-Type": "application/json"}, 401},
		{"summary: forged signature", "POST", S, raw(summaryBody), with(sumSig(summaryBody), pay1st.HeaderSignature, strings.Repeat("0", 64)), 401},
		{"summary: signature of another body", "POST", S, raw(summary(`"12345"`, `"99999"`)), sumSig(summaryBody), 401},
		{"summary: malformed JSON", "POST", S, raw(summaryBody[:40]), sumSig(summaryBody[:40]), 400},
		{"summary: amount as string", "POST", S, raw(summary(`"amount":1000`, `"amount":"1000"`)), sumSig(summary(`"amount":1000`, `"amount":"1000"`)), 422},
		{"summary: negative tokens", "POST", S, raw(summary(`"tokensPurchased":11`, `"tokensPurchased":-11`)), sumSig(summary(`"tokensPurchased":11`, `"tokensPurchased":-11`)), 422},
		{"summary: unknown bundle", "POST", S, raw(summary(`"productBundleId":1`, `"productBundleId":404`)), sumSig(summary(`"productBundleId":1`, `"productBundleId":404`)), 422},
		{"summary: body over 1 MiB", "POST", S, huge, sumSig(string(huge)), 413},
		{"summary: wrong content type", "POST", S, raw(summaryBody), with(sumSig(summaryBody), "Content-Type", "text/xml"), 415},
		// User Info Webhook.
		{"user-info: no playerId", "GET", U, nil, basic, 400},
		{"user-info: 129-char playerId", "GET", U + "?playerId=" + strings.Repeat("p", 129), nil, basic, 400},
		{"user-info: quantity not a number", "GET", U + "?playerId=p1&quantity=two", nil, basic, 400},
		{"user-info: amount garbage", "GET", U + "?playerId=p1&amount=1e9999", nil, basic, 400},
		{"user-info: lower-case currency", "GET", U + "?playerId=p1&currencyCode=zar", nil, basic, 400},
		{"user-info: wrong basic auth", "GET", U + "?playerId=p1", nil, map[string]string{"Authorization": "Basic d3Jvbmc6d3Jvbmc="}, 401},
		{"user-info: no basic auth", "GET", U + "?playerId=p1", nil, nil, 401},
		// Customer return.
		{"return: unknown outcome", "GET", R + "jackpot?reference=C-1-P", nil, nil, 404},
		{"return: traversal in outcome", "GET", R + "..%2F..%2Fadmin", nil, nil, 404},
		{"return: CRLF in reference", "GET", R + "success?reference=C-1%0D%0ALocation:%20https://evil.example", nil, nil, 400},
	}
	require.GreaterOrEqual(t, len(tests), 40)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, hdr, body := b.raw(t, tt.method, tt.path, tt.body, tt.headers)
			require.Equal(t, tt.status, status, string(body))
			require.Equal(t, "application/json", hdr.Get("Content-Type"), "Pay1st's error body: %s", body)
			out := decode(t, body)
			require.NotEmpty(t, out["errorMessage"])
			require.NotEmpty(t, out["errorCode"])
			require.NotEmpty(t, out["sessionId"])
			var verdict, reason string
			var code int
			require.NoError(t, b.pool.QueryRow(ctx, `SELECT verdict, reason, status_code FROM deliveries WHERE session_id = $1`,
				out["sessionId"]).Scan(&verdict, &reason, &code), "every hostile request is in the deliveries log")
			require.Equal(t, "rejected", verdict)
			require.NotEmpty(t, reason)
			require.Equal(t, tt.status, code)
		})
	}
	require.Zero(t, b.count(t, `SELECT count(*) FROM payments`), "nothing was recorded as a payment")
	require.Zero(t, b.count(t, `SELECT count(*) FROM river_job`), "nothing was queued")
	require.Zero(t, b.count(t, `SELECT count(*) FROM payment_items`))
}
