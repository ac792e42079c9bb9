package pay1st

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The published vectors of pay1st-protocol.md, verbatim.
const (
	gatewayVectorKey       = "hCyO_Flnu6aid-bhFYTYOowkxXRzoZkgzO32rB6Ik8Y"
	gatewayVectorTimestamp = "2025-03-17T08:10:52.544247646Z"
	// The stray '<' and '>' are part of the published vector.
	gatewayVectorBody      = `{"countryCode":"NG","currencyCode":"NGN","amount":100,"partnerReference":"4a662291-2840-4bcd-aae9-553ab24601ed","callbackSuccessUrl":"<https://callback.success","callbackFailureUrl":"https://callback.failure","callbackPendingUrl":"https://callback.pending","callbackCancelUrl":"https://callback.cancel","webhookUrl":"https://webhook.success","products":[{"title":"10> Credits","sku":"12345","price":100,"quantity":1,"currencyCode":"NGN"}],"metadata":[{"key":"customerId","value":"1"}]}`
	gatewayVectorSignature = "85aa0862aa052f737d3cf4d38f92091ea7c015e782d207ea18cc5641d3e47755"

	summaryVectorUsername  = "apiuser"
	summaryVectorPassword  = "apipassword"
	summaryVectorKey       = "YXBpdXNlcjphcGlwYXNzd29yZA=="
	summaryVectorBody      = `{"reference":"C1st_d6213ccf-e838-4c42-9222-4356bb67a7a2","playerId":"12345","productBundleId":1,"amount":1000,"currency":"ZAR","tokensPurchased":11,"digitalCurrency":{"name":"Credits","code":"CRE"},"status":"SUCCESSFUL"}`
	summaryVectorSignature = "e6ed74ec975440b8653212fafa91e079cbe83af234b541ebfcdeab9dedd1c923"
)

func TestSignRequestVector(t *testing.T) {
	t.Parallel()
	got := SignRequest(gatewayVectorKey, gatewayVectorTimestamp, []byte(gatewayVectorBody))
	require.Equal(t, gatewayVectorSignature, got)
}

func TestVerifyRequest(t *testing.T) {
	t.Parallel()
	body := []byte(gatewayVectorBody)
	tampered := []byte(strings.Replace(gatewayVectorBody, `"amount":100`, `"amount":101`, 1))
	tests := []struct {
		name         string
		key, ts, sig string
		body         []byte
		want         bool
	}{
		{"vector", gatewayVectorKey, gatewayVectorTimestamp, gatewayVectorSignature, body, true},
		{"upper-case hex", gatewayVectorKey, gatewayVectorTimestamp, strings.ToUpper(gatewayVectorSignature), body, true},
		{"tampered body", gatewayVectorKey, gatewayVectorTimestamp, gatewayVectorSignature, tampered, false},
		{"other timestamp", gatewayVectorKey, "2025-03-17T08:10:52.544247647Z", gatewayVectorSignature, body, false},
		{"other key", gatewayVectorKey + "x", gatewayVectorTimestamp, gatewayVectorSignature, body, false},
		{"body whitespace matters", gatewayVectorKey, gatewayVectorTimestamp, gatewayVectorSignature, append(body, '\n'), false},
		{"empty key", "", gatewayVectorTimestamp, SignRequest("", gatewayVectorTimestamp, body), body, false},
		{"empty signature", gatewayVectorKey, gatewayVectorTimestamp, "", body, false},
		{"truncated signature", gatewayVectorKey, gatewayVectorTimestamp, gatewayVectorSignature[:63], body, false},
		{"prefix only", gatewayVectorKey, gatewayVectorTimestamp, gatewayVectorSignature[:32], body, false},
		{"extra characters", gatewayVectorKey, gatewayVectorTimestamp, gatewayVectorSignature + "00", body, false},
		{"surrounding space", gatewayVectorKey, gatewayVectorTimestamp, " " + gatewayVectorSignature, body, false},
		{"not hex", gatewayVectorKey, gatewayVectorTimestamp, strings.Repeat("zz", 32), body, false},
		{"base64 instead of hex", gatewayVectorKey, gatewayVectorTimestamp, "haoIYqoFL3N9PPTTj5IJHqfAFeeC0geo7Bjl ZB5+d1U=", body, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, VerifyRequest(tc.key, tc.ts, tc.body, tc.sig))
		})
	}
}

func TestSummaryKeyVector(t *testing.T) {
	t.Parallel()
	require.Equal(t, summaryVectorKey, SummaryKey(summaryVectorUsername, summaryVectorPassword))
}

func TestSignSummaryVector(t *testing.T) {
	t.Parallel()
	got := SignSummary(summaryVectorUsername, summaryVectorPassword, []byte(summaryVectorBody))
	require.Equal(t, summaryVectorSignature, got)
}

func TestSignSummaryTrimsSurroundingWhitespace(t *testing.T) {
	t.Parallel()
	for _, pad := range []struct{ before, after string }{
		{"", "\n"},
		{"\r\n", "\r\n"},
		{" \t ", "  \n\n"},
		{"\v\f", "\f\v"},
	} {
		body := []byte(pad.before + summaryVectorBody + pad.after)
		require.Equal(t, summaryVectorSignature, SignSummary(summaryVectorUsername, summaryVectorPassword, body), "%q", pad)
		require.True(t, VerifySummary(summaryVectorUsername, summaryVectorPassword, body, summaryVectorSignature))
	}
}

func TestVerifySummary(t *testing.T) {
	t.Parallel()
	body := []byte(summaryVectorBody)
	tests := []struct {
		name     string
		user     string
		password string
		body     []byte
		sig      string
		want     bool
	}{
		{"vector", summaryVectorUsername, summaryVectorPassword, body, summaryVectorSignature, true},
		{"upper-case hex", summaryVectorUsername, summaryVectorPassword, body, strings.ToUpper(summaryVectorSignature), true},
		{"inner whitespace matters", summaryVectorUsername, summaryVectorPassword,
			[]byte(strings.Replace(summaryVectorBody, `,"status"`, `, "status"`, 1)), summaryVectorSignature, false},
		{"tampered body", summaryVectorUsername, summaryVectorPassword,
			[]byte(strings.Replace(summaryVectorBody, `"amount":1000`, `"amount":9000`, 1)), summaryVectorSignature, false},
		{"wrong password", summaryVectorUsername, "apipassword2", body, summaryVectorSignature, false},
		{"user and password swapped", summaryVectorPassword, summaryVectorUsername, body, summaryVectorSignature, false},
		{"key must not be decoded", summaryVectorUsername, summaryVectorPassword, body,
			SignRequest(summaryVectorUsername+":"+summaryVectorPassword, "", body), false},
		{"empty username", "", summaryVectorPassword, body, SignSummary("", summaryVectorPassword, body), false},
		{"empty password", summaryVectorUsername, "", body, SignSummary(summaryVectorUsername, "", body), false},
		{"empty signature", summaryVectorUsername, summaryVectorPassword, body, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, VerifySummary(tc.user, tc.password, tc.body, tc.sig))
		})
	}
}
