package pay1st

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"
)

// summaryExample is the documented Summary Webhook example (protocol §4).
const summaryExample = `{"reference":"C1st_d6213ccf-e838-4c42-9222-4356bb67a7a2","playerId":"12345","productBundleId":1,"amount":1000,"currency":"ZAR","tokensPurchased":11,"digitalCurrency":{"name":"Credits","code":"CRE"},"status":"SUCCESSFUL"}`

// summaryWith returns the example with members replaced (raw JSON values)
// or, for each name in drop, removed.
func summaryWith(set map[string]string, drop ...string) []byte {
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(summaryExample), &m); err != nil {
		panic(err)
	}
	for k, v := range set {
		m[k] = json.RawMessage(v)
	}
	for _, k := range drop {
		delete(m, k)
	}
	out, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return out
}

func TestParseSummaryExample(t *testing.T) {
	t.Parallel()
	s, err := ParseSummary([]byte(summaryExample))
	require.NoError(t, err)
	require.Equal(t, Summary{
		Reference: "C1st_d6213ccf-e838-4c42-9222-4356bb67a7a2", PlayerID: "12345", ProductBundleID: 1,
		Amount: decimal.RequireFromString("1000"), Currency: "ZAR", TokensPurchased: decimal.RequireFromString("11"),
		DigitalCurrency: DigitalCurrency{Name: "Credits", Code: "CRE"}, Status: StatusSuccessful,
	}, s)
	// The published signature vector signs exactly this body.
	require.True(t, VerifySummary("apiuser", "apipassword", []byte(summaryExample),
		"e6ed74ec975440b8653212fafa91e079cbe83af234b541ebfcdeab9dedd1c923"))
}

func TestParseSummaryOptionalAndUnknown(t *testing.T) {
	t.Parallel()
	s, err := ParseSummary(summaryWith(map[string]string{
		"externalReference": `"EXT-1"`, "paymentMethod": `"CARD"`, "amount": `1000.10`, "tokensPurchased": `0.5`,
		"somethingNew": `{"deep":[1,2,{"x":null}]}`,
	}))
	require.NoError(t, err)
	require.Equal(t, "EXT-1", s.ExternalReference)
	require.Equal(t, "CARD", s.PaymentMethod)
	require.Equal(t, "1000.1", s.Amount.String())
	require.Equal(t, "0.5", s.TokensPurchased.String())

	s, err = ParseSummary(summaryWith(map[string]string{"externalReference": `null`, "paymentMethod": `null`}))
	require.NoError(t, err)
	require.Empty(t, s.ExternalReference)
}

func TestParseSummaryFieldErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		body  []byte
		field string
		want  string
	}{
		{"missing reference", summaryWith(nil, "reference"), "reference", "is missing"},
		{"null playerId", summaryWith(map[string]string{"playerId": `null`}), "playerId", "must not be null"},
		{"numeric playerId", summaryWith(map[string]string{"playerId": `12345`}), "playerId", "must be a JSON string"},
		{"empty playerId", summaryWith(map[string]string{"playerId": `""`}), "playerId", "must not be empty"},
		{"long playerId", summaryWith(map[string]string{"playerId": `"` + strings.Repeat("p", 129) + `"`}), "playerId", "longer than 128"},
		{"control in playerId", summaryWith(map[string]string{"playerId": `"a\nb"`}), "playerId", "control character"},
		{"bundle as string", summaryWith(map[string]string{"productBundleId": `"1"`}), "productBundleId", "must be a JSON number"},
		{"bundle fraction", summaryWith(map[string]string{"productBundleId": `1.0`}), "productBundleId", "integer"},
		{"bundle zero", summaryWith(map[string]string{"productBundleId": `0`}), "productBundleId", "at least 1"},
		{"bundle huge", summaryWith(map[string]string{"productBundleId": `99999999999999999999`}), "productBundleId", "out of range"},
		{"amount as string", summaryWith(map[string]string{"amount": `"1000"`}), "amount", "must be a JSON number"},
		{"amount negative", summaryWith(map[string]string{"amount": `-1`}), "amount", "negative"},
		{"amount huge", summaryWith(map[string]string{"amount": `1e400`}), "amount", "integer digits"},
		{"amount fraction", summaryWith(map[string]string{"amount": `0.000000001`}), "amount", "fraction digits"},
		{"currencyCode instead of currency", summaryWith(map[string]string{"currencyCode": `"ZAR"`}, "currency"), "currency", "is missing"},
		{"lower currency", summaryWith(map[string]string{"currency": `"zar"`}), "currency", "upper-case"},
		{"zero tokens", summaryWith(map[string]string{"tokensPurchased": `0`}), "tokensPurchased", "greater than 0"},
		{"digitalCurrency string", summaryWith(map[string]string{"digitalCurrency": `"CRE"`}), "digitalCurrency", "JSON object"},
		{"digitalCurrency no code", summaryWith(map[string]string{"digitalCurrency": `{"name":"Credits"}`}), "digitalCurrency.code", "is missing"},
		{"digitalCurrency bad code", summaryWith(map[string]string{"digitalCurrency": `{"name":"Credits","code":"C R"}`}), "digitalCurrency.code", "1-32"},
		{"digitalCurrency empty name", summaryWith(map[string]string{"digitalCurrency": `{"name":"","code":"CRE"}`}), "digitalCurrency.name", "empty"},
		{"unknown status", summaryWith(map[string]string{"status": `"PAID"`}), "status", "not a known status"},
		{"externalReference number", summaryWith(map[string]string{"externalReference": `7`}), "externalReference", "JSON string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseSummary(tc.body)
			var fe *FieldError
			require.ErrorAs(t, err, &fe, "%v", err)
			require.Equal(t, tc.field, fe.Field)
			require.Contains(t, fe.Problem, tc.want)
		})
	}
}

func TestParseSummaryMalformed(t *testing.T) {
	t.Parallel()
	for _, body := range []string{``, `[]`, `{"reference":`, summaryExample + `{}`, `{"a":1,"a":2}`,
		strings.Repeat(`{"a":`, 40) + `1` + strings.Repeat(`}`, 40),
		strings.Replace(summaryExample, `"name":"Credits"`, `"name":"Credits","name":"X"`, 1)} {
		_, err := ParseSummary([]byte(body))
		require.ErrorIs(t, err, ErrMalformed, body)
	}
}

func TestSummaryMarshalRoundTrip(t *testing.T) {
	t.Parallel()
	s, err := ParseSummary(summaryWith(map[string]string{"amount": `12.50`, "externalReference": `"e"`}))
	require.NoError(t, err)
	out, err := json.Marshal(s)
	require.NoError(t, err)
	again, err := ParseSummary(out)
	require.NoError(t, err)
	require.Equal(t, s, again)
}

func TestCheckPlayerID(t *testing.T) {
	t.Parallel()
	require.Empty(t, CheckPlayerID("player-1"))
	require.NotEmpty(t, CheckPlayerID(""))
	require.NotEmpty(t, CheckPlayerID(strings.Repeat("x", 129)))
	require.NotEmpty(t, CheckPlayerID("a\x00b"))
	require.NotEmpty(t, CheckPlayerID("\xff"))
}

func FuzzParseSummary(f *testing.F) {
	f.Add([]byte(summaryExample))
	f.Add(summaryWith(map[string]string{"amount": `0.00000001`, "playerId": `"\ud83d\ude00"`}))
	f.Add(summaryWith(map[string]string{"tokensPurchased": `1e2`, "externalReference": `null`}))
	f.Add(summaryWith(map[string]string{"digitalCurrency": `{"name":"a","code":"b","x":[]}`}))
	f.Add(summaryWith(map[string]string{"productBundleId": `-1`}))
	f.Add(summaryWith(nil, "status"))
	f.Add([]byte(summaryExample)[:40])
	f.Add([]byte(`{"digitalCurrency":{"a":1,"a":2}}`))
	f.Add([]byte(strings.Repeat("[", 100)))

	f.Fuzz(func(t *testing.T, body []byte) {
		s, err := ParseSummary(body)
		if err != nil {
			var fe *FieldError
			isField := errors.As(err, &fe)
			require.NotEqual(t, isField, errors.Is(err, ErrMalformed), "%v", err)
			if isField {
				require.True(t, isSummaryField(fe.Field), fe.Field)
			}
			return
		}
		// What parses satisfies the rules, and marshal → parse is the identity.
		require.Empty(t, CheckPlayerID(s.PlayerID))
		require.Positive(t, s.ProductBundleID)
		require.False(t, s.Amount.IsNegative())
		require.True(t, s.TokensPurchased.IsPositive())
		require.True(t, s.Status.Valid())
		out, err := json.Marshal(s)
		require.NoError(t, err)
		again, err := ParseSummary(out)
		require.NoError(t, err, "%s", out)
		require.Equal(t, s, again)
	})
}

func isSummaryField(name string) bool {
	if name == "digitalCurrency.name" || name == "digitalCurrency.code" {
		return true
	}
	for _, f := range summaryFields {
		if f.name == name {
			return true
		}
	}
	return false
}
