package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/tenant"
)

// TestNoSecretInAnyResponseOrLog sets every kind of secret partnerhub keeps,
// then reads every GET operation of the OpenAPI document as an operator and
// as the tenant: no secret may appear in any response, nor in any log line.
func TestNoSecretInAnyResponseOrLog(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	signingKey := b.createTenant(t, "acme", 1)
	secrets := []string{signingKey}

	creds := map[string]any{
		"apiKey": "ak-SECRET-1111111111", "apiSecret": "as-SECRET-2222222222", "signingKey": "sk-SECRET-3333333333",
		"basicAuthUsername": "bu-SECRET-4444444444", "basicAuthPassword": "bp-SECRET-5555555555",
	}
	for _, env := range []string{"staging", "production"} {
		status, _, out := b.call(t, http.MethodPut, "/v1/tenants/acme/environments/"+env+"/credentials", b.operatorKey, creds)
		require.Equal(t, http.StatusOK, status, out)
	}
	for _, v := range creds {
		secrets = append(secrets, v.(string))
	}
	status, _, rotated := b.call(t, http.MethodPost, "/v1/tenants/acme/environments/staging/signing-key/rotate", b.operatorKey, nil)
	require.Equal(t, http.StatusOK, status, rotated)
	secrets = append(secrets, findSecretValues(rotated)...)
	status, _, mode := b.call(t, http.MethodPatch, "/v1/tenants/acme/environments/staging", b.operatorKey, map[string]any{"authMode": "token"})
	require.Equal(t, http.StatusOK, status, mode)
	secrets = append(secrets, findSecretValues(mode)...)
	status, _, token := b.call(t, http.MethodPost, "/v1/tenants/acme/environments/staging/webhook-token/rotate", b.operatorKey, nil)
	require.Equal(t, http.StatusOK, status, token)
	secrets = append(secrets, findSecretValues(token)...)
	status, _, key := b.call(t, http.MethodPost, "/v1/tenants/acme/api-keys", b.operatorKey, map[string]any{"name": "ci", "role": "viewer"})
	require.Equal(t, http.StatusCreated, status, key)
	tenantKey := key["key"].(string)
	secrets = append(secrets, tenantKey, b.operatorKey)
	require.GreaterOrEqual(t, len(secrets), 10)

	acme, err := b.tenants.Get(ctx, "acme")
	require.NoError(t, err)
	reader, err := b.tenants.CreateTenantKey(ctx, acme, tenant.RoleViewer, "reader")
	require.NoError(t, err)
	secrets = append(secrets, reader)

	resp, err := http.Get(b.srv.URL + "/openapi.json")
	require.NoError(t, err)
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(raw, &doc))
	params := map[string]string{"partnerCode": "acme", "env": "staging", "productId": "1", "bundleId": "1", "prefix": "x", "step": "creatives", "reference": "C-1-P", "deliveryId": "1", "pluginId": "1", "partnerReference": "ord-1"}
	placeholder := regexp.MustCompile(`\{([A-Za-z]+)\}`)
	read := 0
	for path, ops := range doc.Paths {
		if _, ok := ops["get"]; !ok || !strings.HasPrefix(path, "/v1/") {
			continue
		}
		url := placeholder.ReplaceAllStringFunc(path, func(m string) string { return params[m[1:len(m)-1]] })
		for _, k := range []string{b.operatorKey, reader} {
			_, _, out := b.call(t, http.MethodGet, url, k, nil)
			blob, err := json.Marshal(out)
			require.NoError(t, err)
			for _, s := range secrets {
				require.NotContains(t, string(blob), s, "GET %s shows a secret", url)
			}
			read++
		}
	}
	require.GreaterOrEqual(t, read, 20)
	// Webhooks log every delivery: one accepted with the token, one refused.
	tokens := findSecretValues(token)
	require.Len(t, tokens, 1)
	body := eventBody(t, "acme", 1, "C-SECRET-P", nil)
	st, _, out := b.post(t, "/pay1st/staging/acme/payment-events?token="+tokens[0], body, map[string]string{"Content-Type": "application/json"})
	require.Equal(t, http.StatusOK, st, out)
	st, _, _ = b.post(t, "/pay1st/staging/acme/payment-events?token=wrong", body, nil)
	require.Equal(t, http.StatusUnauthorized, st)
	logs := b.logs.String()
	require.NotEmpty(t, logs)
	for _, s := range secrets {
		require.NotContains(t, logs, s, "a secret reached the logs")
	}
}

// findSecretValues returns the string values of a one-time secret response
// (a rotated key or token) that look like secrets: long, no spaces.
func findSecretValues(m map[string]any) []string {
	var out []string
	for _, v := range m {
		if s, ok := v.(string); ok && len(s) >= 32 && !strings.ContainsAny(s, " :/") {
			out = append(out, s)
		}
	}
	return out
}
