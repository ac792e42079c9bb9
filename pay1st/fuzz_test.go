package pay1st

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func FuzzParsePaymentEvent(f *testing.F) {
	f.Add(eventBody(nil))
	f.Add(eventBody(map[string]string{"orderAmount": `0.00000001`, "taxPercentage": `100`, "message": `"\ud83d\ude00 \u00e9"`}))
	f.Add(eventBody(map[string]string{"createdDate": `"2025-03-17T08:10:52"`, "updatedDate": `"2025-03-17T10:11+02:00"`}))
	f.Add(eventBody(map[string]string{"orderAmount": `1e400`}))
	f.Add(eventBody(map[string]string{"orderAmount": `"100"`}))
	f.Add(eventBody(map[string]string{"customerId": `1.0`}))
	f.Add(eventBody(map[string]string{"status": `"PAID"`}))
	f.Add(eventBody(map[string]string{"extra": `[[[{"a":[]}]]]`}))
	f.Add(eventBody(nil, "reference"))
	f.Add(eventBody(nil)[:57])
	f.Add([]byte(`[]`))
	f.Add([]byte(`{} {}`))
	f.Add([]byte(`{"a":1,"a":2}`))
	f.Add([]byte("{\"message\":\"\xff\"}"))
	f.Add([]byte(strings.Repeat("[", 100)))

	f.Fuzz(func(t *testing.T, body []byte) {
		e, err := ParsePaymentEvent(body)
		if err != nil {
			// Every failure is exactly one of the two kinds, and a field error
			// names a real field.
			var fe *FieldError
			isField := errors.As(err, &fe)
			require.NotEqual(t, isField, errors.Is(err, ErrMalformed), "%v", err)
			if isField {
				require.True(t, isEventField(fe.Field), fe.Field)
			}
			return
		}
		// A parsed event re-validates, and marshal → parse is the identity.
		require.NoError(t, e.Validate())
		out, err := json.Marshal(e)
		require.NoError(t, err)
		again, err := ParsePaymentEvent(out)
		require.NoError(t, err, "%s", out)
		require.Equal(t, e, again)
		out2, err := json.Marshal(again)
		require.NoError(t, err)
		require.Equal(t, out, out2)
	})
}

func isEventField(name string) bool {
	for _, f := range eventFields {
		if f.name == name {
			return true
		}
	}
	return false
}

func FuzzVerifyRequest(f *testing.F) {
	f.Add(gatewayVectorKey, gatewayVectorTimestamp, []byte(gatewayVectorBody), gatewayVectorSignature)
	f.Add(gatewayVectorKey, gatewayVectorTimestamp, []byte(gatewayVectorBody), strings.ToUpper(gatewayVectorSignature))
	f.Add("k", "", []byte{}, "")
	f.Add("", gatewayVectorTimestamp, []byte("{}"), "00")
	f.Add("k", "2025-03-17T08:10:52Z", []byte("\x00\xff"), "zz")

	f.Fuzz(func(t *testing.T, key, ts string, body []byte, sig string) {
		// Arbitrary input: no panic, and only the right MAC verifies.
		want := SignRequest(key, ts, body)
		if VerifyRequest(key, ts, body, sig) {
			require.NotEmpty(t, key)
			require.True(t, strings.EqualFold(want, sig))
		}
		require.Len(t, want, 64)
		require.Equal(t, strings.ToLower(want), want)
		if key == "" {
			require.False(t, VerifyRequest(key, ts, body, want))
			return
		}
		// Verify(Sign(x)) holds, in either case of hex.
		require.True(t, VerifyRequest(key, ts, body, want))
		require.True(t, VerifyRequest(key, ts, body, strings.ToUpper(want)))
		// A one-byte change anywhere breaks it.
		if len(body) > 0 {
			changed := bytes.Clone(body)
			changed[len(changed)/2] ^= 0x01
			require.False(t, VerifyRequest(key, ts, changed, want))
		}
		require.False(t, VerifyRequest(key, ts, append(bytes.Clone(body), ' '), want))
		require.False(t, VerifyRequest(key, ts+"0", body, want))
		require.False(t, VerifyRequest(key+"0", ts, body, want))
		require.False(t, VerifyRequest(key, ts, body, flipHexDigit(want, len(want)/2)))
		require.False(t, VerifyRequest(key, ts, body, want[1:]))
	})
}

func FuzzVerifySummary(f *testing.F) {
	f.Add(summaryVectorUsername, summaryVectorPassword, []byte(summaryVectorBody), summaryVectorSignature)
	f.Add(summaryVectorUsername, summaryVectorPassword, []byte("\r\n"+summaryVectorBody+"\n"), summaryVectorSignature)
	f.Add("u", "p", []byte("   "), "")
	f.Add("", "p", []byte("{}"), "00")
	f.Add("u:x", "p", []byte("\t{}\x85"), "ZZ")

	f.Fuzz(func(t *testing.T, user, password string, body []byte, sig string) {
		want := SignSummary(user, password, body)
		if VerifySummary(user, password, body, sig) {
			require.NotEmpty(t, user)
			require.NotEmpty(t, password)
			require.True(t, strings.EqualFold(want, sig))
		}
		if user == "" || password == "" {
			require.False(t, VerifySummary(user, password, body, want))
			return
		}
		require.True(t, VerifySummary(user, password, body, want))
		require.True(t, VerifySummary(user, password, body, strings.ToUpper(want)))
		// Surrounding whitespace is not signed...
		padded := append(append([]byte(" \r\n\t"), body...), "\n\v\f "...)
		require.True(t, VerifySummary(user, password, padded, want))
		// ...but any change to what lies between is.
		if trimmed := bytes.Trim(body, summaryTrim); len(trimmed) > 0 {
			changed := bytes.Clone(trimmed)
			changed[len(changed)/2] ^= 0x01
			require.False(t, VerifySummary(user, password, changed, want))
		}
		require.False(t, VerifySummary(user, password+"0", body, want))
		require.False(t, VerifySummary(user, password, body, flipHexDigit(want, 0)))
	})
}

// flipHexDigit changes the digit at i to a different value, never to the
// same digit in another case.
func flipHexDigit(sig string, i int) string {
	c := byte('0')
	if sig[i] == '0' {
		c = '1'
	}
	return sig[:i] + string(c) + sig[i+1:]
}
